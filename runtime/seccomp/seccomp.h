// Seccomp filters: a profile is compiled to a classic-BPF program in the parent
// (libseccomp), and the child after clone only installs the finished program with one
// raw seccomp(2) call: no allocation, no libseccomp, async-signal-safe.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "api/result.h"
#include "runtime/seccomp/capabilities.h"
#include "runtime/seccomp/seccomp_profile.h"

namespace kernlet::seccomp {

// A compiled filter. Empty means Unconfined: install_in_child does nothing.
struct SeccompProgram {
  std::vector<sock_filter> instructions;
  uint32_t flags = 0;  // SECCOMP_FILTER_FLAG_* to install with
  // Syscall names in the profile that libseccomp 2.5 does not know on any of the
  // filter's architectures; they were skipped (as runc does), so they hit the default
  // action. For diagnostics.
  std::vector<std::string> unknown_syscalls;
  // When the default action denies: x86_64 calls numbered above this (the highest
  // syscall the profile names) get ENOSYS rather than the default action, as runc does,
  // so libc falls back from calls newer than the profile. -1: no such stub.
  int enosys_above = -1;

  bool empty() const { return instructions.empty(); }
};

// What decides the Docker-format `includes`/`excludes` of a rule.
struct CompileContext {
  CapabilitySet bounding;           // the container's bounding set
  std::string go_arch = "amd64";    // the host architecture, Go's name
  std::string kernel_release;       // uname -r; empty = read it from uname(2)
};

// Compiles `profile` for this host (x86_64; i386 and x32 when the profile lists them).
// Rules whose conditions do not hold are left out; rules with the profile's default
// action are skipped (libseccomp refuses them, they would change nothing). Errors name
// the rule and the syscall: `syscalls[4] (socket): libseccomp refused the rule: EINVAL`.
// Thread-safe.
Result<SeccompProgram> compile(const SeccompProfile& profile, const CompileContext& ctx);

// Shorthand for the common case: conditions decided by the bounding set only.
Result<SeccompProgram> compile(const SeccompProfile& profile, CapabilitySet bounding);

// Installs the program on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER).
// Returns 0 (also for an empty program) or -errno. The caller must have no_new_privs set
// or CAP_SYS_ADMIN in its effective set (EACCES otherwise). Async-signal-safe: meant for
// the child between clone and execve.
int install_in_child(const SeccompProgram& program) noexcept;

}  // namespace kernlet::seccomp
