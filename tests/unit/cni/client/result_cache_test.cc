#include "cni/client/result_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.h"

namespace kernlet::cni {
namespace {

using testing::TempDir;

CachedAttachment entry(const std::string& network, const std::string& id) {
  CachedAttachment e;
  e.network = network;
  e.container_id = id;
  e.ifname = "eth0";
  e.netns = "/proc/9/ns/net";
  e.cni_args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web"}};
  e.capability_args["portMappings"] = json::array{};
  e.result = json::object{{"cniVersion", "1.0.0"}, {"ips", json::array{}}};
  return e;
}

TEST(CniResultCache, RoundTripAtLibcniPath) {
  TempDir dir;
  ResultCache cache(dir.path() + "/results");
  EXPECT_EQ(cache.path("net", "abc", "eth0"), dir.path() + "/results/net-abc-eth0");
  auto missing = cache.load("net", "abc", "eth0");
  ASSERT_TRUE(missing.ok()) << missing.error().to_string();
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(cache.save(entry("net", "abc")).ok());
  auto got = cache.load("net", "abc", "eth0");
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  const CachedAttachment& e = **got;
  EXPECT_EQ(e.network, "net");
  EXPECT_EQ(e.container_id, "abc");
  EXPECT_EQ(e.ifname, "eth0");
  EXPECT_EQ(e.netns, "/proc/9/ns/net");
  ASSERT_EQ(e.cni_args.size(), 2u);
  EXPECT_EQ(e.cni_args[1].second, "web");
  EXPECT_NE(json::find(e.capability_args, "portMappings"), nullptr);
  EXPECT_EQ(json::get_string(e.result, "cniVersion"), "1.0.0");
  // Only the final file: no temp file left behind.
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.path() + "/results")) {
    (void)f;
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(std::filesystem::status(dir.path() + "/results/net-abc-eth0").permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);

  ASSERT_TRUE(cache.remove("net", "abc", "eth0").ok());
  ASSERT_TRUE(cache.remove("net", "abc", "eth0").ok());  // missing is fine
  EXPECT_FALSE(cache.load("net", "abc", "eth0")->has_value());
}

TEST(CniResultCache, MalformedEntryIsAnError) {
  TempDir dir;
  ResultCache cache(dir.path());
  { std::ofstream(cache.path("net", "x", "eth0")) << R"({"kind":"other"})"; }
  auto got = cache.load("net", "x", "eth0");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message().find(cache.path("net", "x", "eth0")), std::string::npos);
}

TEST(CniResultCache, ListsOneNetworkOnly) {
  TempDir dir;
  ResultCache cache(dir.path());
  ASSERT_TRUE(cache.save(entry("net", "a")).ok());
  ASSERT_TRUE(cache.save(entry("net", "b")).ok());
  ASSERT_TRUE(cache.save(entry("net-2", "c")).ok());  // same file-name prefix, other network
  auto l = cache.list("net");
  ASSERT_EQ(l.size(), 2u);
  for (const auto& e : l) EXPECT_EQ(e.network, "net");
  EXPECT_TRUE(ResultCache(dir.path() + "/none").list("net").empty());
}

}  // namespace
}  // namespace kernlet::cni
