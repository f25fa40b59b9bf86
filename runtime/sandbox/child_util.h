// Async-signal-safe helpers for code that runs in a child between clone and execve: no
// allocation, no locks, no stdio. The parent computes everything; the child only issues
// syscalls and reports failure through a ChildReport pipe.
#pragma once

#include <stddef.h>

#include "runtime/sandbox/child_report.h"

namespace kernlet::runtime::child {

// Fixed-size message builder.
class Msg {
 public:
  Msg& add(const char* s);
  Msg& add_int(long v);
  const char* c_str() const { return buf_; }

 private:
  char buf_[480] = {};
  size_t len_ = 0;
};

// Writes a report of `kind` to fd (ignored when fd < 0).
void report(int fd, int kind, int err, const char* message);

// Reports an error (errno `err`, message) and _exit(1)s.
[[noreturn]] void fail(int report_fd, int err, const char* message);

// One fd to place at a target slot: targets are 0..n-1, each listed once.
struct FdMove {
  int source;    // -1: open /dev/null read-write there
  bool cloexec;  // close at execve
};

// Moves moves[i].source to fd i for i in [0, n), then closes every other fd >= n (for real,
// not just CLOEXEC: nothing of the driver's may be reachable inside the container, e.g. a
// working directory of /proc/self/fd/N; CVE-2024-21626). Returns 0 or -errno.
int place_fds(const FdMove* moves, int n);

}  // namespace kernlet::runtime::child
