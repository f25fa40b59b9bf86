#include "control/controllers/hpa_math.h"

#include <gtest/gtest.h>

namespace kernlet::controllers::hpa {
namespace {

using namespace std::chrono_literals;

std::vector<PodSample> pods(std::initializer_list<std::pair<int64_t, int64_t>> usage_request) {
  std::vector<PodSample> out;
  int i = 0;
  for (auto [usage, request] : usage_request) {
    PodSample p;
    p.name = "p" + std::to_string(i++);
    if (usage >= 0) p.usage = usage;
    p.request = request;
    out.push_back(p);
  }
  return out;
}

const Target kCpu50{TargetType::kUtilization, 50};

TEST(Hpa, DesiredIsCeilOfCurrentTimesRatio) {
  // One busy pod at 100 % of its request against a 50 % target: two... the seed's 1 → 3
  // example needs 150 %: ceil(1 × 150/50) = 3.
  EXPECT_EQ(replicas_for_metric(1, pods({{150, 100}}), kCpu50).replicas, 3);
  auto r = replicas_for_metric(3, pods({{90, 100}, {80, 100}, {70, 100}}), kCpu50);
  EXPECT_EQ(r.replicas, 5);  // 80 % / 50 % × 3 = 4.8
  EXPECT_EQ(r.current, 80);
  EXPECT_TRUE(r.valid);
  // Scale down when idle.
  EXPECT_EQ(replicas_for_metric(4, pods({{10, 100}, {10, 100}, {10, 100}, {10, 100}}), kCpu50).replicas, 1);
}

TEST(Hpa, ToleranceKeepsTheCount) {
  EXPECT_EQ(replicas_for_metric(2, pods({{54, 100}, {54, 100}}), kCpu50).replicas, 2);  // ratio 1.08
  EXPECT_EQ(replicas_for_metric(2, pods({{46, 100}, {45, 100}}), kCpu50).replicas, 2);  // ratio 0.91
  EXPECT_EQ(replicas_for_metric(2, pods({{56, 100}, {56, 100}}), kCpu50).replicas, 3);  // ratio 1.12
}

TEST(Hpa, MissingMetricsAssumeTheWorstForTheDirection) {
  // Scale-up: the pod without a metric counts as 0 %, which dampens the step.
  // Ready: 100 %, 100 % → ratio 2; with the missing one at 0: 200/300 → 66 % → ratio 1.33 → ceil(4.0) = 4.
  EXPECT_EQ(replicas_for_metric(3, pods({{100, 100}, {100, 100}, {-1, 100}}), kCpu50).replicas, 4);
  // Scale-down: the missing pod counts as 100 % of its request; 10,10,100 → 40 % → ratio 0.8 → ceil(2.4) = 3.
  EXPECT_EQ(replicas_for_metric(3, pods({{10, 100}, {10, 100}, {-1, 100}}), kCpu50).replicas, 3);
  // ...and if that flips the direction, nothing changes: 40,40 → 0.8, but with the missing
  // pod at 100: 60 % → 1.2 → would scale up; the answer is to stay.
  EXPECT_EQ(replicas_for_metric(3, pods({{40, 100}, {40, 100}, {-1, 100}}), kCpu50).replicas, 3);
}

TEST(Hpa, UnreadyPodsCountAsZeroOnlyWhenScalingUp) {
  auto s = pods({{100, 100}, {100, 100}, {100, 100}});
  s[2].state = PodState::kUnready;
  // Ready ones at 200 % of target → scale-up with unready at 0: 200/300 = 66 % → ratio 1.33 → 4.
  EXPECT_EQ(replicas_for_metric(3, s, kCpu50).replicas, 4);
  auto low = pods({{10, 100}, {10, 100}, {100, 100}});
  low[2].state = PodState::kUnready;
  // Scale-down: the unready pod is left out: ratio 0.2 over 2 ready → 1.
  EXPECT_EQ(replicas_for_metric(3, low, kCpu50).replicas, 1);
  // Ignored pods (terminating, failed) do not count at all.
  auto ignored = pods({{100, 100}, {0, 100}});
  ignored[1].state = PodState::kIgnored;
  EXPECT_EQ(replicas_for_metric(2, ignored, kCpu50).replicas, 2);  // ceil(2 × 1) over 1 pod = 2
}

TEST(Hpa, AverageValueTargets) {
  const Target mem{TargetType::kAverageValue, 100 << 20};
  EXPECT_EQ(replicas_for_metric(2, pods({{300 << 20, 0}, {300 << 20, 0}}), mem).replicas, 6);
}

TEST(Hpa, InvalidInputIsReported) {
  auto none = replicas_for_metric(2, pods({{-1, 100}, {-1, 100}}), kCpu50);
  EXPECT_FALSE(none.valid);
  EXPECT_EQ(none.replicas, 2);
  auto no_request = replicas_for_metric(2, pods({{50, 0}}), kCpu50);
  EXPECT_FALSE(no_request.valid);
  EXPECT_NE(no_request.error.find("missing request for pod p0"), std::string::npos);
}

TEST(HpaBehavior, ScaleDownWaitsForItsStabilizationWindow) {
  const auto now = Clock::now();
  Behavior b = Behavior::defaults();
  // Load dropped now, but 4 was recommended 100 s ago: stay at 4 for the 300 s window.
  std::vector<Recommendation> history{{now - 100s, 4}};
  auto d = normalize(4, 1, 1, 10, b, history, {}, now);
  EXPECT_EQ(d.replicas, 4);
  // Once that recommendation is older than the window, go down.
  history = {{now - 301s, 4}, {now - 10s, 1}};
  EXPECT_EQ(normalize(4, 1, 1, 10, b, history, {}, now).replicas, 1);
  // A shortened window (what the e2e uses) lets it go sooner.
  b.scale_down.stabilization_window = 15s;
  history = {{now - 20s, 4}};
  EXPECT_EQ(normalize(4, 1, 1, 10, b, history, {}, now).replicas, 1);
}

TEST(HpaBehavior, ScaleUpPoliciesLimitTheStep) {
  const auto now = Clock::now();
  Behavior b = Behavior::defaults();
  // Default: max(4 pods, 100 %) per 15 s. From 2: max(6, 4) = 6.
  auto d = normalize(2, 20, 1, 50, b, {}, {}, now);
  EXPECT_EQ(d.replicas, 6);
  EXPECT_EQ(d.limited, LimitReason::kScaleUpLimit);
  // From 10: max(14, 20) = 20.
  EXPECT_EQ(normalize(10, 40, 1, 50, b, {}, {}, now).replicas, 20);
  // Additions already made in the period count against it: 4 added 5 s ago from 6 → start 6 → limit 12.
  EXPECT_EQ(normalize(10, 40, 1, 50, b, {}, {{now - 5s, 4}}, now).replicas, 12);
  // selectPolicy Min takes the smaller step; Disabled does not scale up.
  b.scale_up.select = SelectPolicy::kMin;
  EXPECT_EQ(normalize(10, 40, 1, 50, b, {}, {}, now).replicas, 14);
  b.scale_up.select = SelectPolicy::kDisabled;
  EXPECT_EQ(normalize(10, 40, 1, 50, b, {}, {}, now).replicas, 10);
}

TEST(HpaBehavior, ScaleDownPoliciesAndBounds) {
  const auto now = Clock::now();
  Behavior b = Behavior::defaults();
  b.scale_down.stabilization_window = 0s;
  b.scale_down.policies = {{PolicyType::kPercent, 50, 60s}};
  EXPECT_EQ(normalize(10, 1, 1, 20, b, {}, {}, now).replicas, 5);
  b.scale_down.policies = {{PolicyType::kPods, 2, 60s}};
  EXPECT_EQ(normalize(10, 1, 1, 20, b, {}, {{now - 30s, -2}}, now).replicas, 10);  // start 12 → limit 10
  // min/max bound the result and say so.
  auto low = normalize(3, 1, 2, 10, Behavior{}, {}, {}, now);
  EXPECT_EQ(low.replicas, 2);
  EXPECT_EQ(low.limited, LimitReason::kTooFewReplicas);
  auto high = normalize(3, 30, 1, 10, Behavior{}, {}, {}, now);
  EXPECT_EQ(high.replicas, 10);
  EXPECT_EQ(high.limited, LimitReason::kTooManyReplicas);
}

TEST(HpaMath, ValueTargetScalesTheReadyPods) {
  // 250 against 100: 2.5 x 4 ready pods (of 5 replicas) -> 10.
  MetricResult r = replicas_for_value(5, 4, 250, 100);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.replicas, 10);
  EXPECT_EQ(r.current, 250);
  // Within the tolerance nothing changes.
  EXPECT_EQ(replicas_for_value(5, 4, 109, 100).replicas, 5);
  EXPECT_EQ(replicas_for_value(5, 4, 91, 100).replicas, 5);
  // Down: 40 against 100 x 4 ready -> ceil(1.6) = 2.
  EXPECT_EQ(replicas_for_value(5, 4, 40, 100).replicas, 2);
  // From zero replicas: ceil(ratio).
  EXPECT_EQ(replicas_for_value(0, 0, 250, 100).replicas, 3);
  EXPECT_FALSE(replicas_for_value(5, 4, 250, 0).valid);
}

TEST(HpaMath, TotalAverageSpreadsOverStatusReplicas) {
  // 450 total against 100 per pod on 3 replicas: 1.5 -> ceil(4.5) = 5; current 150.
  MetricResult r = replicas_for_total_average(3, 450, 100);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.replicas, 5);
  EXPECT_EQ(r.current, 150);
  // 310 / (100 x 3) is within 0.1: stays 3; current rounds up.
  r = replicas_for_total_average(3, 310, 100);
  EXPECT_EQ(r.replicas, 3);
  EXPECT_EQ(r.current, 104);
  EXPECT_EQ(replicas_for_total_average(4, 100, 100).replicas, 1);
  EXPECT_FALSE(replicas_for_total_average(0, 100, 100).valid);
}

}  // namespace
}  // namespace kernlet::controllers::hpa
