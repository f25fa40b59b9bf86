// CgroupStatsReader: the readings behind the Summary API (stats.h) taken from the
// machine: a cgroup's CPU and memory through runtime/cgroups' CgroupV2Driver (the same
// driver and paths the pod runtime uses), the node's from /proc.
//
// Memory without the memory controller (the hybrid development host) is the resident set
// of the processes in the given leaves, from /proc/<pid>/statm; a process that exits while
// it is read is skipped. /proc files are read through the same CgroupFs (plain reads), so
// a fake file system can stand in for both.
//
// Thread-safety: as the driver and CgroupFs it is given (RealCgroupFs and the driver are
// thread-safe); the reader has no state of its own.
#pragma once

#include <string>
#include <vector>

#include "agent/server/stats.h"
#include "runtime/cgroups/cgroup_fs.h"
#include "runtime/cgroups/cgroup_v2_driver.h"

namespace kernlet::agent {

class CgroupStatsReader {
 public:
  CgroupStatsReader(cgroups::CgroupV2Driver& driver, cgroups::CgroupFs& fs, std::string proc_root = "/proc")
      : driver_(driver), fs_(fs), proc_(std::move(proc_root)) {}

  // CPU (cpu.stat usage_usec) of cgroup `path` and its memory: memory.current and
  // memory.stat with the memory controller, else the resident set of the processes of
  // `leaves` (the cgroup itself for a container; every container leaf for a pod).
  // Errors name the path.
  Result<UsageReading> read(const std::string& path, const std::vector<std::string>& leaves);
  // The node: /proc/stat and /proc/meminfo.
  Result<NodeReading> read_node(const std::string& node_name);
  // The resident set of every process in `leaves`, in bytes.
  Result<uint64_t> resident_bytes(const std::vector<std::string>& leaves);

 private:
  cgroups::CgroupV2Driver& driver_;
  cgroups::CgroupFs& fs_;
  std::string proc_;
};

}  // namespace kernlet::agent
