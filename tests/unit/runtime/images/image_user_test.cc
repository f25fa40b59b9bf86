#include "runtime/images/image_user.h"

#include <gtest/gtest.h>

namespace kernlet::images {
namespace {

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
constexpr std::string_view kGroup = "root:x:0:\nnginx:x:101:\napp:x:1000:\nstaff:x:50:app,other\nvideo:x:44:app\n";

TEST(ImageUser, NamesAndNumbers) {
  auto nginx = resolve_user_from(kPasswd, kGroup, "nginx");
  ASSERT_TRUE(nginx.ok());
  EXPECT_EQ(nginx->uid, 101u);
  EXPECT_EQ(nginx->gid, 101u);
  auto app = resolve_user_from(kPasswd, kGroup, "app");
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->additional_gids, (std::vector<uint32_t>{50, 44}));
  auto app_staff = resolve_user_from(kPasswd, kGroup, "app:staff");
  ASSERT_TRUE(app_staff.ok());
  EXPECT_EQ(app_staff->gid, 50u);
  EXPECT_TRUE(app_staff->additional_gids.empty());
  auto numeric = resolve_user_from(kPasswd, kGroup, "1000");
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->gid, 1000u);  // primary group from passwd
  auto unlisted = resolve_user_from(kPasswd, kGroup, "4242:77");
  ASSERT_TRUE(unlisted.ok());
  EXPECT_EQ(unlisted->uid, 4242u);
  EXPECT_EQ(unlisted->gid, 77u);
  auto root = resolve_user_from("", "", "");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->uid, 0u);
}

TEST(ImageUser, MissingNamesAreErrors) {
  auto u = resolve_user_from(kPasswd, kGroup, "postgres");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message(), "user \"postgres\" not found in the image's /etc/passwd");
  auto g = resolve_user_from(kPasswd, kGroup, "app:wheel");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().message(), "group \"wheel\" not found in the image's /etc/group");
  EXPECT_FALSE(resolve_user_from("", "", "nobody").ok());  // no passwd in the image at all
}

}  // namespace
}  // namespace kernlet::images
