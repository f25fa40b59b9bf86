// The arithmetic of the HorizontalPodAutoscaler (autoscaling/v2), as Kubernetes' controller
// does it: the replica count a metric asks for (with the 0.1 tolerance and its rules for
// pods that are missing metrics or not ready), then `behavior` — stabilization windows
// and scaling policies — and minReplicas/maxReplicas.
//
// Pure functions over plain values; the controller gathers metrics and pods and records
// recommendations and scale events. Thread-safe (no state).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kernlet::controllers::hpa {

using Clock = std::chrono::system_clock;

inline constexpr double kDefaultTolerance = 0.1;

enum class PodState {
  kReady,     // counted with its metric
  kUnready,   // not Ready yet, or cpu still in its initialization period
  kIgnored,   // being deleted, or failed: not counted at all
};

struct PodSample {
  std::string name;
  PodState state = PodState::kReady;
  std::optional<int64_t> usage;  // the metric (millicores, bytes, …); nullopt = missing
  int64_t request = 0;           // the resource request, for Utilization targets
};

enum class TargetType { kUtilization, kAverageValue };

struct Target {
  TargetType type = TargetType::kUtilization;
  int64_t value = 0;  // percent for Utilization; metric units per pod for AverageValue
};

struct MetricResult {
  int32_t replicas = 0;
  // What status.currentMetrics reports: average utilization in percent, or average value.
  int64_t current = 0;
  bool valid = false;  // false: no pod had a usable metric (or requests were missing)
  std::string error;   // why not valid
};

// The replicas one Resource metric asks for, from the current replica count and the pods'
// samples. Missing metrics count as 0 % on a scale-up and as 100 % of their request (or
// the target, if higher) on a scale-down; unready pods count as 0 on a scale-up and not at
// all otherwise; the recomputed answer is dropped if it would reverse the direction or
// fall within the tolerance.
MetricResult replicas_for_metric(int32_t current_replicas, const std::vector<PodSample>& pods, const Target& target,
                                 double tolerance = kDefaultTolerance);

// An Object or External metric with a Value target (upstream's GetObjectMetricReplicas /
// GetExternalMetricReplicas): ratio = usage / target; within the tolerance nothing
// changes; else ceil(ratio × ready pods) — or ceil(ratio) when the target has 0 replicas.
// `current` reports the usage.
MetricResult replicas_for_value(int32_t current_replicas, int64_t ready_pods, int64_t usage, int64_t target,
                                double tolerance = kDefaultTolerance);

// An Object or External metric with an AverageValue target (GetObjectPerPodMetricReplicas /
// GetExternalPerPodMetricReplicas): the total usage over the status replicas against the
// per-pod target; beyond the tolerance, ceil(usage / target). `current` reports the usage
// per replica, rounded up.
MetricResult replicas_for_total_average(int32_t status_replicas, int64_t usage, int64_t target_per_pod,
                                        double tolerance = kDefaultTolerance);

// --- behavior -----------------------------------------------------------------------------

enum class PolicyType { kPods, kPercent };
enum class SelectPolicy { kMax, kMin, kDisabled };

struct Policy {
  PolicyType type = PolicyType::kPods;
  int32_t value = 0;
  std::chrono::seconds period{15};
};

// A direction with no policies is not rate-limited; SelectPolicy kDisabled stops it.
struct Rules {
  std::chrono::seconds stabilization_window{0};
  SelectPolicy select = SelectPolicy::kMax;
  std::vector<Policy> policies;
};

struct Behavior {
  Rules scale_up;
  Rules scale_down;
  // Kubernetes' defaults: up at once by max(4 pods, 100 %) per 15 s; down after a 300 s
  // window by up to 100 % per 15 s.
  static Behavior defaults();
};

struct Recommendation {
  Clock::time_point at;
  int32_t replicas = 0;
};

struct ScaleEvent {
  Clock::time_point at;
  int32_t change = 0;  // +added / -removed
};

enum class LimitReason { kNone, kTooFewReplicas, kTooManyReplicas, kScaleUpLimit, kScaleDownLimit };

struct Decision {
  int32_t replicas = 0;
  LimitReason limited = LimitReason::kNone;
  // The stabilized recommendation before policies and bounds (recorded for the window).
  int32_t stabilized = 0;
};

// The replicas to set: the stabilized recommendation (the highest over the scale-down
// window, the lowest over the scale-up window, both including `desired` now), bounded by
// the scaling policies against the changes in `events` within their periods, then by
// min/max. `history` holds earlier recommendations (the caller appends `desired` after).
Decision normalize(int32_t current, int32_t desired, int32_t min_replicas, int32_t max_replicas,
                   const Behavior& behavior, const std::vector<Recommendation>& history,
                   const std::vector<ScaleEvent>& events, Clock::time_point now);

}  // namespace kernlet::controllers::hpa
