// fork(2) straight into a cgroup: clone3(CLONE_INTO_CGROUP | CLONE_PIDFD). The child starts
// life in the target cgroup, so there is no window in which it runs (or allocates memory,
// or forks) in the parent's cgroup, unlike fork-then-write-cgroup.procs.
//
// Thread-safety: like fork — call it from a single-threaded process, or exec soon after in
// the child (glibc's atfork handlers do not run on a raw clone3).
#pragma once

#include <sys/types.h>

#include "api/result.h"
#include "runtime/cgroups/unique_fd.h"

namespace kernlet::cgroups {

struct ClonedChild {
  pid_t pid = 0;   // 0 in the child
  UniqueFd pidfd;  // the parent's pidfd of the child; invalid in the child
};

// Returns in both processes: in the child with pid 0. The child's exit signal is SIGCHLD.
// Errors (parent only): the errno of clone3, e.g. EBUSY when the target is not a leaf with
// domain controllers enabled below it, EOPNOTSUPP/ENOSYS on kernels before 5.7.
Result<ClonedChild> clone_into_cgroup(int cgroup_dir_fd);

}  // namespace kernlet::cgroups
