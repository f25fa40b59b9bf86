#include "runtime/sandbox/linux.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace kernlet::runtime {

pid_t sys_clone3(CloneArgs* args) {
  return static_cast<pid_t>(::syscall(SYS_clone3, args, sizeof(CloneArgs)));
}

#if defined(__x86_64__)
// clone3(args, size); in the child (on the stack args names) call fn(arg), then exit(127).
// The child cannot return from a C++ function: it runs on another stack.
extern "C" long kl_clone3_call(void* args, size_t size, void (*fn)(void*), void* arg);
asm(R"(
  .pushsection .text
  .globl kl_clone3_call
  .type kl_clone3_call,@function
kl_clone3_call:
  mov %rdx, %r8
  mov %rcx, %r9
  mov $435, %eax
  syscall
  test %rax, %rax
  jnz 1f
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov $127, %edi
  mov $60, %eax
  syscall
  hlt
1:
  ret
  .size kl_clone3_call, .-kl_clone3_call
  .popsection
)");
#endif

namespace {

struct SpawnStart {
  void (*fn)(void*);
  void* arg;
  sigset_t mask;  // the caller's, restored in the child
};

void spawn_entry(void* p) {
  auto* s = static_cast<SpawnStart*>(p);
  struct sigaction sa;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (::sigaction(sig, nullptr, &sa) != 0) continue;
    if ((sa.sa_flags & SA_SIGINFO) != 0 || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)) {
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      ::sigaction(sig, &sa, nullptr);
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &s->mask, nullptr);
  s->fn(s->arg);
  ::_exit(127);
}

// Where there is no clone3 trampoline (not x86-64): a plain clone3 child, a copy of our
// memory, runs fn. Compiled everywhere so it cannot rot where it is not used.
[[maybe_unused]] pid_t clone_copy_and_run(CloneArgs* args, void (*fn)(void*), void* arg) {
  pid_t pid = sys_clone3(args);
  if (pid == 0) {
    fn(arg);
    ::_exit(127);
  }
  return pid;
}

}  // namespace

pid_t spawn_vm(CloneArgs* args, void (*fn)(void*), void* arg) {
#if defined(__x86_64__)
  // One stack per calling thread, kept: mapping and unmapping one per spawn would cost a
  // TLB shootdown each. The child uses it only until it execs or exits, while we sleep.
  constexpr size_t kStack = 256 * 1024;
  thread_local void* stack = nullptr;
  if (stack == nullptr) {
    void* m = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return -1;
    stack = m;
  }
  SpawnStart start{fn, arg, {}};
  sigset_t all;
  sigfillset(&all);
  // Blocked from the clone until the child has reset the handlers: none of ours may run
  // in it (it shares our memory).
  if (int e = ::pthread_sigmask(SIG_SETMASK, &all, &start.mask); e != 0) {
    errno = e;
    return -1;
  }
  CloneArgs a = *args;
  a.flags |= CLONE_VM | CLONE_VFORK;
  a.stack = reinterpret_cast<uint64_t>(stack);
  a.stack_size = kStack;
  long r = kl_clone3_call(&a, sizeof a, spawn_entry, &start);
  ::pthread_sigmask(SIG_SETMASK, &start.mask, nullptr);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<pid_t>(r);
#else
  return clone_copy_and_run(args, fn, arg);
#endif
}
pid_t clone_vm_on_stack(CloneArgs* args, void* stack, size_t stack_size, void (*fn)(void*), void* arg) {
#if defined(__x86_64__)
  CloneArgs a = *args;
  a.flags |= CLONE_VM | CLONE_VFORK;
  a.stack = reinterpret_cast<uint64_t>(stack);
  a.stack_size = stack_size;
  long r = kl_clone3_call(&a, sizeof a, fn, arg);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<pid_t>(r);
#else
  (void)stack;
  (void)stack_size;
  return clone_copy_and_run(args, fn, arg);
#endif
}

int sys_pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}
int sys_pidfd_getfd(int pidfd, int targetfd) {
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, targetfd, 0));
}
int sys_pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
int sys_openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct {
    uint64_t flags, mode, resolve;
  } how{flags, mode, resolve};
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}
int sys_close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}
int sys_pivot_root(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

Result<uint64_t> process_start_time(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  KL_ASSIGN_OR_RETURN(std::string stat, read_file(path));
  // comm (field 2) may hold spaces and ')': fields resume after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return Error("parse " + path + ": no ')'");
  size_t pos = close + 2;
  for (int field = 3; field < 22; ++field) {
    pos = stat.find(' ', pos);
    if (pos == std::string::npos) return Error("parse " + path + ": too few fields");
    ++pos;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(stat.data() + pos, stat.data() + stat.size(), v);
  if (ec != std::errc()) return Error("parse " + path + ": bad starttime");
  return v;
}

Result<std::vector<pid_t>> pidfd_nspids(int pidfd) {
  std::string path = "/proc/self/fdinfo/" + std::to_string(pidfd);
  KL_ASSIGN_OR_RETURN(std::string info, read_file(path));
  size_t at = info.find("NSpid:");
  if (at == std::string::npos) return Error("no NSpid in " + path);
  std::vector<pid_t> pids;
  const char* p = info.data() + at + 6;
  const char* end = info.data() + info.size();
  while (p < end && *p != '\n') {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    if (p >= end || *p == '\n') break;
    pid_t v = 0;
    bool neg = *p == '-';
    if (neg) ++p;
    auto [q, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) return Error("bad NSpid in " + path);
    pids.push_back(neg ? -v : v);
    p = q;
  }
  if (pids.empty() || pids[0] <= 0) return Error("process of pidfd exited", ESRCH);
  return pids;
}

Result<bool> pidfd_wait_exit(int pidfd, int timeout_ms) {
  struct pollfd p{pidfd, POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("poll pidfd");
    return n > 0;
  }
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::from_errno("open " + path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                               bool durable) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return Error::from_errno("create " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("write " + tmp);
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd.get()) != 0) return Error::from_errno("fsync " + tmp);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename to " + path);
  return Ok();
}

namespace {

Result<void> remove_children(int dirfd, const std::string& path, dev_t dev) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Error::from_errno("dup " + path);
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    ::close(dup);
    return Error::from_errno("opendir " + path);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* e = ::readdir(dir)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    entries.emplace_back(e->d_name, e->d_type == DT_DIR);
  }
  ::closedir(dir);
  for (auto& [name, is_dir] : entries) {
    std::string child = path + "/" + name;
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) return Error::from_errno("unlink " + child);
    UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return Error::from_errno("open " + child);
    struct stat st{};
    if (::fstat(sub.get(), &st) != 0) return Error::from_errno("stat " + child);
    if (st.st_dev != dev) return Error("remove " + child + ": a mount point", EBUSY);
    // overlayfs leaves work/work mode 000; make it traversable for removal.
    ::fchmod(sub.get(), 0700);
    KL_TRY(remove_children(sub.get(), child, dev));
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error::from_errno("rmdir " + child);
  }
  return Ok();
}

}  // namespace

Result<void> remove_tree(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Ok();
    if (errno == ENOTDIR || errno == ELOOP) {
      if (::unlink(path.c_str()) != 0) return Error::from_errno("unlink " + path);
      return Ok();
    }
    return Error::from_errno("open " + path);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat " + path);
  KL_TRY(remove_children(fd.get(), path, st.st_dev));
  fd.reset();
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno("rmdir " + path);
  return Ok();
}

Result<void> make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "make_dirs: empty path");
  // The whole path first: almost always only its last component (or nothing) is missing,
  // and a mkdir per existing ancestor is a path walk each, ~20 per pod start.
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Ok();
  if (errno != ENOENT) return Error::from_errno("mkdir " + path);
  // Walk up to the deepest ancestor that exists, then create downwards.
  size_t end = path.size();
  std::vector<size_t> missing{end};
  for (;;) {
    while (end > 0 && path[end - 1] == '/') --end;  // "a//b": skip the slashes
    size_t slash = path.rfind('/', end == 0 ? 0 : end - 1);
    if (slash == std::string::npos || slash == 0) break;
    end = slash;
    std::string prefix = path.substr(0, end);
    if (::mkdir(prefix.c_str(), mode) == 0 || errno == EEXIST) break;
    if (errno != ENOENT) return Error::from_errno("mkdir " + prefix);
    missing.push_back(end);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    std::string prefix = path.substr(0, *it);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + prefix);
  }
  return Ok();
}

std::string format_record(const Record& r) {
  std::string out;
  for (const auto& [k, v] : r) {
    out += k;
    out += '=';
    out += v;
    out += '\n';
  }
  return out;
}

Record parse_record(std::string_view text) {
  Record r;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    r[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return r;
}

Result<int64_t> record_int(const Record& r, const std::string& key) {
  auto it = r.find(key);
  if (it == r.end()) return Error(ErrorCode::kNotFound, "record has no " + key);
  int64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return Error(ErrorCode::kInvalidArgument, "record field " + key + ": not an integer: " + s);
  return v;
}

int64_t now_unix_ns() {
  struct timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace kernlet::runtime
