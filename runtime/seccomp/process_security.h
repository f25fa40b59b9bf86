// A container process's privileges, prepared in the parent and applied in the child.
//
// prepare_process_security() does everything that allocates or may fail for a reason
// worth a message (capability names, profile parsing, compiling to BPF). The result is
// plain data; apply_process_security() then runs in the child between clone and execve
// with raw syscalls only: no allocation, no locks, no errno, async-signal-safe, so it is
// safe after clone(CLONE_VM|CLONE_VFORK) or fork of a multi-threaded parent.
//
// The order inside apply (the container's `execve` must follow it immediately):
//   1. without no_new_privs: install the seccomp filter now, while CAP_SYS_ADMIN is
//      still effective (the kernel refuses an unprivileged filter without no_new_privs).
//      The filter then also judges steps 2-5, so a Localhost profile must allow prctl,
//      capset, setgroups, setresgid, setresuid and execve (RuntimeDefault does); runc has
//      the same rule.
//   2. PR_CAPBSET_DROP for every capability outside the bounding set
//   3. PR_SET_KEEPCAPS, setgroups, setresgid, setresuid (when an identity is given)
//   4. capset(effective, permitted, inheritable); PR_CAP_AMBIENT_RAISE for each ambient
//   5. with no_new_privs: PR_SET_NO_NEW_PRIVS, then install the seccomp filter last, so
//      the filter judges nothing of the runtime's own setup
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "api/result.h"
#include "runtime/seccomp/capabilities.h"
#include "runtime/seccomp/seccomp.h"
#include "runtime/seccomp/seccomp_profile.h"

namespace kernlet::seccomp {

// Kubernetes securityContext.seccompProfile.type.
enum class SeccompProfileType { kUnconfined, kRuntimeDefault, kLocalhost };

// The user and groups the process runs as (image USER, runAsUser, runAsGroup,
// supplementalGroups, fsGroup already resolved by the caller).
struct ProcessIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
};

struct ProcessSecurityRequest {
  // uid/gid to switch to; nullopt keeps the caller's identity (capabilities are then
  // computed for uid 0 unless `capabilities.uid` says otherwise).
  std::optional<ProcessIdentity> identity;
  CapabilityRequest capabilities;  // capabilities.uid is set from identity when given
  // allowPrivilegeEscalation=false (and Kubernetes sets it for non-privileged pods that
  // ask for it); privileged containers never get it.
  bool no_new_privs = false;
  SeccompProfileType seccomp = SeccompProfileType::kRuntimeDefault;
  std::optional<SeccompProfile> localhost_profile;  // required for kLocalhost
  CapabilitySet all_capabilities = host_capabilities();
};

// The prepared, immutable plan. Copyable; keep it alive until the child has exec'd.
struct ProcessSecurity {
  bool set_identity = false;
  ProcessIdentity identity;
  CapabilitySets caps;
  int last_cap = kLastKnownCapability;  // the kernel's /proc/sys/kernel/cap_last_cap
  bool no_new_privs = false;
  SeccompProgram seccomp;
};

// Computes capabilities and compiles the seccomp profile (RuntimeDefault's conditions are
// decided by the bounding set computed here). Privileged containers are always
// Unconfined, as in containerd. Errors name the field.
Result<ProcessSecurity> prepare_process_security(const ProcessSecurityRequest& request);

// Which step of apply_process_security failed (for the child's error report).
enum class ApplyStep {
  kNone,
  kSeccomp,
  kBoundingDrop,
  kKeepCaps,
  kSetGroups,
  kSetGid,
  kSetUid,
  kCapset,
  kAmbient,
  kNoNewPrivs,
};
// "seccomp", "PR_CAPBSET_DROP", ... for messages.
const char* apply_step_name(ApplyStep step) noexcept;

// Applies `security` to the calling (single-threaded, child) process. Returns 0 or
// -errno; `failed` (when non-null) names the step that failed. Async-signal-safe.
int apply_process_security(const ProcessSecurity& security, ApplyStep* failed = nullptr) noexcept;

// PR_SET_NO_NEW_PRIVS alone: 0 or -errno. Async-signal-safe.
int set_no_new_privs() noexcept;

}  // namespace kernlet::seccomp
