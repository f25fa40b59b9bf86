#include "api/yaml.h"

#include <gtest/gtest.h>

namespace kernlet {
namespace {

json::value one(std::string_view text) {
  auto r = yaml::to_json(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : json::value();
}

TEST(Yaml, ManifestToJson) {
  auto v = one(R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: "nginx:1.25"
        args: ["--port", "8080"]
        ports:
        - containerPort: 80
)");
  EXPECT_EQ(json::dump(v),
            R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},)"
            R"("spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.25",)"
            R"("args":["--port","8080"],"ports":[{"containerPort":80}]}]}}}})");
}

struct ScalarCase {
  const char* yaml;
  const char* json;
};

class YamlScalar : public ::testing::TestWithParam<ScalarCase> {};

TEST_P(YamlScalar, ResolvesLikeKubernetes) {
  auto v = one(std::string("v: ") + GetParam().yaml);
  EXPECT_EQ(json::dump(v.as_object()["v"]), GetParam().json) << GetParam().yaml;
}

INSTANTIATE_TEST_SUITE_P(Cases, YamlScalar, ::testing::Values(
    ScalarCase{"true", "true"}, ScalarCase{"True", "true"}, ScalarCase{"yes", "true"},
    ScalarCase{"on", "true"}, ScalarCase{"y", "true"}, ScalarCase{"no", "false"},
    ScalarCase{"OFF", "false"}, ScalarCase{"\"yes\"", "\"yes\""}, ScalarCase{"'on'", "\"on\""},
    ScalarCase{"!!str true", "\"true\""}, ScalarCase{"~", "null"}, ScalarCase{"null", "null"},
    ScalarCase{"", "null"}, ScalarCase{"42", "42"}, ScalarCase{"-7", "-7"},
    ScalarCase{"0x1F", "31"}, ScalarCase{"0o17", "15"}, ScalarCase{"017", "15"},
    ScalarCase{"0b101", "5"}, ScalarCase{"1_000", "1000"}, ScalarCase{"1.5", "1.5E0"},
    ScalarCase{"1e3", "1E3"}, ScalarCase{"\"8080\"", "\"8080\""}, ScalarCase{"100m", "\"100m\""},
    ScalarCase{"1Gi", "\"1Gi\""}, ScalarCase{"09", "9"}, ScalarCase{"18446744073709551615", "18446744073709551615"},
    ScalarCase{"2026-11-20T08:14:03Z", "\"2026-11-20T08:14:03Z\""}, ScalarCase{"hello world", "\"hello world\""}));

TEST(Yaml, MultipleDocumentsSkipEmptyOnes) {
  auto r = yaml::to_json_documents("---\na: 1\n---\n---\nb: 2\n...\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(json::dump((*r)[1]), R"({"b":2})");
}

TEST(Yaml, SingleDocumentRequired) {
  auto r = yaml::to_json("a: 1\n---\nb: 2\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "yaml: expected exactly one document, found 2");
}

TEST(Yaml, SyntaxErrorNamesLineAndColumn) {
  auto r = yaml::to_json_documents("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("yaml: line "), std::string::npos) << r.error().message();
}

TEST(Yaml, DuplicateKeyIsAnErrorWithPosition) {
  auto r = yaml::to_json_documents("a: 1\n---\nx: 1\ny: 2\nx: 3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "yaml: document 2, line 5, column 1: mapping key \"x\" already defined");
}

TEST(Yaml, MergeKeysAndAnchors) {
  auto v = one("base: &b {cpu: 100m, memory: 1Gi}\nres:\n  <<: *b\n  memory: 2Gi\n");
  EXPECT_EQ(json::dump(v.as_object()["res"]), R"({"memory":"2Gi","cpu":"100m"})");
}

TEST(Yaml, AliasBombFailsCleanly) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", " : "") + "*" + prev;
    bomb += "]\n";
    prev = c;
  }
  auto r = yaml::to_json_documents(bomb);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("more than 1000000 nodes"), std::string::npos) << r.error().message();
}

TEST(Yaml, InfinityIsRejected) {
  auto r = yaml::to_json("v: .inf\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("cannot be represented in JSON"), std::string::npos);
}

TEST(Yaml, NonScalarKeyIsRejected) {
  auto r = yaml::to_json("? [a, b]\n: 1\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("mapping keys must be scalars"), std::string::npos);
}

TEST(Yaml, StrayFlowEntryIsAnErrorNotAHang) {
  // yaml-cpp 0.7 looped forever on these; the fuzzer found the second one.
  for (const char* text : {", x", ",", "\"a\", b]", ", \"y\", 0x1f, yes]}\nm:\n  <<: *b\n  c: ~\n"}) {
    auto r = yaml::to_json_documents(text);
    EXPECT_FALSE(r.ok()) << text;
  }
}

TEST(Yaml, UnknownAliasIsNamed) {
  auto r = yaml::to_json("a: *nope\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("unknown anchor 'nope'"), std::string::npos) << r.error().message();
}

TEST(Yaml, DeepNestingFailsCleanly) {
  std::string deep(5000, '[');
  auto r = yaml::to_json_documents(deep);
  ASSERT_FALSE(r.ok());
}

}  // namespace
}  // namespace kernlet
