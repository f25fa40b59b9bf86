// FakeCgroupFs: an in-memory cgroup2 hierarchy that behaves like the kernel where the driver
// depends on it, for unit tests (here and in the runtime parts that use the driver).
//
// Modelled: a mount offering a set of controllers; mkdir creating the interface files of the
// controllers the parent enables (cgroup.controllers = parent's cgroup.subtree_control);
// "+x" in cgroup.subtree_control needing x in cgroup.controllers (ENOENT) and no processes
// in that cgroup (EBUSY, the no-internal-processes rule; the mount root is exempt); rmdir
// failing EBUSY with children or processes; cgroup.kill emptying the subtree; cgroup.freeze
// setting "frozen"; writes to missing files failing ENOENT; watch_modify fds (eventfds) that
// become readable when a watched file changes. Any operation can be made to fail on purpose.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_fs.h"

namespace kernlet::cgroups {

class FakeCgroupFs final : public CgroupFs {
 public:
  // A cgroup2 mount at `mount` whose root offers `controllers`. Paths above the mount exist
  // and report `outer_fs_type` (sysfs by default).
  FakeCgroupFs(std::string mount, std::vector<std::string> controllers,
               int64_t outer_fs_type = 0x62656572);

  Result<int64_t> fs_type(const std::string& path) override;
  Result<bool> exists(const std::string& path) override;
  Result<void> mkdir(const std::string& path) override;
  Result<void> rmdir(const std::string& path) override;
  Result<std::string> read(const std::string& path) override;
  Result<void> write(const std::string& path, std::string_view value) override;
  Result<std::vector<std::string>> subdirs(const std::string& path) override;
  Result<UniqueFd> open_dir(const std::string& path) override;
  Result<UniqueFd> watch_modify(const std::string& file) override;

  // --- test controls ---
  // The next `times` calls of `op` ("mkdir", "rmdir", "read", "write", "open_dir",
  // "watch_modify", "subdirs") on `path` fail with `err`.
  void fail(const std::string& op, const std::string& path, int err, int times = 1);
  // Whether processes live directly in `cgroup`; updates "populated" up the tree.
  void set_procs(const std::string& cgroup, bool has_procs);
  // Whether writing cgroup.kill empties the subtree (true) or leaves it for the test to
  // empty later with set_procs (false, a slow kill).
  void set_kill_empties(bool on);
  // Sets a file's content (creating it), e.g. memory.events after an "OOM kill".
  void set_file(const std::string& path, const std::string& content);
  std::optional<std::string> file(const std::string& path) const;
  bool is_dir(const std::string& path) const;
  // Every successful write, as "<path>=<value>", in order.
  std::vector<std::string> writes() const;

 private:
  struct Node {
    bool dir = false;
    std::string content;
  };
  Result<void> injected(const std::string& op, const std::string& path,
                        const std::string& what = "");
  bool under_mount(const std::string& path) const;
  void set_locked(const std::string& path, const std::string& content);
  void recompute_populated(const std::string& cgroup);
  std::vector<std::string> children_locked(const std::string& dir) const;
  bool populated_locked(const std::string& cgroup) const;
  void update_events(const std::string& cgroup);

  mutable std::mutex mu_;
  std::string mount_;
  int64_t outer_fs_type_;
  std::map<std::string, Node> nodes_;
  std::set<std::string> has_procs_;
  std::map<std::string, bool> frozen_;
  std::map<std::pair<std::string, std::string>, std::pair<int, int>> failures_;  // -> errno, times
  std::multimap<std::string, UniqueFd> watches_;
  std::vector<std::string> writes_;
  bool kill_empties_ = true;
};

}  // namespace kernlet::cgroups
