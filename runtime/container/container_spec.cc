#include "runtime/container/container_spec.h"

#include <linux/capability.h>

namespace kernlet::runtime {

namespace {
constexpr uint64_t bit(int cap) { return uint64_t{1} << cap; }
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}  // namespace

CapabilitySets CapabilitySets::containerd_default() {
  uint64_t m = bit(CAP_CHOWN) | bit(CAP_DAC_OVERRIDE) | bit(CAP_FSETID) | bit(CAP_FOWNER) |
               bit(CAP_MKNOD) | bit(CAP_NET_RAW) | bit(CAP_SETGID) | bit(CAP_SETUID) |
               bit(CAP_SETFCAP) | bit(CAP_SETPCAP) | bit(CAP_NET_BIND_SERVICE) |
               bit(CAP_SYS_CHROOT) | bit(CAP_KILL) | bit(CAP_AUDIT_WRITE);
  return {m, m, m, 0, 0};
}

CapabilitySets CapabilitySets::all() {
  uint64_t m = (uint64_t{1} << (CAP_LAST_CAP + 1)) - 1;
  return {m, m, m, 0, 0};
}

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> paths = {
      "/proc/acpi",        "/proc/asound",         "/proc/kcore",
      "/proc/keys",        "/proc/latency_stats",  "/proc/timer_list",
      "/proc/timer_stats", "/proc/sched_debug",    "/proc/scsi",
      "/sys/firmware",     "/sys/devices/virtual/powercap"};
  return paths;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> paths = {"/proc/bus", "/proc/fs", "/proc/irq",
                                                 "/proc/sys", "/proc/sysrq-trigger"};
  return paths;
}

namespace {

Result<void> check_abs_path(const std::string& p, const std::string& field) {
  if (p.empty() || p[0] != '/')
    return Error(ErrorCode::kInvalidArgument, field + ": \"" + p + "\" is not an absolute path");
  if (p.find('\0') != std::string::npos || p.size() > 4000)
    return Error(ErrorCode::kInvalidArgument, field + ": invalid path");
  return Ok();
}

}  // namespace

Result<void> validate_process_spec(const ProcessSpec& p, const std::string& field) {
  if (p.args.empty() || p.args[0].empty())
    return Error(ErrorCode::kInvalidArgument, field + ".args: empty command");
  for (size_t i = 0; i < p.env.size(); ++i) {
    size_t eq = p.env[i].find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(ErrorCode::kInvalidArgument,
                   field + ".env[" + std::to_string(i) + "]: \"" + p.env[i] + "\" is not KEY=value");
  }
  KL_TRY(check_abs_path(p.cwd, field + ".cwd"));
  if (p.supplemental_gids.size() > 64)
    return Error(ErrorCode::kInvalidArgument, field + ".supplementalGroups: more than 64");
  if (p.rlimits.size() > 16) return Error(ErrorCode::kInvalidArgument, field + ".rlimits: more than 16");
  if (p.seccomp.size() > 4096)
    return Error(ErrorCode::kInvalidArgument, field + ".seccomp: program longer than 4096");
  return Ok();
}

Result<void> validate_container_spec(const ContainerSpec& spec) {
  if (spec.id.empty()) return Error(ErrorCode::kInvalidArgument, "container id: empty");
  if (spec.sandbox_id.empty())
    return Error(ErrorCode::kInvalidArgument, "container " + spec.id + ": no sandbox");
  if (spec.lower_dirs.empty())
    return Error(ErrorCode::kInvalidArgument, "container " + spec.id + ": lower_dirs: empty");
  if (spec.lower_dirs.size() > 500)
    return Error(ErrorCode::kInvalidArgument, "container " + spec.id + ": lower_dirs: more than 500");
  for (size_t i = 0; i < spec.lower_dirs.size(); ++i)
    KL_TRY(check_abs_path(spec.lower_dirs[i], "lower_dirs[" + std::to_string(i) + "]"));
  KL_TRY(validate_process_spec(spec.process, "process"));
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    std::string f = "mounts[" + std::to_string(i) + "]";
    KL_TRY(check_abs_path(spec.mounts[i].source, f + ".source"));
    KL_TRY(check_abs_path(spec.mounts[i].destination, f + ".destination"));
    if (spec.mounts[i].destination == "/")
      return Error(ErrorCode::kInvalidArgument, f + ".destination: cannot mount over /");
  }
  if (spec.mounts.size() > 200)
    return Error(ErrorCode::kInvalidArgument, "mounts: more than 200");
  return Ok();
}

std::vector<std::string> exec_candidates(const std::string& arg0,
                                         const std::vector<std::string>& env) {
  if (arg0.find('/') != std::string::npos) return {arg0};
  std::string path = kDefaultPath;
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    out.push_back(dir + "/" + arg0);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

std::vector<std::string> process_environment(const std::vector<std::string>& env,
                                             const std::string& hostname) {
  std::vector<std::string> out;
  bool has_path = false, has_hostname = false;
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) has_path = true;
    if (e.rfind("HOSTNAME=", 0) == 0) has_hostname = true;
  }
  if (!has_path) out.push_back(std::string("PATH=") + kDefaultPath);
  if (!has_hostname && !hostname.empty()) out.push_back("HOSTNAME=" + hostname);
  out.insert(out.end(), env.begin(), env.end());
  return out;
}

}  // namespace kernlet::runtime
