#include "runtime/sandbox/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <limits.h>

#include <cerrno>
#include <cstring>

#include "runtime/sandbox/child_report.h"
#include "runtime/sandbox/child_util.h"
#include "runtime/sandbox/holder_image.h"

namespace kernlet::runtime {

bool valid_object_id(const std::string& id) {
  if (id.empty() || id.size() > 200 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

int Sandbox::ns_fd(PodNamespace ns) const {
  switch (ns) {
    case PodNamespace::kNet: return net_.get();
    case PodNamespace::kIpc: return ipc_.get();
    case PodNamespace::kUts: return uts_.get();
    case PodNamespace::kPid: return pid_.get();
  }
  return -1;
}

std::string Sandbox::netns_path() const {
  if (spec_.host_network || holder_pid_ <= 0) return "";
  return "/proc/" + std::to_string(holder_pid_) + "/ns/net";
}

bool Sandbox::ready() const {
  if (!pidfd_.valid()) return false;
  auto exited = pidfd_wait_exit(pidfd_.get(), 0);
  return exited.ok() && !*exited;
}

namespace {
constexpr int kHolderKeepSendFd = 8;
constexpr int kHolderKeepRecvFd = 9;
constexpr std::size_t kMaxKeptTag = 200;
}  // namespace

Result<void> Sandbox::open_keeper() {
  if (keep_send_.valid() && keep_recv_.valid()) return Ok();
  if (!pidfd_.valid()) return Error("sandbox " + id() + ": holder is gone", ESRCH);
  // A holder started before this driver: take its ends (root may; the holder is ours).
  UniqueFd tx(sys_pidfd_getfd(pidfd_.get(), kHolderKeepSendFd));
  if (!tx.valid()) return Error::from_errno("sandbox " + id() + ": pidfd_getfd the holder's fd keeper");
  UniqueFd rx(sys_pidfd_getfd(pidfd_.get(), kHolderKeepRecvFd));
  if (!rx.valid()) return Error::from_errno("sandbox " + id() + ": pidfd_getfd the holder's fd keeper");
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(tx.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
    return Error(ErrorCode::kNotFound, "sandbox " + id() + ": the holder has no fd keeper (an older runtime started it)");
  keep_send_ = std::move(tx);
  keep_recv_ = std::move(rx);
  return Ok();
}

Result<void> Sandbox::send_kept(const std::string& tag, int fd) {
  if (send_fd(keep_send_.get(), tag.data(), tag.size(), fd, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    return Error::from_errno("sandbox " + id() + ": keep fd " + tag);
  return Ok();
}

Result<std::vector<std::pair<std::string, UniqueFd>>> Sandbox::drain_kept() {
  KL_TRY(open_keeper());
  std::vector<std::pair<std::string, UniqueFd>> out;
  for (;;) {
    char tag[kMaxKeptTag + 1];
    int fd = -1;
    ssize_t n = recv_fd(keep_recv_.get(), tag, sizeof tag, &fd, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return Error::from_errno("sandbox " + id() + ": read the fd keeper");
    if (fd < 0) continue;
    out.emplace_back(std::string(tag, static_cast<std::size_t>(n)), UniqueFd(fd));
  }
  return out;
}

Result<void> Sandbox::keep_fd(const std::string& tag, int fd) {
  if (tag.size() > kMaxKeptTag) return Error(ErrorCode::kInvalidArgument, "sandbox " + id() + ": tag too long");
  KL_TRY(open_keeper());
  return send_kept(tag, fd);
}

Result<UniqueFd> Sandbox::kept_fd(const std::string& tag) {
  KL_ASSIGN_OR_RETURN(auto kept, drain_kept());
  UniqueFd found;
  Result<void> requeued = Ok();
  for (auto& [t, fd] : kept) {
    if (t == tag && !found.valid()) found.reset(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (auto r = send_kept(t, fd.get()); !r.ok() && requeued.ok()) requeued = r;
  }
  if (!requeued.ok()) return std::move(requeued).error();
  if (!found.valid()) return Error(ErrorCode::kNotFound, "sandbox " + id() + ": no fd kept for " + tag);
  return found;
}

Result<void> Sandbox::drop_kept_fd(const std::string& tag) {
  KL_ASSIGN_OR_RETURN(auto kept, drain_kept());
  Result<void> requeued = Ok();
  for (auto& [t, fd] : kept) {
    if (t == tag) continue;  // closed with `kept`
    if (auto r = send_kept(t, fd.get()); !r.ok() && requeued.ok()) requeued = r;
  }
  return requeued;
}

SandboxManager::SandboxManager(std::string state_root) : root_(std::move(state_root)) {}

Sandbox* SandboxManager::find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = sandboxes_.find(id);
  return it == sandboxes_.end() ? nullptr : it->second.get();
}

namespace {

// Runs in the clone child: async-signal-safe only.
struct HolderChildPlan {
  const char* hostname = nullptr;  // set when the pod has its own UTS namespace
  bool new_net = false;
  child::FdMove fds[10];
  int report_fd_slot = 6;
  int image_fd_slot = 7;
};

[[noreturn]] void holder_child(const HolderChildPlan& p) {
  int report_fd = p.fds[p.report_fd_slot].source;
  if (p.hostname != nullptr && ::sethostname(p.hostname, strlen(p.hostname)) != 0)
    child::fail(report_fd, errno, "sethostname");
  if (p.new_net) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) child::fail(report_fd, errno, "get lo flags");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) child::fail(report_fd, errno, "set lo up");
    ::close(s);
  }
  ::setsid();
  int rc = child::place_fds(p.fds, 10);
  if (rc != 0) child::fail(report_fd, -rc, "place holder fds");
  char arg0[] = "kernlet-pod-holder";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  ::syscall(SYS_execveat, p.image_fd_slot, "", argv, envp, AT_EMPTY_PATH);
  child::fail(p.report_fd_slot, errno, "exec kernlet-pod-holder");
}

Result<void> read_report_until_eof(int fd, const std::string& what) {
  ChildReport r{};
  size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd, reinterpret_cast<char*>(&r) + got, sizeof(r) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read report of " + what);
    if (n == 0) break;
    got += static_cast<size_t>(n);
    if (got == sizeof(r)) break;
  }
  if (got == 0) return Ok();
  if (got != sizeof(r) || r.magic != kChildReportMagic)
    return Error("malformed report from " + what);
  r.message[sizeof(r.message) - 1] = '\0';
  return Error(what + ": " + r.message, r.err);
}

std::string bool_str(bool b) { return b ? "1" : "0"; }

}  // namespace

Result<Sandbox*> SandboxManager::create(const SandboxSpec& spec) {
  if (!valid_object_id(spec.id))
    return Error(ErrorCode::kInvalidArgument, "sandbox id \"" + spec.id + "\": invalid");
  if (find(spec.id) != nullptr)
    return Error(ErrorCode::kAlreadyExists, "sandbox " + spec.id + " exists");
  auto sb = std::make_unique<Sandbox>();
  sb->spec_ = spec;
  if (sb->spec_.hostname.empty()) sb->spec_.hostname = spec.name;
  const std::string& hostname = sb->spec_.hostname;
  if (!spec.host_network && !valid_hostname(hostname))
    return Error(ErrorCode::kInvalidArgument, "sandbox " + spec.id + ": invalid hostname \"" +
                                                  hostname + "\"");
  std::string ctx = "create sandbox " + spec.id;
  KL_TRY(make_dirs(root_ + "/sandboxes"));
  KL_TRY(make_dirs(containers_dir()));
  sb->dir_ = root_ + "/sandboxes/" + spec.id;
  if (::mkdir(sb->dir_.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return Error(ErrorCode::kAlreadyExists, ctx + ": " + sb->dir_ + " exists");
    return Error::from_errno(ctx + ": mkdir " + sb->dir_);
  }
  auto fail = [&](Error e) -> Error {
    (void)remove_tree(sb->dir_);
    return std::move(e).context(ctx);
  };
  if (::mkdir((sb->dir_ + "/pids").c_str(), 0700) != 0)
    return fail(Error::from_errno("mkdir pids"));

  std::string hosts;
  if (spec.host_network) {
    auto h = read_file("/etc/hosts");
    hosts = h.ok() ? *h : render_etc_hosts(hostname, "", spec.host_aliases);
  } else {
    hosts = render_etc_hosts(hostname, spec.pod_ip, spec.host_aliases);
  }
  std::string resolv;
  // Nothing asked for: the node's file, as containerd does; searches or options alone are
  // written (dnsPolicy None with a dnsConfig without nameservers).
  if (spec.dns.servers.empty() && spec.dns.searches.empty() && spec.dns.options.empty()) {
    auto r = read_file("/etc/resolv.conf");
    resolv = r.ok() ? *r : "";
  } else {
    resolv = render_resolv_conf(spec.dns);
  }
  char host_name[HOST_NAME_MAX + 1] = {};
  if (spec.host_network) ::gethostname(host_name, sizeof(host_name) - 1);
  std::string hostname_file = (spec.host_network ? std::string(host_name) : hostname) + "\n";
  for (auto [path, body] : {std::pair{sb->hosts_path(), &hosts},
                            std::pair{sb->resolv_conf_path(), &resolv},
                            std::pair{sb->hostname_path(), &hostname_file}}) {
    auto w = write_file_atomic(path, *body, 0644);
    if (!w.ok()) return fail(std::move(w).error());
  }

  auto image = holder_image_fd();
  if (!image.ok()) return fail(std::move(image).error());
  UniqueFd dirfd(::open(sb->dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd ctrfd(::open(containers_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd.valid() || !ctrfd.valid()) return fail(Error::from_errno("open state dirs"));
  UniqueFd cgfd;
  if (!spec.cgroup_path.empty()) {
    cgfd.reset(::open(spec.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgfd.valid()) return fail(Error::from_errno("open cgroup " + spec.cgroup_path));
  }
  int report[2], ready[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return fail(Error::from_errno("pipe"));
  UniqueFd report_r(report[0]), report_w(report[1]);
  if (::pipe2(ready, O_CLOEXEC) != 0) return fail(Error::from_errno("pipe"));
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);

  // The fd keeper (Sandbox::keep_fd): both ends go to the holder, which only holds them.
  int keeper[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, keeper) != 0) return fail(Error::from_errno("socketpair"));
  sb->keep_send_.reset(keeper[0]);
  sb->keep_recv_.reset(keeper[1]);

  HolderChildPlan plan;
  plan.hostname = spec.host_network ? nullptr : hostname.c_str();
  plan.new_net = !spec.host_network;
  plan.fds[0] = {-1, false};
  plan.fds[1] = {-1, false};
  plan.fds[2] = {-1, false};
  plan.fds[3] = {dirfd.get(), false};
  plan.fds[4] = {ctrfd.get(), false};
  plan.fds[5] = {ready_w.get(), false};
  plan.fds[6] = {report_w.get(), true};
  plan.fds[7] = {*image, true};
  plan.fds[8] = {sb->keep_send_.get(), false};
  plan.fds[9] = {sb->keep_recv_.get(), false};

  CloneArgs args;
  int pidfd = -1;
  args.flags = CLONE_PIDFD;
  if (!spec.host_pid) args.flags |= CLONE_NEWPID;
  if (!spec.host_network) args.flags |= CLONE_NEWNET | CLONE_NEWUTS;
  if (!spec.host_ipc) args.flags |= CLONE_NEWIPC;
  if (cgfd.valid()) {
    args.flags |= kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(cgfd.get());
  }
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = 0;  // only waitid(__WALL) on our pidfd reaps it, never a stray waitpid(-1)
  // The holder execs at once: it borrows our address space until then (spawn_vm).
  pid_t pid = spawn_vm(&args, [](void* p) { holder_child(*static_cast<const HolderChildPlan*>(p)); }, &plan);
  if (pid < 0) return fail(Error::from_errno("clone3 holder"));
  sb->pidfd_.reset(pidfd);
  sb->holder_pid_ = pid;
  sb->our_child_ = true;
  report_w.reset();
  ready_w.reset();

  auto reap_on_error = [&](Error e) -> Error {
    sys_pidfd_send_signal(sb->pidfd_.get(), SIGKILL);
    siginfo_t si{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(sb->pidfd_.get()), &si,
             WEXITED | __WALL);
    return fail(std::move(e));
  };
  auto rep = read_report_until_eof(report_r.get(), "holder");
  if (!rep.ok()) return reap_on_error(std::move(rep).error());
  struct pollfd pfd{ready_r.get(), POLLIN, 0};
  int n;
  do {
    n = ::poll(&pfd, 1, 10000);
  } while (n < 0 && errno == EINTR);
  char byte = 0;
  if (n <= 0 || ::read(ready_r.get(), &byte, 1) != 1)
    return reap_on_error(Error("holder did not become ready", n == 0 ? ETIMEDOUT : errno));

  auto st = process_start_time(pid);
  if (!st.ok()) return reap_on_error(std::move(st).error());
  sb->holder_start_ = *st;
  auto ns = open_namespaces(*sb);
  if (!ns.ok()) return reap_on_error(std::move(ns).error());

  Record rec{{"id", spec.id},
             {"name", spec.name},
             {"namespace", spec.pod_namespace},
             {"uid", spec.uid},
             {"hostname", hostname},
             {"host_network", bool_str(spec.host_network)},
             {"host_ipc", bool_str(spec.host_ipc)},
             {"host_pid", bool_str(spec.host_pid)},
             {"share_pid", bool_str(spec.share_process_namespace)},
             {"cgroup", spec.cgroup_path},
             {"holder_pid", std::to_string(pid)},
             {"holder_start", std::to_string(sb->holder_start_)},
             {"created_ns", std::to_string(now_unix_ns())}};
  auto w = write_file_atomic(sb->dir_ + "/state", format_record(rec), 0600);
  if (!w.ok()) return reap_on_error(std::move(w).error());
  Sandbox* out = sb.get();
  std::lock_guard lock(mu_);
  sandboxes_[spec.id] = std::move(sb);
  return out;
}

Result<void> SandboxManager::open_namespaces(Sandbox& sb) {
  std::string base = "/proc/" + std::to_string(sb.holder_pid_) + "/ns/";
  auto open_ns = [&](bool own, const char* name, UniqueFd& out) -> Result<void> {
    out.reset();
    if (!own) return Ok();
    out.reset(::open((base + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!out.valid()) return Error::from_errno("open " + base + name);
    return Ok();
  };
  KL_TRY(open_ns(!sb.spec_.host_network, "net", sb.net_));
  KL_TRY(open_ns(!sb.spec_.host_network, "uts", sb.uts_));
  KL_TRY(open_ns(!sb.spec_.host_ipc, "ipc", sb.ipc_));
  KL_TRY(open_ns(!sb.spec_.host_pid, "pid", sb.pid_));
  // The fds were opened by pid; make sure that pid is still our holder (not a reuse).
  auto st = process_start_time(sb.holder_pid_);
  if (!st.ok() || *st != sb.holder_start_ || !sb.ready())
    return Error("holder " + std::to_string(sb.holder_pid_) + " exited", ESRCH);
  return Ok();
}

Result<void> SandboxManager::write_hosts(const std::string& id, const std::string& pod_ip,
                                         const std::string& fqdn, const std::vector<HostAlias>& aliases) {
  Sandbox* sb = find(id);
  if (sb == nullptr) return Error(ErrorCode::kNotFound, "sandbox " + id + " not found");
  if (sb->spec_.host_network) return Ok();
  auto w = write_file_atomic(sb->hosts_path(), render_etc_hosts(sb->spec_.hostname, pod_ip, aliases, fqdn), 0644);
  if (!w.ok()) return std::move(w).error().context("sandbox " + id + ": write /etc/hosts");
  sb->spec_.pod_ip = pod_ip;
  sb->spec_.host_aliases = aliases;
  return Ok();
}

Result<void> SandboxManager::stop(const std::string& id) {
  Sandbox* sb = find(id);
  if (sb == nullptr) return Error(ErrorCode::kNotFound, "sandbox " + id + " not found");
  if (sb->pidfd_.valid()) {
    if (sys_pidfd_send_signal(sb->pidfd_.get(), SIGKILL) != 0 && errno != ESRCH)
      return Error::from_errno("stop sandbox " + id + ": kill holder");
    auto exited = pidfd_wait_exit(sb->pidfd_.get(), 10000);
    if (!exited.ok()) return std::move(exited).error().context("stop sandbox " + id);
    if (!*exited) return Error("stop sandbox " + id + ": holder did not exit", ETIMEDOUT);
    if (sb->our_child_) {
      siginfo_t si{};
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(sb->pidfd_.get()), &si,
               WEXITED | __WALL);
    }
    sb->pidfd_.reset();
  }
  sb->net_.reset();
  sb->ipc_.reset();
  sb->uts_.reset();
  sb->pid_.reset();
  return Ok();
}

Result<void> SandboxManager::remove(const std::string& id) {
  Sandbox* sb = find(id);
  if (sb == nullptr) return Error(ErrorCode::kNotFound, "sandbox " + id + " not found");
  KL_TRY(stop(id));
  KL_TRY(remove_tree(sb->dir_));
  std::lock_guard lock(mu_);
  sandboxes_.erase(id);
  return Ok();
}

Result<std::vector<std::string>> SandboxManager::recover() {
  std::vector<std::string> ids;
  std::string dir = root_ + "/sandboxes";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return ids;
    return Error::from_errno("recover sandboxes: opendir " + dir);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (valid_object_id(name)) names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    if (find(name) != nullptr) {
      ids.push_back(name);
      continue;
    }
    auto text = read_file(dir + "/" + name + "/state");
    if (!text.ok()) continue;  // a create that never finished; its dir is garbage
    Record rec = parse_record(*text);
    auto sb = std::make_unique<Sandbox>();
    sb->dir_ = dir + "/" + name;
    SandboxSpec& s = sb->spec_;
    s.id = name;
    s.name = rec["name"];
    s.pod_namespace = rec["namespace"];
    s.uid = rec["uid"];
    s.hostname = rec["hostname"];
    s.host_network = rec["host_network"] == "1";
    s.host_ipc = rec["host_ipc"] == "1";
    s.host_pid = rec["host_pid"] == "1";
    s.share_process_namespace = rec["share_pid"] == "1";
    s.cgroup_path = rec["cgroup"];
    auto pid = record_int(rec, "holder_pid");
    auto start = record_int(rec, "holder_start");
    if (pid.ok() && start.ok()) {
      sb->holder_pid_ = static_cast<pid_t>(*pid);
      sb->holder_start_ = static_cast<uint64_t>(*start);
      int fd = sys_pidfd_open(sb->holder_pid_, 0);
      if (fd >= 0) {
        sb->pidfd_.reset(fd);
        auto st = process_start_time(sb->holder_pid_);
        if (!st.ok() || *st != sb->holder_start_ || !open_namespaces(*sb).ok()) {
          sb->pidfd_.reset();  // a different process now has that pid
          sb->net_.reset();
          sb->ipc_.reset();
          sb->uts_.reset();
          sb->pid_.reset();
        }
      }
    }
    ids.push_back(name);
    std::lock_guard lock(mu_);
    sandboxes_[name] = std::move(sb);
  }
  return ids;
}

}  // namespace kernlet::runtime
