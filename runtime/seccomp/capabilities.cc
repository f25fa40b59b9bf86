#include "runtime/seccomp/capabilities.h"

#include <sys/capability.h>

#include <array>
#include <cctype>
#include <cstdio>

namespace kernlet::seccomp {
namespace {

// Numbers from <linux/capability.h>; names as the kernel and OCI spell them.
constexpr std::array<std::string_view, kLastKnownCapability + 1> kNames = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_all(std::string_view name) { return upper(name) == "ALL"; }

Result<CapabilitySet> parse_list(const std::vector<std::string>& names, std::string_view what,
                                 bool allow_all) {
  CapabilitySet out;
  for (const std::string& n : names) {
    if (allow_all && is_all(n)) continue;
    KL_ASSIGN_OR_RETURN(int cap, parse_capability(n, what));
    out.add(cap);
  }
  return out;
}

bool contains_all(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (is_all(n)) return true;
  }
  return false;
}

}  // namespace

CapabilitySet CapabilitySet::of(std::initializer_list<int> caps) {
  CapabilitySet s;
  for (int c : caps) s.add(c);
  return s;
}

std::vector<std::string> CapabilitySet::names() const {
  std::vector<std::string> out;
  for (int c = 0; c < 64; ++c) {
    if (!has(c)) continue;
    std::string_view n = capability_name(c);
    out.push_back(n.empty() ? "CAP_" + std::to_string(c) : std::string(n));
  }
  return out;
}

std::string CapabilitySet::to_hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits_));
  return buf;
}

std::string_view capability_name(int cap) {
  if (cap < 0 || cap > kLastKnownCapability) return {};
  return kNames[static_cast<std::size_t>(cap)];
}

Result<int> parse_capability(std::string_view name, std::string_view what) {
  std::string u = upper(name);
  if (u.rfind("CAP_", 0) != 0) u.insert(0, "CAP_");
  for (int c = 0; c <= kLastKnownCapability; ++c) {
    if (kNames[static_cast<std::size_t>(c)] == u) return c;
  }
  return Error(ErrorCode::kInvalidArgument,
               std::string(what) + ": unknown capability \"" + std::string(name) + "\"");
}

CapabilitySet default_capabilities() {
  return CapabilitySet::of({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
                            CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
                            CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE});
}

CapabilitySet host_capabilities() {
  CapabilitySet out;
  int last = static_cast<int>(cap_max_bits()) - 1;
  if (last > 63) last = 63;
  for (int c = 0; c <= last; ++c) {
    if (cap_get_bound(static_cast<cap_value_t>(c)) == 1) out.add(c);
  }
  return out;
}

Result<CapabilitySets> compute_capabilities(const CapabilityRequest& request, CapabilitySet all) {
  // Names are validated even where they end up unused (privileged), so a typo is an
  // error on every pod, not only on the unprivileged ones.
  KL_ASSIGN_OR_RETURN(CapabilitySet add,
                      parse_list(request.add, "securityContext.capabilities.add", true));
  KL_ASSIGN_OR_RETURN(CapabilitySet drop,
                      parse_list(request.drop, "securityContext.capabilities.drop", true));
  KL_ASSIGN_OR_RETURN(CapabilitySet ambient, parse_list(request.ambient, "ambient capabilities", false));

  CapabilitySet caps;
  if (request.privileged) {
    caps = all;
  } else {
    caps = default_capabilities();
    if (contains_all(request.add)) caps = all;
    if (contains_all(request.drop)) caps = CapabilitySet();
    caps = (caps | add) - drop;
  }
  // The kernel would refuse these at capset in the child; say so now, by name.
  if (!(caps - all).empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "capability " + (caps - all).names().front() +
                     " is not available on this node (not in the runtime's bounding set)");
  }
  if (!(ambient - caps).empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "ambient capability " + (ambient - caps).names().front() +
                     " is not in the container's capability set");
  }

  CapabilitySets sets;
  sets.bounding = caps;
  sets.inheritable = ambient;  // the kernel keeps ambient ⊆ permitted ∩ inheritable
  sets.ambient = ambient;
  if (request.uid == 0) {
    sets.effective = caps;
    sets.permitted = caps;
  } else {
    sets.effective = ambient;
    sets.permitted = ambient;
  }
  return sets;
}

}  // namespace kernlet::seccomp
