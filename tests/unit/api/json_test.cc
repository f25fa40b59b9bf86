#include "api/json.h"

#include <gtest/gtest.h>

namespace kernlet {
namespace {

TEST(Json, ParseErrorNamesLineAndColumn) {
  auto r = json::parse("{\n  \"a\": 1,\n  \"b\": tru\n}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("line 3"), std::string::npos) << r.error().message();
}

TEST(Json, TrailingGarbageIsAnError) {
  auto r = json::parse("{\"a\": 1} x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("column 10"), std::string::npos) << r.error().message();
}

TEST(Json, EmptyDocumentIsAnError) {
  auto r = json::parse("  \n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "invalid JSON: empty document");
}

TEST(Json, DeepNestingIsRejectedNotCrashed) {
  std::string deep(100000, '[');
  auto r = json::parse(deep);
  ASSERT_FALSE(r.ok());
}

TEST(Json, NumbersBeyondDoubleRangeAreRejectedWithTheirPath) {
  auto r = json::parse(R"({"spec":{"ports":[{"port":1},{"port":1e400}]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "invalid JSON: number out of range at spec.ports[1].port");
  auto top = json::parse("-24440000000004701e091750845");
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.error().message(), "invalid JSON: number out of range at the top level");
  EXPECT_TRUE(json::parse("1.7e308").ok());
}

TEST(Json, ParseObjectRejectsNonObjects) {
  auto r = json::parse_object("[1,2]", "pod");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod: expected a JSON object, got array");
}

TEST(Json, AccessorsTolerateWrongTypes) {
  auto o = json::parse_object(R"({"s":"x","i":3,"d":3.0,"f":3.5,"b":true,"o":{"p":{"q":1}}})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(json::get_string(*o, "s"), "x");
  EXPECT_EQ(json::get_string(*o, "i", "fb"), "fb");
  EXPECT_EQ(json::get_int(*o, "i"), 3);
  EXPECT_EQ(json::get_int(*o, "d"), 3);
  EXPECT_EQ(json::get_int(*o, "f"), std::nullopt);
  EXPECT_EQ(json::get_bool(*o, "b"), true);
  EXPECT_EQ(json::get_bool(*o, "s"), std::nullopt);
  ASSERT_NE(json::get_path(*o, "o.p"), nullptr);
  EXPECT_EQ(json::get_int(*json::get_path(*o, "o.p"), "q"), 1);
  EXPECT_EQ(json::get_path(*o, "o.x"), nullptr);
  EXPECT_EQ(json::get_path(*o, "s.p"), nullptr);
}

}  // namespace
}  // namespace kernlet
