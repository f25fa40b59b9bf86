#include "control/controllers/node_lifecycle_math.h"

#include <algorithm>

namespace kernlet::controllers::lifecycle {

ZoneState zone_state(int ready, int not_ready, const Thresholds& t) {
  const int total = ready + not_ready;
  if (total > 0 && ready == 0) return ZoneState::kFullDisruption;
  if (not_ready > 2 && static_cast<double>(not_ready) / total >= t.unhealthy_zone_threshold) {
    return ZoneState::kPartialDisruption;
  }
  return ZoneState::kNormal;
}

double eviction_rate(ZoneState state, int zone_size, bool all_zones_fully_disrupted, const Thresholds& t) {
  if (all_zones_fully_disrupted) return 0;
  switch (state) {
    case ZoneState::kNormal:
    case ZoneState::kFullDisruption:  // one zone down while others are fine: a real outage
      return t.eviction_qps;
    case ZoneState::kPartialDisruption:
      // A large zone keeps evicting, slowly; a small one stops (it might be the network).
      return zone_size > t.large_cluster_size ? t.secondary_eviction_qps : 0;
  }
  return 0;
}

TokenBucket::TokenBucket(double qps, int burst, Clock::time_point now)
    : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * qps_);
    last_ = now;
  }
}

bool TokenBucket::try_take(Clock::time_point now) {
  refill(now);
  if (qps_ <= 0 || tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void TokenBucket::set_rate(double qps, Clock::time_point now) {
  refill(now);
  qps_ = qps;
}

std::optional<std::chrono::system_clock::time_point> eviction_deadline(const std::vector<NoExecuteTaint>& taints,
                                                                       const std::vector<PodToleration>& tolerations) {
  std::optional<std::chrono::system_clock::time_point> deadline;
  for (const NoExecuteTaint& taint : taints) {
    std::optional<int64_t> allowed;  // seconds tolerated; nullopt with `forever` set = no limit
    bool tolerated = false;
    bool forever = false;
    for (const PodToleration& tol : tolerations) {
      if (!tol.effect.empty() && tol.effect != "NoExecute") continue;
      const bool key_ok = tol.key.empty() ? tol.op == "Exists" : tol.key == taint.key;
      if (!key_ok || (tol.op != "Exists" && tol.value != taint.value)) continue;
      tolerated = true;
      if (!tol.seconds) {
        forever = true;
      } else {
        allowed = allowed ? std::min(*allowed, *tol.seconds) : *tol.seconds;
      }
    }
    std::optional<std::chrono::system_clock::time_point> d;
    if (!tolerated) {
      d = taint.added;
    } else if (allowed) {
      // Kubernetes takes the smallest tolerationSeconds among the matching tolerations.
      d = taint.added + std::chrono::seconds(std::max<int64_t>(0, *allowed));
    } else if (forever) {
      continue;
    }
    if (d && (!deadline || *d < *deadline)) deadline = d;
  }
  return deadline;
}

}  // namespace kernlet::controllers::lifecycle
