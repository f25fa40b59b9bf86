// The child-side privilege steps between setup and execve: no_new_privs, capabilities,
// identity (groups, gid, uid) and the seccomp filter. Async-signal-safe. This is the one
// call site the seccomp/capabilities part (runtime/seccomp) replaces at integration.
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/container/container_spec.h"

namespace kernlet::runtime {

struct ChildSecurity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  const gid_t* groups = nullptr;
  size_t ngroups = 0;
  bool no_new_privileges = false;
  CapabilitySets caps;
  const sock_fprog* seccomp = nullptr;  // null: no filter
};

// Sets no_new_privs, drops the bounding set, switches groups/gid/uid keeping capabilities,
// then sets effective/permitted/inheritable and raises ambient. Returns 0, or -errno with
// *what naming the step that failed.
int apply_child_identity(const ChildSecurity& s, const char** what);

// Installs the seccomp filter (last, right before execve, so setup is not filtered).
int apply_child_seccomp(const ChildSecurity& s, const char** what);

}  // namespace kernlet::runtime
