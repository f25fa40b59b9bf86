#include "api/validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kernlet::api {
namespace {

using Msgs = std::vector<std::string>;

const std::string kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const std::string kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const std::string kDns1035Msg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const std::string kNamePartMsg =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const std::string kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

struct Case {
  std::string input;
  Msgs want;
};

TEST(Validation, Dns1123Label) {
  const std::vector<Case> cases = {
      {"a", {}},
      {"my-name", {}},
      {"123-abc", {}},
      {std::string(63, 'a'), {}},
      {"", {kLabelMsg}},
      {"-a", {kLabelMsg}},
      {"a-", {kLabelMsg}},
      {"A", {kLabelMsg}},
      {"a_b", {kLabelMsg}},
      {"a.b", {"must not contain dots"}},
      {std::string(64, 'a'), {"must be no more than 63 characters"}},
      {std::string(64, 'A'), {"must be no more than 63 characters", kLabelMsg}},
  };
  for (const auto& c : cases) EXPECT_EQ(is_dns1123_label(c.input), c.want) << c.input;
}

TEST(Validation, Dns1123Subdomain) {
  const std::vector<Case> cases = {
      {"example.com", {}},
      {"a.b.c", {}},
      {"a-1.b-2", {}},
      {std::string(253, 'a'), {}},
      {"Foo", {kSubdomainMsg}},
      {"", {kSubdomainMsg}},
      {"a..b", {kSubdomainMsg}},
      {".a", {kSubdomainMsg}},
      {"a.", {kSubdomainMsg}},
      {"a.-b", {kSubdomainMsg}},
      {"a_b.com", {kSubdomainMsg}},
      {std::string(254, 'a'), {"must be no more than 253 characters"}},
  };
  for (const auto& c : cases) EXPECT_EQ(is_dns1123_subdomain(c.input), c.want) << c.input;
}

TEST(Validation, Dns1035Label) {
  EXPECT_EQ(is_dns1035_label("my-name"), Msgs{});
  EXPECT_EQ(is_dns1035_label("abc-123"), Msgs{});
  EXPECT_EQ(is_dns1035_label("1abc"), Msgs{kDns1035Msg});
  EXPECT_EQ(is_dns1035_label("a.b"), Msgs{kDns1035Msg});
  EXPECT_EQ(is_dns1035_label(std::string(64, 'a')), Msgs{"must be no more than 63 characters"});
}

TEST(Validation, QualifiedName) {
  const std::vector<Case> cases = {
      {"app", {}},
      {"App_1.x-y", {}},
      {"example.com/MyName", {}},
      {"kubernetes.io/hostname", {}},
      {std::string(63, 'a'), {}},
      {std::string(253, 'a') + "/" + std::string(63, 'b'), {}},
      {"", {"name part must be non-empty", kNamePartMsg}},
      {"-app", {kNamePartMsg}},
      {"app-", {kNamePartMsg}},
      {"a b", {kNamePartMsg}},
      {std::string(64, 'a'), {"name part must be no more than 63 bytes"}},
      {"/app", {"prefix part must be non-empty"}},
      {"example.com/", {"name part must be non-empty", kNamePartMsg}},
      {"Example.com/app", {"prefix part " + kSubdomainMsg}},
      {std::string(254, 'a') + "/b", {"prefix part must be no more than 253 bytes"}},
      {"a/b/c",
       {"a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"}},
  };
  for (const auto& c : cases) EXPECT_EQ(is_qualified_name(c.input), c.want) << c.input;
}

TEST(Validation, LabelValue) {
  const std::vector<Case> cases = {
      {"", {}},
      {"v1", {}},
      {"MyValue", {}},
      {"my_value", {}},
      {"12345", {}},
      {"a.b-c_d", {}},
      {std::string(63, 'x'), {}},
      {"-x", {kLabelValueMsg}},
      {"x_", {kLabelValueMsg}},
      {"a b", {kLabelValueMsg}},
      {"a/b", {kLabelValueMsg}},
      {std::string(64, 'x'), {"must be no more than 63 bytes"}},
  };
  for (const auto& c : cases) EXPECT_EQ(is_valid_label_value(c.input), c.want) << c.input;
}

TEST(FieldError, TextMatchesKubernetes) {
  EXPECT_EQ(field_invalid("metadata.name", json::value("Foo"), kSubdomainMsg).error(),
            "metadata.name: Invalid value: \"Foo\": " + kSubdomainMsg);
  EXPECT_EQ(field_required("metadata.name", "name or generateName is required").error(),
            "metadata.name: Required value: name or generateName is required");
  EXPECT_EQ(field_required("metadata.namespace", "").error(), "metadata.namespace: Required value");
  EXPECT_EQ(field_forbidden("metadata.namespace", "not allowed on this type").error(),
            "metadata.namespace: Forbidden: not allowed on this type");
  EXPECT_EQ(field_not_supported("spec.restartPolicy", json::value("Sometimes"),
                                {"Always", "OnFailure", "Never"})
                .error(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
            "\"OnFailure\", \"Never\"");
  EXPECT_EQ(field_too_long("metadata.annotations", 262144).error(),
            "metadata.annotations: Too long: may not be more than 262144 bytes");
  EXPECT_EQ(field_invalid("spec.replicas", json::value(-1), "must be greater than or equal to 0").error(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
  EXPECT_EQ(field_invalid("x", json::value(true), "").error(), "x: Invalid value: true");
  json::array arr{"a", "b"};
  EXPECT_EQ(field_invalid("values", arr, "d").error(), "values: Invalid value: [\"a\",\"b\"]: d");
}

TEST(FieldError, BadValueQuotedLikeGo) {
  EXPECT_EQ(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(go_quote("tab\there\n"), "\"tab\\there\\n\"");
  EXPECT_EQ(go_quote(std::string("\x01\x7f", 2)), "\"\\x01\\x7f\"");
  EXPECT_EQ(go_quote("\xff"), "\"\\xff\"");
  EXPECT_EQ(go_quote("h\xc3\xa9llo"), "\"h\xc3\xa9llo\"");  // printable UTF-8 kept
  EXPECT_EQ(go_quote("\xc2\xa0"), "\"\\u00a0\"");            // NBSP escaped
}

TEST(FieldError, AggregateJoinsAndDeduplicates) {
  FieldErrors none;
  EXPECT_EQ(aggregate_message(none), "");
  FieldErrors one = {field_required("a", "")};
  EXPECT_EQ(aggregate_message(one), "a: Required value");
  FieldErrors two = {field_required("a", ""), field_required("b", ""), field_required("a", "")};
  EXPECT_EQ(aggregate_message(two), "[a: Required value, b: Required value]");
  FieldErrors dup = {field_required("a", ""), field_required("a", "")};
  EXPECT_EQ(aggregate_message(dup), "a: Required value");
}

TEST(FieldError, Paths) {
  EXPECT_EQ(join_path("", "selector"), "selector");
  EXPECT_EQ(join_path("spec", "selector"), "spec.selector");
  EXPECT_EQ(index_path("spec.containers", 2), "spec.containers[2]");
  EXPECT_EQ(key_path("metadata.labels", "app"), "metadata.labels[app]");
}

TEST(ValidateLabels, ValidLabelsPass) {
  auto labels = json::parse_object(R"({"app":"web","example.com/tier":"","v":"1.2_3-x"})");
  ASSERT_TRUE(labels.ok());
  EXPECT_TRUE(validate_labels(&*labels, "metadata.labels").empty());
  EXPECT_TRUE(validate_labels(nullptr, "metadata.labels").empty());
}

TEST(ValidateLabels, ErrorsNameTheLabelsFieldAndTheBadKeyOrValue) {
  auto labels = json::parse_object(R"({"bad key":"ok","app":"-bad","n":5})");
  ASSERT_TRUE(labels.ok());
  FieldErrors errs = validate_labels(&*labels, "metadata.labels");
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0].type, "FieldValueInvalid");
  EXPECT_EQ(errs[0].error(), "metadata.labels: Invalid value: \"bad key\": " + kNamePartMsg);
  EXPECT_EQ(errs[1].error(), "metadata.labels: Invalid value: \"-bad\": " + kLabelValueMsg);
  EXPECT_EQ(errs[2].type, "FieldValueTypeInvalid");
  EXPECT_EQ(errs[2].field, "metadata.labels[n]");
}

TEST(ValidateAnnotations, KeysAreCaseInsensitiveQualifiedNames) {
  auto ann = json::parse_object(R"({"Example.COM/Some-Key":"x","kubectl.kubernetes.io/last-applied-configuration":"{}"})");
  ASSERT_TRUE(ann.ok());
  EXPECT_TRUE(validate_annotations(&*ann, "metadata.annotations").empty());

  auto bad = json::parse_object(R"({"a/b/c":"x"})");
  ASSERT_TRUE(bad.ok());
  FieldErrors errs = validate_annotations(&*bad, "metadata.annotations");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].field, "metadata.annotations");
  EXPECT_EQ(errs[0].bad_value, json::value("a/b/c"));
}

TEST(ValidateAnnotations, TotalSizeLimitIs256KiB) {
  json::object ann;
  ann["k"] = std::string(256 * 1024 - 1, 'x');  // exactly at the limit with the key
  EXPECT_TRUE(validate_annotations(&ann, "metadata.annotations").empty());
  ann["k2"] = "";
  FieldErrors errs = validate_annotations(&ann, "metadata.annotations");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].type, "FieldValueTooLong");
  EXPECT_EQ(errs[0].error(), "metadata.annotations: Too long: may not be more than 262144 bytes");
}

}  // namespace
}  // namespace kernlet::api
