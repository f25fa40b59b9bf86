#include "csi/volume/subpath.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/csi/volume/temp_dir.h"

namespace kernlet::csi {
namespace {

using testing::TempDir;
using testing::write_all;

std::string fd_path(const UniqueFd& fd) {
  char buf[4096];
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

TEST(SubPathExpr, ExpandsLikeTheKubelet) {
  EnvMap env{{"POD", "web-0"}, {"NS", "prod"}, {"EMPTY", ""}};
  EXPECT_EQ(*expand_sub_path_expr("$(NS)/$(POD)", env), "prod/web-0");
  EXPECT_EQ(*expand_sub_path_expr("a$$(POD)b", env), "a$(POD)b");
  EXPECT_EQ(*expand_sub_path_expr("cost$5", env), "cost$5");
  EXPECT_EQ(*expand_sub_path_expr("open$(POD", env), "open$(POD");
  Result<std::string> r = expand_sub_path_expr("$(B)/$(A)/$(EMPTY)/$(POD)", env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "missing value for A, B, EMPTY");
}

TEST(SubPathExpr, EnvFromStringsLastWins) {
  EnvMap env = env_map_from_strings({"A=1", "B=x=y", "A=2", "junk"});
  EXPECT_EQ(env, (EnvMap{{"A", "2"}, {"B", "x=y"}}));
}

TEST(SubPath, ValidationRefusesAbsoluteAndBacksteps) {
  EXPECT_TRUE(validate_sub_path("a/b").ok());
  EXPECT_TRUE(validate_sub_path("a..b").ok());
  EXPECT_FALSE(validate_sub_path("/etc").ok());
  EXPECT_FALSE(validate_sub_path("a/../../etc").ok());
  EXPECT_FALSE(validate_sub_path("..").ok());
}

TEST(SubPath, OpensAndCreatesBeneathTheVolume) {
  TempDir t;
  std::string vol = t.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0770), 0);
  ASSERT_EQ(::chmod(vol.c_str(), 0770), 0);
  Result<UniqueFd> fd = open_sub_path(vol, "x/y");
  ASSERT_TRUE(fd.ok()) << fd.error().to_string();
  EXPECT_EQ(fd_path(*fd), vol + "/x/y");
  struct stat st {};
  ASSERT_EQ(::stat((vol + "/x/y").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0770u);  // the volume root's mode
  write_all(vol + "/file", "f");
  Result<UniqueFd> f = open_sub_path(vol, "file");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(fd_path(*f), vol + "/file");
  // A relative symlink that stays inside is fine.
  ASSERT_EQ(::symlink("x/y", (vol + "/inside").c_str()), 0);
  Result<UniqueFd> in = open_sub_path(vol, "inside");
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(fd_path(*in), vol + "/x/y");
}

TEST(SubPath, EscapesAreRefused) {
  TempDir t;
  std::string vol = t.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  ASSERT_EQ(::symlink("/", (vol + "/root").c_str()), 0);
  ASSERT_EQ(::symlink("../..", (vol + "/up").c_str()), 0);
  ASSERT_EQ(::symlink("/proc/self/root", (vol + "/magic").c_str()), 0);
  for (const char* sub : {"root", "root/etc", "up", "up/tmp", "magic", "../vol", "a/../../x"}) {
    Result<UniqueFd> fd = open_sub_path(vol, sub);
    EXPECT_FALSE(fd.ok()) << sub << " opened " << (fd.ok() ? fd_path(*fd) : "");
  }
  // Nothing was created outside while trying.
  EXPECT_FALSE(std::filesystem::exists(t.path() + "/x"));
}

TEST(SubPath, AbsoluteSymlinkBackIntoTheVolumeIsAccepted) {
  TempDir t;
  std::string vol = t.path() + "/vol";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((vol + "/v2").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((vol + "/v2").c_str(), (vol + "/current").c_str()), 0);
  Result<UniqueFd> fd = open_sub_path(vol, "current");
  ASSERT_TRUE(fd.ok()) << fd.error().to_string();
  EXPECT_EQ(fd_path(*fd), vol + "/v2");
}

}  // namespace
}  // namespace kernlet::csi
