// metrics.k8s.io from kubelet Summaries: what is taken from a Summary, the quantities and
// the NodeMetrics/PodMetrics shapes kubectl top reads; discovery lists the group.
#include "control/apiserver/metrics.h"

#include <gtest/gtest.h>

#include "control/apiserver/resources.h"

namespace kernlet::apiserver::metrics {
namespace {

json::object parse(const char* text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object{};
}

TEST(MetricsSummary, TakesNanoCoresAndWorkingSetAndDropsPartialPods) {
  json::object s = parse(R"({
    "node": {"nodeName": "n1", "cpu": {"time": "2026-11-27T04:00:00Z", "usageNanoCores": 250000000,
             "usageCoreNanoSeconds": 9}, "memory": {"time": "2026-11-27T04:00:00Z", "workingSetBytes": 1048576,
             "usageBytes": 2097152}},
    "pods": [
      {"podRef": {"name": "web", "namespace": "default", "uid": "u1"},
       "cpu": {"time": "2026-11-27T04:00:00Z", "usageNanoCores": 20}, "memory": {"workingSetBytes": 10},
       "containers": [{"name": "a", "cpu": {"usageNanoCores": 5000000}, "memory": {"workingSetBytes": 4096}},
                      {"name": "b", "cpu": {"usageNanoCores": 1}, "memory": {"workingSetBytes": 1000}}]},
      {"podRef": {"name": "new", "namespace": "default", "uid": "u2"},
       "containers": [{"name": "a", "cpu": {"usageCoreNanoSeconds": 5}, "memory": {"workingSetBytes": 4096}}]},
      {"podRef": {"name": "empty", "namespace": "default", "uid": "u3"}, "containers": []}
    ]})");
  auto r = parse_summary(s, "n1");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_TRUE(r->node);
  EXPECT_EQ(r->node->cpu_nanocores, 250000000u);
  EXPECT_EQ(r->node->memory_bytes, 1048576u);
  ASSERT_EQ(r->pods.size(), 1u);  // "new" has no rate yet, "empty" no containers
  EXPECT_EQ(r->pods[0].name, "web");
  EXPECT_EQ(r->pods[0].uid, "u1");
  ASSERT_EQ(r->pods[0].containers.size(), 2u);
  EXPECT_EQ(r->pods[0].containers[0].cpu_nanocores, 5000000u);
  EXPECT_EQ(r->pods[0].containers[1].memory_bytes, 1000u);
}

TEST(MetricsSummary, NodeWithoutRateAndNotASummary) {
  auto r = parse_summary(parse(R"({"node": {"cpu": {"usageCoreNanoSeconds": 1}, "memory": {"workingSetBytes": 1}}})"), "n1");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->node);
  auto bad = parse_summary(parse(R"({"kind": "Status"})"), "n9");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("n9"), std::string::npos);
}

TEST(MetricsQuantities, AsMetricsServerWritesThem) {
  EXPECT_EQ(cpu_quantity(1234567), "1234567n");
  EXPECT_EQ(memory_quantity(2048), "2Ki");
  EXPECT_EQ(memory_quantity(1000), "1000");
  EXPECT_EQ(window_string(std::chrono::milliseconds(15000)), "15s");
  EXPECT_EQ(window_string(std::chrono::milliseconds(1500)), "1.5s");
}

TEST(MetricsObjects, PodAndNodeMetricsShapes) {
  PodUsage u;
  u.namespace_ = "default";
  u.name = "web";
  u.uid = "u1";
  u.timestamp = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  u.containers = {{"app", 5000000, 4096}};
  json::object pod = parse(R"({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}})");
  json::object pm = pod_metrics_json(u, pod, std::chrono::milliseconds(15000));
  EXPECT_EQ(json::get_string(pm, "kind"), "PodMetrics");
  EXPECT_EQ(json::get_string(pm, "apiVersion"), "metrics.k8s.io/v1beta1");
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(pm, "metadata"), "labels"), "app"), "web");
  EXPECT_EQ(json::get_string(pm, "timestamp"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(json::get_string(pm, "window"), "15s");
  const json::object& c = (*json::get_array(pm, "containers"))[0].as_object();
  EXPECT_EQ(json::get_string(*json::get_object(c, "usage"), "cpu"), "5000000n");
  EXPECT_EQ(json::get_string(*json::get_object(c, "usage"), "memory"), "4Ki");

  NodeUsage n{"n1", u.timestamp, 250000000, 1048576};
  json::object nm = node_metrics_json(n, parse(R"({"metadata": {"name": "n1"}})"), std::chrono::milliseconds(15000));
  EXPECT_EQ(json::get_string(nm, "kind"), "NodeMetrics");
  EXPECT_EQ(json::find(*json::get_object(nm, "metadata"), "namespace"), nullptr);
  EXPECT_EQ(json::get_string(*json::get_object(nm, "usage"), "memory"), "1024Ki");
  json::object list = metrics_list_json("NodeMetricsList", json::array{nm});
  EXPECT_EQ(json::get_array(list, "items")->size(), 1u);
}

TEST(MetricsDiscovery, GroupIsServedReadOnlyAndNotStored) {
  json::object g = api_group("metrics.k8s.io");
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(json::get_string(*json::get_object(g, "preferredVersion"), "groupVersion"), "metrics.k8s.io/v1beta1");
  const ResourceInfo* pods = find_resource("metrics.k8s.io", "v1beta1", "pods");
  ASSERT_NE(pods, nullptr);
  EXPECT_TRUE(pods->namespaced);
  EXPECT_EQ(find_kind("metrics.k8s.io/v1beta1", "PodMetrics"), nullptr);  // never stored or created
  EXPECT_TRUE(pods->has_verb("list"));
  EXPECT_FALSE(pods->has_verb("create"));
  const ResourceInfo* nodes = find_resource("metrics.k8s.io", "v1beta1", "nodes");
  ASSERT_NE(nodes, nullptr);
  EXPECT_FALSE(nodes->namespaced);
  EXPECT_EQ(nodes->kind, "NodeMetrics");
  // A stored key never maps to the metrics resources.
  auto parts = parse_key("/registry/pods/default/web");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->resource->group, "");
}

}  // namespace
}  // namespace kernlet::apiserver::metrics
