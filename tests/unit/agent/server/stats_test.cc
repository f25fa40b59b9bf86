// The Summary API's pure parts: /proc and cgroup file parsers, the CPU rate between two
// samples, the JSON shape, and the collector over a fake source.
#include "agent/server/stats.h"

#include <gtest/gtest.h>

#include <deque>

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

TEST(StatsParse, ProcStatCpuSumsBusyFieldsInNanoseconds) {
  const char* text =
      "cpu  100 5 50 10000 7 3 2 1 0 0\n"
      "cpu0 50 2 25 5000 3 1 1 0 0 0\n"
      "btime 1700000000\n";
  // user+nice+system+irq+softirq+steal = 100+5+50+3+2+1 = 161 ticks at 100 Hz.
  auto ns = parse_proc_stat_cpu_ns(text, 100);
  ASSERT_TRUE(ns.ok()) << ns.error().to_string();
  EXPECT_EQ(*ns, 161ULL * 10'000'000ULL);
  auto bt = parse_proc_stat_btime(text);
  ASSERT_TRUE(bt.ok());
  EXPECT_EQ(*bt, 1700000000);
}

TEST(StatsParse, ProcStatErrorsNameTheProblem) {
  EXPECT_FALSE(parse_proc_stat_cpu_ns("intr 1 2 3\n", 100).ok());
  auto bad = parse_proc_stat_cpu_ns("cpu 1 2 x 4 5 6 7 8\n", 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("/proc/stat"), std::string::npos);
  EXPECT_FALSE(parse_proc_stat_cpu_ns("cpu 1 2\n", 100).ok());
}

TEST(StatsParse, MeminfoAndNodeMemory) {
  std::map<std::string, int64_t, std::less<>> f = {
      {"MemTotal", 1000 * 1024}, {"MemFree", 200 * 1024}, {"MemAvailable", 600 * 1024}, {"Inactive(file)", 300 * 1024}};
  auto m = meminfo_from(f);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->total, 1000u * 1024);
  EXPECT_EQ(m->available, 600u * 1024);
  UsageReading u = node_memory(*m);
  EXPECT_EQ(*u.memory_usage, 800u * 1024);
  EXPECT_EQ(*u.memory_working_set, 500u * 1024);
  f.erase("MemTotal");
  EXPECT_FALSE(meminfo_from(f).ok());
}

TEST(StatsParse, StatmResidentPagesAndWorkingSet) {
  auto rss = parse_statm_rss("2000 150 100 10 0 90 0\n", 4096);
  ASSERT_TRUE(rss.ok());
  EXPECT_EQ(*rss, 150u * 4096);
  EXPECT_FALSE(parse_statm_rss("2000\n", 4096).ok());
  EXPECT_FALSE(parse_statm_rss("2000 x\n", 4096).ok());
  EXPECT_EQ(working_set(1000, 300), 700u);
  EXPECT_EQ(working_set(100, 300), 0u);  // never negative
}

TEST(StatsRate, NanocoresBetweenSamples) {
  // 0.5 s of CPU in 2 s: a quarter of a core.
  auto r = cpu_rate_nanocores(1'000'000'000, 1'500'000'000, 2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 250'000'000u);
  EXPECT_FALSE(cpu_rate_nanocores(5, 4, 1s));  // counter went back: a new cgroup
  EXPECT_FALSE(cpu_rate_nanocores(1, 2, 0s));
}

StatsSample sample_at(Clock::time_point t, uint64_t node_cpu, uint64_t pod_cpu, uint64_t ctr_cpu) {
  StatsSample s;
  s.at = t;
  s.node.name = "n1";
  s.node.usage.cpu_usage_ns = node_cpu;
  s.node.usage.memory_usage = 800;
  s.node.usage.memory_working_set = 500;
  s.node.memory_available = 600;
  PodReading p;
  p.name = "web";
  p.namespace_ = "default";
  p.uid = "u1";
  p.usage.cpu_usage_ns = pod_cpu;
  p.usage.memory_usage = 4096;
  p.usage.memory_working_set = 4096;
  ContainerReading c;
  c.name = "app";
  c.usage.cpu_usage_ns = ctr_cpu;
  c.usage.memory_usage = 2048;
  c.usage.memory_working_set = 2048;
  p.containers.push_back(c);
  s.pods.push_back(p);
  return s;
}

TEST(StatsSummary, ShapeAndRates) {
  const auto t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));
  StatsSample a = sample_at(t0, 1'000'000'000, 100'000'000, 90'000'000);
  StatsSample b = sample_at(t0 + 10s, 6'000'000'000, 2'100'000'000, 2'090'000'000);
  json::object first = summary_json(a, nullptr);
  const json::object& n0 = *json::get_object(first, "node");
  EXPECT_EQ(json::get_string(n0, "nodeName"), "n1");
  EXPECT_EQ(json::get_int_or(*json::get_object(n0, "cpu"), "usageCoreNanoSeconds", -1), 1'000'000'000);
  EXPECT_EQ(json::find(*json::get_object(n0, "cpu"), "usageNanoCores"), nullptr);  // one sample: no rate

  json::object s = summary_json(b, &a);
  const json::object& node = *json::get_object(s, "node");
  EXPECT_EQ(json::get_int_or(*json::get_object(node, "cpu"), "usageNanoCores", -1), 500'000'000);
  EXPECT_EQ(json::get_int_or(*json::get_object(node, "memory"), "workingSetBytes", -1), 500);
  EXPECT_EQ(json::get_int_or(*json::get_object(node, "memory"), "availableBytes", -1), 600);
  EXPECT_EQ(json::get_string(*json::get_object(node, "cpu"), "time"), "2027-01-15T08:00:10Z");
  const json::array& pods = *json::get_array(s, "pods");
  ASSERT_EQ(pods.size(), 1u);
  const json::object& pod = pods[0].as_object();
  EXPECT_EQ(json::get_string(*json::get_object(pod, "podRef"), "uid"), "u1");
  EXPECT_EQ(json::get_string(*json::get_object(pod, "podRef"), "namespace"), "default");
  EXPECT_EQ(json::get_int_or(*json::get_object(pod, "cpu"), "usageNanoCores", -1), 200'000'000);
  EXPECT_EQ(json::get_int_or(*json::get_object(pod, "memory"), "usageBytes", -1), 4096);
  const json::object& ctr = (*json::get_array(pod, "containers"))[0].as_object();
  EXPECT_EQ(json::get_string(ctr, "name"), "app");
  EXPECT_EQ(json::get_int_or(*json::get_object(ctr, "cpu"), "usageNanoCores", -1), 200'000'000);
  EXPECT_EQ(json::get_int_or(*json::get_object(ctr, "memory"), "workingSetBytes", -1), 2048);
}

TEST(StatsSummary, NewPodUidOrRestartedCounterHasNoRate) {
  const auto t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));
  StatsSample a = sample_at(t0, 1, 500, 400);
  StatsSample b = sample_at(t0 + 10s, 2, 100, 50);  // counters went back: a new instance
  json::object s = summary_json(b, &a);
  const json::object& pod = (*json::get_array(s, "pods"))[0].as_object();
  EXPECT_EQ(json::find(*json::get_object(pod, "cpu"), "usageNanoCores"), nullptr);
  b.pods[0].uid = "u2";
  b.pods[0].usage.cpu_usage_ns = 900;
  s = summary_json(b, &a);
  const json::object& pod2 = (*json::get_array(s, "pods"))[0].as_object();
  EXPECT_EQ(json::find(*json::get_object(pod2, "cpu"), "usageNanoCores"), nullptr);
}

class FakeSource final : public StatsSource {
 public:
  std::deque<Result<StatsSample>> next;
  Result<StatsSample> sample() override {
    if (next.empty()) return Error(ErrorCode::kUnavailable, "no more samples");
    auto s = std::move(next.front());
    next.pop_front();
    return s;
  }
};

TEST(StatsCollector, ServesNewestSampleWithRateAndKeepsItOnErrors) {
  auto src = std::make_shared<FakeSource>();
  const auto t0 = Clock::time_point(std::chrono::seconds(1'800'000'000));
  src->next.push_back(sample_at(t0, 0, 0, 0));
  src->next.push_back(sample_at(t0 + 1s, 1'000'000'000, 0, 0));
  src->next.push_back(Error(ErrorCode::kInternal, "cgroup gone"));
  StatsCollector c(src, std::chrono::hours(1));
  EXPECT_EQ(c.summary().error().code(), ErrorCode::kUnavailable);
  c.sample_now();
  c.sample_now();
  auto s = c.summary();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(json::get_int_or(*json::get_object(*json::get_object(*s, "node"), "cpu"), "usageNanoCores", -1),
            1'000'000'000);
  c.sample_now();  // an error keeps the last good summary
  ASSERT_TRUE(c.summary().ok());
}

}  // namespace
}  // namespace kernlet::agent
