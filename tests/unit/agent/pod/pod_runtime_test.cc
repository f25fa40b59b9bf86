#include "agent/pod/pod_runtime.h"

#include <gtest/gtest.h>

namespace kernlet::agent {
namespace {

TEST(ContainerInstanceId, RoundTrips) {
  std::string id = container_instance_id("0f1e2d3c-aaaa-bbbb-cccc-000011112222", "web-server", 12);
  EXPECT_EQ(id, "0f1e2d3c-aaaa-bbbb-cccc-000011112222_web-server_12");
  auto n = parse_container_instance_id(id);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pod_uid, "0f1e2d3c-aaaa-bbbb-cccc-000011112222");
  EXPECT_EQ(n->name, "web-server");
  EXPECT_EQ(n->attempt, 12);
}

TEST(ContainerInstanceId, RefusesForeignIds) {
  EXPECT_FALSE(parse_container_instance_id("c1234"));
  EXPECT_FALSE(parse_container_instance_id("uid_name"));
  EXPECT_FALSE(parse_container_instance_id("uid_name_x"));
  EXPECT_FALSE(parse_container_instance_id("uid__3"));
  EXPECT_FALSE(parse_container_instance_id("_a_3"));
  EXPECT_FALSE(parse_container_instance_id("uid_a_-1"));
}

}  // namespace
}  // namespace kernlet::agent
