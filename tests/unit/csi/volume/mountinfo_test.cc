#include <gtest/gtest.h>

#include "csi/volume/mounter.h"

namespace kernlet::csi {
namespace {

TEST(Mountinfo, MountPointsDecoded) {
  std::string text =
      "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
      "90 22 0:50 / /var/lib/kernlet/pods/u/volumes/kubernetes.io~secret/a\\040b rw - tmpfs tmpfs rw\n"
      "bad line\n";
  std::vector<std::string> m = parse_mountinfo_mount_points(text);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], "/");
  EXPECT_EQ(m[1], "/var/lib/kernlet/pods/u/volumes/kubernetes.io~secret/a b");
}

}  // namespace
}  // namespace kernlet::csi
