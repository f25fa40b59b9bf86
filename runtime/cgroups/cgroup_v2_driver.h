// CgroupV2Driver: pod and container cgroups under one root of a cgroup v2 hierarchy.
//
//   <root>/                        kernlet's root, e.g. /sys/fs/cgroup/kernlet (pure v2) or
//                                  /sys/fs/cgroup/unified/kernlet.slice (hybrid host)
//   <root>/pod-<pod id>/           a pod: an interior node, never holds processes
//   <root>/pod-<pod id>/ctr-<id>/  a container: a leaf, its processes live here
//
// cgroup v2's no-internal-processes rule is why pods are interior nodes: a cgroup that
// distributes a domain controller (memory, pids, ...) to children may hold no processes,
// so every process (including a pod's infra process, if any) lives in a leaf.
//
// open() finds the cgroup2 mount above root (statfs CGROUP2_SUPER_MAGIC), creates root and
// enables the wanted controllers (cpu, memory, pids) in cgroup.subtree_control from the mount
// down to root — only those the parent offers in cgroup.controllers. What cannot be enabled is
// reported, not fatal: ControllerReport lists it and every ApplyReport names the settings left
// unenforced. On the hybrid development host all three controllers sit on v1, so only
// membership, cgroup.kill, cgroup.freeze, cgroup.events and CPU usage work there.
//
// Ids are single path components of [A-Za-z0-9._-] (not starting with '.'), at most 200
// bytes. Operations that take a path accept only paths under root, so a bad argument can
// never kill or remove a cgroup kernlet does not own.
//
// Thread-safety: after open(), every method may be called concurrently (the state is
// immutable; concurrent operations on the same cgroup are the caller's business), given a
// thread-safe CgroupFs (RealCgroupFs is).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/cgroup_fs.h"
#include "runtime/cgroups/cgroup_settings.h"
#include "runtime/cgroups/unique_fd.h"

namespace kernlet::cgroups {

struct CgroupV2Options {
  std::string root = "/sys/fs/cgroup/kernlet";
  std::vector<std::string> controllers = {"cpu", "memory", "pids"};
  MemoryQos memory_qos;
};

// A wanted controller kernlet cannot use, and why.
struct MissingController {
  std::string name;    // "memory"
  std::string reason;  // "not in /sys/fs/cgroup/unified/cgroup.controllers (...)"
};

// What open() found: which controllers pods get and which they do not.
struct ControllerReport {
  std::string mount;                    // the cgroup2 mount point
  std::string root;                     // kernlet's root cgroup
  std::vector<std::string> available;   // cgroup.controllers at the mount
  std::vector<std::string> enabled;     // wanted controllers enabled for pods
  std::vector<MissingController> missing;

  bool has(std::string_view controller) const;
  bool fully_enforced() const { return missing.empty(); }
  // One line for the agent's log: "cgroup2 at <mount>, root <root>: enforcing cpu, memory,
  // pids" or "...: NOT enforcing memory (reason); ...".
  std::string summary() const;
};

// What ensure_pod/ensure_container wrote, and what they could not enforce.
struct ApplyReport {
  std::string path;
  std::vector<Setting> applied;
  std::vector<Setting> not_enforced;  // their controller is missing

  bool fully_enforced() const { return not_enforced.empty(); }
  // "<path>: not enforced (controller missing): memory.max=268435456, pids.max=max" or
  // "<path>: all N settings enforced".
  std::string summary() const;
};

// Usage of one cgroup (and its subtree).
struct Usage {
  CpuStat cpu;                              // always (cgroup core accounting)
  std::optional<uint64_t> memory_current;   // bytes; only with the memory controller
  std::optional<MemoryEvents> memory_events;
};

// A pollable view of one cgroup's cgroup.events. fd() becomes readable when the file may
// have changed; read() drains the notification and returns the current state.
// Thread-safety: one user at a time.
class EventsWatch {
 public:
  EventsWatch(CgroupFs* fs, std::string cgroup, UniqueFd fd)
      : fs_(fs), cgroup_(std::move(cgroup)), fd_(std::move(fd)) {}

  // For poll/epoll (POLLIN).
  int fd() const { return fd_.get(); }
  const std::string& cgroup() const { return cgroup_; }
  // Drains pending notifications, then reads cgroup.events.
  Result<CgroupEvents> read();
  // Waits until pred(events) holds; kDeadlineExceeded after `timeout`, naming the cgroup and
  // `what` ("empty", "frozen").
  Result<CgroupEvents> wait_for(const std::function<bool(const CgroupEvents&)>& pred,
                                std::chrono::milliseconds timeout, std::string_view what);

 private:
  CgroupFs* fs_;
  std::string cgroup_;
  UniqueFd fd_;
};

class CgroupV2Driver {
 public:
  // Finds the mount, creates root, enables controllers along the path. Errors: root not
  // absolute or not on cgroup2 (`/sys/fs/cgroup/memory/x: not a cgroup2 hierarchy (statfs
  // type 0x...)`), mkdir failures. `fs` must outlive the driver.
  static Result<CgroupV2Driver> open(CgroupFs& fs, CgroupV2Options options);

  const ControllerReport& controllers() const { return report_; }
  const std::string& root() const { return options_.root; }

  // Paths (no side effects). Errors name a bad id.
  Result<std::string> pod_path(std::string_view pod_id) const;
  Result<std::string> container_path(std::string_view pod_id, std::string_view container_id) const;

  // Creates the pod cgroup if missing (idempotent), enables controllers for its containers,
  // and writes the pod-level settings for `r` (see pod_resources()). Bad resources are an
  // error before anything is touched.
  Result<ApplyReport> ensure_pod(std::string_view pod_id, const Resources& r);
  // Creates the container leaf if missing (the pod must exist) and writes its settings.
  // Re-running it with new resources resizes the container.
  Result<ApplyReport> ensure_container(std::string_view pod_id, std::string_view container_id,
                                       const Resources& r);
  // The leaf as a directory fd for clone3(CLONE_INTO_CGROUP).
  Result<UniqueFd> open_leaf_fd(std::string_view pod_id, std::string_view container_id);

  // Ids of the pods under root / containers under a pod (for re-adoption after a restart).
  Result<std::vector<std::string>> list_pods();
  Result<std::vector<std::string>> list_containers(std::string_view pod_id);

  // --- operations on a pod or container path (from pod_path/container_path) ---

  Result<CgroupEvents> events(const std::string& path);
  Result<EventsWatch> watch(const std::string& path);
  Result<std::vector<pid_t>> procs(const std::string& path);
  // Moves a running process into a leaf (write to cgroup.procs), for processes that could not
  // be cloned into it. Errors keep the kernel's errno (ESRCH: no such process; EBUSY: the
  // target is not a leaf).
  Result<void> move_process(const std::string& path, pid_t pid);
  Result<Usage> usage(const std::string& path);
  // Whether the OOM killer killed a process in this cgroup (memory.events oom_kill > 0);
  // nullopt when the memory controller is missing and OOM kills cannot be observed. The
  // counters die with the cgroup: ask before remove().
  Result<std::optional<bool>> oom_killed(const std::string& path);
  // SIGKILLs every process in the subtree at once (cgroup.kill, Linux 5.14+); returns
  // without waiting.
  Result<void> kill(const std::string& path);
  // cgroup.freeze = 1 / 0, then waits until cgroup.events says frozen / thawed.
  Result<void> freeze(const std::string& path, std::chrono::milliseconds timeout);
  Result<void> thaw(const std::string& path, std::chrono::milliseconds timeout);
  // Waits until no live process is in the subtree (cgroup.events populated 0).
  Result<void> wait_empty(const std::string& path, std::chrono::milliseconds timeout);
  // Kills everything in the subtree, waits until it is empty, removes it bottom-up, retrying
  // rmdir's EBUSY until `timeout`. A path that does not exist is already removed (Ok).
  Result<void> remove(const std::string& path, std::chrono::milliseconds timeout);

 private:
  CgroupV2Driver(CgroupFs& fs, CgroupV2Options options)
      : fs_(&fs), options_(std::move(options)) {}
  Result<void> check_owned(const std::string& path) const;
  Result<void> enable_controllers(const std::string& cgroup);
  Result<ApplyReport> apply(const std::string& path, const std::vector<Setting>& settings);
  Result<void> remove_tree(const std::string& path,
                           std::chrono::steady_clock::time_point deadline);

  CgroupFs* fs_;
  CgroupV2Options options_;
  ControllerReport report_;
};

// Checks a pod or container id: 1..200 bytes of [A-Za-z0-9._-], not starting with '.'.
Result<void> validate_id(std::string_view kind, std::string_view id);

}  // namespace kernlet::cgroups
