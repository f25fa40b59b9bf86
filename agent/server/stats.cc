#include "agent/server/stats.h"

#include <cstdio>
#include <map>

#include "api/time.h"

namespace kernlet::agent {
namespace {

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<uint64_t> to_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (UINT64_MAX - static_cast<uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

template <class F>
void for_lines(std::string_view text, F f) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    f(text.substr(i, j - i));
    i = j + 1;
  }
}

std::string stamp(std::chrono::system_clock::time_point t) { return api::format_rfc3339(t); }

json::object cpu_json(const UsageReading& cur, const UsageReading* prev, std::chrono::nanoseconds dt,
                      const std::string& time) {
  json::object o{{"time", time}, {"usageCoreNanoSeconds", cur.cpu_usage_ns}};
  if (prev != nullptr) {
    if (auto r = cpu_rate_nanocores(prev->cpu_usage_ns, cur.cpu_usage_ns, dt)) o["usageNanoCores"] = *r;
  }
  return o;
}

json::object memory_json(const UsageReading& u, const std::string& time, std::optional<uint64_t> available = {}) {
  json::object o{{"time", time}};
  if (u.memory_usage) o["usageBytes"] = *u.memory_usage;
  if (u.memory_working_set) o["workingSetBytes"] = *u.memory_working_set;
  if (available) o["availableBytes"] = *available;
  return o;
}

}  // namespace

std::optional<uint64_t> cpu_rate_nanocores(uint64_t prev_ns, uint64_t cur_ns, std::chrono::nanoseconds dt) {
  if (dt.count() <= 0 || cur_ns < prev_ns) return std::nullopt;
  const long double rate = static_cast<long double>(cur_ns - prev_ns) * 1e9L / static_cast<long double>(dt.count());
  return static_cast<uint64_t>(rate + 0.5L);
}

json::object summary_json(const StatsSample& cur, const StatsSample* prev) {
  const std::string time = stamp(cur.at);
  std::chrono::nanoseconds dt{0};
  if (prev != nullptr && prev->at < cur.at) dt = std::chrono::duration_cast<std::chrono::nanoseconds>(cur.at - prev->at);
  if (dt.count() <= 0) prev = nullptr;

  json::object node{{"nodeName", cur.node.name},
                    {"cpu", cpu_json(cur.node.usage, prev ? &prev->node.usage : nullptr, dt, time)},
                    {"memory", memory_json(cur.node.usage, time, cur.node.memory_available)}};
  if (!cur.node.start_time.empty()) node["startTime"] = cur.node.start_time;

  std::map<std::string, const PodReading*> before;
  if (prev != nullptr)
    for (const PodReading& p : prev->pods) before[p.uid] = &p;
  json::array pods;
  for (const PodReading& p : cur.pods) {
    const PodReading* old = nullptr;
    if (auto it = before.find(p.uid); it != before.end()) old = it->second;
    json::array containers;
    for (const ContainerReading& c : p.containers) {
      const ContainerReading* oc = nullptr;
      if (old != nullptr)
        for (const ContainerReading& x : old->containers)
          if (x.name == c.name) oc = &x;
      json::object cj{{"name", c.name},
                      {"cpu", cpu_json(c.usage, oc ? &oc->usage : nullptr, dt, time)},
                      {"memory", memory_json(c.usage, time)}};
      if (!c.start_time.empty()) cj["startTime"] = c.start_time;
      containers.push_back(std::move(cj));
    }
    json::object pj{{"podRef", json::object{{"name", p.name}, {"namespace", p.namespace_}, {"uid", p.uid}}},
                    {"cpu", cpu_json(p.usage, old ? &old->usage : nullptr, dt, time)},
                    {"memory", memory_json(p.usage, time)},
                    {"containers", std::move(containers)}};
    if (!p.start_time.empty()) pj["startTime"] = p.start_time;
    pods.push_back(std::move(pj));
  }
  return {{"node", std::move(node)}, {"pods", std::move(pods)}};
}

Result<uint64_t> parse_proc_stat_cpu_ns(std::string_view text, long ticks_per_second) {
  if (ticks_per_second <= 0) return Error(ErrorCode::kInvalidArgument, "/proc/stat: bad clock tick rate");
  std::optional<Result<uint64_t>> out;
  for_lines(text, [&](std::string_view line) {
    if (out) return;
    auto f = fields(line);
    if (f.empty() || f[0] != "cpu") return;
    // cpu user nice system idle iowait irq softirq steal ...
    if (f.size() < 9) {
      out = Error(ErrorCode::kInvalidArgument, "/proc/stat: short cpu line \"" + std::string(line) + "\"");
      return;
    }
    uint64_t busy = 0;
    for (int i : {1, 2, 3, 6, 7, 8}) {
      auto v = to_u64(f[static_cast<std::size_t>(i)]);
      if (!v) {
        out = Error(ErrorCode::kInvalidArgument, "/proc/stat: bad cpu line \"" + std::string(line) + "\"");
        return;
      }
      busy += *v;
    }
    out = busy * (1'000'000'000ULL / static_cast<uint64_t>(ticks_per_second));
  });
  if (!out) return Error(ErrorCode::kInvalidArgument, "/proc/stat: no cpu line");
  return *out;
}

Result<int64_t> parse_proc_stat_btime(std::string_view text) {
  std::optional<int64_t> out;
  for_lines(text, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() == 2 && f[0] == "btime")
      if (auto v = to_u64(f[1])) out = static_cast<int64_t>(*v);
  });
  if (!out) return Error(ErrorCode::kInvalidArgument, "/proc/stat: no btime line");
  return *out;
}

Result<MemInfo> meminfo_from(const std::map<std::string, int64_t, std::less<>>& fields) {
  auto get = [&](std::string_view key) -> std::optional<uint64_t> {
    auto it = fields.find(key);
    if (it == fields.end() || it->second < 0) return std::nullopt;
    return static_cast<uint64_t>(it->second);
  };
  auto total = get("MemTotal"), free = get("MemFree");
  if (!total || !free) return Error(ErrorCode::kInvalidArgument, "/proc/meminfo: MemTotal or MemFree missing");
  MemInfo m;
  m.total = *total;
  m.free = *free;
  m.available = get("MemAvailable").value_or(0);
  m.inactive_file = get("Inactive(file)").value_or(0);
  return m;
}

UsageReading node_memory(const MemInfo& m) {
  UsageReading u;
  const uint64_t usage = m.total > m.free ? m.total - m.free : 0;
  u.memory_usage = usage;
  u.memory_working_set = working_set(usage, m.inactive_file);
  return u;
}

Result<uint64_t> parse_statm_rss(std::string_view text, uint64_t page_size) {
  auto f = fields(text.substr(0, text.find('\n')));
  if (f.size() < 2) return Error(ErrorCode::kInvalidArgument, "statm: want at least two fields, got \"" + std::string(text) + "\"");
  auto v = to_u64(f[1]);
  if (!v) return Error(ErrorCode::kInvalidArgument, "statm: bad resident field \"" + std::string(f[1]) + "\"");
  return *v * page_size;
}

uint64_t working_set(uint64_t usage, uint64_t inactive_file) { return usage > inactive_file ? usage - inactive_file : 0; }

// --- StatsCollector ---------------------------------------------------------------------------

StatsCollector::StatsCollector(std::shared_ptr<StatsSource> source, std::chrono::milliseconds interval)
    : source_(std::move(source)), interval_(interval) {}

StatsCollector::~StatsCollector() { stop(); }

void StatsCollector::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void StatsCollector::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsCollector::sample_now() {
  Result<StatsSample> s = source_->sample();
  std::lock_guard lk(mu_);
  if (!s.ok()) {
    const std::string msg = s.error().to_string();
    if (msg != last_error_) std::fprintf(stderr, "warning agent: stats: %s\n", msg.c_str());
    last_error_ = msg;
    return;
  }
  last_error_.clear();
  prev_ = std::move(cur_);
  cur_ = std::move(*s);
}

void StatsCollector::loop() {
  for (;;) {
    sample_now();
    std::unique_lock lk(mu_);
    if (cv_.wait_for(lk, interval_, [this] { return stopping_; })) return;
  }
}

Result<json::object> StatsCollector::summary() const {
  std::lock_guard lk(mu_);
  if (!cur_) {
    return Error(ErrorCode::kUnavailable,
                 "no stats sampled yet" + (last_error_.empty() ? std::string() : ": " + last_error_));
  }
  return summary_json(*cur_, prev_ ? &*prev_ : nullptr);
}

}  // namespace kernlet::agent
