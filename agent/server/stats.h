// The kubelet's Summary API (GET /stats/summary, stats/v1alpha1) as the metrics pipeline
// reads it: node and per-pod, per-container CPU and memory.
//
// The agent samples cumulative readings (StatsSource) every interval on a thread of its
// own (StatsCollector); the Summary is built from the newest sample, and usageNanoCores is
// the CPU rate between the newest and the one before it (absent until two samples exist,
// and for a pod or container whose counter went backwards, i.e. a new instance).
//
// Where the numbers come from (cgroup_stats.h reads them):
//   cpu           cgroup v2 cpu.stat usage_usec (core accounting: present with or without
//                 the cpu controller), node: /proc/stat.
//   memory        with the memory controller: memory.current, working set = memory.current
//                 minus memory.stat inactive_file (as the kubelet). Without it (the hybrid
//                 development host): the sum of the resident set (/proc/<pid>/statm) of the
//                 cgroup's processes, reported as both usageBytes and workingSetBytes;
//                 page cache is not attributable there. Node: /proc/meminfo.
//
// Pure functions are thread-safe; StatsCollector's methods are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::agent {

// Cumulative CPU and instantaneous memory of one cgroup (or the node).
struct UsageReading {
  uint64_t cpu_usage_ns = 0;                  // cumulative CPU time
  std::optional<uint64_t> memory_usage;       // bytes
  std::optional<uint64_t> memory_working_set;  // bytes
};

struct ContainerReading {
  std::string name;
  std::string start_time;  // RFC 3339, may be empty
  UsageReading usage;
};

struct PodReading {
  std::string name, namespace_, uid;
  std::string start_time;
  UsageReading usage;  // the pod cgroup (every container, the sandbox holder included)
  std::vector<ContainerReading> containers;
};

struct NodeReading {
  std::string name;
  std::string start_time;  // boot time
  UsageReading usage;
  std::optional<uint64_t> memory_available;
};

struct StatsSample {
  std::chrono::system_clock::time_point at;
  NodeReading node;
  std::vector<PodReading> pods;
};

// Takes one sample of the node and its pods. Blocking (file reads); called from the
// collector's thread only.
class StatsSource {
 public:
  virtual ~StatsSource() = default;
  virtual Result<StatsSample> sample() = 0;
};

// The Summary JSON of `cur`, with usageNanoCores from `prev` when it is given and older.
// Pure.
json::object summary_json(const StatsSample& cur, const StatsSample* prev);

// CPU rate in nanocores between two cumulative readings `dt` apart; nullopt when dt is
// not positive or the counter went backwards (a new cgroup under the same name). Pure.
std::optional<uint64_t> cpu_rate_nanocores(uint64_t prev_ns, uint64_t cur_ns, std::chrono::nanoseconds dt);

// --- parsers for what cgroup_stats.cc reads (pure; errors name the file) -----------------

// CPU time the node spent busy (user+nice+system+irq+softirq+steal of the "cpu" line of
// /proc/stat), in ns, with `ticks_per_second` (sysconf(_SC_CLK_TCK)).
Result<uint64_t> parse_proc_stat_cpu_ns(std::string_view text, long ticks_per_second);
// The boot time (btime) in /proc/stat, seconds since the epoch.
Result<int64_t> parse_proc_stat_btime(std::string_view text);

struct MemInfo {
  uint64_t total = 0, free = 0, available = 0, inactive_file = 0;  // bytes
};
// The fields above from /proc/meminfo as agent/node's parse_meminfo maps it (name ->
// bytes). Errors: MemTotal or MemFree missing.
Result<MemInfo> meminfo_from(const std::map<std::string, int64_t, std::less<>>& fields);
// Node memory as the kubelet reports the root cgroup: usage = total - free, working set =
// usage - inactive_file (never below 0).
UsageReading node_memory(const MemInfo& m);

// The resident set of /proc/<pid>/statm (second field, pages) in bytes.
Result<uint64_t> parse_statm_rss(std::string_view text, uint64_t page_size);
// memory.current minus memory.stat's inactive_file, floored at 0.
uint64_t working_set(uint64_t usage, uint64_t inactive_file);

// --- the sampler ----------------------------------------------------------------------------

class StatsCollector {
 public:
  StatsCollector(std::shared_ptr<StatsSource> source, std::chrono::milliseconds interval);
  ~StatsCollector();  // stops
  StatsCollector(const StatsCollector&) = delete;
  StatsCollector& operator=(const StatsCollector&) = delete;

  // Starts the sampling thread (one sample at once, then every interval).
  void start();
  void stop();
  // Takes one sample now (what the thread does each interval); for tests and start-up.
  void sample_now();
  // The Summary of the newest sample; kUnavailable before the first one. Non-blocking
  // apart from a short lock.
  Result<json::object> summary() const;

 private:
  void loop();
  std::shared_ptr<StatsSource> source_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::optional<StatsSample> prev_, cur_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace kernlet::agent
