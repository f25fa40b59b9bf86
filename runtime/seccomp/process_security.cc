#include "runtime/seccomp/process_security.h"

#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "runtime/seccomp/raw_syscall.h"

namespace kernlet::seccomp {

Result<ProcessSecurity> prepare_process_security(const ProcessSecurityRequest& request) {
  ProcessSecurity out;
  CapabilityRequest caps = request.capabilities;
  if (request.identity) {
    out.set_identity = true;
    out.identity = *request.identity;
    caps.uid = request.identity->uid;
  }
  KL_ASSIGN_OR_RETURN(out.caps, compute_capabilities(caps, request.all_capabilities));
  out.last_cap = static_cast<int>(cap_max_bits()) - 1;
  if (out.last_cap > 63) out.last_cap = 63;
  out.no_new_privs = request.no_new_privs && !caps.privileged;

  if (caps.privileged || request.seccomp == SeccompProfileType::kUnconfined) return out;
  if (request.seccomp == SeccompProfileType::kLocalhost) {
    if (!request.localhost_profile) {
      return Error(ErrorCode::kInvalidArgument, "seccompProfile: type Localhost needs a profile");
    }
    Result<SeccompProgram> prog = compile(*request.localhost_profile, out.caps.bounding);
    if (!prog.ok()) return std::move(prog).error().context("compile Localhost seccomp profile");
    out.seccomp = std::move(prog).value();
  } else {
    Result<SeccompProgram> prog = compile(runtime_default_profile(), out.caps.bounding);
    if (!prog.ok()) return std::move(prog).error().context("compile RuntimeDefault seccomp profile");
    out.seccomp = std::move(prog).value();
  }
  return out;
}

const char* apply_step_name(ApplyStep step) noexcept {
  switch (step) {
    case ApplyStep::kNone: return "none";
    case ApplyStep::kSeccomp: return "seccomp";
    case ApplyStep::kBoundingDrop: return "PR_CAPBSET_DROP";
    case ApplyStep::kKeepCaps: return "PR_SET_KEEPCAPS";
    case ApplyStep::kSetGroups: return "setgroups";
    case ApplyStep::kSetGid: return "setresgid";
    case ApplyStep::kSetUid: return "setresuid";
    case ApplyStep::kCapset: return "capset";
    case ApplyStep::kAmbient: return "PR_CAP_AMBIENT";
    case ApplyStep::kNoNewPrivs: return "PR_SET_NO_NEW_PRIVS";
  }
  return "?";
}

int set_no_new_privs() noexcept {
  return static_cast<int>(raw::syscall6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

int apply_process_security(const ProcessSecurity& s, ApplyStep* failed) noexcept {
  ApplyStep dummy = ApplyStep::kNone;
  ApplyStep& step = failed != nullptr ? *failed : dummy;
  step = ApplyStep::kNone;
  long rc = 0;

  if (!s.no_new_privs) {
    step = ApplyStep::kSeccomp;
    if ((rc = install_in_child(s.seccomp)) < 0) return static_cast<int>(rc);
  }

  step = ApplyStep::kBoundingDrop;
  for (int cap = 0; cap <= s.last_cap; ++cap) {
    if (s.caps.bounding.has(cap)) continue;
    rc = raw::syscall6(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (rc < 0) return static_cast<int>(rc);
  }

  if (s.set_identity) {
    // KEEPCAPS keeps the permitted set across the uid change; capset below then sets
    // exactly what the plan says. The flag is cleared again by execve.
    step = ApplyStep::kKeepCaps;
    if ((rc = raw::syscall6(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0)) < 0) return static_cast<int>(rc);
    step = ApplyStep::kSetGroups;
    rc = raw::syscall6(SYS_setgroups, static_cast<long>(s.identity.additional_gids.size()),
                       reinterpret_cast<long>(s.identity.additional_gids.data()));
    if (rc < 0) return static_cast<int>(rc);
    step = ApplyStep::kSetGid;
    rc = raw::syscall6(SYS_setresgid, s.identity.gid, s.identity.gid, s.identity.gid);
    if (rc < 0) return static_cast<int>(rc);
    step = ApplyStep::kSetUid;
    rc = raw::syscall6(SYS_setresuid, s.identity.uid, s.identity.uid, s.identity.uid);
    if (rc < 0) return static_cast<int>(rc);
  }

  step = ApplyStep::kCapset;
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2]{};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(s.caps.effective.bits() >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(s.caps.permitted.bits() >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(s.caps.inheritable.bits() >> (32 * i));
  }
  rc = raw::syscall6(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
  if (rc < 0) return static_cast<int>(rc);

  step = ApplyStep::kAmbient;
  rc = raw::syscall6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (rc < 0 && rc != -EINVAL) return static_cast<int>(rc);  // EINVAL: kernel without ambient caps
  for (int cap = 0; cap <= s.last_cap; ++cap) {
    if (!s.caps.ambient.has(cap)) continue;
    rc = raw::syscall6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    if (rc < 0) return static_cast<int>(rc);
  }

  if (s.no_new_privs) {
    step = ApplyStep::kNoNewPrivs;
    if ((rc = set_no_new_privs()) < 0) return static_cast<int>(rc);
    step = ApplyStep::kSeccomp;
    if ((rc = install_in_child(s.seccomp)) < 0) return static_cast<int>(rc);
  }
  step = ApplyStep::kNone;
  return 0;
}

}  // namespace kernlet::seccomp
