#include "agent/server/cgroup_stats.h"

#include <unistd.h>

#include "agent/node/host_info.h"
#include "api/time.h"
#include "runtime/cgroups/cgroup_files.h"

namespace kernlet::agent {

Result<UsageReading> CgroupStatsReader::read(const std::string& path, const std::vector<std::string>& leaves) {
  KL_ASSIGN_OR_RETURN(cgroups::Usage u, driver_.usage(path));
  UsageReading r;
  r.cpu_usage_ns = u.cpu.usage_usec * 1000;
  if (u.memory_current) {
    r.memory_usage = *u.memory_current;
    KL_ASSIGN_OR_RETURN(std::string text, fs_.read(path + "/memory.stat"));
    KL_ASSIGN_OR_RETURN(auto stat, cgroups::parse_flat_keyed(text, path + "/memory.stat"));
    auto it = stat.find("inactive_file");
    r.memory_working_set = working_set(*u.memory_current, it == stat.end() ? 0 : it->second);
  } else {
    KL_ASSIGN_OR_RETURN(uint64_t rss, resident_bytes(leaves));
    r.memory_usage = rss;
    r.memory_working_set = rss;
  }
  return r;
}

Result<uint64_t> CgroupStatsReader::resident_bytes(const std::vector<std::string>& leaves) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t total = 0;
  for (const std::string& leaf : leaves) {
    auto pids = driver_.procs(leaf);
    if (!pids.ok()) {
      if (pids.error().code() == ErrorCode::kNotFound) continue;  // removed meanwhile
      return std::move(pids).error();
    }
    for (pid_t pid : *pids) {
      auto text = fs_.read(proc_ + "/" + std::to_string(pid) + "/statm");
      if (!text.ok()) continue;  // exited since cgroup.procs was read
      auto rss = parse_statm_rss(*text, page);
      if (!rss.ok()) return std::move(rss).error().context(proc_ + "/" + std::to_string(pid) + "/statm");
      total += *rss;
    }
  }
  return total;
}

Result<NodeReading> CgroupStatsReader::read_node(const std::string& node_name) {
  NodeReading n;
  n.name = node_name;
  KL_ASSIGN_OR_RETURN(std::string stat, fs_.read(proc_ + "/stat"));
  KL_ASSIGN_OR_RETURN(n.usage.cpu_usage_ns, parse_proc_stat_cpu_ns(stat, sysconf(_SC_CLK_TCK)));
  if (auto bt = parse_proc_stat_btime(stat); bt.ok())
    n.start_time = api::format_rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(*bt)));
  KL_ASSIGN_OR_RETURN(std::string mem, fs_.read(proc_ + "/meminfo"));
  KL_ASSIGN_OR_RETURN(MemInfo mi, meminfo_from(parse_meminfo(mem)));
  UsageReading m = node_memory(mi);
  n.usage.memory_usage = m.memory_usage;
  n.usage.memory_working_set = m.memory_working_set;
  n.memory_available = mi.available;
  return n;
}

}  // namespace kernlet::agent
