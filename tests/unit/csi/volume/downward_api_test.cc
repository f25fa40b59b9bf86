#include "csi/volume/downward_api.h"

#include <gtest/gtest.h>

namespace kernlet::csi {
namespace {

json::object parse(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object();
}

TEST(GoQuote, MatchesStrconvQuote) {
  EXPECT_EQ(go_quote("plain"), "\"plain\"");
  EXPECT_EQ(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(go_quote("l1\nl2\t"), "\"l1\\nl2\\t\"");
  EXPECT_EQ(go_quote(std::string("\x01\x7f", 2)), "\"\\x01\\x7f\"");
  EXPECT_EQ(go_quote("h\xc3\xa9"), "\"h\xc3\xa9\"");  // valid UTF-8 kept
  EXPECT_EQ(go_quote("\xff"), "\"\\xff\"");           // invalid byte escaped
}

TEST(FormatLabelMap, SortedQuotedNoTrailingNewline) {
  json::object m = parse(R"({"zone":"a","app":"web \"x\""})");
  EXPECT_EQ(format_label_map(&m), "app=\"web \\\"x\\\"\"\nzone=\"a\"");
  EXPECT_EQ(format_label_map(nullptr), "");
}

TEST(DownwardField, MetadataFields) {
  json::object pod = parse(R"({"metadata":{"name":"web","namespace":"prod","uid":"u1",
    "labels":{"b":"2","a":"1"},"annotations":{"note":"hi"}}})");
  EXPECT_EQ(*downward_field_value(pod, "metadata.name"), "web");
  EXPECT_EQ(*downward_field_value(pod, "metadata.namespace"), "prod");
  EXPECT_EQ(*downward_field_value(pod, "metadata.uid"), "u1");
  EXPECT_EQ(*downward_field_value(pod, "metadata.labels"), "a=\"1\"\nb=\"2\"");
  EXPECT_EQ(*downward_field_value(pod, "metadata.annotations"), "note=\"hi\"");
  EXPECT_EQ(*downward_field_value(pod, "metadata.labels['b']"), "2");
  EXPECT_EQ(*downward_field_value(pod, "metadata.annotations['none']"), "");
  Result<std::string> bad = downward_field_value(pod, "spec.nodeName");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "unsupported fieldPath: spec.nodeName");
}

TEST(DownwardResource, DivisorsAndNodeFallback) {
  json::object pod = parse(R"({"spec":{"containers":[{"name":"app","resources":{
    "requests":{"cpu":"250m","memory":"64Mi"},"limits":{"memory":"128Mi"}}}]}})");
  api::ResourceList alloc{{"cpu", *Quantity::parse("4")}, {"memory", *Quantity::parse("8Gi")}};
  json::value one_m = "1m", mi = "1Mi", one = "1";
  EXPECT_EQ(*downward_resource_value(pod, "app", "requests.cpu", nullptr, alloc), "1");  // ceil(250m / 1)
  EXPECT_EQ(*downward_resource_value(pod, "app", "requests.cpu", &one_m, alloc), "250");
  EXPECT_EQ(*downward_resource_value(pod, "app", "requests.memory", &mi, alloc), "64");
  EXPECT_EQ(*downward_resource_value(pod, "app", "limits.memory", &one, alloc), "134217728");
  // No cpu limit: node allocatable.
  EXPECT_EQ(*downward_resource_value(pod, "app", "limits.cpu", &one_m, alloc), "4000");
  EXPECT_EQ(*downward_resource_value(pod, "app", "requests.ephemeral-storage", nullptr, alloc), "0");
  EXPECT_FALSE(downward_resource_value(pod, "nope", "limits.cpu", nullptr, alloc).ok());
  EXPECT_FALSE(downward_resource_value(pod, "app", "limits.gpu", nullptr, alloc).ok());
}

}  // namespace
}  // namespace kernlet::csi
