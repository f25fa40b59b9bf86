#include "runtime/container/container_spec.h"

#include <sys/prctl.h>

#include <cstring>
#include <optional>
#include <string_view>

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
  // containerd's WithAllCurrentCapabilities: what this process may still pass on (its
  // bounding set), not every capability the headers know: a host that dropped one from
  // the bounding set would make capset fail with EPERM.
  uint64_t m = 0;
  for (int c = 0; c < 64; ++c) {
    int r = ::prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (r < 0) break;  // past the kernel's last capability
    if (r == 1) m |= uint64_t{1} << c;
  }
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

namespace {

std::string to_hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = nibble(s[i]), lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < line.size()) {
    size_t sp = line.find(' ', at);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > at) out.push_back(line.substr(at, sp - at));
    at = sp + 1;
  }
  return out;
}

std::optional<uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

std::string format_exec_identity(const ProcessSpec& p) {
  std::string out = "uid " + std::to_string(p.uid) + "\ngid " + std::to_string(p.gid) + "\n";
  for (uint32_t g : p.supplemental_gids) out += "group " + std::to_string(g) + "\n";
  if (p.capabilities) {
    const CapabilitySets& c = *p.capabilities;
    out += "caps " + std::to_string(c.bounding) + " " + std::to_string(c.effective) + " " +
           std::to_string(c.permitted) + " " + std::to_string(c.inheritable) + " " +
           std::to_string(c.ambient) + "\n";
  }
  out += std::string("nnp ") + (p.no_new_privileges ? "1" : "0") + "\n";
  out += "cwd " + to_hex(p.cwd) + "\n";
  for (const auto& e : p.env) out += "env " + to_hex(e) + "\n";
  for (const auto& r : p.rlimits)
    out += "rlimit " + std::to_string(r.resource) + " " + std::to_string(r.soft) + " " + std::to_string(r.hard) + "\n";
  if (!p.seccomp.empty()) {
    out += "seccomp " +
           to_hex(std::string_view(reinterpret_cast<const char*>(p.seccomp.data()), p.seccomp.size() * sizeof(sock_filter))) +
           "\n";
  }
  return out;
}

Result<ProcessSpec> parse_exec_identity(std::string_view text) {
  ProcessSpec p;
  p.cwd.clear();
  size_t n = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++n;
    if (line.empty()) continue;
    auto w = words(line);
    auto bad = [&] {
      return Error(ErrorCode::kInvalidArgument, "exec identity line " + std::to_string(n) + ": cannot parse \"" +
                                                    std::string(line.substr(0, 40)) + "\"");
    };
    std::vector<uint64_t> nums;
    for (size_t i = 1; i < w.size(); ++i) {
      auto v = number(w[i]);
      if (v) nums.push_back(*v);
    }
    const bool all_numbers = nums.size() + 1 == w.size();
    if (w[0] == "uid" && w.size() == 2 && all_numbers) {
      p.uid = static_cast<uint32_t>(nums[0]);
    } else if (w[0] == "gid" && w.size() == 2 && all_numbers) {
      p.gid = static_cast<uint32_t>(nums[0]);
    } else if (w[0] == "group" && w.size() == 2 && all_numbers) {
      p.supplemental_gids.push_back(static_cast<uint32_t>(nums[0]));
    } else if (w[0] == "caps" && w.size() == 6 && all_numbers) {
      p.capabilities = CapabilitySets{nums[0], nums[1], nums[2], nums[3], nums[4]};
    } else if (w[0] == "nnp" && w.size() == 2 && all_numbers) {
      p.no_new_privileges = nums[0] != 0;
    } else if (w[0] == "rlimit" && w.size() == 4 && all_numbers) {
      p.rlimits.push_back({static_cast<int>(nums[0]), nums[1], nums[2]});
    } else if ((w[0] == "cwd" || w[0] == "env" || w[0] == "seccomp") && w.size() <= 2) {
      auto v = from_hex(w.size() == 2 ? w[1] : std::string_view());
      if (!v) return bad();
      if (w[0] == "cwd") {
        p.cwd = *v;
      } else if (w[0] == "env") {
        p.env.push_back(*v);
      } else {
        if (v->size() % sizeof(sock_filter) != 0) return bad();
        p.seccomp.resize(v->size() / sizeof(sock_filter));
        std::memcpy(p.seccomp.data(), v->data(), v->size());
      }
    } else {
      return bad();
    }
  }
  if (p.cwd.empty()) p.cwd = "/";
  return p;
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
    if (spec.mounts[i].propagation == Propagation::kBidirectional && !spec.privileged)
      return Error(ErrorCode::kInvalidArgument,
                   f + ": Bidirectional mount propagation is available only to privileged containers");
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
