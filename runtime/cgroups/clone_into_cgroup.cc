#include "runtime/cgroups/clone_into_cgroup.h"

#include <linux/sched.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>

namespace kernlet::cgroups {

Result<ClonedChild> clone_into_cgroup(int cgroup_dir_fd) {
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP | CLONE_PIDFD;
  args.pidfd = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&pidfd));
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(cgroup_dir_fd);
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return Error::from_errno("clone3(CLONE_INTO_CGROUP)");
  ClonedChild c;
  c.pid = static_cast<pid_t>(pid);
  if (pid > 0) c.pidfd.reset(pidfd);
  return c;
}

}  // namespace kernlet::cgroups
