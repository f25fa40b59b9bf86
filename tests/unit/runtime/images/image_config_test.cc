#include "runtime/images/image_config.h"

#include <gtest/gtest.h>

namespace kernlet::images {
namespace {

using V = std::vector<std::string>;

ImageConfig nginx_like() {
  ImageConfig c;
  c.entrypoint = {"/docker-entrypoint.sh"};
  c.cmd = {"nginx", "-g", "daemon off;"};
  c.env = {"PATH=/usr/bin:/bin", "NGINX_VERSION=1.25"};
  c.working_dir = "/srv";
  c.user = "101:101";
  return c;
}

TEST(ApplyImageConfigTest, NeitherCommandNorArgsRunsEntrypointPlusCmd) {
  auto p = apply_image_config(nginx_like(), {}, {}, {});
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->args, (V{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}));
  EXPECT_EQ(p->cwd, "/srv");
  EXPECT_EQ(p->user, "101:101");
}

TEST(ApplyImageConfigTest, CommandReplacesEntrypointAndDropsCmd) {
  auto p = apply_image_config(nginx_like(), {"sleep"}, {}, {});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (V{"sleep"}));
}

TEST(ApplyImageConfigTest, CommandAndArgs) {
  auto p = apply_image_config(nginx_like(), {"sleep"}, {"10"}, {});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (V{"sleep", "10"}));
}

TEST(ApplyImageConfigTest, ArgsReplaceCmdKeepingEntrypoint) {
  auto p = apply_image_config(nginx_like(), {}, {"nginx", "-T"}, {});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (V{"/docker-entrypoint.sh", "nginx", "-T"}));
}

TEST(ApplyImageConfigTest, EnvOverridesInPlaceAndAppendsNew) {
  auto p = apply_image_config(nginx_like(), {}, {}, {{"NGINX_VERSION", "x"}, {"NEW", "1"}, {"EMPTY", ""}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->env, (V{"PATH=/usr/bin:/bin", "NGINX_VERSION=x", "NEW=1", "EMPTY="}));
}

TEST(ApplyImageConfigTest, WorkingDirFromContainerWinsAndDefaultsToRoot) {
  auto p = apply_image_config(nginx_like(), {}, {}, {}, "/data");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cwd, "/data");
  ImageConfig bare;
  bare.cmd = {"sh"};
  auto q = apply_image_config(bare, {}, {}, {});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->cwd, "/");
  EXPECT_EQ(q->user, "");
}

TEST(ApplyImageConfigTest, Errors) {
  ImageConfig empty;
  auto none = apply_image_config(empty, {}, {}, {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("no command specified"), std::string::npos);
  // args alone with no Entrypoint: args are the whole argv (docker and containerd agree).
  auto args_only = apply_image_config(empty, {}, {"/bin/true"}, {});
  ASSERT_TRUE(args_only.ok());
  EXPECT_EQ(args_only->args, (V{"/bin/true"}));
  EXPECT_FALSE(apply_image_config(nginx_like(), {}, {}, {}, "relative").ok());
  auto bad_env = apply_image_config(nginx_like(), {}, {}, {{"A=B", "c"}});
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.error().message().find("A=B"), std::string::npos);
}

TEST(SplitUserTest, Forms) {
  EXPECT_EQ(split_user("1000").user, "1000");
  EXPECT_EQ(split_user("1000").group, "");
  EXPECT_EQ(split_user("app:staff").user, "app");
  EXPECT_EQ(split_user("app:staff").group, "staff");
  EXPECT_EQ(split_user("").user, "");
}

}  // namespace
}  // namespace kernlet::images
