// The C library of kernlet-pod-holder on x86-64: its entry point and the few dozen libc
// calls the holder, kernlet-init and kernlet-exec make, each a raw system call.
//
// Why not glibc's static startup: the holder image is executed once per pod (the holder)
// and once per container (kernlet-init), and glibc's startup alone cost about 2 ms of CPU
// per exec on the project's VM (CPU feature detection by ~20 CPUID instructions, each a VM
// exit of ~16 us there; IRELATIVE relocations, TLS setup and the first touch of a 480 kB
// image, where each new page is a shadow page-table fault in the hypervisor). Without it
// the image is a few pages and the first instruction after exec is main's.
//
// Single-threaded only (errno is one global): the holder and kernlet-init never make
// threads. No glibc headers here on purpose: the definitions only have to match the
// callers' declarations at the ABI level (integer and pointer arguments, variadic where
// libc's are), not glibc's exception specifications. Compiled with
// -fno-tree-loop-distribute-patterns so the string loops below are not turned back into
// calls to themselves.
#include <asm/unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/seccomp/raw_syscall.h"

namespace {

constexpr long kAtFdcwd = -100;
constexpr int kOCreat = 0100;
constexpr int kOTmpfile = 020000000 | 0200000;
constexpr int kFGetfd = 1;
constexpr int kEinval = 22;
constexpr unsigned long kSigDfl = 0, kSigIgn = 1;
constexpr size_t kKernelSigsetBytes = 8;

int g_errno;

long raw6(long n, long a, long b, long c, long d, long e, long f) {
  return kernlet::seccomp::raw::syscall6(n, a, b, c, d, e, f);
}

// libc's convention: -1 and errno on failure.
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long r = raw6(n, a, b, c, d, e, f);
  if (r < 0 && r > -4096) {
    g_errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

template <typename T>
long L(T v) {
  return (long)(v);
}

}  // namespace

extern "C" {

char** environ;

// glibc's struct sigaction on x86-64 (the kernel's puts flags and the restorer before a
// mask of 8 bytes).
struct libc_sigaction {
  unsigned long handler;
  unsigned long mask[16];
  int flags;
  void (*restorer)();
};
struct kernel_sigaction {
  unsigned long handler;
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

int* __errno_location() { return &g_errno; }

[[noreturn]] void _exit(int code) {
  for (;;) raw6(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

void* memcpy(void* d, const void* s, size_t n) {
  void* ret = d;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return ret;
}
void* memmove(void* d, const void* s, size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  const auto* sp = static_cast<const unsigned char*>(s);
  if (dp <= sp || dp >= sp + n) return memcpy(d, s, n);
  while (n-- > 0) dp[n] = sp[n];
  return d;
}
void* memset(void* d, int c, size_t n) {
  void* ret = d;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return ret;
}
int memcmp(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
void* memchr(const void* s, int c, size_t n) {
  const auto* p = static_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n; ++i)
    if (p[i] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p + i);
  return nullptr;
}
size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}
char* strchr(const char* s, int c) {
  for (;; ++s) {
    if (*s == static_cast<char>(c)) return const_cast<char*>(s);
    if (*s == '\0') return nullptr;
  }
}
int strcmp(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}
int atoi(const char* s) {
  int sign = 1, v = 0;
  while (*s == ' ' || *s == '\t' || *s == '\n') ++s;
  if (*s == '-' || *s == '+') sign = *s++ == '-' ? -1 : 1;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return sign * v;
}

long syscall(long n, ...) {
  va_list ap;
  va_start(ap, n);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  return sys(n, a, b, c, d, e, f);
}

long read(int fd, void* buf, size_t n) { return sys(__NR_read, fd, L(buf), L(n)); }
long write(int fd, const void* buf, size_t n) { return sys(__NR_write, fd, L(buf), L(n)); }
int close(int fd) { return static_cast<int>(sys(__NR_close, fd)); }
// open and openat read a mode argument only with O_CREAT or O_TMPFILE.
static bool takes_mode(int flags) { return (flags & kOCreat) != 0 || (flags & kOTmpfile) == kOTmpfile; }
int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long mode = takes_mode(flags) ? va_arg(ap, int) : 0;
  va_end(ap);
  return static_cast<int>(sys(__NR_openat, dirfd, L(path), flags, mode));
}
int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long mode = takes_mode(flags) ? va_arg(ap, int) : 0;
  va_end(ap);
  return static_cast<int>(sys(__NR_openat, kAtFdcwd, L(path), flags, mode));
}
int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return static_cast<int>(sys(__NR_fcntl, fd, cmd, arg));
}
int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  long arg = va_arg(ap, long);
  va_end(ap);
  return static_cast<int>(sys(__NR_ioctl, fd, L(req), arg));
}
int prctl(int op, ...) {
  va_list ap;
  va_start(ap, op);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long), d = va_arg(ap, long);
  va_end(ap);
  return static_cast<int>(sys(__NR_prctl, op, a, b, c, d));
}
int dup3(int from, int to, int flags) { return static_cast<int>(sys(__NR_dup3, from, to, flags)); }
int dup2(int from, int to) {
  if (from == to) return fcntl(from, kFGetfd) < 0 ? -1 : to;
  return dup3(from, to, 0);
}
int chdir(const char* path) { return static_cast<int>(sys(__NR_chdir, L(path))); }
int fchdir(int fd) { return static_cast<int>(sys(__NR_fchdir, fd)); }
int stat(const char* path, void* st) { return static_cast<int>(sys(__NR_newfstatat, kAtFdcwd, L(path), L(st), 0)); }
int fstat(int fd, void* st) { return static_cast<int>(sys(__NR_fstat, fd, L(st))); }
int mkdirat(int dirfd, const char* path, unsigned mode) { return static_cast<int>(sys(__NR_mkdirat, dirfd, L(path), mode)); }
int mknodat(int dirfd, const char* path, unsigned mode, unsigned long dev) {
  return static_cast<int>(sys(__NR_mknodat, dirfd, L(path), mode, L(dev)));
}
int symlinkat(const char* target, int dirfd, const char* path) {
  return static_cast<int>(sys(__NR_symlinkat, L(target), dirfd, L(path)));
}
long readlinkat(int dirfd, const char* path, char* buf, size_t n) {
  return sys(__NR_readlinkat, dirfd, L(path), L(buf), L(n));
}
int renameat(int od, const char* op, int nd, const char* np) {
  return static_cast<int>(sys(__NR_renameat, od, L(op), nd, L(np)));
}
int unlinkat(int dirfd, const char* path, int flags) { return static_cast<int>(sys(__NR_unlinkat, dirfd, L(path), flags)); }
int mount(const char* src, const char* dst, const char* type, unsigned long flags, const void* data) {
  return static_cast<int>(sys(__NR_mount, L(src), L(dst), L(type), L(flags), L(data)));
}
int umount2(const char* path, int flags) { return static_cast<int>(sys(__NR_umount2, L(path), flags)); }
int setns(int fd, int type) { return static_cast<int>(sys(__NR_setns, fd, type)); }
int setsid() { return static_cast<int>(sys(__NR_setsid)); }
unsigned umask(unsigned mask) { return static_cast<unsigned>(raw6(__NR_umask, mask, 0, 0, 0, 0, 0)); }
int setrlimit(int resource, const void* rl) { return static_cast<int>(sys(__NR_prlimit64, 0, resource, L(rl), 0)); }
long sendmsg(int fd, const void* msg, int flags) { return sys(__NR_sendmsg, fd, L(msg), flags); }
int execve(const char* path, char* const argv[], char* const envp[]) {
  return static_cast<int>(sys(__NR_execve, L(path), L(argv), L(envp)));
}
void* mmap(void* addr, size_t len, int prot, int flags, int fd, long off) {
  long r = sys(__NR_mmap, L(addr), L(len), prot, flags, fd, off);
  return r == -1 ? reinterpret_cast<void*>(-1L) : reinterpret_cast<void*>(r);
}
int clock_gettime(int clock, void* ts) { return static_cast<int>(sys(__NR_clock_gettime, clock, L(ts))); }
int waitid(int idtype, unsigned id, void* info, int options) {
  return static_cast<int>(sys(__NR_waitid, idtype, id, L(info), options, 0));
}
unsigned long gnu_dev_makedev(unsigned major, unsigned minor) {
  unsigned long ma = major, mi = minor;
  return ((ma & 0x00000fffUL) << 8) | ((ma & 0xfffff000UL) << 32) | (mi & 0x000000ffUL) |
         ((mi & 0xffffff00UL) << 12);
}

// Signal sets: glibc's sigset_t is 128 bytes, the kernel reads the first 8.
int sigemptyset(unsigned long* set) {
  for (int i = 0; i < 16; ++i) set[i] = 0;
  return 0;
}
int sigaddset(unsigned long* set, int sig) {
  if (sig < 1 || sig > 64) {
    g_errno = kEinval;
    return -1;
  }
  set[0] |= 1UL << (sig - 1);
  return 0;
}
int sigprocmask(int how, const unsigned long* set, unsigned long* old) {
  return static_cast<int>(sys(__NR_rt_sigprocmask, how, L(set), L(old), kKernelSigsetBytes));
}
int sigwaitinfo(const unsigned long* set, void* info) {
  return static_cast<int>(sys(__NR_rt_sigtimedwait, L(set), L(info), 0, kKernelSigsetBytes));
}
// Only SIG_DFL and SIG_IGN: a handler would need a restorer trampoline, and nothing in the
// holder installs one.
int sigaction(int sig, const libc_sigaction* act, libc_sigaction* old) {
  kernel_sigaction k{}, ko{};
  if (act != nullptr) {
    if (act->handler != kSigDfl && act->handler != kSigIgn) {
      g_errno = kEinval;
      return -1;
    }
    k.handler = act->handler;
    k.flags = static_cast<unsigned long>(act->flags);
    k.mask = act->mask[0];
  }
  long r = sys(__NR_rt_sigaction, sig, act != nullptr ? L(&k) : 0, old != nullptr ? L(&ko) : 0,
               kKernelSigsetBytes);
  if (r == 0 && old != nullptr) {
    for (auto& m : old->mask) m = 0;
    old->handler = ko.handler;
    old->flags = static_cast<int>(ko.flags);
    old->mask[0] = ko.mask;
    old->restorer = ko.restorer;
  }
  return static_cast<int>(r);
}

// Entry: the kernel leaves argc, argv[], NULL, envp[], NULL on the stack.
int holder_entry_main(int argc, char** argv) __asm__("main");
[[noreturn]] void holder_start_c(long* sp) {
  int argc = static_cast<int>(sp[0]);
  char** argv = reinterpret_cast<char**>(sp + 1);
  environ = argv + argc + 1;
  _exit(holder_entry_main(argc, argv));
}

__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start,@function\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call holder_start_c\n"
    "  hlt\n");

}  // extern "C"
