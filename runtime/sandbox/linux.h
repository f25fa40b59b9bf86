// Thin, async-signal-safe wrappers for the syscalls glibc 2.36 does not wrap (clone3,
// pidfd_*, openat2, close_range), RAII for fds, and small file helpers the sandbox and
// container code share. The raw wrappers return -1 and set errno, like libc.
#pragma once

#include <linux/types.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::runtime {

using UniqueFd = ::kernlet::UniqueFd;  // api/unique_fd.h

// struct clone_args and open_how as of Linux 5.7/5.6 (Debian 12's headers have them, but
// spelling them here keeps the wrapper independent of header versions).
struct CloneArgs {
  uint64_t flags = 0;
  uint64_t pidfd = 0;
  uint64_t child_tid = 0;
  uint64_t parent_tid = 0;
  uint64_t exit_signal = 0;
  uint64_t stack = 0;
  uint64_t stack_size = 0;
  uint64_t tls = 0;
  uint64_t set_tid = 0;
  uint64_t set_tid_size = 0;
  uint64_t cgroup = 0;
};

inline constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;
inline constexpr unsigned kResolveNoXdev = 0x01;
inline constexpr unsigned kResolveNoMagiclinks = 0x02;
inline constexpr unsigned kResolveNoSymlinks = 0x04;
inline constexpr unsigned kResolveBeneath = 0x08;
inline constexpr unsigned kResolveInRoot = 0x10;

// fork-like clone3 (no CLONE_VM, no new stack): returns 0 in the child, the pid in the
// caller's PID namespace in the parent, -1 with errno on failure.
pid_t sys_clone3(CloneArgs* args);
// clone3 with CLONE_VM | CLONE_VFORK added: runs fn(arg) in a child that borrows this
// process's address space on a stack of its own, while the calling thread sleeps until the
// child execs or exits. Why: a fork-like clone of a large multi-threaded process copies its
// page tables and write-protects every private page, so each later write by any of its
// threads takes a copy-on-write fault with a TLB shootdown on every CPU (under a pod burst
// 18% of the agent's samples; page-table copy and teardown 14% more). fn runs with the
// caller's signal mask restored and every caught signal reset to SIG_DFL (its handler
// would run on our memory); it must be async-signal-safe and end in exec or _exit.
// Returns the pid, or -1 with errno.
pid_t spawn_vm(CloneArgs* args, void (*fn)(void*), void* arg);
// clone3 with CLONE_VM | CLONE_VFORK on a stack the caller provides, running fn(arg) in the
// child (which must exec or _exit). For a child of a spawn_vm child (whose stack is taken):
// no signal handling here, the caller's handlers must already be the defaults.
pid_t clone_vm_on_stack(CloneArgs* args, void* stack, size_t stack_size, void (*fn)(void*), void* arg);
int sys_pidfd_open(pid_t pid, unsigned flags);
int sys_pidfd_send_signal(int pidfd, int sig);
// pidfd_getfd(2): a dup (close-on-exec) of fd `targetfd` of the process of `pidfd`.
int sys_pidfd_getfd(int pidfd, int targetfd);
int sys_openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve);
// One fd passed over a unix socket (SCM_RIGHTS) with `len` bytes of payload (at least
// one: a stream socket needs a byte to carry it). Async-signal-safe, no allocation;
// inline, so the glibc-less holder image (container_child.cc) has them too.
// send_fd: sendmsg's result. recv_fd: recvmsg's result; *fd is the received fd, or -1
// when the message carried none (pass MSG_CMSG_CLOEXEC in `flags` to get it close-on-exec).
union OneFdControl {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
};

inline ssize_t send_fd(int sock, const void* payload, size_t len, int fd, int flags) {
  struct iovec iov = {const_cast<void*>(payload), len};
  OneFdControl control;
  __builtin_memset(&control, 0, sizeof control);
  struct msghdr msg;
  __builtin_memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  __builtin_memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &msg, flags);
}

inline ssize_t recv_fd(int sock, void* payload, size_t cap, int* fd, int flags) {
  *fd = -1;
  struct iovec iov = {payload, cap};
  OneFdControl control;
  __builtin_memset(&control, 0, sizeof control);
  struct msghdr msg;
  __builtin_memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n = ::recvmsg(sock, &msg, flags);
  if (n < 0) return n;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
      c->cmsg_len == CMSG_LEN(sizeof(int))) {
    __builtin_memcpy(fd, CMSG_DATA(c), sizeof(int));
  }
  return n;
}
int sys_close_range(unsigned first, unsigned last, unsigned flags);
int sys_pivot_root(const char* new_root, const char* put_old);

// Process start time (field 22 of /proc/<pid>/stat, clock ticks since boot); with the pid
// it identifies a process across pid reuse.
Result<uint64_t> process_start_time(pid_t pid);

// The pid of the process a pidfd refers to, in each PID namespace from ours down
// (fdinfo "NSpid:"); empty vector with errno-bearing error if it has exited.
Result<std::vector<pid_t>> pidfd_nspids(int pidfd);

// Waits until the pidfd is readable (the process exited) or timeout_ms passes (-1 = forever).
// Returns true if it exited.
Result<bool> pidfd_wait_exit(int pidfd, int timeout_ms);

// Files: whole-file read, atomic replace (temp + rename; + fsync when durable), recursive
// removal that never follows symlinks and stays on one filesystem.
// The runtime's state files are not durable on purpose: after a machine crash every
// container is gone anyway, and an fsync per state change cost milliseconds per container.
Result<std::string> read_file(const std::string& path);
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                               bool durable = false);
Result<void> remove_tree(const std::string& path);
Result<void> make_dirs(const std::string& path, mode_t mode = 0755);

// key=value records, one per line: the state files the runtime and the holder share.
using Record = std::map<std::string, std::string>;
std::string format_record(const Record& r);
Record parse_record(std::string_view text);
Result<int64_t> record_int(const Record& r, const std::string& key);

// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
int64_t now_unix_ns();

}  // namespace kernlet::runtime
