// Hostile layers: each test here fails if the openat2(RESOLVE_IN_ROOT) confinement of the
// unpacker is removed. They assert what an operator would check: nothing appeared or changed
// outside the layer directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/images/fs.h"
#include "runtime/images/layer_unpack.h"
#include "tests/unit/runtime/images/tar_builder.h"
#include "tests/unit/runtime/images/temp_dir.h"

namespace kernlet::images {
namespace {

using testing::TarBuilder;
using testing::TempDir;

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

class UnpackSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir((tmp_ / "layer").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((tmp_ / "host").c_str(), 0755), 0);
    host_ = tmp_ / "host";
    layer_ = tmp_ / "layer";
  }

  // Unpacks `tar` into layer/; returns the result.
  Result<UnpackStats> unpack(const std::string& tar) {
    std::string blob = tmp_ / "blob";
    int fd = ::open(blob.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
    ::lseek(fd, 0, SEEK_SET);
    auto dir = open_dir(layer_);
    EXPECT_TRUE(dir.ok());
    UnpackOptions opts;
    opts.preserve_ownership = ::geteuid() == 0;
    auto r = unpack_layer(fd, dir->get(), {}, opts);
    ::close(fd);
    return r;
  }

  TempDir tmp_{"kl-unpack-sec"};
  std::string host_, layer_;
};

TEST_F(UnpackSecurityTest, DotDotNamesStayInsideTheLayer) {
  auto r = unpack(TarBuilder().file("../host/pwned", "x").file("a/../../../../host/pwned2", "x").finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(exists(host_ + "/pwned"));
  EXPECT_FALSE(exists(host_ + "/pwned2"));
  // The kernel clamped ".." at the layer root.
  EXPECT_TRUE(exists(layer_ + "/host/pwned"));
  EXPECT_TRUE(exists(layer_ + "/host/pwned2"));
}

TEST_F(UnpackSecurityTest, AbsoluteNamesStayInsideTheLayer) {
  auto r = unpack(TarBuilder().file(host_ + "/pwned", "x").finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(exists(host_ + "/pwned"));
  EXPECT_TRUE(exists(layer_ + host_ + "/pwned"));
}

TEST_F(UnpackSecurityTest, WritesThroughSymlinksNeverLeaveTheLayer) {
  // Symlinks to a host directory, absolute and relative: inside the root they point at
  // paths the layer does not have, and nothing is created through a symlink.
  for (const std::string& target : {host_, std::string("../host"), std::string("../../../../..") + host_}) {
    SCOPED_TRACE(target);
    auto r = unpack(TarBuilder()
                        .symlink("s-" + std::to_string(target.size()), target)
                        .file("s-" + std::to_string(target.size()) + "/pwned", "x")
                        .finish());
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(exists(host_ + "/pwned"));
  }
  // A symlink climbing above the root is clamped to the root: the write lands in the layer.
  auto r = unpack(TarBuilder().symlink("up", "../../../..").file("up/landed", "x").finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(exists(layer_ + "/landed"));
  EXPECT_FALSE(exists(tmp_ / "landed"));
}

TEST_F(UnpackSecurityTest, AFileReplacesASymlinkInsteadOfWritingThroughIt) {
  std::string victim = host_ + "/victim";
  {
    int fd = ::open(victim.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "original", 8), 8);
    ::close(fd);
  }
  auto r = unpack(TarBuilder().symlink("f", victim).file("f", "overwritten").finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto content = read_file(victim);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "original");
  struct stat st;
  ASSERT_EQ(::lstat((layer_ + "/f").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(UnpackSecurityTest, HardlinksToHostFilesAreRefused) {
  std::string victim = host_ + "/secret";
  int fd = ::open(victim.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  for (const std::string& target : {victim, std::string("../host/secret"), std::string("../../../../../") + victim}) {
    SCOPED_TRACE(target);
    auto r = unpack(TarBuilder().hardlink("link", target).finish());
    EXPECT_FALSE(r.ok());
    struct stat st;
    ASSERT_EQ(::stat(victim.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u) << "the host file gained a link";
    EXPECT_FALSE(exists(layer_ + "/link"));
  }
}

TEST_F(UnpackSecurityTest, HardlinkThroughASymlinkedDirectoryIsRefused) {
  std::string victim = host_ + "/secret";
  int fd = ::open(victim.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto r = unpack(TarBuilder().symlink("h", host_).hardlink("link", "h/secret").finish());
  EXPECT_FALSE(r.ok());
  struct stat st;
  ASSERT_EQ(::stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
}

TEST_F(UnpackSecurityTest, EmptyNameIsAnError) {
  auto r = unpack(TarBuilder().file("", "x").finish());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("empty name"), std::string::npos) << r.error().message();
}

TEST_F(UnpackSecurityTest, LayersCannotForgeOverlayXattrs) {
  if (::geteuid() != 0) GTEST_SKIP() << "trusted.* xattrs need CAP_SYS_ADMIN";
  auto r = unpack(TarBuilder().dir("d").file("d/f", "x", 0644, 0, 0, {{"trusted.overlay.opaque", "y"}}).finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  char v[8];
  EXPECT_LT(::lgetxattr((layer_ + "/d/f").c_str(), "trusted.overlay.opaque", v, sizeof v), 0);
}

TEST_F(UnpackSecurityTest, DiffIdMismatchIsAnError) {
  std::string tar = TarBuilder().file("a", "x").finish();
  std::string blob = tmp_ / "blob";
  int fd = ::open(blob.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_EQ(::write(fd, tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
  ::lseek(fd, 0, SEEK_SET);
  auto dir = open_dir(layer_);
  ASSERT_TRUE(dir.ok());
  UnpackOptions opts;
  opts.preserve_ownership = false;
  auto r = unpack_layer(fd, dir->get(), Digest::of("something else"), opts);
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("diff_id mismatch"), std::string::npos);
  // The right diff_id is the sha256 of the uncompressed tar.
  EXPECT_EQ(r.error().message().find(Digest::of(tar).str()) != std::string::npos, true);
}

TEST_F(UnpackSecurityTest, GarbageIsAnError) {
  auto r = unpack(std::string(2048, 'z'));
  ASSERT_FALSE(r.ok());
}

}  // namespace
}  // namespace kernlet::images
