// Layer unpack as root: what an overlay lower dir must keep (owners, modes with set-id bits,
// xattrs, device nodes, fifos, hardlinks, mtimes, whiteouts), from plain, gzip and zstd.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/images/layer_unpack.h"
#include "tests/integration/runtime/images/fixtures.h"
#include "tests/unit/runtime/images/tar_builder.h"

namespace kernlet::images {
namespace {

using namespace testing;

class UnpackTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown, mknod, trusted.* xattrs)";
  }
  TempDir tmp_{"kl-unpack"};
};

TEST_P(UnpackTest, KeepsEverythingAnOverlayLowerDirNeeds) {
  std::string tar = TarBuilder()
                        .dir("etc", 0755)
                        .file("etc/shadow", "root:*:1::::::\n", 0640, 0, 42)
                        .file("usr/bin/sudo", "#!/bin/true\n", 04755, 0, 0)
                        .file("home/app/data", "mine", 0600, 1000, 1000, {{"user.kernlet", "tagged"}})
                        .hardlink("home/app/again", "home/app/data")
                        .symlink("lib64", "usr/lib")
                        .chardev("dev/null", 1, 3, 0666)
                        .fifo("run/fifo")
                        .dir("gone", 0755)
                        .file("gone/.wh.old", "")
                        .file("opaque/.wh..wh..opq", "")
                        .file("opaque/new", "n")
                        .finish();
  std::string blob = tmp_ / "layer.blob";
  spit(blob, compress(tar, GetParam()));
  ASSERT_EQ(::mkdir((tmp_ / "root").c_str(), 0755), 0);
  auto dir = open_dir(tmp_ / "root");
  ASSERT_TRUE(dir.ok());
  int fd = ::open(blob.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto stats = unpack_layer(fd, dir->get(), Digest::of(tar));
  ::close(fd);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->diff_id, Digest::of(tar));
  EXPECT_EQ(stats->entries, 12u);

  const std::string r = tmp_ / "root";
  struct stat st;
  ASSERT_EQ(::lstat((r + "/etc/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_gid, 42u);
  EXPECT_EQ(st.st_mtime, 1700000000);
  ASSERT_EQ(::lstat((r + "/usr/bin/sudo").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u) << "set-uid survives the chown";
  ASSERT_EQ(::lstat((r + "/home/app/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_nlink, 2u);
  char v[32] = {};
  ASSERT_EQ(::lgetxattr((r + "/home/app/data").c_str(), "user.kernlet", v, sizeof v), 6);
  EXPECT_STREQ(v, "tagged");
  char link[32] = {};
  ASSERT_GT(::readlink((r + "/lib64").c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "usr/lib");
  ASSERT_EQ(::lstat((r + "/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
  ASSERT_EQ(::lstat((r + "/run/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::lstat((r + "/gone/old").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_NE(::lstat((r + "/gone/.wh.old").c_str(), &st), 0);
  ASSERT_EQ(::lgetxattr((r + "/opaque").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_EQ(slurp(r + "/opaque/new"), "n");
}

INSTANTIATE_TEST_SUITE_P(Compression, UnpackTest, ::testing::Values("none", "gzip", "zstd"));

}  // namespace
}  // namespace kernlet::images
