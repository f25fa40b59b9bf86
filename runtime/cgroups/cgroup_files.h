// Parsers for the cgroup v2 interface files the driver reads. Pure: they take the file's
// text and the file's name (for error messages) and never touch the machine.
//
// Formats (Documentation/admin-guide/cgroup-v2.rst): "flat keyed" files are lines of
// "<key> <u64>" (cpu.stat, memory.events, cgroup.events); cgroup.controllers and
// cgroup.subtree_control are one space-separated line; cgroup.procs is one pid per line;
// memory.current is one u64. Unknown keys are ignored (newer kernels add them); a line that
// is not "<key> <u64>" is an error naming the file and the line.
//
// Thread-safety: pure functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::cgroups {

// cpu.stat. The usage fields exist with or without the cpu controller (cgroup core
// accounting); the throttling fields only where the cpu controller is enabled.
struct CpuStat {
  uint64_t usage_usec = 0;
  uint64_t user_usec = 0;
  uint64_t system_usec = 0;
  std::optional<uint64_t> nr_periods;
  std::optional<uint64_t> nr_throttled;
  std::optional<uint64_t> throttled_usec;
};

// memory.events: counts of how often each boundary was hit (hierarchical).
struct MemoryEvents {
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t max = 0;
  uint64_t oom = 0;
  uint64_t oom_kill = 0;        // processes the OOM killer killed in this subtree
  uint64_t oom_group_kill = 0;  // times the whole group was killed (memory.oom.group)
};

// cgroup.events.
struct CgroupEvents {
  bool populated = false;  // a live process is in this cgroup or below
  bool frozen = false;     // cgroup.freeze took effect

  bool operator==(const CgroupEvents&) const = default;
};

// "<key> <u64>" lines -> map. Errors name `file` and the bad line.
Result<std::map<std::string, uint64_t>> parse_flat_keyed(std::string_view text,
                                                         std::string_view file);
Result<CpuStat> parse_cpu_stat(std::string_view text);
Result<MemoryEvents> parse_memory_events(std::string_view text);
Result<CgroupEvents> parse_cgroup_events(std::string_view text);
// One u64 (memory.current, pids.current); "max" is an error here.
Result<uint64_t> parse_u64_file(std::string_view text, std::string_view file);
// Space-separated names (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> parse_controllers(std::string_view text);
// One pid per line (cgroup.procs).
Result<std::vector<pid_t>> parse_procs(std::string_view text);

}  // namespace kernlet::cgroups
