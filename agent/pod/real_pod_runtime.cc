#include "agent/pod/real_pod_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "agent/pod/pod_trace.h"
#include "runtime/logs/fifo.h"
#include "runtime/sandbox/linux.h"

namespace kernlet::agent {

namespace {

int64_t ms(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

// Waits on a pidfd of our own for the process to end, without any lock held.
bool wait_pidfd(int pidfd, std::chrono::milliseconds timeout) {
  auto r = runtime::pidfd_wait_exit(pidfd, static_cast<int>(std::max<int64_t>(0, ms(timeout))));
  return !r.ok() || *r;
}

}  // namespace

std::string default_agent_cgroup_root() {
  struct statfs st {};
  if (::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return "/sys/fs/cgroup/kernlet-agent";
  return "/sys/fs/cgroup/unified/kernlet-agent";
}

Result<std::unique_ptr<RealPodRuntime>> RealPodRuntime::open(const RealPodRuntimeOptions& options) {
  std::unique_ptr<RealPodRuntime> r(new RealPodRuntime());
  r->options_ = options;
  if (r->options_.cgroup_root.empty()) r->options_.cgroup_root = default_agent_cgroup_root();
  const std::string& root = r->options_.root_dir;
  KL_TRY(runtime::make_dirs(root + "/pods", 0700));
  KL_ASSIGN_OR_RETURN(r->images_, images::ImageStore::open(root + "/images"));
  KL_ASSIGN_OR_RETURN(r->rt_, runtime::ContainerRuntime::open(root + "/runtime"));
  KL_TRY(r->rt_->recover());
  r->cgfs_ = std::make_unique<cgroups::RealCgroupFs>();
  cgroups::CgroupV2Options co;
  co.root = r->options_.cgroup_root;
  KL_ASSIGN_OR_RETURN(auto driver, cgroups::CgroupV2Driver::open(*r->cgfs_, co));
  r->cgroups_.emplace(std::move(driver));
  KL_ASSIGN_OR_RETURN(r->pump_, logs::LogPump::start());
  return r;
}

RealPodRuntime::~RealPodRuntime() {
  if (pump_) pump_->stop();
}

std::string RealPodRuntime::io_dir(const std::string& pod_uid, const std::string& id) const {
  return options_.root_dir + "/pods/" + pod_uid + "/io/" + id;
}

KeyedMutex::Guard RealPodRuntime::lock_container(const std::string& id) {
  auto n = parse_container_instance_id(id);
  return pod_locks_.lock(n ? n->pod_uid : id);
}

Result<SandboxStatus> RealPodRuntime::ensure_sandbox(const SandboxConfig& config) {
  auto lock = pod_locks_.lock(config.pod_uid);
  const std::string ctx = "pod sandbox " + config.namespace_ + "/" + config.name;
  KL_ASSIGN_OR_RETURN(auto rep, cgroups_->ensure_pod(config.pod_uid, config.resources));
  (void)rep;
  runtime::Sandbox* sb = rt_->sandboxes().find(config.pod_uid);
  if (sb != nullptr && !sb->ready()) {
    // A dead holder: its namespaces are gone; the caller has already removed the
    // containers (SandboxChanged).
    KL_TRY(rt_->sandboxes().remove(config.pod_uid));
    sb = nullptr;
  }
  if (sb == nullptr) {
    runtime::SandboxSpec spec;
    spec.id = config.pod_uid;
    spec.name = config.name;
    spec.pod_namespace = config.namespace_;
    spec.uid = config.pod_uid;
    spec.hostname = config.hostname;
    spec.host_network = config.host_network;
    spec.host_ipc = config.host_ipc;
    spec.host_pid = config.host_pid;
    spec.share_process_namespace = config.share_process_namespace;
    spec.dns = config.dns;
    spec.host_aliases = config.host_aliases;
    // The holder lives in a leaf of its own: a pod cgroup is an interior node.
    KL_ASSIGN_OR_RETURN(auto leaf, cgroups_->ensure_container(config.pod_uid, "holder", {}));
    spec.cgroup_path = leaf.path;
    const auto t0 = std::chrono::steady_clock::now();
    auto created = rt_->sandboxes().create(spec);
    if (!created.ok()) return std::move(created).error().context(ctx);
    sb = *created;
    if (trace_enabled()) std::fprintf(stderr, "T pod %s: sandbox %lld us\n", config.pod_uid.c_str(), trace_us(t0));
  }
  SandboxStatus s;
  s.exists = true;
  s.ready = sb->ready();
  s.netns_path = sb->netns_path();
  s.holder_pid = sb->holder_pid();
  return s;
}

SandboxStatus RealPodRuntime::sandbox_status(const std::string& pod_uid) {
  auto lock = pod_locks_.lock(pod_uid);
  SandboxStatus s;
  runtime::Sandbox* sb = rt_->sandboxes().find(pod_uid);
  if (sb == nullptr) return s;
  s.exists = true;
  s.ready = sb->ready();
  s.netns_path = sb->netns_path();
  s.holder_pid = sb->holder_pid();
  return s;
}

Result<void> RealPodRuntime::write_hosts(const SandboxConfig& config, const std::string& pod_ip) {
  auto lock = pod_locks_.lock(config.pod_uid);
  return rt_->sandboxes().write_hosts(config.pod_uid, pod_ip, config.hostname_fqdn, config.host_aliases);
}

Result<void> RealPodRuntime::stop_sandbox(const std::string& pod_uid) {
  auto lock = pod_locks_.lock(pod_uid);
  if (rt_->sandboxes().find(pod_uid) == nullptr) return Ok();
  return rt_->sandboxes().stop(pod_uid);
}

namespace {
ImageInfo to_info(const images::Image& img) {
  ImageInfo i;
  i.ref = img.ref;
  i.id = img.id.str();
  i.config = img.config;
  i.layer_dirs = img.layer_dirs;
  i.size = img.size;
  return i;
}
}  // namespace

std::optional<ImageInfo> RealPodRuntime::image_status(const std::string& ref) {
  auto img = images_->resolve(ref);
  if (!img.ok()) return std::nullopt;
  return to_info(*img);
}

Result<ImageInfo> RealPodRuntime::pull_image(const std::string& ref, const images::RegistryOptions& options) {
  std::lock_guard<std::mutex> lock(pull_mu_);
  images::PullOptions po;
  po.registry = options;
  KL_ASSIGN_OR_RETURN(auto img, images_->pull(ref, po));
  return to_info(img);
}

std::optional<StartError> RealPodRuntime::start_container(const ContainerConfig& config) {
  const std::string id = config.id();
  auto create_err = [](Error e) { return StartError{StartFailure::kCreate, std::move(e)}; };
  auto lock = pod_locks_.lock(config.pod_uid);
  if (rt_->sandboxes().find(config.pod_uid) == nullptr)
    return create_err(Error(ErrorCode::kNotFound, "the pod sandbox " + config.pod_uid + " does not exist"));
  // Output: FIFOs in a directory of our own, so a restarted agent can reopen them.
  const std::string dir = io_dir(config.pod_uid, id);
  if (auto r = runtime::make_dirs(dir, 0700); !r.ok()) return create_err(r.error());
  auto fifos = logs::fifo_paths(dir);
  if (auto r = logs::create_fifos(fifos); !r.ok()) return create_err(r.error());
  auto out_r = logs::open_fifo_for_pump(fifos.stdout_path);
  auto err_r = logs::open_fifo_for_pump(fifos.stderr_path);
  if (!out_r.ok()) return create_err(out_r.error());
  if (!err_r.ok()) return create_err(err_r.error());
  auto out_w = logs::open_fifo_for_container(fifos.stdout_path);
  auto err_w = logs::open_fifo_for_container(fifos.stderr_path);
  if (!out_w.ok()) return create_err(out_w.error());
  if (!err_w.ok()) return create_err(err_w.error());
  if (auto r = runtime::make_dirs(config.log_path.substr(0, config.log_path.rfind('/')), 0755); !r.ok())
    return create_err(r.error());

  auto leaf = cgroups_->ensure_container(config.pod_uid, id, config.resources);
  if (!leaf.ok()) return create_err(leaf.error());

  runtime::ContainerSpec spec;
  spec.id = id;
  spec.sandbox_id = config.pod_uid;
  for (auto it = config.image.layer_dirs.rbegin(); it != config.image.layer_dirs.rend(); ++it)
    spec.lower_dirs.push_back(*it);
  spec.process = config.process;
  // stdin (without a tty, whose terminal is stdin): a FIFO the agent writes (fifo.h).
  runtime::UniqueFd stdin_r, once_writer;
  if (config.open_stdin && config.process.tty && config.stdin_once) {
    // Marks a tty's stdinOnce for a restarted agent (the input of its terminal is over).
    runtime::UniqueFd marker(::open((logs::stdin_fifo_path(dir) + "-once").c_str(),
                                    O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!marker.valid()) return create_err(Error::from_errno("create " + logs::stdin_fifo_path(dir) + "-once"));
  }
  if (config.open_stdin && !config.process.tty) {
    const std::string path = logs::stdin_fifo_path(dir);
    if (auto r = logs::create_fifo(path); !r.ok()) return create_err(r.error());
    auto in = logs::open_stdin_for_container(path, config.stdin_once);
    if (!in.ok()) return create_err(in.error());
    stdin_r = std::move(*in);
    if (config.stdin_once) {
      // Marks the FIFO for a restarted agent, which must not reopen it: once the writer
      // below is gone (with this agent), that stdin has ended.
      runtime::UniqueFd marker(::open((path + "-once").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!marker.valid()) return create_err(Error::from_errno("create " + path + "-once"));
      auto w = logs::open_stdin_for_writer(path);
      if (!w.ok()) return create_err(w.error());
      once_writer = std::move(*w);
    }
  }
  spec.process.stdin_fd = stdin_r.valid() ? stdin_r.get() : -1;
  spec.process.stdout_fd = out_w->get();
  spec.process.stderr_fd = err_w->get();
  spec.process.stdout_path.clear();
  spec.process.stderr_path.clear();
  spec.mounts = config.mounts;
  spec.read_only_rootfs = config.read_only_rootfs;
  spec.privileged = config.privileged;
  spec.cgroup_path = leaf->path;
  const auto t0 = std::chrono::steady_clock::now();
  if (auto r = rt_->create(spec); !r.ok()) {
    (void)cgroups_->remove(leaf->path, std::chrono::seconds(5));
    (void)runtime::remove_tree(dir);
    return create_err(r.error());
  }
  stdin_r.reset();
  // The pump's read ends must be registered while our write ends still count as writers.
  // With a tty the container's output is its terminal: the pump reads the pty master (a
  // dup; the runtime keeps the master) and the FIFOs go unused.
  Result<void> pumped = Ok();
  if (config.process.tty) {
    int master = rt_->tty_master(id);
    runtime::UniqueFd dup(master >= 0 ? ::fcntl(master, F_DUPFD_CLOEXEC, 3) : -1);
    pumped = dup.valid() ? pump_->add(id, config.log_path, std::move(dup), runtime::UniqueFd())
                         : Result<void>(Error::from_errno("dup the pty master of " + id));
  } else {
    pumped = pump_->add(id, config.log_path, std::move(*out_r), std::move(*err_r));
  }
  if (pumped.ok()) {
    std::lock_guard<std::mutex> pl(pump_mu_);
    pumped_.insert(id);
  } else {
    std::fprintf(stderr, "W pod: log pump for container %s: %s\n", id.c_str(), pumped.error().to_string().c_str());
  }
  out_w->reset();
  err_w->reset();
  if (config.process.tty || config.open_stdin) {
    std::lock_guard<std::mutex> sl(stdio_mu_);
    Stdio& st = stdio_[id];
    st.tty = config.process.tty;
    st.open_stdin = config.open_stdin;
    st.stdin_once = config.stdin_once;
    st.once_writer = std::move(once_writer);
  }
  const auto t1 = std::chrono::steady_clock::now();
  if (auto r = rt_->start(id); !r.ok()) return StartError{StartFailure::kRun, r.error()};
  if (trace_enabled()) {
    std::fprintf(stderr, "T pod %s: container %s create %lld us, start %lld us\n", config.pod_uid.c_str(), id.c_str(),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()),
                 trace_us(t1));
  }
  return std::nullopt;
}

std::optional<bool> RealPodRuntime::oom_killed_locked(const std::string& pod_uid, const std::string& id) {
  auto p = cgroups_->container_path(pod_uid, id);
  if (!p.ok()) return std::nullopt;
  auto o = cgroups_->oom_killed(*p);
  if (!o.ok()) return std::nullopt;
  return *o;
}

std::vector<ContainerInfo> RealPodRuntime::list_containers(const std::string& pod_uid) {
  auto lock = pod_locks_.lock(pod_uid);
  std::vector<ContainerInfo> out;
  for (const auto& id : rt_->list()) {
    auto n = parse_container_instance_id(id);
    if (!n || n->pod_uid != pod_uid) continue;
    ContainerInfo ci;
    ci.id = id;
    ci.pod_uid = n->pod_uid;
    ci.name = n->name;
    ci.attempt = n->attempt;
    ci.oom_killed = oom_killed_locked(pod_uid, id);
    auto st = rt_->status(id, ci.oom_killed.value_or(false));
    if (!st.ok()) continue;
    runtime::Sandbox* sb = rt_->sandboxes().find(pod_uid);
    if (st->state == runtime::ContainerState::kExited && st->exit_code < 0 && st->message.empty() && sb != nullptr &&
        sb->ready()) {
      // The pidfd says it ended but the holder's exit record is microseconds away.
      auto w = rt_->wait(id, 1000);
      if (w.ok()) {
        st = std::move(w);
        if (ci.oom_killed.value_or(false)) st->reason = "OOMKilled";
      }
    }
    ci.status = *st;
    out.push_back(std::move(ci));
  }
  std::sort(out.begin(), out.end(), [](const ContainerInfo& a, const ContainerInfo& b) {
    return a.name != b.name ? a.name < b.name : a.attempt < b.attempt;
  });
  return out;
}

std::vector<std::string> RealPodRuntime::list_pods() {
  std::set<std::string> uids;
  for (const auto& id : rt_->list()) {
    if (auto n = parse_container_instance_id(id)) uids.insert(n->pod_uid);
  }
  std::error_code ec;
  std::string sdir = rt_->sandboxes().state_root() + "/sandboxes";
  if (auto* d = ::opendir(sdir.c_str())) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] != '.') uids.insert(e->d_name);
    }
    ::closedir(d);
  }
  std::string pdir = options_.root_dir + "/pods";
  if (auto* d = ::opendir(pdir.c_str())) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] != '.') uids.insert(e->d_name);
    }
    ::closedir(d);
  }
  if (auto pods = cgroups_->list_pods(); pods.ok()) {
    for (const auto& p : *pods) uids.insert(p);
  }
  return {uids.begin(), uids.end()};
}

Result<runtime::ContainerStatus> RealPodRuntime::stop_container(const std::string& id, std::chrono::milliseconds grace) {
  runtime::UniqueFd pidfd;
  {
    auto lock = lock_container(id);
    KL_ASSIGN_OR_RETURN(auto st, rt_->status(id));
    if (st.state == runtime::ContainerState::kRunning && st.pid > 0) {
      pidfd.reset(runtime::sys_pidfd_open(st.pid, 0));
      // Checked again with the pidfd held: the pid is still the container's.
      auto again = rt_->status(id);
      if (pidfd.valid() && again.ok() && again->state == runtime::ContainerState::kRunning && again->pid == st.pid) {
        (void)runtime::sys_pidfd_send_signal(pidfd.get(), SIGTERM);
      } else {
        pidfd.reset();
      }
    }
  }
  if (pidfd.valid() && grace.count() > 0) (void)wait_pidfd(pidfd.get(), grace);
  auto lock = lock_container(id);
  auto n = parse_container_instance_id(id);
  // Exited meanwhile: stop() only collects the status; else it kills the cgroup now.
  KL_ASSIGN_OR_RETURN(auto st, rt_->stop(id, 0));
  if (n && oom_killed_locked(n->pod_uid, id).value_or(false)) st.reason = "OOMKilled";
  return st;
}

Result<void> RealPodRuntime::remove_container_locked(const std::string& id, const std::string& pod_uid) {
  auto st = rt_->status(id);
  if (st.ok() && (st->state == runtime::ContainerState::kRunning || st->state == runtime::ContainerState::kCreated))
    (void)rt_->stop(id, 0);
  {
    std::lock_guard<std::mutex> pl(pump_mu_);
    if (pumped_.count(id) != 0) {
      pump_->remove(id);
      pumped_.erase(id);
    }
  }
  {
    std::lock_guard<std::mutex> sl(stdio_mu_);
    stdio_.erase(id);
  }
  auto r = rt_->remove(id);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r;
  if (auto p = cgroups_->container_path(pod_uid, id); p.ok()) KL_TRY(cgroups_->remove(*p, std::chrono::seconds(10)));
  (void)runtime::remove_tree(io_dir(pod_uid, id));
  return Ok();
}

Result<void> RealPodRuntime::remove_container(const std::string& id) {
  auto n = parse_container_instance_id(id);
  if (!n) return Error(ErrorCode::kInvalidArgument, "container " + id + ": not an agent container id");
  auto lock = pod_locks_.lock(n->pod_uid);
  return remove_container_locked(id, n->pod_uid);
}

Result<void> RealPodRuntime::remove_pod(const std::string& pod_uid) {
  auto lock = pod_locks_.lock(pod_uid);
  const std::string ctx = "remove pod " + pod_uid;
  // The holder first: killing it ends every process in the pod at once.
  if (rt_->sandboxes().find(pod_uid) != nullptr) {
    if (auto r = rt_->sandboxes().stop(pod_uid); !r.ok()) return std::move(r).error().context(ctx);
  }
  for (const auto& id : rt_->list()) {
    auto n = parse_container_instance_id(id);
    if (!n || n->pod_uid != pod_uid) continue;
    if (auto r = remove_container_locked(id, pod_uid); !r.ok()) return std::move(r).error().context(ctx);
  }
  if (rt_->sandboxes().find(pod_uid) != nullptr) {
    if (auto r = rt_->sandboxes().remove(pod_uid); !r.ok()) return std::move(r).error().context(ctx);
  } else {
    (void)runtime::remove_tree(rt_->sandboxes().state_root() + "/sandboxes/" + pod_uid);
  }
  if (auto p = cgroups_->pod_path(pod_uid); p.ok()) {
    if (auto r = cgroups_->remove(*p, std::chrono::seconds(10)); !r.ok()) return std::move(r).error().context(ctx);
  }
  // Only our part of <root>/pods/<uid>: volumes live beside it and go with their manager's
  // teardown, which unmounts them first.
  KL_TRY(runtime::remove_tree(options_.root_dir + "/pods/" + pod_uid + "/io"));
  ::rmdir((options_.root_dir + "/pods/" + pod_uid).c_str());
  return Ok();
}

void RealPodRuntime::ensure_log_pump(const std::string& id, const std::string& log_path) {
  auto n = parse_container_instance_id(id);
  if (!n) return;
  auto plock = pod_locks_.lock(n->pod_uid);  // not while the container is being removed
  std::lock_guard<std::mutex> lock(pump_mu_);
  if (pumped_.count(id) != 0) return;
  (void)runtime::make_dirs(log_path.substr(0, log_path.rfind('/')), 0755);
  // A tty container re-adopted after a restart: its output is the terminal the pod's holder
  // kept for us (the FIFOs are not its stdio).
  int master = rt_->tty_master(id);
  auto r = master >= 0 ? pump_->add(id, log_path, runtime::UniqueFd(::fcntl(master, F_DUPFD_CLOEXEC, 3)),
                                    runtime::UniqueFd())
                       : pump_->add_fifos(id, log_path, io_dir(n->pod_uid, id));
  if (r.ok() || r.error().code() == ErrorCode::kAlreadyExists) {
    pumped_.insert(id);
  } else {
    std::fprintf(stderr, "W pod: log pump for container %s: %s\n", id.c_str(), r.error().to_string().c_str());
    pumped_.insert(id);  // one warning, not one per sync
  }
}

Result<RealPodRuntime::Attachment> RealPodRuntime::attach(const std::string& id, bool want_input) {
  auto n = parse_container_instance_id(id);
  if (!n) return Error(ErrorCode::kNotFound, "container " + id + ": not an agent container id");
  auto lock = pod_locks_.lock(n->pod_uid);
  auto st = rt_->status(id);
  if (!st.ok()) return std::move(st).error();
  if (st->state != runtime::ContainerState::kRunning)
    return Error(ErrorCode::kConflict, "container " + id + " is not running");
  Attachment a;
  KL_ASSIGN_OR_RETURN(a.output, pump_->subscribe(id));
  std::lock_guard<std::mutex> sl(stdio_mu_);
  auto it = stdio_.find(id);
  if (it != stdio_.end()) {
    a.tty = it->second.tty;
    a.stdin_once = it->second.stdin_once;
  } else if (rt_->tty_master(id) >= 0) {
    // A tty container re-adopted after a restart (its terminal kept by the holder): its
    // input is open unless it was stdinOnce, which the session of the agent that died
    // has ended.
    struct stat sb {};
    const bool once = ::stat((logs::stdin_fifo_path(io_dir(n->pod_uid, id)) + "-once").c_str(), &sb) == 0;
    it = stdio_.emplace(id, Stdio{true, !once, once, runtime::UniqueFd()}).first;
    a.tty = true;
    a.stdin_once = once;
  }
  if (!want_input) return a;
  const std::string fifo = logs::stdin_fifo_path(io_dir(n->pod_uid, id));
  if (a.tty) {
    if (it->second.open_stdin) {
      int master = rt_->tty_master(id);
      if (master >= 0) a.input.reset(::fcntl(master, F_DUPFD_CLOEXEC, 3));
    }
  } else if (it != stdio_.end() && it->second.stdin_once) {
    if (it->second.once_writer.valid()) a.input.reset(::fcntl(it->second.once_writer.get(), F_DUPFD_CLOEXEC, 3));
  } else if (struct stat sb {}; ::stat((fifo + "-once").c_str(), &sb) != 0 && ::stat(fifo.c_str(), &sb) == 0) {
    // Open stdin (ours, or a container adopted after a restart): a writer per session.
    auto w = logs::open_stdin_for_writer(fifo);
    if (w.ok()) a.input = std::move(*w);
  }
  return a;
}

void RealPodRuntime::detach(uint64_t subscription) { pump_->unsubscribe(subscription); }

void RealPodRuntime::close_stdin_once(const std::string& id) {
  std::lock_guard<std::mutex> sl(stdio_mu_);
  auto it = stdio_.find(id);
  if (it == stdio_.end() || !it->second.stdin_once) return;
  it->second.once_writer.reset();
  if (it->second.tty) it->second.open_stdin = false;  // a terminal stays open; its input is over
}

Result<std::unique_ptr<runtime::ExecSession>> RealPodRuntime::start_exec(const std::string& id,
                                                                         const runtime::ExecSpec& spec) {
  auto lock = lock_container(id);
  return rt_->exec(id, spec);
}

Result<ExecResult> RealPodRuntime::exec(const std::string& id, const std::vector<std::string>& command,
                                        std::chrono::milliseconds timeout) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::from_errno("exec in " + id + ": pipe");
  runtime::UniqueFd rd(p[0]), wr(p[1]);
  std::unique_ptr<runtime::ExecSession> session;
  {
    auto lock = lock_container(id);
    runtime::ExecSpec spec;
    spec.as_container = true;  // probes and hooks run as the container's process (CRI ExecSync)
    spec.process.args = command;
    spec.process.stdout_fd = wr.get();
    spec.process.stderr_fd = wr.get();
    KL_ASSIGN_OR_RETURN(session, rt_->exec(id, spec));
  }
  wr.reset();
  ExecResult res;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      break;
    }
    pollfd pfd{rd.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = ::read(rd.get(), buf, sizeof buf);
    if (got <= 0) break;  // EOF: every writer (the process and its children) is gone
    if (res.output.size() < 10240) res.output.append(buf, static_cast<size_t>(got));
  }
  if (res.timed_out) {
    (void)session->kill(SIGKILL);
    (void)session->wait(5000);
    return res;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  auto code = session->wait(static_cast<int>(std::max<int64_t>(1, left.count())));
  if (!code.ok()) {
    if (code.error().code() == ErrorCode::kDeadlineExceeded) {
      res.timed_out = true;
      (void)session->kill(SIGKILL);
      (void)session->wait(5000);
      return res;
    }
    return code.error();
  }
  res.exit_code = *code;
  return res;
}

}  // namespace kernlet::agent
