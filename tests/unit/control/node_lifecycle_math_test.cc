#include "control/controllers/node_lifecycle_math.h"

#include <gtest/gtest.h>

namespace kernlet::controllers::lifecycle {
namespace {

using namespace std::chrono_literals;

TEST(NodeLifecycle, ZoneStates) {
  EXPECT_EQ(zone_state(3, 0), ZoneState::kNormal);
  EXPECT_EQ(zone_state(2, 1), ZoneState::kNormal);
  EXPECT_EQ(zone_state(1, 2), ZoneState::kNormal);             // not more than two down
  EXPECT_EQ(zone_state(2, 3), ZoneState::kPartialDisruption);  // 60 % ≥ 55 %
  EXPECT_EQ(zone_state(10, 3), ZoneState::kNormal);            // 23 %
  EXPECT_EQ(zone_state(0, 2), ZoneState::kFullDisruption);
  EXPECT_EQ(zone_state(0, 0), ZoneState::kNormal);
}

TEST(NodeLifecycle, EvictionRates) {
  EXPECT_DOUBLE_EQ(eviction_rate(ZoneState::kNormal, 3, false), 0.1);
  EXPECT_DOUBLE_EQ(eviction_rate(ZoneState::kPartialDisruption, 10, false), 0.0);
  EXPECT_DOUBLE_EQ(eviction_rate(ZoneState::kPartialDisruption, 100, false), 0.01);
  EXPECT_DOUBLE_EQ(eviction_rate(ZoneState::kFullDisruption, 3, false), 0.1);
  // Every zone down at once: the control plane is probably cut off; evict nothing.
  EXPECT_DOUBLE_EQ(eviction_rate(ZoneState::kFullDisruption, 3, true), 0.0);
  EXPECT_DOUBLE_EQ(eviction_rate(ZoneState::kNormal, 3, true), 0.0);
}

TEST(NodeLifecycle, TokenBucketPacesEvictions) {
  const auto t0 = Clock::now();
  TokenBucket b(0.1, 1, t0);
  EXPECT_TRUE(b.try_take(t0));    // starts full
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0 + 9s));
  EXPECT_TRUE(b.try_take(t0 + 10s));  // one per 10 s
  EXPECT_FALSE(b.try_take(t0 + 11s));
  b.set_rate(0, t0 + 12s);
  EXPECT_FALSE(b.try_take(t0 + 1000s));  // stopped
  b.set_rate(1, t0 + 1000s);
  EXPECT_TRUE(b.try_take(t0 + 1001s));
}

TEST(NodeLifecycle, EvictionDeadlineFromTolerations) {
  const auto added = std::chrono::system_clock::now();
  const NoExecuteTaint unreachable{"node.kubernetes.io/unreachable", "", added};
  // The default tolerations every pod gets: 300 s.
  std::vector<PodToleration> defaults{{"node.kubernetes.io/not-ready", "Exists", "", "NoExecute", 300},
                                      {"node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 300}};
  EXPECT_EQ(eviction_deadline({unreachable}, defaults), added + 300s);
  // No toleration: at once. Tolerated forever: never.
  EXPECT_EQ(eviction_deadline({unreachable}, {}), added);
  EXPECT_EQ(eviction_deadline({unreachable}, {{"", "Exists", "", "", std::nullopt}}), std::nullopt);
  // The smallest matching tolerationSeconds wins.
  defaults.push_back({"node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 30});
  EXPECT_EQ(eviction_deadline({unreachable}, defaults), added + 30s);
  // A NoSchedule toleration does not cover a NoExecute taint.
  EXPECT_EQ(eviction_deadline({unreachable}, {{"node.kubernetes.io/unreachable", "Exists", "", "NoSchedule", std::nullopt}}),
            added);
  EXPECT_EQ(eviction_deadline({}, {}), std::nullopt);
}

}  // namespace
}  // namespace kernlet::controllers::lifecycle
