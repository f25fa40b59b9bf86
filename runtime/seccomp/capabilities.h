// Linux capabilities for containers: names, the default set containerd grants, Kubernetes'
// add/drop/privileged rules, and the five per-process sets a container starts with.
//
// Everything here is pure and thread-safe except host_capabilities(), which asks the
// kernel. The child-side code that applies the sets lives in process_security.h.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::seccomp {

// The highest capability number kernlet knows by name (CAP_CHECKPOINT_RESTORE, Linux 5.9).
inline constexpr int kLastKnownCapability = 40;

// A set of capability numbers (0..63), as the kernel's 64-bit masks in /proc/<pid>/status.
class CapabilitySet {
 public:
  constexpr CapabilitySet() = default;
  constexpr explicit CapabilitySet(uint64_t bits) : bits_(bits) {}
  static CapabilitySet of(std::initializer_list<int> caps);

  constexpr uint64_t bits() const { return bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool has(int cap) const { return cap >= 0 && cap < 64 && ((bits_ >> cap) & 1U) != 0; }
  void add(int cap) { bits_ |= uint64_t{1} << cap; }
  void remove(int cap) { bits_ &= ~(uint64_t{1} << cap); }
  int count() const { return __builtin_popcountll(bits_); }

  friend constexpr CapabilitySet operator|(CapabilitySet a, CapabilitySet b) { return CapabilitySet(a.bits_ | b.bits_); }
  friend constexpr CapabilitySet operator&(CapabilitySet a, CapabilitySet b) { return CapabilitySet(a.bits_ & b.bits_); }
  // The members of a that are not in b.
  friend constexpr CapabilitySet operator-(CapabilitySet a, CapabilitySet b) { return CapabilitySet(a.bits_ & ~b.bits_); }
  friend constexpr bool operator==(CapabilitySet a, CapabilitySet b) { return a.bits_ == b.bits_; }

  // "CAP_CHOWN", ... in number order; unnamed bits as "CAP_<n>".
  std::vector<std::string> names() const;
  // The form /proc/<pid>/status uses: 16 lower-case hex digits.
  std::string to_hex() const;

 private:
  uint64_t bits_ = 0;
};

// "CAP_CHOWN" for 0, ...; empty for a number kernlet has no name for.
std::string_view capability_name(int cap);

// Parses one capability name as Kubernetes and OCI write them: with or without the "CAP_"
// prefix, any case ("net_admin", "CAP_NET_ADMIN"). `what` names the field in errors:
// `securityContext.capabilities.add: unknown capability "NET_ADMINN"`.
Result<int> parse_capability(std::string_view name, std::string_view what = "capability");

// The capabilities containerd (and Docker) grant a container by default: CHOWN,
// DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP,
// NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE (mask 0x00000000a80425fb).
CapabilitySet default_capabilities();

// Every capability this process may still hand on: its own bounding set, restricted to
// the capabilities the running kernel has (libcap's cap_get_bound). This is what
// `privileged` and `add: [ALL]` mean, as containerd's "all current capabilities".
CapabilitySet host_capabilities();

// What a container asked for (Kubernetes securityContext) and who it runs as.
struct CapabilityRequest {
  bool privileged = false;
  std::vector<std::string> add = {};   // securityContext.capabilities.add
  std::vector<std::string> drop = {};  // securityContext.capabilities.drop
  uint32_t uid = 0;               // the uid the process runs as after the switch
  // Not a Kubernetes field (containerd always leaves ambient empty); for callers that
  // want a non-root process to keep some of its capabilities across execve.
  std::vector<std::string> ambient = {};
};

// The five capability sets of the container's first process, as /proc/<pid>/status
// shows them after execve (CapBnd, CapEff, CapPrm, CapInh, CapAmb).
struct CapabilitySets {
  CapabilitySet bounding;
  CapabilitySet effective;
  CapabilitySet permitted;
  CapabilitySet inheritable;
  CapabilitySet ambient;

  friend bool operator==(const CapabilitySets&, const CapabilitySets&) = default;
};

// Computes the sets with containerd's CRI rules (docs/architecture.md, "Seccomp and logs"):
//   privileged             → every capability in `all`; add/drop are ignored
//   otherwise start from default_capabilities(), then in this order:
//     add contains ALL     → every capability in `all`
//     drop contains ALL    → empty
//     each other add name  → added;  each other drop name → removed (drop wins)
// bounding = effective = permitted = that set; inheritable is empty (CVE-2022-24769);
// ambient is `request.ambient` (must be within the set). For uid != 0, effective and
// permitted are emptied before execve, which is what the kernel would leave after
// execve anyway (Docker does the same): a non-root process has no capabilities unless
// they are ambient or come from file capabilities (bounded by `bounding`).
// Errors name the unknown capability and the field it came from, or a capability the
// result needs that `all` lacks (the child's capset would fail on it).
Result<CapabilitySets> compute_capabilities(const CapabilityRequest& request,
                                            CapabilitySet all = host_capabilities());

}  // namespace kernlet::seccomp
