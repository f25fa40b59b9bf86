// The decisions of the node lifecycle controller that keep auto-repair safe: the health
// of each zone, how fast pods may be evicted from it, a token bucket that enforces that
// rate, and when a pod on a NoExecute-tainted node has outstayed its tolerations.
// Pure apart from the clock passed in. Thread-safety: TokenBucket is not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kernlet::controllers::lifecycle {

using Clock = std::chrono::steady_clock;

enum class ZoneState { kNormal, kPartialDisruption, kFullDisruption };

struct Thresholds {
  double eviction_qps = 0.1;            // --node-eviction-rate
  double secondary_eviction_qps = 0.01; // --secondary-node-eviction-rate
  double unhealthy_zone_threshold = 0.55;
  int large_cluster_size = 50;          // --large-cluster-size-threshold
};

// A zone's state from its nodes' readiness: no ready node → FullDisruption; more than two
// not ready and at least `unhealthy_zone_threshold` of them → PartialDisruption.
ZoneState zone_state(int ready, int not_ready, const Thresholds& t = {});

// Evictions per second allowed in a zone. When every zone is fully disrupted the
// control plane is the likelier culprit (a partition), so nothing is evicted anywhere.
double eviction_rate(ZoneState state, int zone_size, bool all_zones_fully_disrupted, const Thresholds& t = {});

class TokenBucket {
 public:
  // `qps` tokens per second, at most `burst` saved up; starts full.
  TokenBucket(double qps, int burst, Clock::time_point now);
  // Takes a token if one is available at `now`.
  bool try_take(Clock::time_point now);
  void set_rate(double qps, Clock::time_point now);

 private:
  void refill(Clock::time_point now);
  double qps_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

struct NoExecuteTaint {
  std::string key;
  std::string value;
  std::chrono::system_clock::time_point added;
};

struct PodToleration {
  std::string key;
  std::string op;      // Equal / Exists
  std::string value;
  std::string effect;  // "" or NoExecute match NoExecute taints
  std::optional<int64_t> seconds;
};

// When a pod must be evicted from a node with these NoExecute taints: nullopt = never
// (every taint tolerated forever, or no taint); otherwise the earliest deadline, which is
// `added` of an untolerated taint (at once) or added + the smallest tolerationSeconds.
std::optional<std::chrono::system_clock::time_point> eviction_deadline(const std::vector<NoExecuteTaint>& taints,
                                                                       const std::vector<PodToleration>& tolerations);

}  // namespace kernlet::controllers::lifecycle
