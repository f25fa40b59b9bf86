// Seccomp profiles as data: the Docker/OCI profile model, kernlet's RuntimeDefault table,
// and the parser for Localhost profile files.
//
// A profile is a list of rules in the Docker format (the one Kubernetes Localhost profiles
// and containerd use): a rule may carry `includes`/`excludes` conditions on the
// container's bounding capabilities, the host architecture and the kernel version, which
// are decided when the profile is compiled (seccomp.h), not here. All functions are pure
// and thread-safe except load_localhost_profile, which reads a file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::seccomp {

// What the filter does with a matching call (the SCMP_ACT_* names of the profile format).
enum class SeccompAction {
  kKillThread,   // SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD
  kKillProcess,  // SCMP_ACT_KILL_PROCESS
  kTrap,         // SCMP_ACT_TRAP
  kErrno,        // SCMP_ACT_ERRNO (errnoRet, default EPERM)
  kTrace,        // SCMP_ACT_TRACE (errnoRet is the tracer's message, default EPERM)
  kAllow,        // SCMP_ACT_ALLOW
  kLog,          // SCMP_ACT_LOG
};

// Argument comparisons (SCMP_CMP_*). For kMaskedEq, `value` is the mask and `value_two`
// the datum: (arg & value) == value_two.
enum class SeccompOp { kNotEqual, kLessThan, kLessEqual, kEqualTo, kGreaterEqual, kGreaterThan, kMaskedEq };

struct SeccompArg {
  uint32_t index = 0;  // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;
  SeccompOp op = SeccompOp::kEqualTo;
};

// Docker-format conditions: a rule applies only if every `includes` holds and no
// `excludes` does. Caps are matched against the container's bounding set, arches against
// the host's Go architecture name ("amd64"), min_kernel against uname's release.
struct SeccompCondition {
  std::vector<std::string> caps;    // "CAP_SYS_ADMIN", ...
  std::vector<std::string> arches;  // "amd64", "x32", "x86", "arm64", ...
  std::string min_kernel;           // "4.8"; empty when absent
};

struct SeccompRule {
  std::vector<std::string> names;  // syscall names; names libseccomp does not know are skipped
  SeccompAction action = SeccompAction::kAllow;
  std::optional<uint32_t> errno_ret;
  // All conditions must hold (AND). Several conditions on the same argument index cannot
  // be ANDed by libseccomp; as runc does, each is then a rule of its own (OR).
  std::vector<SeccompArg> args;
  SeccompCondition includes;
  SeccompCondition excludes;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::kErrno;
  std::optional<uint32_t> default_errno_ret;
  // libseccomp names ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"). The native
  // architecture is always in the filter; calls from an architecture not listed are
  // killed, so a 32-bit binary cannot slip past an x86_64-only rule set.
  std::vector<std::string> architectures;
  std::vector<SeccompRule> syscalls;
  // SECCOMP_FILTER_FLAG_* bits to install the filter with (profile "flags").
  uint32_t filter_flags = 0;
};

// The profile Kubernetes calls RuntimeDefault: containerd's default profile as of
// containerd 2.x / moby 28, for x86_64 hosts (x86_64, i386 and x32 ABIs). See
// docs/architecture.md for its provenance and where it differs from older releases
// (io_uring denied, AF_ALG and AF_VSOCK sockets denied, clone3 → ENOSYS without
// CAP_SYS_ADMIN).
SeccompProfile runtime_default_profile();

// Parses a profile in the Docker/OCI JSON format:
//   {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags",
//    "syscalls": [{"names"|"name", "action", "errnoRet", "args": [{"index", "value",
//    "valueTwo", "op"}], "includes", "excludes", "comment"}]}
// Unknown fields, wrong types, unknown actions/ops/arches and argument indexes above 5 are
// errors naming the field: `syscalls[2].args[0].op: unknown operator "SCMP_CMP_EQQ"`.
// SCMP_ACT_NOTIFY and listenerPath are refused (kernlet runs no seccomp agent).
Result<SeccompProfile> parse_seccomp_profile(std::string_view json_text);

// Loads a Kubernetes Localhost profile: `localhost_ref` (securityContext.seccompProfile.
// localhostProfile) is a path relative to `profile_root` (the kubelet's
// <root-dir>/seccomp); absolute paths and ".." components are refused. Errors name the
// file: `seccomp profile /var/lib/kernlet/seccomp/x.json: syscalls[0].action: ...`.
Result<SeccompProfile> load_localhost_profile(const std::string& profile_root,
                                              std::string_view localhost_ref);

// The profile-format name of an action ("SCMP_ACT_ERRNO").
std::string_view action_name(SeccompAction a);

}  // namespace kernlet::seccomp
