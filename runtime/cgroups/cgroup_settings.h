// Kubernetes requests/limits -> cgroup v2 interface files, as pure functions.
//
// The formulas are the kubelet's (pkg/kubelet/cm, kuberuntime) and runc's cgroup v2
// conversion, so a pod gets the same cgroup values here as under kubelet + runc:
//
//   cpu shares  = clamp(milliCPU * 1024 / 1000, 2, 262144)        (kubelet MilliCPUToShares;
//                 no request -> 2)
//   cpu.weight  = 1 + ((shares - 2) * 9999) / 262142              (runc's v1 shares -> v2 weight;
//                 the linear one of runc < 1.3.2, as Debian 12's runc 1.1.5 — not the
//                 log-quadratic one newer runc/crun use)
//   cpu.max     = "<quota> 100000", quota = milliCPU * 100000 / 1000, at least 1000 us
//                 (kubelet MilliCPUToQuota, 100 ms period); no limit -> "max 100000"
//   memory.max  = limits.memory, or "max"
//   memory.min  = requests.memory                                 (Memory QoS, KEP-2570)
//   memory.high = floor((request + factor * (limit - request)) / page) * page, with the node's
//                 allocatable memory in place of the limit when there is none; factor 0.9.
//                 Not set (max) when request == limit (Guaranteed) or when it would not
//                 exceed the request — the kubelet's 1.27+ rule.
//   memory.oom.group = 1 for containers: the whole container dies on OOM (kubelet 1.28+ on v2)
//   pids.max    = the pod pids limit, or "max"
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::cgroups {

// What Kubernetes asks of one container (or, summed, of a pod). Unset = not specified.
struct Resources {
  std::optional<int64_t> cpu_request_milli;
  std::optional<int64_t> cpu_limit_milli;
  std::optional<int64_t> memory_request_bytes;
  std::optional<int64_t> memory_limit_bytes;
  std::optional<int64_t> pids_limit;

  bool operator==(const Resources&) const = default;
};

// Node-level knobs of the memory QoS rules.
struct MemoryQos {
  bool enabled = true;              // the kubelet's MemoryQoS feature gate
  double throttling_factor = 0.9;   // memoryThrottlingFactor, in (0, 1]
  int64_t node_allocatable_bytes = 0;  // stands in for a missing limit; 0 = unknown
  int64_t page_size = 4096;
};

// Which cgroup a setting is for: a pod's interior node or a container's leaf.
enum class Level { kPod, kContainer };

// One interface file and the value to write, with the controller that enforces it.
struct Setting {
  std::string file;        // e.g. "cpu.weight"
  std::string value;       // e.g. "79"
  std::string controller;  // e.g. "cpu"

  bool operator==(const Setting&) const = default;
};

inline constexpr int64_t kMinShares = 2;
inline constexpr int64_t kMaxShares = 262144;
inline constexpr int64_t kCpuPeriodUsec = 100000;
inline constexpr int64_t kMinQuotaUsec = 1000;

// kubelet's MilliCPUToShares: milli * 1024 / 1000 clamped to [2, 262144]; <= 0 -> 2.
int64_t cpu_shares_from_milli(int64_t milli);
// runc's shares -> cpu.weight: 1 + ((shares - 2) * 9999) / 262142; shares clamped to
// [2, 262144] first, so the result is in [1, 10000].
int64_t cpu_weight_from_shares(int64_t shares);
// kubelet's MilliCPUToQuota for a 100 ms period: 0 for milli <= 0 (no limit), else
// milli * 100, at least 1000 us.
int64_t cpu_quota_from_milli(int64_t milli);
// The memory.high value for request/limit under `qos`, or nullopt when the kubelet leaves
// memory.high at max (QoS off, request == limit, no limit and no allocatable, or a result not
// above the request).
std::optional<int64_t> memory_high(std::optional<int64_t> request, std::optional<int64_t> limit,
                                   const MemoryQos& qos);

// Checks the values a user could have got wrong; the error names the field and value
// (`memory limit -5: must be positive`).
Result<void> validate(const Resources& r);

// Every setting for a cgroup at `level` (all of them, "max" where unlimited, so re-applying
// after a resize resets what was dropped). Call validate() first.
std::vector<Setting> settings_for(const Resources& r, Level level, const MemoryQos& qos);

// The pod cgroup's resources from its containers, as the kubelet sizes the pod cgroup:
// requests = max(sum over app containers, each init container's); a limit only when every
// container (app and init) has one, then max(sum over app containers, each init container's).
// pids_limit is the node's podPidsLimit (not per container).
Resources pod_resources(std::span<const Resources> containers,
                        std::span<const Resources> init_containers,
                        std::optional<int64_t> pod_pids_limit);

}  // namespace kernlet::cgroups
