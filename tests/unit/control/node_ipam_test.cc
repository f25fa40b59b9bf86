#include "control/controllers/node_ipam.h"

#include <gtest/gtest.h>

namespace kernlet::controllers {
namespace {

TEST(NodeIpam, HandsOutSubnetsRoundRobin) {
  auto s = CidrSet::create("10.244.0.0/22", 24);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->free_count(), 4u);
  ASSERT_TRUE(s->occupy("10.244.1.0/24").ok());  // a node that already has one
  EXPECT_EQ(*s->allocate_next(), "10.244.0.0/24");
  EXPECT_EQ(*s->allocate_next(), "10.244.2.0/24");
  s->release("10.244.0.0/24");
  EXPECT_EQ(*s->allocate_next(), "10.244.3.0/24");  // not the one just freed
  EXPECT_EQ(*s->allocate_next(), "10.244.0.0/24");
  auto full = s->allocate_next();
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(full.error().message(), "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range");
}

TEST(NodeIpam, BadInputIsNamed) {
  EXPECT_EQ(CidrSet::create("10.244.0.0", 24).error().message(), "invalid CIDR \"10.244.0.0\"");
  EXPECT_EQ(CidrSet::create("10.244.0.1/16", 24).error().message(), "cluster CIDR \"10.244.0.1/16\": host bits are set");
  EXPECT_FALSE(CidrSet::create("10.244.0.0/16", 16).ok());
  EXPECT_FALSE(CidrSet::create("10.0.0.0/4", 28).ok());
  auto s = CidrSet::create("10.244.0.0/16", 24);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->occupy("10.245.0.0/24").error().message(), "CIDR \"10.245.0.0/24\" is not a /24 subnet of 10.244.0.0/16");
  EXPECT_FALSE(s->occupy("10.244.0.0/25").ok());
  EXPECT_FALSE(s->occupy("10.244.0.5/24").ok());
}

}  // namespace
}  // namespace kernlet::controllers
