#include "runtime/seccomp/seccomp_profile.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "api/json.h"

namespace kernlet::seccomp {
namespace {

// ---------------------------------------------------------------------------------------
// RuntimeDefault, as kernlet's own table. The facts (which calls, which conditions) are
// containerd's default profile; the grouping is ours.

// Calls every container may make, whatever its capabilities. Grouped by area; the
// 32-bit and time64 variants sit next to their 64-bit call.
constexpr std::string_view kAlwaysAllowed[] = {
    // processes, threads, signals
    "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid",
    "kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "process_mrelease",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sigaltstack", "sigprocmask", "sigreturn", "signalfd", "signalfd4", "pause",
    "restart_syscall", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
    "set_thread_area", "get_thread_area", "gettid", "getpid", "getppid", "getpgid",
    "getpgrp", "setpgid", "getsid", "setsid", "prctl", "seccomp", "capget", "capset",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    // identity
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
    "getegid32", "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups",
    "getgroups32", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
    "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
    "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
    // scheduling, limits, accounting
    "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
    "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_yield", "getpriority", "setpriority",
    "ioprio_get", "ioprio_set", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64",
    "getrusage", "times", "sysinfo", "uname", "getcpu", "getrandom", "umask",
    // memory
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
    "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier",
    "memfd_create", "memfd_secret",
    // time and timers
    "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres",
    "clock_getres_time64", "clock_nanosleep", "clock_nanosleep_time64", "nanosleep",
    "adjtimex", "clock_adjtime", "clock_adjtime64", "alarm", "getitimer", "setitimer",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "futex", "futex_time64",
    "futex_waitv",
    // file descriptors and I/O
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev",
    "pwritev2", "lseek", "_llseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl",
    "fcntl64", "ioctl", "flock", "pipe", "pipe2", "splice", "tee", "vmsplice", "sendfile",
    "sendfile64", "copy_file_range", "readahead", "fadvise64", "fadvise64_64", "fallocate",
    "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "eventfd", "eventfd2",
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64",
    // polling
    "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "inotify_init", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
    // files and directories
    "open", "openat", "openat2", "creat", "access", "faccessat", "faccessat2", "stat",
    "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx",
    "statfs", "statfs64", "fstatfs", "fstatfs64", "getcwd", "chdir", "fchdir", "getdents",
    "getdents64", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat", "link", "linkat",
    "symlink", "symlinkat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "readlink", "readlinkat", "truncate", "truncate64", "ftruncate", "ftruncate64", "chmod",
    "fchmod", "fchmodat", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown",
    "lchown32", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
    "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
    // sockets (socket itself is below: some address families are refused)
    "socketcall", "socketpair", "bind", "connect", "listen", "accept", "accept4",
    "getsockname", "getpeername", "getsockopt", "setsockopt", "shutdown", "send", "sendto",
    "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
    // System V and POSIX IPC
    "ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop", "semtimedop",
    "semtimedop_time64", "shmget", "shmctl", "shmat", "shmdt", "mq_open", "mq_unlink",
    "mq_notify", "mq_getsetattr", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive",
    "mq_timedreceive_time64",
};

// Calls a capability in the container's bounding set unlocks, as the kernel itself would
// allow them only with that capability.
struct CapGate {
  const char* cap;
  std::vector<std::string> names;
};

const std::vector<CapGate>& cap_gates() {
  static const std::vector<CapGate> gates = {
      {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
      {"CAP_SYS_ADMIN",
       {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
        "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname",
        "sethostname", "setns", "syslog", "umount", "umount2", "unshare"}},
      {"CAP_SYS_BOOT", {"reboot"}},
      {"CAP_SYS_CHROOT", {"chroot"}},
      {"CAP_SYS_MODULE", {"init_module", "finit_module", "delete_module"}},
      {"CAP_SYS_PACCT", {"acct"}},
      {"CAP_SYS_PTRACE",
       {"ptrace", "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
        "process_vm_writev"}},
      {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
      {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
      {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
      {"CAP_SYSLOG", {"syslog"}},
      {"CAP_BPF", {"bpf"}},
      {"CAP_PERFMON", {"perf_event_open"}},
  };
  return gates;
}

SeccompRule allow(std::vector<std::string> names) {
  SeccompRule r;
  r.names = std::move(names);
  r.action = SeccompAction::kAllow;
  return r;
}

SeccompRule allow_if(std::string name, std::vector<SeccompArg> args) {
  SeccompRule r = allow({std::move(name)});
  r.args = std::move(args);
  return r;
}

// ---------------------------------------------------------------------------------------
// Parsing.

struct NamedAction {
  std::string_view name;
  SeccompAction action;
};
constexpr NamedAction kActions[] = {
    {"SCMP_ACT_KILL", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kKillProcess},
    {"SCMP_ACT_TRAP", SeccompAction::kTrap},
    {"SCMP_ACT_ERRNO", SeccompAction::kErrno},
    {"SCMP_ACT_TRACE", SeccompAction::kTrace},
    {"SCMP_ACT_ALLOW", SeccompAction::kAllow},
    {"SCMP_ACT_LOG", SeccompAction::kLog},
};

struct NamedOp {
  std::string_view name;
  SeccompOp op;
};
constexpr NamedOp kOps[] = {
    {"SCMP_CMP_NE", SeccompOp::kNotEqual},     {"SCMP_CMP_LT", SeccompOp::kLessThan},
    {"SCMP_CMP_LE", SeccompOp::kLessEqual},    {"SCMP_CMP_EQ", SeccompOp::kEqualTo},
    {"SCMP_CMP_GE", SeccompOp::kGreaterEqual}, {"SCMP_CMP_GT", SeccompOp::kGreaterThan},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::kMaskedEq},
};

// Architectures the profile format names; kernlet compiles for x86 hosts only, but a
// profile listing other architectures (Docker's archMap lists them all) must still parse.
constexpr std::string_view kArches[] = {
    "SCMP_ARCH_X86",      "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",       "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",  "SCMP_ARCH_MIPS",      "SCMP_ARCH_MIPS64",    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",   "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",   "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",
};

Error field_error(const std::string& path, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, path + ": " + what);
}

Result<std::string> get_string(const json::value& v, const std::string& path) {
  if (!v.is_string()) return field_error(path, "expected a string");
  return std::string(v.get_string());
}

Result<uint64_t> get_uint(const json::value& v, const std::string& path, uint64_t max) {
  uint64_t out = 0;
  if (v.is_uint64()) {
    out = v.get_uint64();
  } else if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<uint64_t>(v.get_int64());
  } else {
    return field_error(path, "expected a non-negative integer");
  }
  if (out > max) return field_error(path, std::to_string(out) + " is out of range (max " + std::to_string(max) + ")");
  return out;
}

Result<std::vector<std::string>> get_string_array(const json::value& v, const std::string& path) {
  if (v.is_null()) return std::vector<std::string>{};
  if (!v.is_array()) return field_error(path, "expected an array of strings");
  std::vector<std::string> out;
  const json::array& a = v.get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    KL_ASSIGN_OR_RETURN(std::string s, get_string(a[i], path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

Result<SeccompAction> parse_action(const json::value& v, const std::string& path) {
  KL_ASSIGN_OR_RETURN(std::string name, get_string(v, path));
  for (const NamedAction& a : kActions) {
    if (a.name == name) return a.action;
  }
  if (name == "SCMP_ACT_NOTIFY") {
    return field_error(path, "SCMP_ACT_NOTIFY is not supported (kernlet runs no seccomp agent)");
  }
  return field_error(path, "unknown action \"" + name + "\"");
}

Result<std::string> parse_arch(const json::value& v, const std::string& path) {
  KL_ASSIGN_OR_RETURN(std::string name, get_string(v, path));
  for (std::string_view a : kArches) {
    if (a == name) return name;
  }
  return field_error(path, "unknown architecture \"" + name + "\"");
}

Result<void> check_fields(const json::object& o, const std::string& path,
                          std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || kv.key() == k;
    if (!ok) {
      return field_error(path.empty() ? std::string(kv.key()) : path + "." + std::string(kv.key()),
                         "unknown field");
    }
  }
  return Ok();
}

Result<SeccompCondition> parse_condition(const json::value& v, const std::string& path) {
  SeccompCondition c;
  if (v.is_null()) return c;
  if (!v.is_object()) return field_error(path, "expected an object");
  const json::object& o = v.get_object();
  KL_TRY(check_fields(o, path, {"caps", "arches", "minKernel"}));
  if (const json::value* caps = o.if_contains("caps")) {
    KL_ASSIGN_OR_RETURN(c.caps, get_string_array(*caps, path + ".caps"));
  }
  if (const json::value* arches = o.if_contains("arches")) {
    KL_ASSIGN_OR_RETURN(c.arches, get_string_array(*arches, path + ".arches"));
  }
  if (const json::value* k = o.if_contains("minKernel")) {
    KL_ASSIGN_OR_RETURN(c.min_kernel, get_string(*k, path + ".minKernel"));
    unsigned major = 0;
    unsigned minor = 0;
    if (std::sscanf(c.min_kernel.c_str(), "%u.%u", &major, &minor) != 2) {
      return field_error(path + ".minKernel", "expected \"<major>.<minor>\", got \"" + c.min_kernel + "\"");
    }
  }
  return c;
}

Result<SeccompArg> parse_arg(const json::value& v, const std::string& path) {
  if (!v.is_object()) return field_error(path, "expected an object");
  const json::object& o = v.get_object();
  KL_TRY(check_fields(o, path, {"index", "value", "valueTwo", "op"}));
  SeccompArg arg;
  const json::value* index = o.if_contains("index");
  if (index == nullptr) return field_error(path + ".index", "required");
  KL_ASSIGN_OR_RETURN(uint64_t i, get_uint(*index, path + ".index", 5));
  arg.index = static_cast<uint32_t>(i);
  if (const json::value* value = o.if_contains("value")) {
    KL_ASSIGN_OR_RETURN(arg.value, get_uint(*value, path + ".value", UINT64_MAX));
  }
  if (const json::value* two = o.if_contains("valueTwo")) {
    KL_ASSIGN_OR_RETURN(arg.value_two, get_uint(*two, path + ".valueTwo", UINT64_MAX));
  }
  const json::value* op = o.if_contains("op");
  if (op == nullptr) return field_error(path + ".op", "required");
  KL_ASSIGN_OR_RETURN(std::string op_name, get_string(*op, path + ".op"));
  bool found = false;
  for (const NamedOp& n : kOps) {
    if (n.name == op_name) {
      arg.op = n.op;
      found = true;
    }
  }
  if (!found) return field_error(path + ".op", "unknown operator \"" + op_name + "\"");
  return arg;
}

Result<SeccompRule> parse_rule(const json::value& v, const std::string& path) {
  if (!v.is_object()) return field_error(path, "expected an object");
  const json::object& o = v.get_object();
  KL_TRY(check_fields(o, path, {"names", "name", "action", "errnoRet", "args", "comment",
                                "includes", "excludes"}));
  SeccompRule r;
  if (const json::value* names = o.if_contains("names")) {
    KL_ASSIGN_OR_RETURN(r.names, get_string_array(*names, path + ".names"));
  }
  if (const json::value* name = o.if_contains("name")) {
    KL_ASSIGN_OR_RETURN(std::string n, get_string(*name, path + ".name"));
    r.names.push_back(std::move(n));
  }
  if (r.names.empty()) return field_error(path + ".names", "required (at least one syscall name)");
  for (std::size_t i = 0; i < r.names.size(); ++i) {
    if (r.names[i].empty()) return field_error(path + ".names[" + std::to_string(i) + "]", "empty syscall name");
  }
  const json::value* action = o.if_contains("action");
  if (action == nullptr) return field_error(path + ".action", "required");
  KL_ASSIGN_OR_RETURN(r.action, parse_action(*action, path + ".action"));
  if (const json::value* e = o.if_contains("errnoRet"); e != nullptr && !e->is_null()) {
    if (r.action != SeccompAction::kErrno && r.action != SeccompAction::kTrace) {
      return field_error(path + ".errnoRet", "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
    }
    KL_ASSIGN_OR_RETURN(uint64_t n, get_uint(*e, path + ".errnoRet", 0xffff));
    r.errno_ret = static_cast<uint32_t>(n);
  }
  if (const json::value* args = o.if_contains("args"); args != nullptr && !args->is_null()) {
    if (!args->is_array()) return field_error(path + ".args", "expected an array");
    const json::array& a = args->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      KL_ASSIGN_OR_RETURN(SeccompArg arg, parse_arg(a[i], path + ".args[" + std::to_string(i) + "]"));
      r.args.push_back(arg);
    }
  }
  if (const json::value* inc = o.if_contains("includes")) {
    KL_ASSIGN_OR_RETURN(r.includes, parse_condition(*inc, path + ".includes"));
  }
  if (const json::value* exc = o.if_contains("excludes")) {
    KL_ASSIGN_OR_RETURN(r.excludes, parse_condition(*exc, path + ".excludes"));
  }
  return r;
}

}  // namespace

std::string_view action_name(SeccompAction a) {
  switch (a) {
    case SeccompAction::kKillThread: return "SCMP_ACT_KILL_THREAD";
    case SeccompAction::kKillProcess: return "SCMP_ACT_KILL_PROCESS";
    case SeccompAction::kTrap: return "SCMP_ACT_TRAP";
    case SeccompAction::kErrno: return "SCMP_ACT_ERRNO";
    case SeccompAction::kTrace: return "SCMP_ACT_TRACE";
    case SeccompAction::kAllow: return "SCMP_ACT_ALLOW";
    case SeccompAction::kLog: return "SCMP_ACT_LOG";
  }
  return "?";
}

SeccompProfile runtime_default_profile() {
  SeccompProfile p;
  p.default_action = SeccompAction::kErrno;
  p.default_errno_ret = EPERM;
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};

  p.syscalls.push_back(allow({std::begin(kAlwaysAllowed), std::end(kAlwaysAllowed)}));

  // socket: every address family except AF_ALG (38, the kernel crypto API:
  // CVE-2026-31431) and AF_VSOCK (40, the VM host). One rule cannot say "not 38 and not
  // 40" (libseccomp ANDs only distinct argument indexes), so three ranges.
  p.syscalls.push_back(allow_if("socket", {{0, AF_ALG, 0, SeccompOp::kLessThan}}));
  p.syscalls.push_back(allow_if("socket", {{0, AF_ALG + 1, 0, SeccompOp::kEqualTo}}));
  p.syscalls.push_back(allow_if("socket", {{0, AF_VSOCK, 0, SeccompOp::kGreaterThan}}));

  // personality: only PER_LINUX, PER_LINUX32, UNAME26 and their combination, and the
  // 0xffffffff query; the other personas change how the kernel treats the process.
  for (uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    p.syscalls.push_back(allow_if("personality", {{0, persona, 0, SeccompOp::kEqualTo}}));
  }

  // ptrace of one's own children is harmless since Linux 4.8 (seccomp is re-checked
  // after the tracer changes a call); before it, ptrace could bypass the filter.
  SeccompRule ptrace = allow({"ptrace"});
  ptrace.includes.min_kernel = "4.8";
  p.syscalls.push_back(ptrace);

  SeccompRule x86 = allow({"arch_prctl", "modify_ldt"});
  x86.includes.arches = {"amd64"};
  p.syscalls.push_back(x86);

  for (const CapGate& g : cap_gates()) {
    SeccompRule r = allow(g.names);
    r.includes.caps = {g.cap};
    p.syscalls.push_back(r);
  }

  // Without CAP_SYS_ADMIN: clone without any namespace flag, and clone3 fails with
  // ENOSYS (its flags are behind a pointer the filter cannot read, and ENOSYS makes
  // glibc fall back to clone).
  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  SeccompRule clone = allow_if("clone", {{0, kNamespaceFlags, 0, SeccompOp::kMaskedEq}});
  clone.excludes.caps = {"CAP_SYS_ADMIN"};
  p.syscalls.push_back(clone);
  SeccompRule clone3;
  clone3.names = {"clone3"};
  clone3.action = SeccompAction::kErrno;
  clone3.errno_ret = ENOSYS;
  clone3.excludes.caps = {"CAP_SYS_ADMIN"};
  p.syscalls.push_back(clone3);
  return p;
}

Result<SeccompProfile> parse_seccomp_profile(std::string_view json_text) {
  KL_ASSIGN_OR_RETURN(json::object o, json::parse_object(json_text, "seccomp profile"));
  KL_TRY(check_fields(o, "", {"defaultAction", "defaultErrnoRet", "architectures", "archMap",
                              "syscalls", "flags", "listenerPath", "listenerMetadata"}));
  SeccompProfile p;
  const json::value* def = o.if_contains("defaultAction");
  if (def == nullptr) return field_error("defaultAction", "required");
  KL_ASSIGN_OR_RETURN(p.default_action, parse_action(*def, "defaultAction"));
  if (const json::value* e = o.if_contains("defaultErrnoRet"); e != nullptr && !e->is_null()) {
    KL_ASSIGN_OR_RETURN(uint64_t n, get_uint(*e, "defaultErrnoRet", 0xffff));
    p.default_errno_ret = static_cast<uint32_t>(n);
  }
  if (const json::value* a = o.if_contains("architectures"); a != nullptr && !a->is_null()) {
    if (!a->is_array()) return field_error("architectures", "expected an array of strings");
    for (std::size_t i = 0; i < a->get_array().size(); ++i) {
      KL_ASSIGN_OR_RETURN(std::string arch, parse_arch(a->get_array()[i], "architectures[" + std::to_string(i) + "]"));
      p.architectures.push_back(std::move(arch));
    }
  }
  if (const json::value* m = o.if_contains("archMap"); m != nullptr && !m->is_null()) {
    // Docker's form: the entry for the native architecture brings its sub-architectures.
    if (!m->is_array()) return field_error("archMap", "expected an array");
    const json::array& a = m->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string path = "archMap[" + std::to_string(i) + "]";
      if (!a[i].is_object()) return field_error(path, "expected an object");
      const json::object& entry = a[i].get_object();
      KL_TRY(check_fields(entry, path, {"architecture", "subArchitectures"}));
      const json::value* arch = entry.if_contains("architecture");
      if (arch == nullptr) return field_error(path + ".architecture", "required");
      KL_ASSIGN_OR_RETURN(std::string name, parse_arch(*arch, path + ".architecture"));
      std::vector<std::string> subs;
      if (const json::value* s = entry.if_contains("subArchitectures"); s != nullptr && !s->is_null()) {
        if (!s->is_array()) return field_error(path + ".subArchitectures", "expected an array of strings");
        for (std::size_t j = 0; j < s->get_array().size(); ++j) {
          KL_ASSIGN_OR_RETURN(std::string sub, parse_arch(s->get_array()[j], path + ".subArchitectures[" + std::to_string(j) + "]"));
          subs.push_back(std::move(sub));
        }
      }
      if (name == "SCMP_ARCH_X86_64") {
        p.architectures.push_back(name);
        for (std::string& s : subs) p.architectures.push_back(std::move(s));
      }
    }
  }
  if (const json::value* f = o.if_contains("flags"); f != nullptr && !f->is_null()) {
    KL_ASSIGN_OR_RETURN(std::vector<std::string> flags, get_string_array(*f, "flags"));
    for (std::size_t i = 0; i < flags.size(); ++i) {
      if (flags[i] == "SECCOMP_FILTER_FLAG_LOG") {
        p.filter_flags |= SECCOMP_FILTER_FLAG_LOG;
      } else if (flags[i] == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
        p.filter_flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
      } else if (flags[i] == "SECCOMP_FILTER_FLAG_TSYNC") {
        p.filter_flags |= SECCOMP_FILTER_FLAG_TSYNC;
      } else {
        return field_error("flags[" + std::to_string(i) + "]", "unsupported flag \"" + flags[i] + "\"");
      }
    }
  }
  if (const json::value* l = o.if_contains("listenerPath"); l != nullptr && !l->is_null() &&
                                                            !(l->is_string() && l->get_string().empty())) {
    return field_error("listenerPath", "not supported (kernlet runs no seccomp agent)");
  }
  if (const json::value* s = o.if_contains("syscalls"); s != nullptr && !s->is_null()) {
    if (!s->is_array()) return field_error("syscalls", "expected an array");
    const json::array& a = s->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      KL_ASSIGN_OR_RETURN(SeccompRule r, parse_rule(a[i], "syscalls[" + std::to_string(i) + "]"));
      p.syscalls.push_back(std::move(r));
    }
  }
  return p;
}

Result<SeccompProfile> load_localhost_profile(const std::string& profile_root,
                                              std::string_view localhost_ref) {
  std::string ref(localhost_ref);
  if (ref.empty()) {
    return Error(ErrorCode::kInvalidArgument, "seccompProfile.localhostProfile: required for type Localhost");
  }
  if (ref.front() == '/') {
    return Error(ErrorCode::kInvalidArgument,
                 "seccompProfile.localhostProfile \"" + ref + "\": must be relative to " + profile_root);
  }
  std::size_t start = 0;
  while (start <= ref.size()) {
    std::size_t end = ref.find('/', start);
    if (end == std::string::npos) end = ref.size();
    if (ref.compare(start, end - start, "..") == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "seccompProfile.localhostProfile \"" + ref + "\": must not contain \"..\"");
    }
    start = end + 1;
  }
  std::string path = profile_root + "/" + ref;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("seccomp profile " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::from_errno("read seccomp profile " + path);
  Result<SeccompProfile> p = parse_seccomp_profile(text.str());
  if (!p.ok()) return std::move(p).error().context("seccomp profile " + path);
  return p;
}

}  // namespace kernlet::seccomp
