#include "runtime/container/container_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "runtime/container/container_plan.h"
#include "runtime/sandbox/child_report.h"
#include "runtime/sandbox/holder_image.h"
#include "runtime/sandbox/linux.h"

namespace kernlet::runtime {

std::string exit_reason(int exit_code, bool oom_killed, bool cannot_run) {
  if (cannot_run) return "ContainerCannotRun";
  if (oom_killed) return "OOMKilled";
  if (exit_code == 0) return "Completed";
  if (exit_code < 0) return "Unknown";
  return "Error";
}

struct ContainerRuntime::Container {
  std::string id, sandbox_id, dir, cgroup_path;
  UniqueFd pidfd, start_fd, report_fd, cgroup_fd, tty_master;
  pid_t pid = 0, pod_pid = 0;
  uint64_t start_time = 0;
  bool started = false;
  bool holder_reaps = false;  // its init is a child of the pod holder (pod PID namespace)
  bool privileged = false;    // exec sessions default to the same capability set
  bool tty = false;           // process.tty: tty_master, also kept by the pod's holder
  std::string cannot_run;
  std::optional<ProcessSpec> identity;  // what an exec with as_container runs as
  int64_t created_ns = 0, started_ns = 0;
};

namespace {

// Reads one ChildReport or EOF. Ok(kind 0) on EOF.
Result<ChildReport> read_report(int fd, int timeout_ms) {
  ChildReport r{};
  size_t got = 0;
  while (got < sizeof(r)) {
    struct pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("poll report pipe");
    if (n == 0) return Error(ErrorCode::kDeadlineExceeded, "container setup timed out");
    ssize_t k = ::read(fd, reinterpret_cast<char*>(&r) + got, sizeof(r) - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return Error::from_errno("read report pipe");
    if (k == 0) break;
    got += static_cast<size_t>(k);
  }
  if (got == 0) {
    r.kind = 0;
    return r;
  }
  if (got != sizeof(r) || r.magic != kChildReportMagic) return Error("malformed child report");
  r.message[sizeof(r.message) - 1] = '\0';
  return r;
}

Error cannot_run(const ChildReport& r) {
  return Error(std::string("ContainerCannotRun: ") + r.message, r.err);
}

Result<UniqueFd> open_output(int fd, const std::string& path, int flags) {
  if (fd >= 0) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) return Error::from_errno("dup stdio fd");
    return UniqueFd(d);
  }
  if (path.empty()) return UniqueFd();
  int d = ::open(path.c_str(), flags | O_CLOEXEC, 0640);
  if (d < 0) return Error::from_errno("open " + path);
  return UniqueFd(d);
}

struct Stdio {
  UniqueFd in, out, err;
};

Result<Stdio> open_stdio(const ProcessSpec& p) {
  Stdio s;
  KL_ASSIGN_OR_RETURN(s.in, open_output(p.stdin_fd, "", O_RDONLY));
  KL_ASSIGN_OR_RETURN(s.out, open_output(p.stdout_fd, p.stdout_path, O_WRONLY | O_APPEND | O_CREAT));
  KL_ASSIGN_OR_RETURN(s.err, open_output(p.stderr_fd, p.stderr_path, O_WRONLY | O_APPEND | O_CREAT));
  return s;
}

std::string state_name(bool started) { return started ? "running" : "created"; }

struct SharedPage {
  void* p = MAP_FAILED;
  SharedPage() {
    p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  }
  ~SharedPage() {
    if (p != MAP_FAILED) ::munmap(p, 4096);
  }
};

// PIDFD_GET_INFO (Linux 6.15): the exit status of a process we did not reap, for pods whose
// containers live in the host PID namespace (no holder can be their parent).
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);
constexpr uint64_t kPidfdInfoExit = 1u << 3;

// One fd sent with SCM_RIGHTS (the container's pty master).
Result<UniqueFd> receive_fd(int sock) {
  char byte = 0;
  int fd = -1;
  ssize_t n = recv_fd(sock, &byte, 1, &fd, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  UniqueFd got(fd);
  if (n != 1) return Error("receive the container's pty master", n < 0 ? errno : EPROTO);
  if (!got.valid()) return Error("no pty master in message", EPROTO);
  return got;
}

// Writes all of data to fd.
Result<void> write_all(int fd, const char* data, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t k = ::write(fd, data, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return Error::from_errno(what);
    data += k;
    n -= static_cast<size_t>(k);
  }
  return Ok();
}

// The stack a container init runs on from its clone until it execs kernlet-init (it only
// places fds and execs): one per calling thread, kept, as spawn_vm keeps the intermediate's.
constexpr size_t kInitStackSize = 64 * 1024;
void* init_stack() {
  thread_local void* stack = nullptr;
  if (stack == nullptr) {
    void* m = ::mmap(nullptr, kInitStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    stack = m;
  }
  return stack;
}

// Whether the process behind a pidfd has exited (true for no pidfd).
bool has_exited(const UniqueFd& pidfd) {
  if (!pidfd.valid()) return true;
  auto r = pidfd_wait_exit(pidfd.get(), 0);
  return !r.ok() || *r;
}

}  // namespace

ContainerRuntime::ContainerRuntime(std::string root) : root_(root), sandboxes_(std::move(root)) {}
ContainerRuntime::~ContainerRuntime() = default;

Result<std::unique_ptr<ContainerRuntime>> ContainerRuntime::open(const std::string& state_root) {
  if (state_root.empty() || state_root[0] != '/')
    return Error(ErrorCode::kInvalidArgument, "state root \"" + state_root + "\": not absolute");
  KL_TRY(make_dirs(state_root + "/containers", 0700));
  KL_TRY(make_dirs(state_root + "/sandboxes", 0700));
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Error::from_errno("prctl dumpable");
  std::unique_ptr<ContainerRuntime> rt(new ContainerRuntime(state_root));
  rt->own_pidns_.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (!rt->own_pidns_.valid()) return Error::from_errno("open /proc/self/ns/pid");
  KL_TRY(holder_image_fd());
  return rt;
}

ContainerRuntime::Container* ContainerRuntime::find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ContainerRuntime::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : containers_) out.push_back(id);
  return out;
}

Result<void> ContainerRuntime::save(const Container& c) {
  Record r{{"id", c.id},
           {"sandbox", c.sandbox_id},
           {"pid", std::to_string(c.pid)},
           {"pod_pid", std::to_string(c.pod_pid)},
           {"start_time", std::to_string(c.start_time)},
           {"cgroup", c.cgroup_path},
           {"created_ns", std::to_string(c.created_ns)},
           {"started_ns", std::to_string(c.started_ns)},
           {"state", state_name(c.started)},
           {"holder_reaps", c.holder_reaps ? "1" : "0"},
           {"privileged", c.privileged ? "1" : "0"},
           {"tty", c.tty ? "1" : "0"},
           {"cannot_run", c.cannot_run}};
  return write_file_atomic(c.dir + "/state", format_record(r), 0600);
}

namespace {

// As containerd: a Bidirectional source must be on a shared mount, a HostToContainer one on
// a shared or slave mount; otherwise the propagation asked for could not happen.
Result<void> check_source_sharing(const BindMount& m, const std::string& ctx,
                                  std::optional<std::string>& mountinfo) {
  char buf[PATH_MAX];
  if (::realpath(m.source.c_str(), buf) == nullptr)
    return Error::from_errno(ctx + ": bind source " + m.source);
  if (!mountinfo) {
    auto r = read_file("/proc/self/mountinfo");
    if (!r.ok()) return Error(ctx + ": " + r.error().to_string());
    mountinfo = std::move(*r);
  }
  MountSharing s = mount_sharing_of(*mountinfo, buf);
  bool shared = s == MountSharing::kShared || s == MountSharing::kSharedAndSlave;
  if (m.propagation == Propagation::kBidirectional && !shared)
    return Error(ErrorCode::kInvalidArgument,
                 ctx + ": Bidirectional mount propagation of " + m.source + " (at " + m.destination +
                     "): the host mount holding it is not a shared mount");
  if (m.propagation == Propagation::kHostToContainer && !shared && s != MountSharing::kSlave)
    return Error(ErrorCode::kInvalidArgument,
                 ctx + ": HostToContainer mount propagation of " + m.source + " (at " +
                     m.destination + "): the host mount holding it is neither shared nor a slave");
  return Ok();
}

}  // namespace

Result<void> ContainerRuntime::create(const ContainerSpec& spec) {
  KL_TRY(validate_container_spec(spec));
  if (!valid_object_id(spec.id))
    return Error(ErrorCode::kInvalidArgument, "container id \"" + spec.id + "\": invalid");
  if (find(spec.id) != nullptr)
    return Error(ErrorCode::kAlreadyExists, "container " + spec.id + " exists");
  Sandbox* sb = sandboxes_.find(spec.sandbox_id);
  if (sb == nullptr)
    return Error(ErrorCode::kNotFound, "container " + spec.id + ": sandbox " + spec.sandbox_id + " not found");
  if (!sb->ready())
    return Error(ErrorCode::kUnavailable, "container " + spec.id + ": sandbox " + spec.sandbox_id + " is not ready");
  std::string ctx = "create container " + spec.id;

  auto c = std::make_unique<Container>();
  c->id = spec.id;
  c->sandbox_id = spec.sandbox_id;
  c->privileged = spec.privileged;
  c->tty = spec.process.tty;
  c->dir = root_ + "/containers/" + spec.id;
  if (::mkdir(c->dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Error(ErrorCode::kAlreadyExists, ctx + ": " + c->dir + " exists");
    return Error::from_errno(ctx + ": mkdir " + c->dir);
  }
  bool keep_dir = false;
  struct DirGuard {
    const std::string& d;
    bool& keep;
    ~DirGuard() {
      if (!keep) (void)remove_tree(d);
    }
  } guard{c->dir, keep_dir};
  for (const char* sub : {"/rootfs", "/upper", "/work"}) {
    if (::mkdir((c->dir + sub).c_str(), 0755) != 0)
      return Error::from_errno(ctx + ": mkdir " + c->dir + sub);
  }

  // Inputs the child needs, all opened and computed here.
  if (spec.cgroup_fd >= 0) {
    c->cgroup_fd.reset(::fcntl(spec.cgroup_fd, F_DUPFD_CLOEXEC, 3));
    if (!c->cgroup_fd.valid()) return Error::from_errno(ctx + ": dup cgroup fd");
    if (spec.cgroup_path.empty()) {
      char buf[4096];
      std::string link = "/proc/self/fd/" + std::to_string(c->cgroup_fd.get());
      ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
      if (n > 0) c->cgroup_path.assign(buf, static_cast<size_t>(n));
    } else {
      c->cgroup_path = spec.cgroup_path;
    }
  } else if (!spec.cgroup_path.empty()) {
    c->cgroup_path = spec.cgroup_path;
    c->cgroup_fd.reset(::open(spec.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!c->cgroup_fd.valid()) return Error::from_errno(ctx + ": open cgroup " + spec.cgroup_path);
  }
  KL_ASSIGN_OR_RETURN(Stdio stdio, open_stdio(spec.process));
  KL_ASSIGN_OR_RETURN(int image, holder_image_fd());

  std::vector<bool> is_file;
  std::optional<std::string> mountinfo;
  for (const auto& m : spec.mounts) {
    struct stat st{};
    if (::stat(m.source.c_str(), &st) != 0)
      return Error::from_errno(ctx + ": bind source " + m.source);
    is_file.push_back(!S_ISDIR(st.st_mode));
    if (m.propagation != Propagation::kPrivate) KL_TRY(check_source_sharing(m, ctx, mountinfo));
  }
  PodFiles pod{sb->hosts_path(), sb->hostname_path(), sb->resolv_conf_path()};
  MountPlan mounts = build_mount_steps(spec, pod, is_file);
  ProcessPlan proc;
  build_process_plan(spec.process, sb->spec().hostname, spec.privileged, proc);

  InitPlan plan;
  std::vector<const char*> lowers;
  std::string joined;
  for (const auto& l : spec.lower_dirs) {
    lowers.push_back(l.c_str());
    if (!joined.empty()) joined += ':';
    joined += l;
  }
  plan.lowers = lowers.data();
  plan.nlowers = lowers.size();
  plan.lower_joined = joined.c_str();
  std::string upper = c->dir + "/upper", work = c->dir + "/work", rootfs = c->dir + "/rootfs";
  plan.upper = upper.c_str();
  plan.work = work.c_str();
  plan.rootfs = rootfs.c_str();
  plan.steps = mounts.steps.data();
  plan.nsteps = mounts.steps.size();
  plan.read_only_root = spec.read_only_rootfs;
  ProcessView proc_view = proc.view();
  plan.process = &proc_view;

  int report[2], start[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Error::from_errno(ctx + ": pipe");
  UniqueFd report_r(report[0]), report_w(report[1]);
  if (::pipe2(start, O_CLOEXEC) != 0) return Error::from_errno(ctx + ": pipe");
  UniqueFd start_r(start[0]), start_w(start[1]);
  plan.fds[0] = {stdio.in.get(), false};
  plan.fds[1] = {stdio.out.get(), false};
  plan.fds[2] = {stdio.err.get(), false};
  // kernlet-init keeps 3, 4, 6 and 7 across its own exec, then closes them or marks them
  // close-on-exec; the image is only needed for that exec.
  plan.fds[3] = {report_w.get(), false};
  plan.fds[4] = {start_r.get(), false};
  plan.fds[5] = {image, true};
  int tty_pair[2] = {-1, -1};
  if (spec.process.tty && ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tty_pair) != 0)
    return Error::from_errno(ctx + ": socketpair");
  UniqueFd tty_r(tty_pair[0]), tty_w(tty_pair[1]);
  plan.tty = spec.process.tty;
  plan.fds[6] = {tty_w.get(), false};
  // The init execs kernlet-init at once and reads its plan from this memfd.
  std::vector<char> encoded = encode_init_plan(plan);
  UniqueFd plan_fd(static_cast<int>(::syscall(SYS_memfd_create, "kernlet-init-plan", MFD_CLOEXEC)));
  if (!plan_fd.valid()) return Error::from_errno(ctx + ": memfd_create");
  KL_TRY(write_all(plan_fd.get(), encoded.data(), encoded.size(), ctx + ": write the init plan"));
  plan.fds[7] = {plan_fd.get(), false};
  plan.init_stack = init_stack();
  if (plan.init_stack == nullptr) return Error::from_errno(ctx + ": mmap init stack");
  plan.init_stack_size = kInitStackSize;

  const SandboxSpec& pod_spec = sb->spec();
  plan.join_fds[0] = sb->ns_fd(PodNamespace::kNet);
  plan.join_fds[1] = sb->ns_fd(PodNamespace::kIpc);
  plan.join_fds[2] = sb->ns_fd(PodNamespace::kUts);
  plan.clone_flags = CLONE_NEWNS | CLONE_NEWCGROUP;
  if (!pod_spec.host_pid && !pod_spec.share_process_namespace) plan.clone_flags |= CLONE_NEWPID;
  plan.cgroup_fd = c->cgroup_fd.get();
  int pod_pidns = sb->ns_fd(PodNamespace::kPid);

  SharedPage shared;
  if (shared.p == MAP_FAILED) return Error::from_errno(ctx + ": mmap");
  auto* result = new (shared.p) SpawnResult();

  // The intermediate must be born in the pod's PID namespace: when it exits, the kernel
  // reparents the init to that namespace's init, the holder. setns(CLONE_NEWPID) only
  // changes this thread's pid_ns_for_children; it is restored right after the clone.
  if (pod_pidns >= 0 && ::setns(pod_pidns, CLONE_NEWPID) != 0)
    return Error::from_errno(ctx + ": enter pod PID namespace");
  CloneArgs args;
  int inter_pidfd = -1;
  args.flags = CLONE_FILES | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&inter_pidfd);
  args.exit_signal = 0;
  // The intermediate only joins namespaces, clones the init and exits: it borrows our
  // address space meanwhile (spawn_vm), so only the init takes a copy of it.
  struct Inter {
    const InitPlan* plan;
    SpawnResult* result;
  } inter_args{&plan, result};
  pid_t inter = spawn_vm(
      &args,
      [](void* p) {
        auto* a = static_cast<Inter*>(p);
        run_container_init(*a->plan, a->result);
      },
      &inter_args);
  int clone_errno = errno;
  if (pod_pidns >= 0 && ::setns(own_pidns_.get(), CLONE_NEWPID) != 0)
    return Error::from_errno(ctx + ": restore PID namespace");  // the thread is unusable for clones
  if (inter < 0) return Error(ctx + ": clone3 intermediate", clone_errno);
  UniqueFd inter_fd(inter_pidfd);
  siginfo_t si{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(inter_fd.get()), &si,
                  WEXITED | __WALL) != 0 && errno == EINTR) {
  }
  report_w.reset();
  start_r.reset();
  if (result->pid <= 0 || si.si_status != 0) {
    // An error from the intermediate itself comes as err; one from the init as a report.
    auto r = read_report(report_r.get(), 1000);
    if (r.ok() && r->kind == kChildError) return std::move(cannot_run(*r)).context(ctx);
    return Error(ctx + ": clone3 container init", result->err != 0 ? result->err : ECHILD);
  }
  c->pidfd.reset(result->pidfd);
  auto kill_init = [&]() {
    sys_pidfd_send_signal(c->pidfd.get(), SIGKILL);
    (void)pidfd_wait_exit(c->pidfd.get(), 5000);
  };
  auto rep = read_report(report_r.get(), 60000);
  if (!rep.ok()) {
    kill_init();
    return std::move(rep).error().context(ctx);
  }
  if (rep->kind != kChildReady) {
    kill_init();
    if (rep->kind == kChildError) return std::move(cannot_run(*rep)).context(ctx);
    return Error(ctx + ": ContainerCannotRun: container init exited during setup");
  }
  if (plan.tty) {
    tty_w.reset();
    auto m = receive_fd(tty_r.get());
    if (!m.ok()) {
      kill_init();
      return std::move(m).error().context(ctx);
    }
    c->tty_master = std::move(*m);
    // The terminal must outlive this driver: when the last master fd closes, the kernel
    // hangs the terminal up and the container's session gets SIGHUP. The holder keeps a
    // copy; a restarted driver takes it back (recover). Without a keeper (a holder from
    // an older runtime) the container still runs, until the driver exits.
    if (auto kept = sb->keep_fd(spec.id, c->tty_master.get()); !kept.ok())
      std::fprintf(stderr, "W runtime: %s: the pty master is not kept across a restart: %s\n", ctx.c_str(),
                   kept.error().to_string().c_str());
  }
  auto pids = pidfd_nspids(c->pidfd.get());
  if (!pids.ok()) {
    kill_init();
    return std::move(pids).error().context(ctx);
  }
  c->pid = (*pids)[0];
  c->holder_reaps = pids->size() >= 2 && !pod_spec.host_pid;
  c->pod_pid = c->holder_reaps ? (*pids)[1] : 0;
  auto st = process_start_time(c->pid);
  if (!st.ok()) {
    kill_init();
    return std::move(st).error().context(ctx);
  }
  c->start_time = *st;
  c->created_ns = now_unix_ns();
  c->start_fd = std::move(start_w);
  c->report_fd = std::move(report_r);
  if (c->holder_reaps) {
    auto reg = write_file_atomic(sb->dir() + "/pids/" + std::to_string(c->pod_pid), c->id + "\n", 0600);
    if (!reg.ok()) {
      kill_init();
      return std::move(reg).error().context(ctx);
    }
  }
  // What an exec "as the container" runs as, also after a driver restart.
  auto ident = write_file_atomic(c->dir + "/exec-identity", format_exec_identity(spec.process), 0600);
  if (!ident.ok()) {
    kill_init();
    return std::move(ident).error().context(ctx);
  }
  c->identity = spec.process;
  auto saved = save(*c);
  if (!saved.ok()) {
    kill_init();
    return std::move(saved).error().context(ctx);
  }
  keep_dir = true;
  std::lock_guard lock(mu_);
  containers_[spec.id] = std::move(c);
  return Ok();
}

Result<void> ContainerRuntime::start(const std::string& id) {
  Container* c = find(id);
  if (c == nullptr) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  if (c->started || !c->start_fd.valid())
    return Error(ErrorCode::kConflict, "start container " + id + ": already started");
  std::string ctx = "start container " + id;
  c->started = true;
  c->started_ns = now_unix_ns();
  KL_TRY(save(*c));
  char one = 1;
  ssize_t n = ::write(c->start_fd.get(), &one, 1);
  int e = errno;
  c->start_fd.reset();
  if (n != 1) {
    c->cannot_run = "container init exited before start";
    (void)save(*c);
    return Error(ctx + ": ContainerCannotRun: " + c->cannot_run, e);
  }
  auto rep = read_report(c->report_fd.get(), 60000);
  c->report_fd.reset();
  if (!rep.ok()) return std::move(rep).error().context(ctx);
  if (rep->kind == kChildError) {
    Error err = cannot_run(*rep);
    c->cannot_run = err.to_string().substr(strlen("ContainerCannotRun: "));
    (void)save(*c);
    return std::move(err).context(ctx);
  }
  return Ok();
}

Result<void> ContainerRuntime::wait_exit_record(Container& c, int timeout_ms) {
  std::string exit_path = c.dir + "/exit";
  if (::access(exit_path.c_str(), F_OK) == 0) return Ok();
  UniqueFd ino(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!ino.valid()) return Error::from_errno("inotify_init1");
  if (::inotify_add_watch(ino.get(), c.dir.c_str(), IN_MOVED_TO | IN_CREATE) < 0)
    return Error::from_errno("inotify_add_watch " + c.dir);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (::access(exit_path.c_str(), F_OK) == 0) return Ok();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    struct pollfd p{ino.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left));
    char buf[4096];
    while (::read(ino.get(), buf, sizeof(buf)) > 0) {
    }
  }
  return Error(ErrorCode::kDeadlineExceeded,
               "container " + c.id + " exited but the pod holder wrote no exit record");
}

Result<ContainerStatus> ContainerRuntime::read_status(Container& c, bool oom_killed) {
  ContainerStatus s;
  s.id = c.id;
  s.created_ns = c.created_ns;
  s.started_ns = c.started_ns;
  auto text = read_file(c.dir + "/exit");
  if (text.ok()) {
    Record r = parse_record(*text);
    s.state = ContainerState::kExited;
    s.exit_code = static_cast<int>(record_int(r, "code").value_or(-1));
    s.signal = static_cast<int>(record_int(r, "signal").value_or(0));
    s.finished_ns = record_int(r, "finished_ns").value_or(0);
  } else if (c.pidfd.valid() && has_exited(c.pidfd)) {
    s.state = ContainerState::kExited;  // exited; the record may not be written yet
  } else if (c.pidfd.valid()) {
    s.state = c.started ? ContainerState::kRunning : ContainerState::kCreated;
    s.pid = c.pid;
    return s;
  } else {
    s.state = ContainerState::kExited;  // gone while nobody could record it
  }
  if (s.state == ContainerState::kExited && s.exit_code < 0 && c.pidfd.valid() && !c.holder_reaps) {
    PidfdInfo info{};
    info.mask = kPidfdInfoExit;
    if (::ioctl(c.pidfd.get(), kPidfdGetInfo, &info) == 0 && (info.mask & kPidfdInfoExit)) {
      int ws = info.exit_code;
      if (WIFEXITED(ws)) {
        s.exit_code = WEXITSTATUS(ws);
      } else if (WIFSIGNALED(ws)) {
        s.signal = WTERMSIG(ws);
        s.exit_code = 128 + s.signal;
      }
    }
  }
  if (!c.started && c.cannot_run.empty()) c.cannot_run = "container was never started";
  s.reason = exit_reason(s.exit_code, oom_killed, !c.cannot_run.empty());
  s.message = c.cannot_run;
  if (!c.cannot_run.empty() && s.exit_code < 0) s.exit_code = 128;
  return s;
}

int ContainerRuntime::tty_master(const std::string& id) {
  Container* c = find(id);
  return c == nullptr ? -1 : c->tty_master.get();
}

Result<ContainerStatus> ContainerRuntime::status(const std::string& id, bool oom_killed) {
  Container* c = find(id);
  if (c == nullptr) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  return read_status(*c, oom_killed);
}

Result<ContainerStatus> ContainerRuntime::wait(const std::string& id, int timeout_ms) {
  Container* c = find(id);
  if (c == nullptr) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  if (c->pidfd.valid()) {
    KL_ASSIGN_OR_RETURN(bool exited, pidfd_wait_exit(c->pidfd.get(), timeout_ms));
    if (!exited) return Error(ErrorCode::kDeadlineExceeded, "container " + id + " still running");
  }
  if (c->holder_reaps) {
    Sandbox* sb = sandboxes_.find(c->sandbox_id);
    // The holder reaps right after the exit; if it is gone there is nobody to wait for.
    int limit = sb != nullptr && sb->ready() ? 10000 : 0;
    auto w = wait_exit_record(*c, limit);
    if (!w.ok() && limit > 0) return std::move(w).error();
  } else if (c->pidfd.valid()) {
    // Host PID namespace: the host's init (or a subreaper) reaps it, on its own schedule
    // (systemd at once; some inits poll every second or two). PIDFD_GET_INFO reports the
    // status once it has; until then there is no event to wait on, so poll, bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      PidfdInfo info{};
      info.mask = kPidfdInfoExit;
      if (::ioctl(c->pidfd.get(), kPidfdGetInfo, &info) != 0) break;  // kernel < 6.15
      if (info.mask & kPidfdInfoExit) break;
      struct timespec ts{0, 5000000};
      ::nanosleep(&ts, nullptr);
    }
  }
  return read_status(*c, false);
}

Result<ContainerStatus> ContainerRuntime::stop(const std::string& id, int grace_ms) {
  Container* c = find(id);
  if (c == nullptr) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  std::string ctx = "stop container " + id;
  if (!c->started) c->start_fd.reset();  // the init sees EOF and exits without exec
  if (!has_exited(c->pidfd)) {
    if (c->started && sys_pidfd_send_signal(c->pidfd.get(), SIGTERM) != 0 && errno != ESRCH)
      return Error::from_errno(ctx + ": SIGTERM");
    KL_ASSIGN_OR_RETURN(bool exited, pidfd_wait_exit(c->pidfd.get(), c->started ? grace_ms : 5000));
    if (!exited) {
      bool killed = false;
      if (c->cgroup_fd.valid()) {
        UniqueFd k(::openat(c->cgroup_fd.get(), "cgroup.kill", O_WRONLY | O_CLOEXEC));
        killed = k.valid() && ::write(k.get(), "1", 1) == 1;
      }
      if (!killed && sys_pidfd_send_signal(c->pidfd.get(), SIGKILL) != 0 && errno != ESRCH)
        return Error::from_errno(ctx + ": SIGKILL");
      KL_ASSIGN_OR_RETURN(exited, pidfd_wait_exit(c->pidfd.get(), 10000));
      if (!exited) return Error(ctx + ": still running after SIGKILL", ETIMEDOUT);
    }
  }
  return wait(id, 10000);
}

Result<void> ContainerRuntime::remove(const std::string& id) {
  Container* c = find(id);
  if (c == nullptr) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  if (!c->started) {
    c->start_fd.reset();
    if (c->pidfd.valid()) (void)pidfd_wait_exit(c->pidfd.get(), 5000);
  } else if (!has_exited(c->pidfd)) {
    return Error(ErrorCode::kConflict, "remove container " + id + ": it is running");
  }
  if (c->holder_reaps) {
    Sandbox* sb = sandboxes_.find(c->sandbox_id);
    if (sb != nullptr) {
      // The holder reaps the init, writes containers/<id>/exit, then removes this
      // registration as its last step. Its exit does not wait for that, so wait for the
      // registration to go (while the holder lives; 5 s at most): removing the directory
      // while the holder writes into it fails with ENOTEMPTY.
      const std::string reg = sb->dir() + "/pids/" + std::to_string(c->pod_pid);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      struct stat st{};
      while (::stat(reg.c_str(), &st) == 0 && std::chrono::steady_clock::now() < deadline) {
        auto holder_gone = pidfd_wait_exit(sb->holder_pidfd(), 2);
        if (sb->holder_pidfd() < 0 || !holder_gone.ok() || *holder_gone) break;
      }
      ::unlink(reg.c_str());
    }
  }
  if (c->tty) {
    if (Sandbox* sb = sandboxes_.find(c->sandbox_id); sb != nullptr && sb->ready()) (void)sb->drop_kept_fd(id);
  }
  c->tty_master.reset();
  c->pidfd.reset();
  c->cgroup_fd.reset();
  KL_TRY(remove_tree(c->dir));
  std::lock_guard lock(mu_);
  containers_.erase(id);
  return Ok();
}

Result<std::unique_ptr<ExecSession>> ContainerRuntime::exec(const std::string& id,
                                                            const ExecSpec& spec) {
  Container* c = find(id);
  if (c == nullptr) return Error(ErrorCode::kNotFound, "container " + id + " not found");
  std::string ctx = "exec in container " + id;
  ProcessSpec process = spec.process;
  if (spec.as_container) {
    if (!c->identity)
      return Error(ErrorCode::kUnavailable, ctx + ": the container's process identity is unknown");
    process = *c->identity;
    process.args = spec.process.args;
    process.tty = spec.process.tty;
    process.stdin_fd = spec.process.stdin_fd;
    process.stdout_fd = spec.process.stdout_fd;
    process.stderr_fd = spec.process.stderr_fd;
    process.stdout_path = spec.process.stdout_path;
    process.stderr_path = spec.process.stderr_path;
  }
  KL_TRY(validate_process_spec(process, "exec"));
  if (!c->started || has_exited(c->pidfd))
    return Error(ErrorCode::kConflict, ctx + ": not running");
  std::string base = "/proc/" + std::to_string(c->pid) + "/";
  static const char* kNs[6] = {"ipc", "uts", "net", "cgroup", "mnt", "pid"};
  UniqueFd ns[6];
  for (int i = 0; i < 6; ++i) {
    ns[i].reset(::open((base + "ns/" + kNs[i]).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns[i].valid()) return Error::from_errno(ctx + ": open " + base + "ns/" + kNs[i]);
  }
  UniqueFd master, slave;
  if (process.tty) {
    UniqueFd root(::open((base + "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return Error::from_errno(ctx + ": open " + base + "root");
    master.reset(sys_openat2(root.get(), "dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0,
                             kResolveInRoot | kResolveNoSymlinks | kResolveNoMagiclinks));
    if (!master.valid()) return Error::from_errno(ctx + ": open the container's /dev/pts/ptmx");
    struct statfs sfs{};
    if (::fstatfs(master.get(), &sfs) != 0 || sfs.f_type != 0x1cd1 /* DEVPTS_SUPER_MAGIC */)
      return Error(ctx + ": /dev/pts/ptmx of the container is not on devpts", EPERM);
    int unlock = 0;
    if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return Error::from_errno(ctx + ": unlockpt");
    slave.reset(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave.valid()) return Error::from_errno(ctx + ": open pty peer");
  }
  // The fds are opened by pid: check it is still the same process.
  auto st = process_start_time(c->pid);
  if (!st.ok() || *st != c->start_time) return Error(ErrorCode::kConflict, ctx + ": not running");

  KL_ASSIGN_OR_RETURN(Stdio stdio, open_stdio(process));
  KL_ASSIGN_OR_RETURN(int image, holder_image_fd());
  Sandbox* sb = sandboxes_.find(c->sandbox_id);
  ProcessPlan proc;
  build_process_plan(process, sb != nullptr ? sb->spec().hostname : "", c->privileged, proc);
  ProcessView proc_view = proc.view();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Error::from_errno(ctx + ": pipe");
  UniqueFd report_r(report[0]), report_w(report[1]);
  ExecPlan plan;
  plan.process = &proc_view;
  for (int i = 0; i < 5; ++i) plan.ns_fds[i] = ns[i].get();
  plan.tty = process.tty;
  if (plan.tty) {
    plan.fds[0] = plan.fds[1] = plan.fds[2] = {slave.get(), false};
  } else {
    plan.fds[0] = {stdio.in.get(), false};
    plan.fds[1] = {stdio.out.get(), false};
    plan.fds[2] = {stdio.err.get(), false};
  }
  plan.fds[3] = {report_w.get(), true};
  plan.fds[4] = {image, true};

  if (::setns(ns[5].get(), CLONE_NEWPID) != 0) return Error::from_errno(ctx + ": enter PID namespace");
  CloneArgs args;
  int pidfd = -1;
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = 0;
  if (c->cgroup_fd.valid()) {
    args.flags |= kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(c->cgroup_fd.get());
  }
  // Like the container init, the exec child borrows our address space until it execs
  // kernlet-exec (spawn_vm: CLONE_VM | CLONE_VFORK, its own stack, handlers reset), so no
  // copy of the agent is made per exec — an exec probe every few seconds per pod made one
  // each time. run_exec_child makes only syscalls (it was written for a fork child of a
  // threaded process already), and what it writes is this call's own plan.
  pid_t pid = spawn_vm(
      &args, [](void* p) { run_exec_child(*static_cast<const ExecPlan*>(p)); }, &plan);
  int clone_errno = errno;
  if (::setns(own_pidns_.get(), CLONE_NEWPID) != 0)
    return Error::from_errno(ctx + ": restore PID namespace");
  if (pid < 0) return Error(ctx + ": clone3", clone_errno);
  auto session = std::make_unique<ExecSession>();
  session->pidfd_.reset(pidfd);
  session->master_ = std::move(master);
  report_w.reset();
  slave.reset();
  auto rep = read_report(report_r.get(), 60000);
  if (rep.ok() && rep->kind == kChildError) {
    (void)session->wait(5000);
    return std::move(cannot_run(*rep)).context(ctx);
  }
  if (!rep.ok()) {
    (void)session->kill(SIGKILL);
    (void)session->wait(5000);
    return std::move(rep).error().context(ctx);
  }
  auto pids = pidfd_nspids(session->pidfd_.get());
  session->pid_ = pids.ok() ? (*pids)[0] : 0;
  return session;
}

ExecSession::~ExecSession() {
  if (reaped_ || !pidfd_.valid()) return;
  (void)kill(SIGKILL);
  (void)wait(10000);
}

Result<int> ExecSession::wait(int timeout_ms) {
  if (reaped_) return exit_code_;
  KL_ASSIGN_OR_RETURN(bool exited, pidfd_wait_exit(pidfd_.get(), timeout_ms));
  if (!exited) return Error(ErrorCode::kDeadlineExceeded, "exec process still running");
  siginfo_t si{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si,
               WEXITED | __WALL) != 0)
    return Error::from_errno("waitid exec process");
  reaped_ = true;
  exit_code_ = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
  return exit_code_;
}

Result<void> ExecSession::kill(int sig) {
  if (reaped_) return Ok();
  if (sys_pidfd_send_signal(pidfd_.get(), sig) != 0 && errno != ESRCH)
    return Error::from_errno("signal exec process");
  return Ok();
}

Result<void> ContainerRuntime::recover() {
  KL_TRY(sandboxes_.recover());
  std::string dir = root_ + "/containers";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Error::from_errno("recover: opendir " + dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (valid_object_id(e->d_name)) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    if (find(name) != nullptr) continue;
    auto text = read_file(dir + "/" + name + "/state");
    if (!text.ok()) continue;  // a create that never finished
    Record r = parse_record(*text);
    auto c = std::make_unique<Container>();
    c->id = name;
    c->dir = dir + "/" + name;
    c->sandbox_id = r["sandbox"];
    c->cgroup_path = r["cgroup"];
    c->pid = static_cast<pid_t>(record_int(r, "pid").value_or(0));
    c->pod_pid = static_cast<pid_t>(record_int(r, "pod_pid").value_or(0));
    c->start_time = static_cast<uint64_t>(record_int(r, "start_time").value_or(0));
    c->created_ns = record_int(r, "created_ns").value_or(0);
    c->started_ns = record_int(r, "started_ns").value_or(0);
    c->started = r["state"] == "running";
    c->holder_reaps = r["holder_reaps"] == "1";
    c->privileged = r["privileged"] == "1";
    c->tty = r["tty"] == "1";
    c->cannot_run = r["cannot_run"];
    if (auto ident = read_file(c->dir + "/exec-identity"); ident.ok()) {
      if (auto p = parse_exec_identity(*ident); p.ok()) c->identity = std::move(*p);
    }
    if (c->pid > 0) {
      int fd = sys_pidfd_open(c->pid, 0);
      if (fd >= 0) {
        c->pidfd.reset(fd);
        auto st = process_start_time(c->pid);
        if (!st.ok() || *st != c->start_time) c->pidfd.reset();  // pid reused
      }
    }
    if (!c->started && c->pidfd.valid()) {
      // Created but never started by the driver that died: its init waits on a pipe whose
      // writer is gone and has exited already or will; treat it as never run.
      c->cannot_run = "the runtime restarted before the container was started";
    }
    if (c->tty && c->started && c->pidfd.valid()) {
      // The pty master the holder kept for us (create).
      if (Sandbox* sb = sandboxes_.find(c->sandbox_id); sb != nullptr) {
        if (auto m = sb->kept_fd(c->id); m.ok()) c->tty_master = std::move(*m);
      }
    }
    if (!c->cgroup_path.empty())
      c->cgroup_fd.reset(::open(c->cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::lock_guard lock(mu_);
    containers_[name] = std::move(c);
  }
  return Ok();
}

}  // namespace kernlet::runtime
