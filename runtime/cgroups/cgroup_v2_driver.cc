#include "runtime/cgroups/cgroup_v2_driver.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <thread>

namespace kernlet::cgroups {

namespace {

using Clock = std::chrono::steady_clock;

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return path.substr(0, slash);
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string hex(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<void> validate_root(const std::string& root) {
  auto bad = [&](const char* why) {
    return Error(ErrorCode::kInvalidArgument, "cgroup root \"" + root + "\": " + why);
  };
  if (root.empty() || root[0] != '/') return bad("must be an absolute path");
  if (root == "/") return bad("must not be /");
  if (root.back() == '/') return bad("must not end in /");
  size_t start = 1;
  while (start <= root.size()) {
    size_t end = root.find('/', start);
    if (end == std::string::npos) end = root.size();
    std::string_view comp(root.data() + start, end - start);
    if (comp.empty() || comp == "." || comp == "..")
      return bad("must not contain empty, . or .. components");
    start = end + 1;
  }
  return Ok();
}

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace

Result<void> validate_id(std::string_view kind, std::string_view id) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(kind) + " id \"" + std::string(id) + "\": " + why);
  };
  if (id.empty()) return bad("must not be empty");
  if (id.size() > 200) return bad("longer than 200 bytes");
  if (id[0] == '.') return bad("must not start with '.'");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return bad("may contain only letters, digits, '.', '_' and '-'");
  }
  return Ok();
}

bool ControllerReport::has(std::string_view controller) const {
  return contains(enabled, controller);
}

std::string ControllerReport::summary() const {
  std::string out = "cgroup2 at " + mount + ", root " + root + ": ";
  out += enabled.empty() ? "enforcing no resource controller" : "enforcing " + join(enabled);
  for (const auto& m : missing) out += "; NOT enforcing " + m.name + " (" + m.reason + ")";
  return out;
}

std::string ApplyReport::summary() const {
  if (not_enforced.empty())
    return path + ": all " + std::to_string(applied.size()) + " settings enforced";
  std::string out = path + ": not enforced (controller missing): ";
  for (size_t i = 0; i < not_enforced.size(); ++i)
    out += (i ? ", " : "") + not_enforced[i].file + "=" + not_enforced[i].value;
  return out;
}

// --- EventsWatch ---

Result<CgroupEvents> EventsWatch::read() {
  // Drain first, then read: a change after the read re-arms the fd, so none is lost.
  char buf[4096];
  while (::read(fd_.get(), buf, sizeof buf) > 0) {
  }
  KL_ASSIGN_OR_RETURN(std::string text, fs_->read(cgroup_ + "/cgroup.events"));
  auto e = parse_cgroup_events(text);
  if (!e.ok()) return std::move(e).error().context(cgroup_);
  return e;
}

Result<CgroupEvents> EventsWatch::wait_for(const std::function<bool(const CgroupEvents&)>& pred,
                                           std::chrono::milliseconds timeout,
                                           std::string_view what) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    KL_ASSIGN_OR_RETURN(CgroupEvents e, read());
    if (pred(e)) return e;
    auto left = remaining(deadline);
    if (left.count() == 0)
      return Error(ErrorCode::kDeadlineExceeded,
                   cgroup_ + ": not " + std::string(what) + " after " +
                       std::to_string(timeout.count()) + " ms (populated " +
                       std::to_string(e.populated) + ", frozen " + std::to_string(e.frozen) + ")");
    pollfd p{fd_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return Error::from_errno("poll cgroup.events of " + cgroup_);
  }
}

// --- CgroupV2Driver ---

Result<CgroupV2Driver> CgroupV2Driver::open(CgroupFs& fs, CgroupV2Options options) {
  KL_TRY(validate_root(options.root));
  CgroupV2Driver d(fs, std::move(options));
  const std::string& root = d.options_.root;
  ControllerReport& rep = d.report_;
  rep.root = root;

  // The nearest existing ancestor must be cgroup2; the mount is the topmost cgroup2 dir.
  std::string existing = root;
  for (;;) {
    KL_ASSIGN_OR_RETURN(bool there, fs.exists(existing));
    if (there || existing == "/") break;
    existing = parent_of(existing);
  }
  KL_ASSIGN_OR_RETURN(int64_t type, fs.fs_type(existing));
  if (type != kCgroup2SuperMagic)
    return Error(ErrorCode::kInvalidArgument,
                 "cgroup root " + root + ": not on a cgroup2 hierarchy (" + existing +
                     " has statfs type " + hex(type) + ", cgroup2 is " +
                     hex(kCgroup2SuperMagic) + ")");
  std::string mount = existing;
  while (mount != "/") {
    auto t = fs.fs_type(parent_of(mount));
    if (!t.ok() || *t != kCgroup2SuperMagic) break;
    mount = parent_of(mount);
  }
  rep.mount = mount;
  KL_ASSIGN_OR_RETURN(std::string avail_text, fs.read(mount + "/cgroup.controllers"));
  rep.available = parse_controllers(avail_text);

  // Every cgroup from the mount down to root, creating what is missing, enabling the wanted
  // controllers each one offers. The first failure per controller is its reason.
  std::vector<std::string> chain;
  for (std::string p = root; p.size() >= mount.size(); p = parent_of(p)) {
    chain.insert(chain.begin(), p);
    if (p == mount) break;
  }
  std::vector<MissingController> why;
  auto note = [&](const std::string& name, std::string reason) {
    for (const auto& w : why)
      if (w.name == name) return;
    why.push_back({name, std::move(reason)});
  };
  for (const auto& name : d.options_.controllers)
    if (!contains(rep.available, name))
      note(name, "not in " + mount +
                     "/cgroup.controllers: bound to a cgroup v1 hierarchy or not built into "
                     "the kernel");
  for (const auto& dir : chain) {
    if (dir != mount) {
      auto made = fs.mkdir(dir);
      if (!made.ok() && made.error().code() != ErrorCode::kAlreadyExists)
        return std::move(made).error().context("create cgroup root " + root);
    }
    KL_ASSIGN_OR_RETURN(std::string offered_text, fs.read(dir + "/cgroup.controllers"));
    KL_ASSIGN_OR_RETURN(std::string on_text, fs.read(dir + "/cgroup.subtree_control"));
    auto offered = parse_controllers(offered_text);
    auto on = parse_controllers(on_text);
    for (const auto& name : d.options_.controllers) {
      if (contains(on, name)) continue;
      if (!contains(offered, name)) {
        note(name, "not delegated to " + dir + " (absent from its cgroup.controllers)");
        continue;
      }
      auto w = fs.write(dir + "/cgroup.subtree_control", "+" + name);
      if (!w.ok())
        note(name, "enabling it in " + dir + "/cgroup.subtree_control failed: " +
                       w.error().to_string() +
                       (w.error().sys_errno() == EBUSY
                            ? " (that cgroup holds processes: no-internal-processes rule)"
                            : ""));
    }
  }
  KL_ASSIGN_OR_RETURN(std::string root_on, fs.read(root + "/cgroup.subtree_control"));
  auto on = parse_controllers(root_on);
  for (const auto& name : d.options_.controllers) {
    if (contains(on, name)) {
      rep.enabled.push_back(name);
    } else {
      std::string reason = "not enabled in " + root + "/cgroup.subtree_control";
      for (const auto& w : why)
        if (w.name == name) reason = w.reason;
      rep.missing.push_back({name, reason});
    }
  }
  return d;
}

Result<std::string> CgroupV2Driver::pod_path(std::string_view pod_id) const {
  KL_TRY(validate_id("pod", pod_id));
  return options_.root + "/pod-" + std::string(pod_id);
}

Result<std::string> CgroupV2Driver::container_path(std::string_view pod_id,
                                                   std::string_view container_id) const {
  KL_ASSIGN_OR_RETURN(std::string pod, pod_path(pod_id));
  KL_TRY(validate_id("container", container_id));
  return pod + "/ctr-" + std::string(container_id);
}

Result<void> CgroupV2Driver::check_owned(const std::string& path) const {
  const std::string& root = options_.root;
  if (path.size() <= root.size() + 1 || path.compare(0, root.size(), root) != 0 ||
      path[root.size()] != '/' || path.find("/..") != std::string::npos ||
      path.find("//") != std::string::npos)
    return Error(ErrorCode::kInvalidArgument,
                 "cgroup " + path + ": not a pod or container cgroup under " + root);
  return Ok();
}

Result<void> CgroupV2Driver::enable_controllers(const std::string& cgroup) {
  KL_ASSIGN_OR_RETURN(std::string on_text, fs_->read(cgroup + "/cgroup.subtree_control"));
  auto on = parse_controllers(on_text);
  for (const auto& name : report_.enabled) {
    if (contains(on, name)) continue;
    KL_TRY(fs_->write(cgroup + "/cgroup.subtree_control", "+" + name));
  }
  return Ok();
}

Result<ApplyReport> CgroupV2Driver::apply(const std::string& path,
                                          const std::vector<Setting>& settings) {
  ApplyReport rep;
  rep.path = path;
  for (const auto& s : settings) {
    if (!report_.has(s.controller)) {
      rep.not_enforced.push_back(s);
      continue;
    }
    KL_TRY(fs_->write(path + "/" + s.file, s.value));
    rep.applied.push_back(s);
  }
  return rep;
}

Result<ApplyReport> CgroupV2Driver::ensure_pod(std::string_view pod_id, const Resources& r) {
  KL_ASSIGN_OR_RETURN(std::string path, pod_path(pod_id));
  auto ctx = [&](Error e) { return std::move(e).context("pod cgroup " + path); };
  if (auto v = validate(r); !v.ok()) return ctx(std::move(v).error());
  auto made = fs_->mkdir(path);
  if (!made.ok() && made.error().code() != ErrorCode::kAlreadyExists)
    return ctx(std::move(made).error());
  if (auto e = enable_controllers(path); !e.ok()) return ctx(std::move(e).error());
  auto rep = apply(path, settings_for(r, Level::kPod, options_.memory_qos));
  if (!rep.ok()) return ctx(std::move(rep).error());
  return rep;
}

Result<ApplyReport> CgroupV2Driver::ensure_container(std::string_view pod_id,
                                                     std::string_view container_id,
                                                     const Resources& r) {
  KL_ASSIGN_OR_RETURN(std::string path, container_path(pod_id, container_id));
  auto ctx = [&](Error e) { return std::move(e).context("container cgroup " + path); };
  if (auto v = validate(r); !v.ok()) return ctx(std::move(v).error());
  KL_ASSIGN_OR_RETURN(bool pod_there, fs_->exists(parent_of(path)));
  if (!pod_there)
    return Error(ErrorCode::kNotFound,
                 "container cgroup " + path + ": pod cgroup " + parent_of(path) +
                     " does not exist (ensure_pod first)");
  auto made = fs_->mkdir(path);
  if (!made.ok() && made.error().code() != ErrorCode::kAlreadyExists)
    return ctx(std::move(made).error());
  auto rep = apply(path, settings_for(r, Level::kContainer, options_.memory_qos));
  if (!rep.ok()) return ctx(std::move(rep).error());
  return rep;
}

Result<UniqueFd> CgroupV2Driver::open_leaf_fd(std::string_view pod_id,
                                              std::string_view container_id) {
  KL_ASSIGN_OR_RETURN(std::string path, container_path(pod_id, container_id));
  return fs_->open_dir(path);
}

static Result<std::vector<std::string>> ids_with_prefix(CgroupFs& fs, const std::string& dir,
                                                        std::string_view prefix) {
  KL_ASSIGN_OR_RETURN(auto names, fs.subdirs(dir));
  std::vector<std::string> out;
  for (const auto& n : names)
    if (n.size() > prefix.size() && n.compare(0, prefix.size(), prefix) == 0)
      out.push_back(n.substr(prefix.size()));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> CgroupV2Driver::list_pods() {
  return ids_with_prefix(*fs_, options_.root, "pod-");
}

Result<std::vector<std::string>> CgroupV2Driver::list_containers(std::string_view pod_id) {
  KL_ASSIGN_OR_RETURN(std::string path, pod_path(pod_id));
  return ids_with_prefix(*fs_, path, "ctr-");
}

Result<CgroupEvents> CgroupV2Driver::events(const std::string& path) {
  KL_TRY(check_owned(path));
  KL_ASSIGN_OR_RETURN(std::string text, fs_->read(path + "/cgroup.events"));
  auto e = parse_cgroup_events(text);
  if (!e.ok()) return std::move(e).error().context(path);
  return e;
}

Result<EventsWatch> CgroupV2Driver::watch(const std::string& path) {
  KL_TRY(check_owned(path));
  KL_ASSIGN_OR_RETURN(UniqueFd fd, fs_->watch_modify(path + "/cgroup.events"));
  return EventsWatch(fs_, path, std::move(fd));
}

Result<std::vector<pid_t>> CgroupV2Driver::procs(const std::string& path) {
  KL_TRY(check_owned(path));
  KL_ASSIGN_OR_RETURN(std::string text, fs_->read(path + "/cgroup.procs"));
  return parse_procs(text);
}

Result<void> CgroupV2Driver::move_process(const std::string& path, pid_t pid) {
  KL_TRY(check_owned(path));
  if (pid <= 0)
    return Error(ErrorCode::kInvalidArgument,
                 "move pid " + std::to_string(pid) + " to " + path + ": not a pid");
  return fs_->write(path + "/cgroup.procs", std::to_string(pid));
}

Result<Usage> CgroupV2Driver::usage(const std::string& path) {
  KL_TRY(check_owned(path));
  Usage u;
  KL_ASSIGN_OR_RETURN(std::string cpu, fs_->read(path + "/cpu.stat"));
  KL_ASSIGN_OR_RETURN(u.cpu, parse_cpu_stat(cpu));
  if (report_.has("memory")) {
    KL_ASSIGN_OR_RETURN(std::string cur, fs_->read(path + "/memory.current"));
    KL_ASSIGN_OR_RETURN(u.memory_current, parse_u64_file(cur, path + "/memory.current"));
    KL_ASSIGN_OR_RETURN(std::string ev, fs_->read(path + "/memory.events"));
    KL_ASSIGN_OR_RETURN(u.memory_events, parse_memory_events(ev));
  }
  return u;
}

Result<std::optional<bool>> CgroupV2Driver::oom_killed(const std::string& path) {
  KL_TRY(check_owned(path));
  if (!report_.has("memory")) return std::optional<bool>();
  KL_ASSIGN_OR_RETURN(std::string ev, fs_->read(path + "/memory.events"));
  auto e = parse_memory_events(ev);
  if (!e.ok()) return std::move(e).error().context(path);
  return std::optional<bool>(e->oom_kill > 0 || e->oom_group_kill > 0);
}

Result<void> CgroupV2Driver::kill(const std::string& path) {
  KL_TRY(check_owned(path));
  return fs_->write(path + "/cgroup.kill", "1");
}

Result<void> CgroupV2Driver::freeze(const std::string& path, std::chrono::milliseconds timeout) {
  KL_ASSIGN_OR_RETURN(EventsWatch w, watch(path));
  KL_TRY(fs_->write(path + "/cgroup.freeze", "1"));
  KL_TRY(w.wait_for([](const CgroupEvents& e) { return e.frozen; }, timeout, "frozen"));
  return Ok();
}

Result<void> CgroupV2Driver::thaw(const std::string& path, std::chrono::milliseconds timeout) {
  KL_ASSIGN_OR_RETURN(EventsWatch w, watch(path));
  KL_TRY(fs_->write(path + "/cgroup.freeze", "0"));
  KL_TRY(w.wait_for([](const CgroupEvents& e) { return !e.frozen; }, timeout, "thawed"));
  return Ok();
}

Result<void> CgroupV2Driver::wait_empty(const std::string& path,
                                        std::chrono::milliseconds timeout) {
  KL_ASSIGN_OR_RETURN(EventsWatch w, watch(path));
  KL_TRY(w.wait_for([](const CgroupEvents& e) { return !e.populated; }, timeout, "empty"));
  return Ok();
}

Result<void> CgroupV2Driver::remove(const std::string& path, std::chrono::milliseconds timeout) {
  KL_TRY(check_owned(path));
  auto ctx = [&](Error e) { return std::move(e).context("remove cgroup " + path); };
  KL_ASSIGN_OR_RETURN(bool there, fs_->exists(path));
  if (!there) return Ok();
  auto deadline = Clock::now() + timeout;
  // cgroup.kill covers the whole subtree and makes forks racing with it fail, so one write
  // empties it; wait on cgroup.events instead of polling processes.
  if (auto k = kill(path); !k.ok() && k.error().code() != ErrorCode::kNotFound)
    return ctx(std::move(k).error());
  if (auto w = wait_empty(path, remaining(deadline));
      !w.ok() && w.error().code() != ErrorCode::kNotFound)
    return ctx(std::move(w).error());
  if (auto r = remove_tree(path, deadline); !r.ok()) return ctx(std::move(r).error());
  return Ok();
}

Result<void> CgroupV2Driver::remove_tree(const std::string& path, Clock::time_point deadline) {
  auto children = fs_->subdirs(path);
  if (!children.ok()) {
    if (children.error().code() == ErrorCode::kNotFound) return Ok();
    return std::move(children).error();
  }
  for (const auto& c : *children) KL_TRY(remove_tree(path + "/" + c, deadline));
  // rmdir is EBUSY while a dying process still counts or a child was just added; retry
  // with a short backoff, re-killing in case a process was moved in meanwhile.
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    auto r = fs_->rmdir(path);
    if (r.ok() || r.error().code() == ErrorCode::kNotFound) return Ok();
    if (r.error().sys_errno() != EBUSY || Clock::now() >= deadline) return r;
    auto ev = fs_->read(path + "/cgroup.events");
    if (ev.ok()) {
      auto e = parse_cgroup_events(*ev);
      if (e.ok() && e->populated) {
        (void)fs_->write(path + "/cgroup.kill", "1");
        auto w = wait_empty(path, remaining(deadline));
        (void)w;
        continue;
      }
    }
    std::this_thread::sleep_for(std::min(backoff, remaining(deadline)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace kernlet::cgroups
