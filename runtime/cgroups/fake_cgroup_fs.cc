#include "runtime/cgroups/fake_cgroup_fs.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "runtime/cgroups/cgroup_files.h"

namespace kernlet::cgroups {

namespace {

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The interface files a controller adds to a child cgroup, with the kernel's defaults.
std::vector<std::pair<std::string, std::string>> controller_files(const std::string& c) {
  if (c == "cpu") return {{"cpu.weight", "100\n"}, {"cpu.max", "max 100000\n"}};
  if (c == "memory")
    return {{"memory.max", "max\n"},         {"memory.min", "0\n"},
            {"memory.high", "max\n"},        {"memory.low", "0\n"},
            {"memory.oom.group", "0\n"},     {"memory.current", "0\n"},
            {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"}};
  if (c == "pids") return {{"pids.max", "max\n"}, {"pids.current", "0\n"}};
  return {};
}

}  // namespace

FakeCgroupFs::FakeCgroupFs(std::string mount, std::vector<std::string> controllers,
                           int64_t outer_fs_type)
    : mount_(std::move(mount)), outer_fs_type_(outer_fs_type) {
  std::string list;
  for (const auto& c : controllers) list += (list.empty() ? "" : " ") + c;
  nodes_[mount_] = {true, ""};
  nodes_[mount_ + "/cgroup.controllers"] = {false, list + "\n"};
  nodes_[mount_ + "/cgroup.subtree_control"] = {false, "\n"};
  nodes_[mount_ + "/cgroup.procs"] = {false, ""};
  nodes_[mount_ + "/cpu.stat"] = {false, "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"};
}

Result<void> FakeCgroupFs::injected(const std::string& op, const std::string& path,
                                    const std::string& what) {
  auto it = failures_.find({op, path});
  if (it == failures_.end() || it->second.second <= 0) return Ok();
  int err = it->second.first;
  if (--it->second.second == 0) failures_.erase(it);
  return fs_error(what.empty() ? op : what, path, err);
}

bool FakeCgroupFs::under_mount(const std::string& path) const {
  return path == mount_ || (path.size() > mount_.size() && path.compare(0, mount_.size(), mount_) == 0 &&
                            path[mount_.size()] == '/');
}

Result<int64_t> FakeCgroupFs::fs_type(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("fs_type", path));
  if (under_mount(path)) {
    if (!nodes_.count(path)) return fs_error("statfs", path, ENOENT);
    return kCgroup2SuperMagic;
  }
  if (under_mount(mount_) && mount_.compare(0, path.size(), path) == 0) return outer_fs_type_;
  return fs_error("statfs", path, ENOENT);
}

Result<bool> FakeCgroupFs::exists(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("exists", path));
  if (under_mount(path)) return nodes_.count(path) > 0;
  // Ancestors of the mount exist.
  return path == "/" || (mount_.compare(0, path.size(), path) == 0 && mount_[path.size()] == '/');
}

Result<void> FakeCgroupFs::mkdir(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("mkdir", path));
  if (!under_mount(path)) return fs_error("mkdir", path, EACCES);
  if (nodes_.count(path)) return fs_error("mkdir", path, EEXIST);
  std::string parent = parent_of(path);
  auto p = nodes_.find(parent);
  if (p == nodes_.end() || !p->second.dir) return fs_error("mkdir", path, ENOENT);
  std::string enabled = nodes_[parent + "/cgroup.subtree_control"].content;
  nodes_[path] = {true, ""};
  nodes_[path + "/cgroup.controllers"] = {false, enabled};
  nodes_[path + "/cgroup.subtree_control"] = {false, "\n"};
  nodes_[path + "/cgroup.events"] = {false, "populated 0\nfrozen 0\n"};
  nodes_[path + "/cgroup.procs"] = {false, ""};
  nodes_[path + "/cgroup.kill"] = {false, ""};
  nodes_[path + "/cgroup.freeze"] = {false, "0\n"};
  bool cpu = false;
  for (const auto& c : parse_controllers(enabled)) {
    cpu = cpu || c == "cpu";
    for (auto& [f, v] : controller_files(c)) nodes_[path + "/" + f] = {false, v};
  }
  nodes_[path + "/cpu.stat"] = {
      false, std::string("usage_usec 0\nuser_usec 0\nsystem_usec 0\n") +
                 (cpu ? "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n" : "")};
  return Ok();
}

std::vector<std::string> FakeCgroupFs::children_locked(const std::string& dir) const {
  std::vector<std::string> out;
  for (auto it = nodes_.upper_bound(dir + "/"); it != nodes_.end(); ++it) {
    const std::string& k = it->first;
    if (k.compare(0, dir.size() + 1, dir + "/") != 0) break;
    if (it->second.dir && k.find('/', dir.size() + 1) == std::string::npos) out.push_back(k);
  }
  return out;
}

Result<void> FakeCgroupFs::rmdir(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("rmdir", path));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return fs_error("rmdir", path, ENOENT);
  if (!it->second.dir) return fs_error("rmdir", path, ENOTDIR);
  if (!children_locked(path).empty() || populated_locked(path))
    return fs_error("rmdir", path, EBUSY);
  auto first = nodes_.lower_bound(path + "/");
  auto last = first;
  while (last != nodes_.end() && last->first.compare(0, path.size() + 1, path + "/") == 0) ++last;
  nodes_.erase(first, last);
  nodes_.erase(path);
  frozen_.erase(path);
  return Ok();
}

Result<std::string> FakeCgroupFs::read(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("read", path));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return fs_error("open", path, ENOENT);
  if (it->second.dir) return fs_error("read", path, EISDIR);
  // As in the kernel, a child's cgroup.controllers is whatever its parent enables now.
  std::string cgroup = parent_of(path);
  if (name_of(path) == "cgroup.controllers" && cgroup != mount_)
    return nodes_[parent_of(cgroup) + "/cgroup.subtree_control"].content;
  return it->second.content;
}

void FakeCgroupFs::set_locked(const std::string& path, const std::string& content) {
  auto& n = nodes_[path];
  bool changed = n.content != content;
  n.content = content;
  if (!changed) return;
  auto [first, last] = watches_.equal_range(path);
  for (auto it = first; it != last; ++it) {
    uint64_t one = 1;
    (void)!::write(it->second.get(), &one, sizeof one);
  }
}

bool FakeCgroupFs::populated_locked(const std::string& cgroup) const {
  for (const auto& p : has_procs_)
    if (p == cgroup || p.compare(0, cgroup.size() + 1, cgroup + "/") == 0) return true;
  return false;
}

void FakeCgroupFs::update_events(const std::string& cgroup) {
  if (cgroup == mount_ || !nodes_.count(cgroup)) return;
  set_locked(cgroup + "/cgroup.events",
             std::string("populated ") + (populated_locked(cgroup) ? "1" : "0") + "\nfrozen " +
                 (frozen_[cgroup] ? "1" : "0") + "\n");
}

void FakeCgroupFs::recompute_populated(const std::string& cgroup) {
  for (std::string c = cgroup; under_mount(c) && c != mount_; c = parent_of(c)) update_events(c);
}

Result<void> FakeCgroupFs::write(const std::string& path, std::string_view value) {
  std::lock_guard lock(mu_);
  // The same message shape as RealCgroupFs::write.
  const std::string what = "write \"" + std::string(value) + "\" to";
  KL_TRY(injected("write", path, what));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return fs_error("open", path, ENOENT);
  if (it->second.dir) return fs_error("open", path, EISDIR);
  std::string cgroup = parent_of(path);
  std::string file = name_of(path);
  if (file == "cgroup.subtree_control") {
    auto offered = parse_controllers(
        cgroup == mount_ ? nodes_[cgroup + "/cgroup.controllers"].content
                         : nodes_[parent_of(cgroup) + "/cgroup.subtree_control"].content);
    auto on = parse_controllers(it->second.content);
    for (const auto& tok : parse_controllers(value)) {
      std::string name = tok.substr(1);
      bool known = false;
      for (const auto& o : offered) known = known || o == name;
      if ((tok[0] != '+' && tok[0] != '-') || !known) return fs_error(what, path, ENOENT);
      if (cgroup != mount_ && has_procs_.count(cgroup)) return fs_error(what, path, EBUSY);
      std::erase(on, name);
      if (tok[0] == '+') {
        on.push_back(name);
        // Enabling a controller gives every child its interface files.
        for (const auto& child : children_locked(cgroup))
          for (auto& [f, v] : controller_files(name))
            if (!nodes_.count(child + "/" + f)) nodes_[child + "/" + f] = {false, v};
      }
    }
    std::string list;
    for (const auto& c : on) list += (list.empty() ? "" : " ") + c;
    set_locked(path, list + "\n");
  } else if (file == "cgroup.kill") {
    if (value != "1") return fs_error(what, path, EINVAL);
    if (kill_empties_) {
      for (auto p = has_procs_.begin(); p != has_procs_.end();) {
        if (*p == cgroup || p->compare(0, cgroup.size() + 1, cgroup + "/") == 0) {
          std::string gone = *p;
          p = has_procs_.erase(p);
          recompute_populated(gone);
        } else {
          ++p;
        }
      }
    }
  } else if (file == "cgroup.freeze") {
    if (value != "0" && value != "1") return fs_error(what, path, EINVAL);
    set_locked(path, std::string(value) + "\n");
    frozen_[cgroup] = value == "1";
    update_events(cgroup);
  } else {
    set_locked(path, std::string(value) + "\n");
  }
  writes_.push_back(path + "=" + std::string(value));
  return Ok();
}

Result<std::vector<std::string>> FakeCgroupFs::subdirs(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("subdirs", path));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return fs_error("opendir", path, ENOENT);
  std::vector<std::string> out;
  for (const auto& c : children_locked(path)) out.push_back(name_of(c));
  return out;
}

Result<UniqueFd> FakeCgroupFs::open_dir(const std::string& path) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("open_dir", path));
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return fs_error("open", path, ENOENT);
  if (!it->second.dir) return fs_error("open", path, ENOTDIR);
  UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open /dev/null for fake " + path);
  return fd;
}

Result<UniqueFd> FakeCgroupFs::watch_modify(const std::string& file) {
  std::lock_guard lock(mu_);
  KL_TRY(injected("watch_modify", file));
  if (!nodes_.count(file)) return fs_error("inotify_add_watch", file, ENOENT);
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return Error::from_errno("eventfd for fake watch of " + file);
  UniqueFd mine(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!mine) return Error::from_errno("dup eventfd");
  watches_.emplace(file, std::move(mine));
  return fd;
}

void FakeCgroupFs::fail(const std::string& op, const std::string& path, int err, int times) {
  std::lock_guard lock(mu_);
  failures_[{op, path}] = {err, times};
}

void FakeCgroupFs::set_procs(const std::string& cgroup, bool has_procs) {
  std::lock_guard lock(mu_);
  if (has_procs)
    has_procs_.insert(cgroup);
  else
    has_procs_.erase(cgroup);
  recompute_populated(cgroup);
}

void FakeCgroupFs::set_kill_empties(bool on) {
  std::lock_guard lock(mu_);
  kill_empties_ = on;
}

void FakeCgroupFs::set_file(const std::string& path, const std::string& content) {
  std::lock_guard lock(mu_);
  set_locked(path, content);
}

std::optional<std::string> FakeCgroupFs::file(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end() || it->second.dir) return std::nullopt;
  return it->second.content;
}

bool FakeCgroupFs::is_dir(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(path);
  return it != nodes_.end() && it->second.dir;
}

std::vector<std::string> FakeCgroupFs::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

}  // namespace kernlet::cgroups
