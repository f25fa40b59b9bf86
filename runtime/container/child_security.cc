#include "runtime/container/child_security.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kernlet::runtime {

namespace {

int last_cap() {
  // CAP_LAST_CAP of the running kernel may exceed our headers'; probe the bounding set.
  int cap = CAP_LAST_CAP;
  while (cap < 63 && ::prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) ++cap;
  return cap;
}

}  // namespace

int apply_child_identity(const ChildSecurity& s, const char** what) {
  if (s.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *what = "set no_new_privs";
    return -errno;
  }
  int last = last_cap();
  for (int cap = 0; cap <= last; ++cap) {
    if ((s.caps.bounding >> cap) & 1) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      *what = "drop bounding capability";
      return -errno;
    }
  }
  // Keep permitted capabilities across the uid change; set the exact sets right after.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    *what = "set keepcaps";
    return -errno;
  }
  if (::syscall(SYS_setgroups, s.ngroups, s.groups) != 0) {
    *what = "setgroups";
    return -errno;
  }
  if (::syscall(SYS_setresgid, s.gid, s.gid, s.gid) != 0) {
    *what = "setresgid";
    return -errno;
  }
  if (::syscall(SYS_setresuid, s.uid, s.uid, s.uid) != 0) {
    *what = "setresuid";
    return -errno;
  }
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
    *what = "clear keepcaps";
    return -errno;
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(s.caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(s.caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(s.caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) {
    *what = "capset";
    return -errno;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    *what = "clear ambient capabilities";
    return -errno;
  }
  for (int cap = 0; cap <= last; ++cap) {
    if (((s.caps.ambient >> cap) & 1) == 0) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      *what = "raise ambient capability";
      return -errno;
    }
  }
  return 0;
}

int apply_child_seccomp(const ChildSecurity& s, const char** what) {
  if (s.seccomp == nullptr) return 0;
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, s.seccomp) != 0) {
    *what = "install seccomp filter";
    return -errno;
  }
  return 0;
}

}  // namespace kernlet::runtime
