#include "csi/volume/host_path.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/csi/volume/temp_dir.h"

namespace kernlet::csi {
namespace {

using testing::TempDir;
using testing::write_all;

std::string check(const std::string& path, std::string_view type) {
  Result<void> r = check_host_path_type(path, type);
  return r.ok() ? "ok" : r.error().message();
}

TEST(HostPathType, ChecksEachTypeWithUpstreamMessages) {
  TempDir t;
  std::string dir = t.path() + "/d", file = t.path() + "/f", missing = t.path() + "/missing";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  write_all(file, "x");

  EXPECT_EQ(check(missing, ""), "ok");
  EXPECT_EQ(check(dir, "Directory"), "ok");
  EXPECT_EQ(check(file, "Directory"), "hostPath type check failed: " + file + " is not a directory");
  EXPECT_EQ(check(missing, "Directory"), "hostPath type check failed: " + missing + " is not a directory");
  EXPECT_EQ(check(file, "File"), "ok");
  EXPECT_EQ(check(dir, "File"), "hostPath type check failed: " + dir + " is not a file");
  EXPECT_EQ(check(missing, "File"), "hostPath type check failed: " + missing + " is not a file");
  EXPECT_EQ(check("/dev/null", "File"), "ok");  // upstream: anything but a directory
  EXPECT_EQ(check(file, "Socket"), "hostPath type check failed: " + file + " is not a socket file");
  EXPECT_EQ(check("/dev/null", "CharDevice"), "ok");
  EXPECT_EQ(check(file, "CharDevice"), "hostPath type check failed: " + file + " is not a character device");
  EXPECT_EQ(check("/dev/null", "BlockDevice"), "hostPath type check failed: /dev/null is not a block device");
  EXPECT_EQ(check(file, "Weird"), "Weird is an invalid volume type");
}

TEST(HostPathType, SocketIsRecognised) {
  TempDir t;
  std::string path = t.path() + "/s";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(check(path, "Socket"), "ok");
  ::close(fd);
}

TEST(HostPathType, OrCreateTypesCreate) {
  TempDir t;
  std::string dir = t.path() + "/a/b", file = t.path() + "/f";
  EXPECT_EQ(check(dir, "DirectoryOrCreate"), "ok");
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  EXPECT_EQ(check(dir, "DirectoryOrCreate"), "ok");
  EXPECT_EQ(check(file, "FileOrCreate"), "ok");
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
  EXPECT_EQ(check(file, "DirectoryOrCreate"), "hostPath type check failed: " + file + " is not a directory");
  EXPECT_EQ(check(dir, "FileOrCreate"), "hostPath type check failed: " + dir + " is not a file");
  // FileOrCreate does not create the parent, as upstream.
  EXPECT_NE(check(t.path() + "/no/such/f", "FileOrCreate"), "ok");
}

}  // namespace
}  // namespace kernlet::csi
