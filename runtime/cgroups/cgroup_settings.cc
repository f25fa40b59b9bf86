#include "runtime/cgroups/cgroup_settings.h"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace kernlet::cgroups {

int64_t cpu_shares_from_milli(int64_t milli) {
  if (milli <= 0) return kMinShares;
  // Divide first when the product would overflow; the clamp makes the rounding moot there.
  int64_t shares = milli > INT64_MAX / 1024 ? milli / 1000 * 1024 : milli * 1024 / 1000;
  return std::clamp(shares, kMinShares, kMaxShares);
}

int64_t cpu_weight_from_shares(int64_t shares) {
  shares = std::clamp(shares, kMinShares, kMaxShares);
  return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t cpu_quota_from_milli(int64_t milli) {
  if (milli <= 0) return 0;
  int64_t quota = milli > INT64_MAX / kCpuPeriodUsec ? INT64_MAX
                                                       : milli * kCpuPeriodUsec / 1000;
  return std::max(quota, kMinQuotaUsec);
}

std::optional<int64_t> memory_high(std::optional<int64_t> request, std::optional<int64_t> limit,
                                   const MemoryQos& qos) {
  if (!qos.enabled || qos.page_size <= 0) return std::nullopt;
  int64_t req = request.value_or(0);
  int64_t lim = limit.value_or(0);
  if (req == lim) return std::nullopt;  // Guaranteed (or nothing asked for and nothing known)
  int64_t ceiling = lim > 0 ? lim : qos.node_allocatable_bytes;
  if (ceiling <= 0) return std::nullopt;
  // The kubelet computes this in float64; doing the same keeps the values identical.
  double high = std::floor((static_cast<double>(req) +
                            (static_cast<double>(ceiling) - static_cast<double>(req)) *
                                qos.throttling_factor) /
                           static_cast<double>(qos.page_size));
  int64_t bytes = static_cast<int64_t>(high) * qos.page_size;
  if (bytes <= req) return std::nullopt;
  return bytes;
}

static Result<void> positive(std::string_view what, const std::optional<int64_t>& v,
                             bool allow_zero) {
  if (!v) return Ok();
  if (*v < 0 || (*v == 0 && !allow_zero))
    return Error(ErrorCode::kInvalidArgument,
                 std::string(what) + " " + std::to_string(*v) + ": must be " +
                     (allow_zero ? "zero or positive" : "positive"));
  return Ok();
}

Result<void> validate(const Resources& r) {
  KL_TRY(positive("cpu request (milliCPU)", r.cpu_request_milli, true));
  KL_TRY(positive("cpu limit (milliCPU)", r.cpu_limit_milli, false));
  KL_TRY(positive("memory request (bytes)", r.memory_request_bytes, true));
  KL_TRY(positive("memory limit (bytes)", r.memory_limit_bytes, false));
  KL_TRY(positive("pids limit", r.pids_limit, false));
  if (r.cpu_request_milli && r.cpu_limit_milli && *r.cpu_request_milli > *r.cpu_limit_milli)
    return Error(ErrorCode::kInvalidArgument,
                 "cpu request " + std::to_string(*r.cpu_request_milli) +
                     "m: must be less than or equal to cpu limit " +
                     std::to_string(*r.cpu_limit_milli) + "m");
  if (r.memory_request_bytes && r.memory_limit_bytes &&
      *r.memory_request_bytes > *r.memory_limit_bytes)
    return Error(ErrorCode::kInvalidArgument,
                 "memory request " + std::to_string(*r.memory_request_bytes) +
                     ": must be less than or equal to memory limit " +
                     std::to_string(*r.memory_limit_bytes));
  return Ok();
}

static std::string or_max(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("max");
}

std::vector<Setting> settings_for(const Resources& r, Level level, const MemoryQos& qos) {
  std::vector<Setting> out;
  int64_t shares = cpu_shares_from_milli(r.cpu_request_milli.value_or(0));
  out.push_back({"cpu.weight", std::to_string(cpu_weight_from_shares(shares)), "cpu"});
  int64_t quota = cpu_quota_from_milli(r.cpu_limit_milli.value_or(0));
  out.push_back({"cpu.max",
                 (quota > 0 ? std::to_string(quota) : std::string("max")) + " " +
                     std::to_string(kCpuPeriodUsec),
                 "cpu"});
  out.push_back({"memory.max", or_max(r.memory_limit_bytes), "memory"});
  int64_t min = qos.enabled ? r.memory_request_bytes.value_or(0) : 0;
  out.push_back({"memory.min", std::to_string(min), "memory"});
  if (level == Level::kContainer) {
    out.push_back(
        {"memory.high", or_max(memory_high(r.memory_request_bytes, r.memory_limit_bytes, qos)),
         "memory"});
    out.push_back({"memory.oom.group", "1", "memory"});
  }
  out.push_back({"pids.max", or_max(r.pids_limit), "pids"});
  return out;
}

Resources pod_resources(std::span<const Resources> containers,
                        std::span<const Resources> init_containers,
                        std::optional<int64_t> pod_pids_limit) {
  using Field = std::optional<int64_t> Resources::*;
  auto request = [&](Field f) -> std::optional<int64_t> {
    std::optional<int64_t> total;
    for (const auto& c : containers)
      if (c.*f) total = total.value_or(0) + *(c.*f);
    for (const auto& c : init_containers)
      if (c.*f && *(c.*f) > total.value_or(0)) total = *(c.*f);
    return total;
  };
  auto limit = [&](Field f) -> std::optional<int64_t> {
    if (containers.empty() && init_containers.empty()) return std::nullopt;
    for (const auto& c : containers)
      if (!(c.*f)) return std::nullopt;
    for (const auto& c : init_containers)
      if (!(c.*f)) return std::nullopt;
    return request(f);
  };
  Resources pod;
  pod.cpu_request_milli = request(&Resources::cpu_request_milli);
  pod.cpu_limit_milli = limit(&Resources::cpu_limit_milli);
  pod.memory_request_bytes = request(&Resources::memory_request_bytes);
  pod.memory_limit_bytes = limit(&Resources::memory_limit_bytes);
  pod.pids_limit = pod_pids_limit;
  return pod;
}

}  // namespace kernlet::cgroups
