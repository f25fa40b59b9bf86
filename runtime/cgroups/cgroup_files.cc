#include "runtime/cgroups/cgroup_files.h"

#include <charconv>

namespace kernlet::cgroups {

static std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

static std::optional<uint64_t> to_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Result<std::map<std::string, uint64_t>> parse_flat_keyed(std::string_view text,
                                                         std::string_view file) {
  std::map<std::string, uint64_t> out;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (trim(line).empty()) continue;
    size_t sp = line.find(' ');
    std::optional<uint64_t> v;
    if (sp != std::string_view::npos && sp > 0) v = to_u64(trim(line.substr(sp + 1)));
    if (!v)
      return Error(ErrorCode::kInvalidArgument,
                   std::string(file) + " line " + std::to_string(line_no) + " \"" +
                       std::string(line) + "\": expected \"<key> <unsigned integer>\"");
    out[std::string(line.substr(0, sp))] = *v;
  }
  return out;
}

static uint64_t get(const std::map<std::string, uint64_t>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

static std::optional<uint64_t> get_opt(const std::map<std::string, uint64_t>& m,
                                       const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

Result<CpuStat> parse_cpu_stat(std::string_view text) {
  KL_ASSIGN_OR_RETURN(auto m, parse_flat_keyed(text, "cpu.stat"));
  if (!m.count("usage_usec"))
    return Error(ErrorCode::kInvalidArgument, "cpu.stat: no usage_usec line");
  CpuStat s;
  s.usage_usec = get(m, "usage_usec");
  s.user_usec = get(m, "user_usec");
  s.system_usec = get(m, "system_usec");
  s.nr_periods = get_opt(m, "nr_periods");
  s.nr_throttled = get_opt(m, "nr_throttled");
  s.throttled_usec = get_opt(m, "throttled_usec");
  return s;
}

Result<MemoryEvents> parse_memory_events(std::string_view text) {
  KL_ASSIGN_OR_RETURN(auto m, parse_flat_keyed(text, "memory.events"));
  if (!m.count("oom_kill"))
    return Error(ErrorCode::kInvalidArgument, "memory.events: no oom_kill line");
  MemoryEvents e;
  e.low = get(m, "low");
  e.high = get(m, "high");
  e.max = get(m, "max");
  e.oom = get(m, "oom");
  e.oom_kill = get(m, "oom_kill");
  e.oom_group_kill = get(m, "oom_group_kill");
  return e;
}

Result<CgroupEvents> parse_cgroup_events(std::string_view text) {
  KL_ASSIGN_OR_RETURN(auto m, parse_flat_keyed(text, "cgroup.events"));
  if (!m.count("populated"))
    return Error(ErrorCode::kInvalidArgument, "cgroup.events: no populated line");
  return CgroupEvents{get(m, "populated") != 0, get(m, "frozen") != 0};
}

Result<uint64_t> parse_u64_file(std::string_view text, std::string_view file) {
  auto v = to_u64(trim(text));
  if (!v)
    return Error(ErrorCode::kInvalidArgument, std::string(file) + " \"" +
                                                  std::string(trim(text)) +
                                                  "\": expected an unsigned integer");
  return *v;
}

std::vector<std::string> parse_controllers(std::string_view text) {
  std::vector<std::string> out;
  text = trim(text);
  while (!text.empty()) {
    size_t sp = text.find_first_of(" \n\t");
    out.emplace_back(text.substr(0, sp));
    text = sp == std::string_view::npos ? std::string_view() : trim(text.substr(sp));
  }
  return out;
}

Result<std::vector<pid_t>> parse_procs(std::string_view text) {
  std::vector<pid_t> out;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    auto v = to_u64(line);
    if (!v || *v == 0 || *v > static_cast<uint64_t>(INT32_MAX))
      return Error(ErrorCode::kInvalidArgument, "cgroup.procs line " + std::to_string(line_no) +
                                                    " \"" + std::string(line) +
                                                    "\": expected a pid");
    out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

}  // namespace kernlet::cgroups
