// The Prometheus text exposition format 0.0.4 as agent/metrics writes it: HELP/TYPE lines,
// label and help escaping, exact integers, shortest doubles, +Inf/NaN, cumulative
// histograms, and the programmer errors it refuses.
#include "agent/metrics/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "agent/metrics/agent_metrics.h"

namespace kernlet::agent::metrics {
namespace {

TEST(PrometheusTextTest, CounterFamilyWithLabels) {
  PrometheusText t;
  t.family("kernlet_x_total", "Things counted.", MetricType::kCounter);
  t.sample({{"namespace", "default"}, {"service", "web"}}, std::uint64_t{42});
  t.sample({}, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(t.text(),
            "# HELP kernlet_x_total Things counted.\n"
            "# TYPE kernlet_x_total counter\n"
            "kernlet_x_total{namespace=\"default\",service=\"web\"} 42\n"
            "kernlet_x_total 18446744073709551615\n");
}

TEST(PrometheusTextTest, EscapesLabelValuesAndHelp) {
  PrometheusText t;
  t.family("g", "line one\nback\\slash \"quotes stay\"", MetricType::kGauge);
  t.sample({{"v", "a\"b\\c\nd"}}, 1.5);
  EXPECT_EQ(t.text(),
            "# HELP g line one\\nback\\\\slash \"quotes stay\"\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(PrometheusTextTest, FormatsSpecialAndShortestValues) {
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1e-3), "0.001");
  EXPECT_EQ(format_value(2.0), "2");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(format_value(1.0 / 3)), 1.0 / 3);
}

TEST(PrometheusTextTest, HistogramIsCumulativeWithInfBucket) {
  Histogram h({0.25, 1, 4});
  for (double v : {0.125, 0.25, 0.5, 2.0, 8.0}) h.observe(v);  // exact in binary: the sum prints exactly
  PrometheusText t;
  t.family("sync_seconds", "Sync duration.", MetricType::kHistogram);
  t.histogram({{"kind", "svc"}}, h.snapshot());
  EXPECT_EQ(t.text(),
            "# HELP sync_seconds Sync duration.\n"
            "# TYPE sync_seconds histogram\n"
            "sync_seconds_bucket{kind=\"svc\",le=\"0.25\"} 2\n"
            "sync_seconds_bucket{kind=\"svc\",le=\"1\"} 3\n"
            "sync_seconds_bucket{kind=\"svc\",le=\"4\"} 4\n"
            "sync_seconds_bucket{kind=\"svc\",le=\"+Inf\"} 5\n"
            "sync_seconds_sum{kind=\"svc\"} 10.875\n"
            "sync_seconds_count{kind=\"svc\"} 5\n");
}

TEST(PrometheusTextTest, RefusesProgrammerErrors) {
  PrometheusText t;
  EXPECT_THROW(t.sample({}, std::uint64_t{1}), std::logic_error);  // no family yet
  EXPECT_THROW(t.family("1bad", "x", MetricType::kGauge), std::logic_error);
  EXPECT_THROW(t.family("bad-name", "x", MetricType::kGauge), std::logic_error);
  t.family("ok:name_total", "x", MetricType::kCounter);
  EXPECT_THROW(t.family("ok:name_total", "again", MetricType::kCounter), std::logic_error);
  EXPECT_THROW(t.sample({{"bad:label", "v"}}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(t.sample({{"__reserved", "v"}}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(t.histogram({}, Histogram({1}).snapshot()), std::logic_error);  // not a histogram family
  t.family("h", "x", MetricType::kHistogram);
  EXPECT_THROW(t.sample({}, std::uint64_t{1}), std::logic_error);
  EXPECT_THROW(t.histogram({{"le", "1"}}, Histogram({1}).snapshot()), std::logic_error);
  EXPECT_THROW(Histogram({1, 0.5}), std::logic_error);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::logic_error);
}

TEST(AgentMetricsTest, PodsByPhase) {
  auto pod = [](const char* text) {
    auto o = json::parse_object(text);
    EXPECT_TRUE(o.ok()) << text;
    return std::make_shared<const json::object>(o.ok() ? *o : json::object{});
  };
  std::vector<std::shared_ptr<const json::object>> pods = {
      pod(R"({"status":{"phase":"Running"}})"), pod(R"({"status":{"phase":"Running"}})"),
      pod(R"({"metadata":{"name":"new"}})"), pod(R"({"status":{"phase":"Failed"}})"),
      pod(R"({"status":{"phase":"Weird"}})")};
  PrometheusText t;
  append_pod_metrics(pods, t);
  EXPECT_EQ(t.text(),
            "# HELP kernlet_agent_pods Pods this node runs, by status.phase.\n"
            "# TYPE kernlet_agent_pods gauge\n"
            "kernlet_agent_pods{phase=\"Pending\"} 1\n"
            "kernlet_agent_pods{phase=\"Running\"} 2\n"
            "kernlet_agent_pods{phase=\"Succeeded\"} 0\n"
            "kernlet_agent_pods{phase=\"Failed\"} 1\n"
            "kernlet_agent_pods{phase=\"Unknown\"} 1\n");
}

}  // namespace
}  // namespace kernlet::agent::metrics
