#include "cni/client/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "temp_dir.h"

namespace kernlet::cni {
namespace {

using testing::TempDir;

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(CniConfig, ParsesAConflist) {
  auto l = parse_conflist(R"({"cniVersion":"1.0.0","name":"kernlet","disableCheck":true,
    "plugins":[{"type":"bridge","bridge":"cni0"},
               {"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false}}]})",
                          "x.conflist");
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_EQ(l->name, "kernlet");
  EXPECT_EQ(l->cni_version, "1.0.0");
  EXPECT_TRUE(l->disable_check);
  ASSERT_EQ(l->plugins.size(), 2u);
  EXPECT_EQ(l->plugins[0].type, "bridge");
  EXPECT_EQ(json::get_string(l->plugins[0].raw, "bridge"), "cni0");
  EXPECT_EQ(l->plugins[1].capabilities, std::vector<std::string>{"portMappings"});
}

TEST(CniConfig, CniVersionsPicksTheHighestSupported) {
  auto l = parse_conflist(R"({"cniVersion":"0.4.0","cniVersions":["1.0.0","9.0.0","0.3.1"],
    "name":"n","plugins":[{"type":"b"}]})", "f");
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_EQ(l->cni_version, "1.0.0");
  auto none = parse_conflist(R"({"cniVersions":["9.0.0"],"name":"n","plugins":[{"type":"b"}]})",
                             "f");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("f: cniVersions: no version"), std::string::npos);
}

TEST(CniConfig, DisableCheckAsString) {
  auto l = parse_conflist(
      R"({"cniVersion":"0.4.0","name":"n","disableCheck":"true","plugins":[{"type":"b"}]})", "f");
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_TRUE(l->disable_check);
}

struct BadCase {
  const char* text;
  const char* expected;
};

TEST(CniConfig, ErrorsNameTheFileAndField) {
  const BadCase cases[] = {
      {R"({"cniVersion":"1.0.0","plugins":[{"type":"b"}]})", "f.conflist: name: missing"},
      {R"({"cniVersion":"1.0.0","name":"-x","plugins":[{"type":"b"}]})", "f.conflist: name:"},
      {R"({"name":"n","plugins":[{"type":"b"}]})", "f.conflist: cniVersion: missing"},
      {R"({"cniVersion":"9.9.9","name":"n","plugins":[{"type":"b"}]})",
       "f.conflist: cniVersion: version 9.9.9 is not supported"},
      {R"({"cniVersion":"1.0.0","name":"n"})", "f.conflist: plugins: missing"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[]})", "f.conflist: plugins: must not be empty"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"b"},{"bridge":"x"}]})",
       "f.conflist: plugins[1].type: missing"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../sh"}]})",
       "f.conflist: plugins[0].type:"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"b","capabilities":{"x":1}}]})",
       "f.conflist: plugins[0].capabilities.x: must be true or false"},
      {R"({"cniVersion":"1.0.0","name":"n","disableCheck":"yes","plugins":[{"type":"b"}]})",
       "f.conflist: disableCheck: must be true or false"},
      {R"({"cniVersion":"0.2.0","name":"n","plugins":[{"type":"a"},{"type":"b"}]})",
       "f.conflist: cniVersion: version 0.2.0 has no plugin chaining"},
      {R"([1])", "f.conflist: document: must be a JSON object"},
      {R"({"cniVersion":)", "f.conflist: document: invalid JSON"},
  };
  for (const auto& c : cases) {
    auto l = parse_conflist(c.text, "f.conflist");
    ASSERT_FALSE(l.ok()) << c.text;
    EXPECT_EQ(l.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(l.error().message().find(c.expected), std::string::npos)
        << l.error().message() << " does not contain " << c.expected;
  }
}

TEST(CniConfig, SingleConfIsWrappedIntoAList) {
  auto l = parse_conf_as_list(
      R"({"cniVersion":"0.3.1","name":"old","type":"bridge","ipam":{"type":"host-local"}})",
      "10-old.conf");
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_EQ(l->name, "old");
  EXPECT_EQ(l->cni_version, "0.3.1");
  ASSERT_EQ(l->plugins.size(), 1u);
  EXPECT_EQ(l->plugins[0].type, "bridge");
  EXPECT_NE(json::get_object(l->plugins[0].raw, "ipam"), nullptr);

  auto no_type = parse_conf_as_list(R"({"cniVersion":"1.0.0","name":"n"})", "a.conf");
  ASSERT_FALSE(no_type.ok());
  EXPECT_NE(no_type.error().message().find("a.conf: plugin.type: missing"), std::string::npos)
      << no_type.error().message();
}

TEST(CniConfig, LoadsTheLexicallyFirstNetworkFile) {
  TempDir dir;
  write(dir.path() + "/20-b.conflist",
        R"({"cniVersion":"1.0.0","name":"second","plugins":[{"type":"b"}]})");
  write(dir.path() + "/10-a.conf", R"({"cniVersion":"1.0.0","name":"first","type":"a"})");
  write(dir.path() + "/00-readme.txt", "not a config");
  auto l = load_network(dir.path());
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_EQ(l->name, "first");
  EXPECT_EQ(l->source, dir.path() + "/10-a.conf");

  write(dir.path() + "/05-broken.conflist", R"({"cniVersion":"1.0.0","name":"x"})");
  auto broken = load_network(dir.path());
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("05-broken.conflist: plugins: missing"),
            std::string::npos)
      << broken.error().message();
}

TEST(CniConfig, EmptyOrMissingDirIsNotFound) {
  TempDir dir;
  auto empty = load_network(dir.path());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kNotFound);
  auto missing = load_network(dir.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(CniConfig, Identifiers) {
  EXPECT_TRUE(valid_identifier("abc-1.2_3"));
  EXPECT_FALSE(valid_identifier(""));
  EXPECT_FALSE(valid_identifier(".x"));
  EXPECT_FALSE(valid_identifier("a/b"));
  EXPECT_TRUE(valid_interface_name("eth0"));
  EXPECT_TRUE(valid_interface_name("fifteen-chars-x"));
  EXPECT_FALSE(valid_interface_name("sixteen-chars-xx"));
  EXPECT_FALSE(valid_interface_name(".."));
  EXPECT_FALSE(valid_interface_name("a:b"));
  EXPECT_FALSE(valid_interface_name("a b"));
}

}  // namespace
}  // namespace kernlet::cni
