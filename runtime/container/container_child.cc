// The child side of a container: what the init does inside kernlet-init (a mode of the
// static holder binary, which compiles this file too) and what an exec process does after
// its clone from the driver. Async-signal-safe throughout: only syscalls, no allocation,
// no locks, no stdio; no C++ runtime either (the holder has none). The plans come from
// container_plan.cc.
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <type_traits>

#include "runtime/container/container_plan.h"
#include "runtime/sandbox/linux.h"

namespace kernlet::runtime {

namespace {

// Raw calls, not linux.cc's wrappers: this file is also linked into the static helper.
int raw_openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  struct {
    uint64_t flags, mode, resolve;
  } how = {flags, 0, resolve};
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

int open_in_root(int rootfd, const char* path, bool no_symlinks, int flags) {
  uint64_t resolve = kResolveInRoot | kResolveNoMagiclinks | (no_symlinks ? kResolveNoSymlinks : 0);
  return raw_openat2(rootfd, path, static_cast<uint64_t>(flags) | O_CLOEXEC, resolve);
}

// mkdir -p of `path` inside the root: each missing component is created in its parent as
// resolved in the root, so a symlink on the way can never lead outside. A dangling symlink
// on the way is followed (inside the root, as the kernel would) and its target created.
int mkdir_in_root_depth(int rootfd, const char* path, bool no_symlinks, bool last_is_file, int depth) {
  if (depth > 40) return -ELOOP;
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof(buf)) return -ENAMETOOLONG;
  memcpy(buf, path, len + 1);
  size_t i = 0;
  while (i < len) {
    while (i < len && buf[i] == '/') ++i;
    if (i >= len) break;
    size_t start = i;
    while (i < len && buf[i] != '/') ++i;
    bool last = i >= len;
    char saved = buf[i];
    buf[i] = '\0';
    int fd = open_in_root(rootfd, buf, no_symlinks, O_PATH);
    if (fd >= 0) {
      ::close(fd);
    } else if (errno == ENOENT) {
      char psaved = buf[start];
      buf[start] = '\0';
      int parent = open_in_root(rootfd, start == 0 ? "/" : buf, no_symlinks, O_PATH | O_DIRECTORY);
      buf[start] = psaved;
      if (parent < 0) return -errno;
      int rc;
      if (last && last_is_file) {
        rc = ::openat(parent, buf + start, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (rc >= 0) ::close(rc);
        rc = rc >= 0 ? 0 : -1;
      } else {
        rc = ::mkdirat(parent, buf + start, 0755);
      }
      int e = errno;
      if (rc != 0 && e == EEXIST) {
        // It exists but does not resolve: a dangling symlink. Continue at its target.
        char target[4096];
        ssize_t n = ::readlinkat(parent, buf + start, target, sizeof(target) - 1);
        ::close(parent);
        if (n < 0) return -ENOENT;
        if (no_symlinks) return -ELOOP;
        target[n] = '\0';
        char next[4096];
        size_t k = 0;
        auto put = [&](const char* str, size_t m) {
          if (k + m >= sizeof(next)) return false;
          memcpy(next + k, str, m);
          k += m;
          return true;
        };
        bool ok = true;
        if (target[0] != '/') ok = put(buf, start) && put("/", 1);
        ok = ok && put(target, static_cast<size_t>(n));
        if (!last) ok = ok && put("/", 1) && put(buf + i + 1, len - i - 1);
        if (!ok) return -ENAMETOOLONG;
        next[k] = '\0';
        return mkdir_in_root_depth(rootfd, next, no_symlinks, last_is_file, depth + 1);
      }
      ::close(parent);
      if (rc != 0) return -e;
    } else {
      return -errno;
    }
    buf[i] = saved;
  }
  return 0;
}

int mkdir_in_root(int rootfd, const char* path, bool no_symlinks, bool last_is_file) {
  return mkdir_in_root_depth(rootfd, path, no_symlinks, last_is_file, 0);
}

int new_fs_mount(const MountStep& s) {
  int fs = static_cast<int>(::syscall(SYS_fsopen, s.fstype, FSOPEN_CLOEXEC));
  if (fs < 0) return -1;
  for (int i = 0; i < s.nparams; ++i) {
    const FsParam& p = s.params[i];
    long rc = p.value != nullptr
                  ? ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, p.key, p.value, 0)
                  : ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, p.key, nullptr, 0);
    if (rc != 0) {
      int e = errno;
      ::close(fs);
      errno = e;
      return -1;
    }
  }
  if (::syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    int e = errno;
    ::close(fs);
    errno = e;
    return -1;
  }
  int m = static_cast<int>(::syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, s.attr));
  int e = errno;
  ::close(fs);
  errno = e;
  return m;
}

int set_attr(int fd, bool recursive, uint64_t set, uint64_t propagation) {
  struct mount_attr a;
  memset(&a, 0, sizeof(a));
  a.attr_set = set;
  a.propagation = propagation;
  return static_cast<int>(::syscall(SYS_mount_setattr, fd, "",
                                    AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)));
}

int attach(int src, int dest) {
  return static_cast<int>(::syscall(SYS_move_mount, src, "", dest, "",
                                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
}

[[noreturn]] void fail_path(const char* what, const char* path, int err) {
  child::Msg m;
  m.add(what).add(" ").add(path);
  child::fail(kReportFd, err, m.c_str());
}

void populate_dev(int devfd) {
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static const Node nodes[] = {{"null", 1, 3},    {"zero", 1, 5},    {"full", 1, 7},
                               {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const Node& n : nodes) {
    if (::mknodat(devfd, n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) != 0)
      fail_path("mknod /dev/", n.name, errno);
  }
  struct Link {
    const char* name;
    const char* target;
  };
  static const Link links[] = {{"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
                               {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
                               {"ptmx", "pts/ptmx"},          {"core", "/proc/kcore"}};
  for (const Link& l : links) {
    if (::symlinkat(l.target, devfd, l.name) != 0) fail_path("symlink /dev/", l.name, errno);
  }
}

int clone_bind_source(const MountStep& s) {
  return static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, s.source,
                                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                        (s.recursive ? AT_RECURSIVE : 0)));
}

void run_step(int rootfd, const MountStep& s) {
  int dest = open_in_root(rootfd, s.dest, s.no_symlinks, O_PATH);
  if (dest < 0 && errno == ENOENT) {
    if (s.optional) return;
    int rc = mkdir_in_root(rootfd, s.dest, s.no_symlinks, s.dest_is_file);
    if (rc != 0) fail_path("create mount point", s.dest, -rc);
    dest = open_in_root(rootfd, s.dest, s.no_symlinks, O_PATH);
  }
  if (dest < 0) {
    if (errno == ELOOP) fail_path("mount destination is or passes a symlink:", s.dest, errno);
    fail_path("resolve mount destination", s.dest, errno);
  }
  int src = -1;
  switch (s.kind) {
    case StepKind::kFilesystem:
      src = new_fs_mount(s);
      if (src < 0) fail_path("mount", s.fstype, errno);
      break;
    case StepKind::kBind:
      src = s.early_src >= 0 ? s.early_src : clone_bind_source(s);
      if (src < 0) fail_path("bind source", s.source, errno);
      break;
    case StepKind::kMask: {
      struct stat st;
      if (::fstat(dest, &st) != 0) fail_path("stat", s.dest, errno);
      if (S_ISDIR(st.st_mode)) {
        MountStep t;
        t.fstype = "tmpfs";
        t.attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        t.params[0] = {"size", "0"};
        t.nparams = 1;
        src = new_fs_mount(t);
      } else {
        src = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, "/dev/null",
                                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
      }
      if (src < 0) fail_path("mask", s.dest, errno);
      break;
    }
    case StepKind::kReadonly:
      src = static_cast<int>(::syscall(SYS_open_tree, dest, "",
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                                           AT_RECURSIVE));
      if (src < 0) fail_path("bind read-only", s.dest, errno);
      if (set_attr(src, true, MOUNT_ATTR_RDONLY, 0) != 0) fail_path("make read-only", s.dest, errno);
      break;
  }
  if (attach(src, dest) != 0) fail_path("attach mount at", s.dest, errno);
  if (s.kind == StepKind::kBind &&
      set_attr(src, s.recursive, s.attr, s.propagation) != 0)
    fail_path("set bind mount attributes on", s.dest, errno);
  if (s.populate_dev) populate_dev(src);
  ::close(src);
  ::close(dest);
}

// One overlay superblock from the plan: lower layers one by one ("lowerdir+", Linux 6.8+),
// or as one colon-joined "lowerdir". Returns the configured fs context, or -1 with errno.
int create_overlay(const InitPlan& p, bool plus) {
  int fs = static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
  if (fs < 0) return -1;
  bool ok = true;
  if (plus) {
    for (size_t i = 0; i < p.nlowers; ++i) {
      ok = ok && ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", p.lowers[i], 0) == 0;
    }
  } else {
    ok = ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", p.lower_joined, 0) == 0;
  }
  ok = ok && ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", p.upper, 0) == 0 &&
       ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", p.work, 0) == 0 &&
       ::syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0;
  if (ok) return fs;
  const int e = errno;
  ::close(fs);
  errno = e;
  return -1;
}

int mount_overlay(const InitPlan& p) {
  // Kernels before 6.5 take overlay options through the legacy mount path, which accepts
  // any key at fsconfig time ("lowerdir+" too) and refuses it only at create: so fall back
  // on a failed create, not on a failed fsconfig.
  int fs = create_overlay(p, true);
  if (fs < 0) fs = create_overlay(p, false);
  if (fs < 0) fail_path("create overlay for", p.rootfs, errno);
  int m = static_cast<int>(::syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
  if (m < 0) fail_path("fsmount overlay for", p.rootfs, errno);
  ::close(fs);
  if (::syscall(SYS_move_mount, m, "", AT_FDCWD, p.rootfs, MOVE_MOUNT_F_EMPTY_PATH) != 0)
    fail_path("attach rootfs at", p.rootfs, errno);
  return m;
}

// Finds args[0] among the candidates (inside the container root); returns it or fails.
const char* find_executable(const ProcessView& p) {
  for (size_t i = 0; i < p.ncandidates; ++i) {
    const char* c = p.candidates[i];
    struct stat st;
    if (::stat(c, &st) == 0 && S_ISREG(st.st_mode)) return c;
  }
  if (p.ncandidates == 1) {
    struct stat st;
    int e = ::stat(p.candidates[0], &st) == 0 ? EACCES : errno;
    fail_path("exec: no such executable:", p.arg0, e);
  }
  fail_path("exec: executable file not found in $PATH:", p.arg0, ENOENT);
}

void enter_cwd(const ProcessView& p) {
  int fd = raw_openat2(AT_FDCWD, p.cwd, O_PATH | O_DIRECTORY | O_CLOEXEC, kResolveInRoot | kResolveNoMagiclinks);
  if (fd < 0 || ::fchdir(fd) != 0)
    fail_path("working directory is not a directory inside the container:", p.cwd, errno);
  ::close(fd);
}

void set_rlimits(const ProcessView& p) {
  for (size_t i = 0; i < p.nrlimits; ++i) {
    struct rlimit rl = {p.rlimits[i].soft, p.rlimits[i].hard};
    if (::setrlimit(static_cast<__rlimit_resource>(p.rlimits[i].resource), &rl) != 0)
      child::fail(kReportFd, errno, "setrlimit");
  }
}

// The last steps before exec: seccomp, identity, capabilities.
void secure(const ProcessView& p) {
  const char* what = "";
  const bool seccomp_first = !p.security.no_new_privileges;
  // Without no_new_privs a filter needs CAP_SYS_ADMIN: install it while we still have it.
  if (seccomp_first) {
    int rc = apply_child_seccomp(p.security, &what);
    if (rc != 0) child::fail(kReportFd, -rc, what);
  }
  int rc = apply_child_identity(p.security, &what);
  if (rc != 0) child::fail(kReportFd, -rc, what);
  if (!seccomp_first) {
    rc = apply_child_seccomp(p.security, &what);
    if (rc != 0) child::fail(kReportFd, -rc, what);
  }
  ::umask(022);
}

// An exec process (a copy of the driver) ends in kernlet-exec, which execs the target: so
// /proc/self/exe at that execve is the sealed holder image, never the driver's binary.
[[noreturn]] void secure_and_exec(const ProcessView& p, int image_fd) {
  secure(p);
  // The report pipe must survive the hop through kernlet-exec, which closes it on success.
  ::fcntl(kReportFd, F_SETFD, 0);
  ::syscall(SYS_execveat, image_fd, "", p.tramp_argv, p.envp, AT_EMPTY_PATH);
  child::fail(kReportFd, errno, "exec kernlet-exec");
}

// A pty from the container's own devpts: the slave becomes stdio and the controlling
// terminal, the master goes to the driver over the tty socket (SCM_RIGHTS).
void open_container_tty() {
  int m = open_in_root(AT_FDCWD, "/dev/pts/ptmx", true, O_RDWR | O_NOCTTY);
  if (m < 0) child::fail(kReportFd, errno, "open /dev/pts/ptmx");
  int unlock = 0;
  if (::ioctl(m, TIOCSPTLCK, &unlock) != 0) child::fail(kReportFd, errno, "unlockpt");
  int slave = ::ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) child::fail(kReportFd, errno, "open pty peer");
  if (::setsid() < 0) child::fail(kReportFd, errno, "setsid");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave, fd) < 0) child::fail(kReportFd, errno, "dup pty");
  ::close(slave);
  if (::ioctl(0, TIOCSCTTY, 0) != 0) child::fail(kReportFd, errno, "set controlling tty");
  const char byte = 0;
  if (send_fd(kTtySocketFd, &byte, 1, m, MSG_NOSIGNAL) != 1) child::fail(kReportFd, errno, "send pty master");
  ::close(m);
}

}  // namespace

// The init is kernlet-init, the sealed holder image, so it execs the target itself (the
// report fd is close-on-exec: EOF tells the driver the exec succeeded).
void run_init(InitPlan& p) {
  int rc = 0;
  ::umask(0);
  // Bidirectional binds are cloned while this namespace's copies of the host mounts are
  // still peers of them: the clone stays in the host mount's peer group, so mounts made
  // under it on either side reach the other (Kubernetes' Bidirectional = rshared). The
  // parent checked that each such source is on a shared mount.
  for (size_t i = 0; i < p.nsteps; ++i) {
    const MountStep& s = p.steps[i];
    if (s.kind != StepKind::kBind || s.propagation != MS_SHARED) continue;
    int fd = clone_bind_source(s);
    if (fd < 0) fail_path("bind source", s.source, errno);
    const_cast<MountStep&>(s).early_src = fd;  // this process's own copy of the plan
  }
  // No other mount event of ours may reach the host; host events may still reach us
  // (rslave: HostToContainer binds, cloned after this, stay slaves of the host mount).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    child::fail(kReportFd, errno, "make / rslave");
  int root = mount_overlay(p);
  for (size_t i = 0; i < p.nsteps; ++i) run_step(root, p.steps[i]);
  const ProcessView& proc = *p.process;
  if (proc.cwd[0] != '\0' && proc.cwd[1] != '\0') {
    rc = mkdir_in_root(root, proc.cwd, false, false);
    if (rc != 0) fail_path("working directory is not a directory inside the container:", proc.cwd, -rc);
  }
  if (::fchdir(root) != 0) child::fail(kReportFd, errno, "chdir to rootfs");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) child::fail(kReportFd, errno, "pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) child::fail(kReportFd, errno, "detach old root");
  if (::chdir("/") != 0) child::fail(kReportFd, errno, "chdir /");
  ::close(root);
  if (p.read_only_root && set_attr(AT_FDCWD, false, MOUNT_ATTR_RDONLY, 0) != 0) {
    struct mount_attr a;
    memset(&a, 0, sizeof(a));
    a.attr_set = MOUNT_ATTR_RDONLY;
    if (::syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &a, sizeof(a)) != 0)
      child::fail(kReportFd, errno, "make rootfs read-only");
  }
  set_rlimits(proc);
  if (p.tty) open_container_tty();
  ::close(kTtySocketFd);
  enter_cwd(proc);
  const char* path = find_executable(proc);
  child::report(kReportFd, kChildReady, 0, "");
  char byte;
  ssize_t n;
  do {
    n = ::read(kStartFd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(0);  // the driver abandoned this create
  ::close(kStartFd);
  secure(proc);
  ::execve(path, proc.tramp_argv + 3, proc.envp);
  child::Msg m;
  m.add("exec ").add(path);
  child::fail(kReportFd, errno, m.c_str());
}

void run_exec_child(const ExecPlan& p) {
  static const int kJoin[5] = {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP,
                               CLONE_NEWNS};
  int report_fd = p.fds[3].source;
  for (int i = 0; i < 5; ++i) {
    if (p.ns_fds[i] >= 0 && ::setns(p.ns_fds[i], kJoin[i]) != 0)
      child::fail(report_fd, errno, "join container namespace");
  }
  if (p.tty && ::setsid() < 0) child::fail(report_fd, errno, "setsid");
  int rc = child::place_fds(p.fds, 5);
  if (rc != 0) child::fail(report_fd, -rc, "place fds");
  if (p.tty && ::ioctl(0, TIOCSCTTY, 0) != 0) child::fail(kReportFd, errno, "set controlling tty");
  const ProcessView& proc = *p.process;
  set_rlimits(proc);
  enter_cwd(proc);
  const char* path = find_executable(proc);
  proc.tramp_argv[2] = const_cast<char*>(path);
  secure_and_exec(proc, 4);
}

// ---------------------------------------------------------------------------------------
// Decoding an encoded init plan, in place.

namespace {

// Turns the offsets encode_init_plan left in pointer fields back into pointers into the
// buffer, checking that what they point at lies inside it.
class Relocator {
 public:
  Relocator(char* base, size_t len) : base_(base), len_(len) {}
  bool ok() const { return ok_; }

  template <typename T>
  void array(T*& p, size_t n) {
    uintptr_t off = reinterpret_cast<uintptr_t>(p);
    if (off == 0) return;
    if (off >= len_ || off % 8 != 0 || n > (len_ - off) / sizeof(T)) {
      ok_ = false;
      p = nullptr;
      return;
    }
    p = reinterpret_cast<T*>(base_ + off);
  }
  void str(const char*& s) {
    uintptr_t off = reinterpret_cast<uintptr_t>(s);
    if (off == 0) return;
    if (off >= len_ || memchr(base_ + off, '\0', len_ - off) == nullptr) {
      ok_ = false;
      s = nullptr;
      return;
    }
    s = base_ + off;
  }
  void str(char*& s) {
    const char* c = s;
    str(c);
    s = const_cast<char*>(c);
  }
  // An array of n strings (null entries stay null).
  template <typename P>
  void strings(P*& v, size_t n) {
    array(v, n);
    if (v == nullptr) return;
    for (size_t i = 0; i < n; ++i) str(const_cast<std::remove_const_t<P>&>(v[i]));
  }

 private:
  char* base_;
  size_t len_;
  bool ok_ = true;
};

}  // namespace

InitPlan* decode_init_plan(void* buf, size_t len) {
  if (buf == nullptr || len < sizeof(InitPlanHeader) + 1) return nullptr;
  char* base = static_cast<char*>(buf);
  InitPlanHeader h;
  memcpy(&h, base, sizeof h);
  if (h.magic != kInitPlanMagic || h.version != kInitPlanVersion || h.size != len) return nullptr;
  if (base[len - 1] != '\0') return nullptr;
  Relocator r(base, len);
  InitPlan* plan = reinterpret_cast<InitPlan*>(static_cast<uintptr_t>(h.plan));
  r.array(plan, 1);
  if (plan == nullptr || !r.ok()) return nullptr;
  r.strings(plan->lowers, plan->nlowers);
  r.str(plan->lower_joined);
  r.str(plan->upper);
  r.str(plan->work);
  r.str(plan->rootfs);
  if (plan->upper == nullptr || plan->work == nullptr || plan->rootfs == nullptr) return nullptr;
  if (plan->lowers == nullptr && plan->nlowers != 0) return nullptr;
  r.array(plan->steps, plan->nsteps);
  if (plan->steps == nullptr && plan->nsteps != 0) return nullptr;
  for (size_t i = 0; i < plan->nsteps && r.ok(); ++i) {
    MountStep& s = const_cast<MountStep&>(plan->steps[i]);
    r.str(s.fstype);
    r.str(s.source);
    r.str(s.dest);
    if (s.nparams < 0 || s.nparams > 4 || s.dest == nullptr) return nullptr;
    for (int k = 0; k < s.nparams; ++k) {
      r.str(s.params[k].key);
      r.str(s.params[k].value);
    }
    s.early_src = -1;
  }
  r.array(plan->process, 1);
  if (plan->process == nullptr || !r.ok()) return nullptr;
  ProcessView& pv = const_cast<ProcessView&>(*plan->process);
  r.strings(pv.candidates, pv.ncandidates);
  r.strings(pv.tramp_argv, pv.ntramp_argv);
  r.strings(pv.envp, pv.nenvp);
  r.str(pv.cwd);
  r.str(pv.arg0);
  r.array(pv.rlimits, pv.nrlimits);
  r.array(pv.security.groups, pv.security.ngroups);
  r.array(pv.security.seccomp, 1);
  if (pv.security.seccomp != nullptr) {
    sock_fprog& f = const_cast<sock_fprog&>(*pv.security.seccomp);
    r.array(f.filter, f.len);
    if (f.filter == nullptr) return nullptr;
  }
  // The child indexes these: the candidates (at least one), argv's path slot and ends.
  if (!r.ok() || pv.candidates == nullptr || pv.ncandidates == 0 || pv.tramp_argv == nullptr ||
      pv.ntramp_argv < 5 || pv.tramp_argv[pv.ntramp_argv - 1] != nullptr || pv.envp == nullptr ||
      pv.nenvp < 1 || pv.envp[pv.nenvp - 1] != nullptr || pv.cwd == nullptr || pv.arg0 == nullptr ||
      (pv.rlimits == nullptr && pv.nrlimits != 0) || (pv.security.groups == nullptr && pv.security.ngroups != 0))
    return nullptr;
  return plan;
}

}  // namespace kernlet::runtime
