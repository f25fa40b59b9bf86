#include "control/controllers/hpa_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace kernlet::controllers::hpa {
namespace {

struct Ratio {
  double ratio = 0;
  int64_t current = 0;
  std::size_t counted = 0;
};

// usage / target over the pods that have a value in `usage`.
std::optional<Ratio> usage_ratio(const std::map<std::string, int64_t>& usage, const std::map<std::string, int64_t>& requests,
                                 const Target& target, std::string* error) {
  if (usage.empty()) {
    *error = "no pods have metrics";
    return std::nullopt;
  }
  Ratio r;
  r.counted = usage.size();
  if (target.type == TargetType::kUtilization) {
    int64_t used = 0, requested = 0;
    for (const auto& [pod, value] : usage) {
      auto req = requests.find(pod);
      if (req == requests.end() || req->second <= 0) {
        *error = "missing request for pod " + pod;
        return std::nullopt;
      }
      used += value;
      requested += req->second;
    }
    r.current = used * 100 / requested;
    r.ratio = (static_cast<double>(used) * 100.0 / static_cast<double>(requested)) / static_cast<double>(target.value);
  } else {
    int64_t total = 0;
    for (const auto& [pod, value] : usage) total += value;
    const double avg = static_cast<double>(total) / static_cast<double>(usage.size());
    r.current = static_cast<int64_t>(avg);
    r.ratio = avg / static_cast<double>(target.value);
  }
  return r;
}

int32_t ceil_replicas(double x) { return static_cast<int32_t>(std::ceil(x - 1e-9)); }

}  // namespace

MetricResult replicas_for_value(int32_t current_replicas, int64_t ready_pods, int64_t usage, int64_t target,
                                double tolerance) {
  MetricResult out;
  out.replicas = current_replicas;
  out.current = usage;
  if (target <= 0) {
    out.error = "the target must be positive";
    return out;
  }
  out.valid = true;
  const double ratio = static_cast<double>(usage) / static_cast<double>(target);
  if (current_replicas == 0) {
    out.replicas = static_cast<int32_t>(std::ceil(ratio));
  } else if (std::abs(1.0 - ratio) > tolerance) {
    out.replicas = static_cast<int32_t>(std::ceil(ratio * static_cast<double>(ready_pods)));
  }
  return out;
}

MetricResult replicas_for_total_average(int32_t status_replicas, int64_t usage, int64_t target_per_pod,
                                        double tolerance) {
  MetricResult out;
  out.replicas = status_replicas;
  if (target_per_pod <= 0 || status_replicas <= 0) {
    out.error = target_per_pod <= 0 ? "the target must be positive" : "the target has no replicas";
    return out;
  }
  out.valid = true;
  const double ratio = static_cast<double>(usage) / (static_cast<double>(target_per_pod) * status_replicas);
  if (std::abs(1.0 - ratio) > tolerance) {
    out.replicas = static_cast<int32_t>(std::ceil(static_cast<double>(usage) / static_cast<double>(target_per_pod)));
  }
  out.current = static_cast<int64_t>(std::ceil(static_cast<double>(usage) / status_replicas));
  return out;
}

MetricResult replicas_for_metric(int32_t current_replicas, const std::vector<PodSample>& pods, const Target& target,
                                 double tolerance) {
  MetricResult out;
  out.replicas = current_replicas;
  if (target.value <= 0) {
    out.error = "the target must be positive";
    return out;
  }
  std::map<std::string, int64_t> usage, requests;
  std::vector<const PodSample*> unready, missing;
  int32_t ready = 0;
  for (const PodSample& p : pods) {
    if (p.state == PodState::kIgnored) continue;
    requests[p.name] = p.request;
    if (!p.usage) {
      missing.push_back(&p);
      continue;
    }
    if (p.state == PodState::kUnready) {
      unready.push_back(&p);
      continue;
    }
    usage[p.name] = *p.usage;
    ++ready;
  }
  if (ready == 0 && unready.empty()) {
    out.error = "no pods have metrics";
    return out;
  }
  std::optional<Ratio> first;
  if (!usage.empty()) first = usage_ratio(usage, requests, target, &out.error);
  if (!first) {
    if (usage.empty()) out.error = "no ready pods have metrics";
    return out;
  }
  out.valid = true;
  out.current = first->current;
  const bool scale_up_with_unready = !unready.empty() && first->ratio > 1.0;
  if (!scale_up_with_unready && missing.empty()) {
    if (std::abs(1.0 - first->ratio) <= tolerance) return out;
    out.replicas = ceil_replicas(first->ratio * ready);
    return out;
  }
  // Assume the worst for the direction we are going, then check the answer still holds.
  for (const PodSample* p : missing) {
    if (first->ratio < 1.0) {
      if (target.type == TargetType::kUtilization) {
        const int64_t fallback = std::max<int64_t>(100, target.value);
        usage[p->name] = p->request * fallback / 100;
      } else {
        usage[p->name] = target.value;
      }
    } else {
      usage[p->name] = 0;
    }
  }
  if (scale_up_with_unready) {
    for (const PodSample* p : unready) usage[p->name] = 0;
  }
  std::string ignored;
  auto second = usage_ratio(usage, requests, target, &ignored);
  if (!second) return out;
  if (std::abs(1.0 - second->ratio) <= tolerance || (first->ratio < 1.0 && second->ratio > 1.0) ||
      (first->ratio > 1.0 && second->ratio < 1.0)) {
    return out;
  }
  const int32_t proposed = ceil_replicas(second->ratio * static_cast<double>(usage.size()));
  if ((second->ratio < 1.0 && proposed > current_replicas) || (second->ratio > 1.0 && proposed < current_replicas)) {
    return out;
  }
  out.replicas = proposed;
  return out;
}

Behavior Behavior::defaults() {
  Behavior b;
  b.scale_up.stabilization_window = std::chrono::seconds(0);
  b.scale_up.select = SelectPolicy::kMax;
  b.scale_up.policies = {{PolicyType::kPods, 4, std::chrono::seconds(15)}, {PolicyType::kPercent, 100, std::chrono::seconds(15)}};
  b.scale_down.stabilization_window = std::chrono::seconds(300);
  b.scale_down.select = SelectPolicy::kMax;
  b.scale_down.policies = {{PolicyType::kPercent, 100, std::chrono::seconds(15)}};
  return b;
}

Decision normalize(int32_t current, int32_t desired, int32_t min_replicas, int32_t max_replicas,
                   const Behavior& behavior, const std::vector<Recommendation>& history,
                   const std::vector<ScaleEvent>& events, Clock::time_point now) {
  Decision d;
  // Stabilization: going up, take the lowest recommendation of the up window; going down,
  // the highest of the down window — flapping metrics do not flap the workload.
  int32_t up = desired, down = desired;
  for (const Recommendation& r : history) {
    if (r.at > now - behavior.scale_up.stabilization_window) up = std::min(up, r.replicas);
    if (r.at > now - behavior.scale_down.stabilization_window) down = std::max(down, r.replicas);
  }
  int32_t stabilized = current;
  if (current < up) stabilized = up;    // every recommendation in the up window says "more"
  if (current > down) stabilized = down;  // every recommendation in the down window says "fewer"
  d.stabilized = stabilized;

  auto changed_within = [&](std::chrono::seconds period, bool additions) {
    int32_t sum = 0;
    for (const ScaleEvent& e : events) {
      if (e.at <= now - period) continue;
      if (additions && e.change > 0) sum += e.change;
      if (!additions && e.change < 0) sum -= e.change;
    }
    return sum;
  };

  int32_t wanted = stabilized;
  if (wanted > current) {
    const Rules& rules = behavior.scale_up;
    // No policies: no limit; Disabled: no scaling up at all.
    int32_t limit = rules.select == SelectPolicy::kDisabled ? current : wanted;
    if (rules.select != SelectPolicy::kDisabled && !rules.policies.empty()) {
      limit = rules.select == SelectPolicy::kMax ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max();
      for (const Policy& p : rules.policies) {
        const int32_t start = current - changed_within(p.period, true);
        const int32_t l = p.type == PolicyType::kPods
                              ? start + p.value
                              : static_cast<int32_t>(std::ceil(static_cast<double>(start) * (1.0 + p.value / 100.0)));
        limit = rules.select == SelectPolicy::kMax ? std::max(limit, l) : std::min(limit, l);
      }
    }
    if (wanted > limit) {
      wanted = std::max(limit, current);
      d.limited = LimitReason::kScaleUpLimit;
    }
  } else if (wanted < current) {
    const Rules& rules = behavior.scale_down;
    int32_t limit = rules.select == SelectPolicy::kDisabled ? current : wanted;
    if (rules.select != SelectPolicy::kDisabled && !rules.policies.empty()) {
      limit = rules.select == SelectPolicy::kMax ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int32_t>::min();
      for (const Policy& p : rules.policies) {
        const int32_t start = current + changed_within(p.period, false);
        const int32_t l = p.type == PolicyType::kPods
                              ? start - p.value
                              : static_cast<int32_t>(static_cast<double>(start) * (1.0 - p.value / 100.0));
        // For scale-down, "Max" picks the policy allowing the biggest change: the lowest limit.
        limit = rules.select == SelectPolicy::kMax ? std::min(limit, l) : std::max(limit, l);
      }
    }
    if (wanted < limit) {
      wanted = std::min(limit, current);
      d.limited = LimitReason::kScaleDownLimit;
    }
  }
  if (wanted < min_replicas) {
    wanted = min_replicas;
    d.limited = LimitReason::kTooFewReplicas;
  } else if (wanted > max_replicas) {
    wanted = max_replicas;
    d.limited = LimitReason::kTooManyReplicas;
  }
  d.replicas = wanted;
  return d;
}

}  // namespace kernlet::controllers::hpa
