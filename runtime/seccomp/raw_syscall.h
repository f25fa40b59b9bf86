// Raw system calls for the child between clone and execve.
//
// Why not glibc's syscall(): it writes errno, which after clone(CLONE_VM) may be the
// parent's thread-local errno, and glibc's set*id wrappers synchronise all threads with
// signals. These return the kernel's result directly (-errno on failure) and touch no
// memory but their arguments. x86_64 only, as the rest of the runtime.
#pragma once

namespace kernlet::seccomp::raw {

inline long syscall6(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                     long a6 = 0) noexcept {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

}  // namespace kernlet::seccomp::raw
