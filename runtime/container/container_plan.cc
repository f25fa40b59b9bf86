#include "runtime/container/container_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/sandbox/linux.h"

namespace kernlet::runtime {

// ---------------------------------------------------------------------------------------
// Parent side: plans.

MountPlan build_mount_steps(const ContainerSpec& spec, const PodFiles& pod,
                            const std::vector<bool>& bind_is_file) {
  MountPlan plan;
  auto fs = [&](const char* type, const char* dest, uint64_t attr,
                std::initializer_list<FsParam> params) -> MountStep& {
    MountStep s;
    s.kind = StepKind::kFilesystem;
    s.fstype = type;
    s.dest = dest;
    s.attr = attr;
    s.no_symlinks = true;
    for (const auto& p : params) s.params[s.nparams++] = p;
    plan.steps.push_back(s);
    return plan.steps.back();
  };
  const uint64_t kSafe = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  const uint64_t ro = spec.privileged ? 0 : MOUNT_ATTR_RDONLY;
  fs("proc", "/proc", kSafe, {});
  fs("tmpfs", "/dev", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
     {{"mode", "755"}, {"size", "65536k"}})
      .populate_dev = true;
  fs("devpts", "/dev/pts", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
     {{"newinstance", nullptr}, {"ptmxmode", "0666"}, {"mode", "0620"}, {"gid", "5"}});
  fs("tmpfs", "/dev/shm", kSafe, {{"mode", "1777"}, {"size", "65536k"}});
  fs("mqueue", "/dev/mqueue", kSafe, {});
  fs("sysfs", "/sys", kSafe | ro, {});
  fs("cgroup2", "/sys/fs/cgroup", kSafe | ro, {});

  auto bind = [&](const std::string& src, const std::string& dst, bool read_only,
                  Propagation prop, bool recursive, bool is_file) {
    MountStep s;
    s.kind = StepKind::kBind;
    s.source = plan.keep(src);
    s.dest = plan.keep(dst);
    s.attr = read_only ? MOUNT_ATTR_RDONLY : 0;
    s.propagation = prop == Propagation::kPrivate           ? MS_PRIVATE
                    : prop == Propagation::kHostToContainer ? MS_SLAVE
                                                            : MS_SHARED;
    s.recursive = recursive;
    s.dest_is_file = is_file;
    plan.steps.push_back(s);
  };
  if (spec.pod_etc_files) {
    if (!pod.hosts.empty())
      bind(pod.hosts, "/etc/hosts", spec.read_only_rootfs, Propagation::kPrivate, false, true);
    if (!pod.hostname.empty())
      bind(pod.hostname, "/etc/hostname", spec.read_only_rootfs, Propagation::kPrivate, false, true);
    if (!pod.resolv_conf.empty())
      bind(pod.resolv_conf, "/etc/resolv.conf", spec.read_only_rootfs, Propagation::kPrivate,
           false, true);
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const BindMount& m = spec.mounts[i];
    bind(m.source, m.destination, m.read_only, m.propagation, m.recursive,
         i < bind_is_file.size() && bind_is_file[i]);
  }
  if (!spec.privileged) {
    const auto& masked = spec.masked_paths ? *spec.masked_paths : default_masked_paths();
    for (const auto& p : masked) {
      MountStep s;
      s.kind = StepKind::kMask;
      s.dest = plan.keep(p);
      s.optional = true;
      s.no_symlinks = true;
      plan.steps.push_back(s);
    }
    const auto& ro_paths = spec.readonly_paths ? *spec.readonly_paths : default_readonly_paths();
    for (const auto& p : ro_paths) {
      MountStep s;
      s.kind = StepKind::kReadonly;
      s.dest = plan.keep(p);
      s.optional = true;
      s.no_symlinks = true;
      plan.steps.push_back(s);
    }
  }
  return plan;
}

namespace {

// Decodes mountinfo's octal escapes (\040 for a space, ...).
std::string unescape_mount_path(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool path_within(std::string_view path, std::string_view mount_point) {
  if (mount_point == "/") return true;
  if (path.substr(0, mount_point.size()) != mount_point) return false;
  return path.size() == mount_point.size() || path[mount_point.size()] == '/';
}

}  // namespace

MountSharing mount_sharing_of(std::string_view mountinfo, std::string_view path) {
  MountSharing best = MountSharing::kUnknown;
  size_t best_len = 0;
  bool found = false;
  while (!mountinfo.empty()) {
    size_t nl = mountinfo.find('\n');
    std::string_view line = mountinfo.substr(0, nl);
    mountinfo = nl == std::string_view::npos ? std::string_view() : mountinfo.substr(nl + 1);
    // id parent major:minor root mount-point options [optional fields...] - fstype ...
    std::vector<std::string_view> f;
    size_t at = 0;
    while (at < line.size()) {
      size_t sp = line.find(' ', at);
      if (sp == std::string_view::npos) sp = line.size();
      if (sp > at) f.push_back(line.substr(at, sp - at));
      at = sp + 1;
    }
    if (f.size() < 7) continue;
    std::string mp = unescape_mount_path(f[4]);
    if (!path_within(path, mp) || (found && mp.size() < best_len)) continue;
    bool shared = false, slave = false;
    for (size_t i = 6; i < f.size() && f[i] != "-"; ++i) {
      if (f[i].substr(0, 7) == "shared:") shared = true;
      if (f[i].substr(0, 7) == "master:") slave = true;
    }
    best = shared && slave ? MountSharing::kSharedAndSlave
           : shared        ? MountSharing::kShared
           : slave         ? MountSharing::kSlave
                           : MountSharing::kPrivate;
    best_len = mp.size();
    found = true;
  }
  return best;
}

void build_process_plan(const ProcessSpec& p, const std::string& hostname, bool privileged,
                        ProcessPlan& out) {
  auto keep = [&](std::string s) { return out.strings.emplace_back(std::move(s)).data(); };
  std::vector<std::string> env = process_environment(p.env, hostname);
  for (const auto& c : exec_candidates(p.args[0], env)) out.candidates.push_back(keep(c));
  out.tramp_argv.push_back(keep("kernlet-exec"));
  out.tramp_argv.push_back(keep(std::to_string(kReportFd)));
  out.tramp_argv.push_back(nullptr);  // the resolved path, filled in by the child
  for (const auto& a : p.args) out.tramp_argv.push_back(keep(a));
  out.tramp_argv.push_back(nullptr);
  for (const auto& e : env) out.envp.push_back(keep(e));
  out.envp.push_back(nullptr);
  out.cwd = keep(p.cwd);
  out.arg0 = keep(p.args[0]);
  out.rlimits = p.rlimits;
  out.groups.assign(p.supplemental_gids.begin(), p.supplemental_gids.end());
  out.filter = p.seccomp;
  out.security.uid = p.uid;
  out.security.gid = p.gid;
  out.security.groups = out.groups.data();
  out.security.ngroups = out.groups.size();
  out.security.no_new_privileges = p.no_new_privileges;
  out.security.caps = p.capabilities
                          ? *p.capabilities
                          : (privileged ? CapabilitySets::all() : CapabilitySets::containerd_default());
  if (!out.filter.empty()) {
    out.fprog.len = static_cast<unsigned short>(out.filter.size());
    out.fprog.filter = out.filter.data();
    out.security.seccomp = &out.fprog;
  }
}


ProcessView ProcessPlan::view() {
  ProcessView v;
  v.candidates = candidates.data();
  v.ncandidates = candidates.size();
  v.tramp_argv = tramp_argv.data();
  v.ntramp_argv = tramp_argv.size();
  v.envp = envp.data();
  v.nenvp = envp.size();
  v.cwd = cwd;
  v.arg0 = arg0;
  v.rlimits = rlimits.data();
  v.nrlimits = rlimits.size();
  v.security = security;
  return v;
}

// ---------------------------------------------------------------------------------------
// The init plan as one buffer (decode_init_plan, in container_child.cc, is the other half).

namespace {

// Appends items aligned to 8 and hands out their offsets. Offset 0 is the header, so 0
// stands for a null pointer.
class PlanWriter {
 public:
  PlanWriter() { buf_.resize(sizeof(InitPlanHeader)); }
  uint64_t put(const void* data, size_t n) {
    buf_.resize((buf_.size() + 7) & ~size_t{7});
    uint64_t at = buf_.size();
    buf_.insert(buf_.end(), static_cast<const char*>(data), static_cast<const char*>(data) + n);
    return at;
  }
  uint64_t str(const char* s) { return s == nullptr ? 0 : put(s, strlen(s) + 1); }
  uint64_t strings(const char* const* v, size_t n) {
    if (v == nullptr) return 0;
    std::vector<uint64_t> offs(n);
    for (size_t i = 0; i < n; ++i) offs[i] = str(v[i]);
    return put(offs.data(), n * sizeof(uint64_t));
  }
  std::vector<char> finish(uint64_t plan) {
    buf_.resize((buf_.size() + 7) & ~size_t{7});
    buf_.push_back('\0');  // every string the decoder checks ends inside the buffer
    InitPlanHeader h{kInitPlanMagic, kInitPlanVersion, buf_.size(), plan};
    memcpy(buf_.data(), &h, sizeof h);
    return std::move(buf_);
  }

 private:
  std::vector<char> buf_;
};

template <typename T>
T as_ptr(uint64_t off) {
  return reinterpret_cast<T>(static_cast<uintptr_t>(off));
}

}  // namespace

std::vector<char> encode_init_plan(const InitPlan& p) {
  PlanWriter w;
  ProcessView pv = *p.process;
  pv.candidates = as_ptr<const char* const*>(w.strings(pv.candidates, pv.ncandidates));
  pv.tramp_argv = as_ptr<char**>(w.strings(pv.tramp_argv, pv.ntramp_argv));
  pv.envp = as_ptr<char* const*>(w.strings(pv.envp, pv.nenvp));
  pv.cwd = as_ptr<const char*>(w.str(pv.cwd));
  pv.arg0 = as_ptr<const char*>(w.str(pv.arg0));
  pv.rlimits = as_ptr<const Rlimit*>(pv.rlimits == nullptr ? 0 : w.put(pv.rlimits, pv.nrlimits * sizeof(Rlimit)));
  pv.security.groups =
      as_ptr<const gid_t*>(pv.security.groups == nullptr ? 0 : w.put(pv.security.groups, pv.security.ngroups * sizeof(gid_t)));
  if (pv.security.seccomp != nullptr) {
    sock_fprog f = *pv.security.seccomp;
    f.filter = as_ptr<sock_filter*>(w.put(f.filter, f.len * sizeof(sock_filter)));
    pv.security.seccomp = as_ptr<const sock_fprog*>(w.put(&f, sizeof f));
  }
  uint64_t process = w.put(&pv, sizeof pv);

  std::vector<MountStep> steps(p.steps, p.steps + p.nsteps);
  for (MountStep& s : steps) {
    s.fstype = as_ptr<const char*>(w.str(s.fstype));
    s.source = as_ptr<const char*>(w.str(s.source));
    s.dest = as_ptr<const char*>(w.str(s.dest));
    for (int i = 0; i < s.nparams; ++i) {
      s.params[i].key = as_ptr<const char*>(w.str(s.params[i].key));
      s.params[i].value = as_ptr<const char*>(w.str(s.params[i].value));
    }
    s.early_src = -1;
  }
  InitPlan out;
  for (auto& f : out.fds) f = {-1, false};  // driver-side: the helper finds its fds in place
  out.steps = as_ptr<const MountStep*>(steps.empty() ? 0 : w.put(steps.data(), steps.size() * sizeof(MountStep)));
  out.nsteps = steps.size();
  out.lowers = as_ptr<const char* const*>(w.strings(p.lowers, p.nlowers));
  out.nlowers = p.nlowers;
  out.lower_joined = as_ptr<const char*>(w.str(p.lower_joined));
  out.upper = as_ptr<const char*>(w.str(p.upper));
  out.work = as_ptr<const char*>(w.str(p.work));
  out.rootfs = as_ptr<const char*>(w.str(p.rootfs));
  out.read_only_root = p.read_only_root;
  out.tty = p.tty;
  out.process = as_ptr<const ProcessView*>(process);
  return w.finish(w.put(&out, sizeof out));
}

// ---------------------------------------------------------------------------------------
// The intermediate (a spawn_vm child of the driver).

namespace {

struct InitStart {
  const InitPlan* plan;
};

// The init between its clone and the exec of kernlet-init: it still runs on the driver's
// memory (CLONE_VM | CLONE_VFORK, the intermediate asleep), so only syscalls. After the
// exec the kernel gives it a fresh, tiny address space: no copy of the driver is ever made.
[[noreturn]] void exec_init_helper(void* arg) {
  const InitPlan& p = *static_cast<InitStart*>(arg)->plan;
  int rc = child::place_fds(p.fds, 8);
  if (rc != 0) child::fail(p.fds[3].source, -rc, "place fds");
  static const char* const kArgv[] = {"kernlet-init", nullptr};
  static const char* const kEnvp[] = {nullptr};
  ::syscall(SYS_execveat, kImageFd, "", kArgv, kEnvp, AT_EMPTY_PATH);
  child::fail(kReportFd, errno, "exec kernlet-init");
}

}  // namespace

void run_container_init(const InitPlan& p, SpawnResult* out) {
  // Runs in the intermediate process (in the pod's PID namespace, sharing the driver's fd
  // table): join the pod's namespaces, clone the init, exit so the init is reparented to
  // the pod's holder. Signal handlers are the defaults here already (spawn_vm reset them),
  // so the init, a copy of this process's handler table, runs none of the driver's.
  static const int kJoin[3] = {CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};
  for (int i = 0; i < 3; ++i) {
    if (p.join_fds[i] >= 0 && ::setns(p.join_fds[i], kJoin[i]) != 0) {
      out->err = errno;
      ::_exit(1);
    }
  }
  CloneArgs args;
  args.flags = p.clone_flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&out->pidfd);
  args.exit_signal = SIGCHLD;
  if (p.cgroup_fd >= 0) {
    args.flags |= kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(p.cgroup_fd);
  }
  InitStart start{&p};
  pid_t pid = clone_vm_on_stack(&args, p.init_stack, p.init_stack_size, exec_init_helper, &start);
  out->pid = pid;
  out->err = pid < 0 ? errno : 0;
  ::_exit(0);
}


}  // namespace kernlet::runtime
