// HpaSyncer over a fake HpaApi and a fake clock: scaling on cpu utilization and average
// memory, stabilization of scale-downs (the flag and spec.behavior), policies, min/max,
// missing metrics and unready pods, conditions, events and status.
#include "control/controllers/hpa_controller.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::controllers {
namespace {

using namespace std::chrono_literals;
using Clock = hpa::Clock;

json::object parse(const std::string& text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object{};
}

const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

class FakeApi final : public HpaApi {
 public:
  int32_t replicas = 1;
  bool scale_fails = false;
  bool metrics_fail = false;
  std::map<std::string, int64_t> cpu_milli;   // pod -> usage; absent = no metric
  std::map<std::string, int64_t> mem_bytes;
  std::vector<client::ObjectPtr> pod_list;
  std::vector<json::object> statuses;
  std::vector<std::string> events;  // "type reason: message"
  std::vector<int32_t> scaled_to;
  Clock::time_point sample_time = kT0;

  Result<json::object> get_scale(const ScaleTarget& t, const std::string& ns) override {
    if (scale_fails) return Error(ErrorCode::kNotFound, "deployments.apps \"" + t.name + "\" not found");
    EXPECT_EQ(t.resource, "deployments");
    EXPECT_EQ(ns, "default");
    return json::object{{"kind", "Scale"},
                        {"apiVersion", "autoscaling/v1"},
                        {"metadata", json::object{{"name", t.name}, {"namespace", ns}}},
                        {"spec", json::object{{"replicas", replicas}}},
                        {"status", json::object{{"replicas", replicas}, {"selector", "app=web"}}}};
  }
  Result<void> update_scale(const ScaleTarget&, const std::string&, const json::object& scale) override {
    replicas = static_cast<int32_t>(json::get_int_or(*json::get_object(scale, "spec"), "replicas", -1));
    scaled_to.push_back(replicas);
    return Ok();
  }
  std::vector<client::ObjectPtr> pods(const std::string&, const std::string& selector) override {
    EXPECT_EQ(selector, "app=web");
    return pod_list;
  }
  Result<std::vector<json::object>> pod_metrics(const std::string&, const std::string&) override {
    if (metrics_fail) return Error(ErrorCode::kUnavailable, "the metrics API is down");
    std::vector<json::object> out;
    for (const auto& p : pod_list) {
      const std::string name(api::Meta(*p).name());
      if (!cpu_milli.count(name)) continue;
      out.push_back(json::object{
          {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
          {"timestamp", api::format_rfc3339(sample_time)},
          {"window", "15s"},
          {"containers", json::array{json::object{
                             {"name", "app"},
                             {"usage", json::object{{"cpu", std::to_string(cpu_milli[name]) + "m"},
                                                    {"memory", std::to_string(mem_bytes[name])}}}}}}});
    }
    return out;
  }
  // A custom/external metrics adapter; nullopt = the API is not served (as in kernlet).
  std::optional<std::map<std::string, std::string>> custom_pods;  // pod -> value
  std::optional<std::string> object_value, external_total;
  std::string last_metric_selector_seen;
  Result<std::vector<json::object>> pods_metric(const std::string&, const std::string& selector, const std::string& metric,
                                                const json::object& metric_selector) override {
    EXPECT_EQ(selector, "app=web");
    last_metric_selector_seen = json::dump(json::value(metric_selector));
    if (!custom_pods) return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
    std::vector<json::object> out;
    for (const auto& [pod, v] : *custom_pods) {
      out.push_back(json::object{{"describedObject", json::object{{"kind", "Pod"}, {"name", pod}}},
                                 {"metric", json::object{{"name", metric}}},
                                 {"value", v}});
    }
    return out;
  }
  Result<json::object> object_metric(const std::string&, const CustomObject& o, const std::string&, const json::object&) override {
    EXPECT_EQ(o.kind, "Ingress");
    if (!object_value) return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
    return json::object{{"value", *object_value}};
  }
  Result<std::vector<json::object>> external_metric(const std::string&, const std::string&, const json::object&) override {
    if (!external_total) return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
    return std::vector<json::object>{json::object{{"value", *external_total}}};
  }
  Result<void> update_status(const json::object& hpa) override {
    statuses.push_back(*json::get_object(hpa, "status"));
    return Ok();
  }
  void event(const json::object&, std::string_view type, std::string_view reason, const std::string& message) override {
    events.push_back(std::string(type) + " " + std::string(reason) + ": " + message);
  }

  // `n` running, Ready pods started long ago, each with a 100m cpu request and `cpu` usage.
  void set_pods(int n, int64_t cpu) {
    pod_list.clear();
    cpu_milli.clear();
    for (int i = 0; i < n; ++i) add_pod("web-" + std::to_string(i), cpu, true, kT0 - 1h);
  }
  void add_pod(const std::string& name, std::optional<int64_t> cpu, bool ready, Clock::time_point start,
               std::string phase = "Running") {
    const std::string st = api::format_rfc3339(start);
    pod_list.push_back(std::make_shared<const json::object>(parse(R"({
      "metadata": {"name": ")" + name + R"(", "namespace": "default", "labels": {"app": "web"}},
      "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
      "status": {"phase": ")" + phase + R"(", "startTime": ")" + st + R"(",
                 "conditions": [{"type": "Ready", "status": ")" + (ready ? "True" : "False") +
                                                                  R"(", "lastTransitionTime": ")" + st + R"("}]}})")));
    if (cpu) cpu_milli[name] = *cpu;
    mem_bytes[name] = 32 << 20;
  }
};

json::object hpa_object(const std::string& metrics = "", const std::string& behavior = "", int min = 1, int max = 3) {
  std::string spec = R"("scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
      "minReplicas": )" + std::to_string(min) + R"(, "maxReplicas": )" + std::to_string(max);
  spec += R"(, "metrics": )" + (metrics.empty() ? std::string(R"([{"type": "Resource", "resource": {"name": "cpu",
      "target": {"type": "Utilization", "averageUtilization": 50}}}])")
                                                 : metrics);
  if (!behavior.empty()) spec += R"(, "behavior": )" + behavior;
  return parse(R"({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
      "metadata": {"name": "web", "namespace": "default", "uid": "h1", "generation": 1}, "spec": {)" + spec + "}}");
}

std::string cond(const json::object& status, const std::string& type) {
  for (const json::value& c : *json::get_array(status, "conditions")) {
    if (json::get_string(c.as_object(), "type") == type)
      return std::string(json::get_string(c.as_object(), "status")) + "/" +
             std::string(json::get_string(c.as_object(), "reason"));
  }
  return "absent";
}

TEST(HpaSyncer, ScalesUpOnCpuUtilizationAndRecordsStatusAndEvent) {
  FakeApi api;
  api.set_pods(1, 100);  // 100 % of a 100m request against a 50 % target -> 2
  HpaOptions o;
  HpaSyncer s(api, o);
  json::object h = hpa_object();
  ASSERT_TRUE(s.sync(h, kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{2});
  ASSERT_EQ(api.events.size(), 1u);
  EXPECT_EQ(api.events[0],
            "Normal SuccessfulRescale: New size: 2; reason: cpu resource utilization (percentage of request) above target");
  const json::object& st = api.statuses.back();
  EXPECT_EQ(json::get_int_or(st, "desiredReplicas", -1), 2);
  EXPECT_EQ(json::get_int_or(st, "currentReplicas", -1), 1);
  EXPECT_EQ(json::get_string(st, "lastScaleTime"), api::format_rfc3339(kT0));
  const json::object& cm = (*json::get_array(st, "currentMetrics"))[0].as_object();
  EXPECT_EQ(json::get_string(cm, "type"), "Resource");
  const json::object& cur = *json::get_object(*json::get_object(cm, "resource"), "current");
  EXPECT_EQ(json::get_int_or(cur, "averageUtilization", -1), 100);
  EXPECT_EQ(json::get_string(cur, "averageValue"), "100m");
  EXPECT_EQ(cond(st, "AbleToScale"), "True/SucceededRescale");
  EXPECT_EQ(cond(st, "ScalingActive"), "True/ValidMetricFound");
  EXPECT_EQ(cond(st, "ScalingLimited"), "False/DesiredWithinRange");

  // Busier still with 2 pods: 2 x 150 % / 50 % = 6, capped at max 3.
  api.set_pods(2, 150);
  ASSERT_TRUE(s.sync(h, kT0 + 15s).ok());
  EXPECT_EQ(api.replicas, 3);
  EXPECT_EQ(cond(api.statuses.back(), "ScalingLimited"), "True/TooManyReplicas");
}

TEST(HpaSyncer, WithinToleranceNothingChanges) {
  FakeApi api;
  api.set_pods(2, 54);  // 108 % of target: inside the 10 % tolerance
  api.replicas = 2;
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object(), kT0).ok());
  EXPECT_TRUE(api.scaled_to.empty());
  EXPECT_TRUE(api.events.empty());
  EXPECT_EQ(cond(api.statuses.back(), "AbleToScale"), "True/ReadyForNewScale");
  // The same state again writes no status.
  const std::size_t writes = api.statuses.size();
  json::object h = hpa_object();
  h["status"] = api.statuses.back();
  ASSERT_TRUE(s.sync(h, kT0 + 15s).ok());
  EXPECT_EQ(api.statuses.size(), writes);
}

TEST(HpaSyncer, ScaleDownWaitsForTheStabilizationWindowFromTheFlag) {
  FakeApi api;
  api.replicas = 3;
  api.set_pods(3, 100);
  HpaOptions o;
  o.downscale_stabilization = 60s;
  HpaSyncer s(api, o);
  json::object h = hpa_object();
  ASSERT_TRUE(s.sync(h, kT0).ok());  // 3 x 200 % -> 12, max 3: stays
  EXPECT_TRUE(api.scaled_to.empty());
  api.set_pods(3, 0);  // load gone: the metric asks for 1
  ASSERT_TRUE(s.sync(h, kT0 + 15s).ok());
  EXPECT_TRUE(api.scaled_to.empty()) << "scaled down inside the window";
  EXPECT_EQ(cond(api.statuses.back(), "AbleToScale"), "True/ScaleDownStabilized");
  ASSERT_TRUE(s.sync(h, kT0 + 45s).ok());
  EXPECT_TRUE(api.scaled_to.empty());
  ASSERT_TRUE(s.sync(h, kT0 + 61s).ok());  // the recommendation of 3 at t0 left the window
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{1});
  EXPECT_EQ(api.events.back(), "Normal SuccessfulRescale: New size: 1; reason: All metrics below target");
  EXPECT_EQ(cond(api.statuses.back(), "ScalingLimited"), "True/TooFewReplicas");  // the metric asked for 0
}

TEST(HpaSyncer, BehaviorOverridesWindowAndRateLimitsScaleDown) {
  FakeApi api;
  api.replicas = 3;
  api.set_pods(3, 0);
  HpaOptions o;  // 300 s by flag, but the HPA says 0 s and 1 pod per 60 s
  HpaSyncer s(api, o);
  json::object h = hpa_object("", R"({"scaleDown": {"stabilizationWindowSeconds": 0,
      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}})");
  ASSERT_TRUE(s.sync(h, kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{2});
  EXPECT_EQ(cond(api.statuses.back(), "ScalingLimited"), "True/ScaleDownLimit");
  api.set_pods(2, 0);
  ASSERT_TRUE(s.sync(h, kT0 + 30s).ok());  // still within the period of the last step
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{2});
  ASSERT_TRUE(s.sync(h, kT0 + 61s).ok());
  EXPECT_EQ(api.scaled_to, (std::vector<int32_t>{2, 1}));
}

TEST(HpaSyncer, MissingMetricsAndUnreadyPodsAreHandledAsUpstream) {
  FakeApi api;
  api.replicas = 3;
  api.pod_list.clear();
  api.add_pod("a", 100, true, kT0 - 1h);
  api.add_pod("b", std::nullopt, true, kT0 - 1h);     // no metric: 0 % when scaling up
  api.add_pod("c", 0, false, kT0 - 10s, "Pending");  // pending: unready, 0 on scale-up
  HpaSyncer s(api, {});
  // Ready: a at 100 % vs 50 % -> up. Recomputed with b=0, c=0: 100/3 = 33 % < 50 %: the
  // direction reverses, so nothing changes.
  ASSERT_TRUE(s.sync(hpa_object(), kT0).ok());
  EXPECT_TRUE(api.scaled_to.empty());
  EXPECT_EQ(json::get_int_or(api.statuses.back(), "desiredReplicas", -1), 3);
}

TEST(HpaSyncer, NoMetricsMeansScalingInactiveWithAWarning) {
  FakeApi api;
  api.set_pods(1, 100);
  api.metrics_fail = true;
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object(), kT0).ok());
  EXPECT_TRUE(api.scaled_to.empty());
  EXPECT_EQ(cond(api.statuses.back(), "ScalingActive"), "False/FailedGetResourceMetric");
  ASSERT_FALSE(api.events.empty());
  EXPECT_NE(api.events.back().find("Warning FailedGetResourceMetric"), std::string::npos);
  EXPECT_NE(api.events.back().find("the metrics API is down"), std::string::npos);
}

TEST(HpaSyncer, MissingTargetIsAbleToScaleFalse) {
  FakeApi api;
  api.scale_fails = true;
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object(), kT0).ok());
  EXPECT_EQ(cond(api.statuses.back(), "AbleToScale"), "False/FailedGetScale");
  EXPECT_NE(api.events.back().find("not found"), std::string::npos);
}

TEST(HpaSyncer, BelowMinimumAndZeroReplicas) {
  FakeApi api;
  api.set_pods(1, 10);
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object("", "", 2, 5), kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{2});
  EXPECT_EQ(api.events.back(), "Normal SuccessfulRescale: New size: 2; reason: Current number of replicas below Spec.MinReplicas");
  api.replicas = 0;  // scaled to zero by hand: autoscaling is off
  ASSERT_TRUE(s.sync(hpa_object("", "", 2, 5), kT0 + 15s).ok());
  EXPECT_EQ(api.replicas, 0);
  EXPECT_EQ(cond(api.statuses.back(), "ScalingActive"), "False/ScalingDisabled");
}

TEST(HpaSyncer, AverageValueOnMemoryAndUnsupportedMetric) {
  FakeApi api;
  api.set_pods(2, 10);  // 32 MiB each against 16 MiB average -> 4, max 5
  api.replicas = 2;
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object(R"([{"type": "Resource", "resource": {"name": "memory",
      "target": {"type": "AverageValue", "averageValue": "16Mi"}}}])", "", 1, 5), kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{4});
  const json::object& cm = (*json::get_array(api.statuses.back(), "currentMetrics"))[0].as_object();
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(cm, "resource"), "current"), "averageValue"), "33554432");

  ASSERT_TRUE(s.sync(hpa_object(R"([{"type": "External", "external": {}}])", "", 1, 5), kT0 + 15s).ok());
  EXPECT_EQ(cond(api.statuses.back(), "ScalingActive"), "False/InvalidMetricSourceType");
}

TEST(HpaSyncer, MissingRequestsMakeUtilizationInvalid) {
  FakeApi api;
  api.pod_list = {std::make_shared<const json::object>(parse(R"({
      "metadata": {"name": "x", "namespace": "default", "labels": {"app": "web"}},
      "spec": {"containers": [{"name": "app"}]},
      "status": {"phase": "Running", "startTime": "2020-01-01T00:00:00Z",
                 "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}})"))};
  api.cpu_milli["x"] = 50;
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object(), kT0).ok());
  EXPECT_EQ(cond(api.statuses.back(), "ScalingActive"), "False/FailedGetResourceMetric");
  EXPECT_NE(api.events.back().find("missing request"), std::string::npos);
}

TEST(HpaParse, ScaleTargetsAndBehavior) {
  auto d = scale_target(parse(R"({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->group, "apps");
  EXPECT_EQ(d->resource, "deployments");
  auto rs = scale_target(parse(R"({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x"})"));
  EXPECT_EQ(rs->resource, "replicasets");
  auto crd = scale_target(parse(R"({"apiVersion": "example.com/v1", "kind": "Widget", "name": "w"})"));
  EXPECT_EQ(crd->resource, "widgets");
  EXPECT_FALSE(scale_target(parse(R"({"apiVersion": "apps/v1", "name": "x"})")).ok());
  EXPECT_FALSE(scale_target(parse(R"({"apiVersion": "a/b/c", "kind": "K", "name": "x"})")).ok());

  auto b = parse_behavior(parse(R"({})"), 42s);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scale_down.stabilization_window, 42s);
  EXPECT_EQ(b->scale_up.policies.size(), 2u);
  auto bad = parse_behavior(parse(R"({"behavior": {"scaleUp": {"selectPolicy": "Sometimes"}}})"), 300s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("spec.behavior.scaleUp.selectPolicy"), std::string::npos);
  auto dis = parse_behavior(parse(R"({"behavior": {"scaleDown": {"selectPolicy": "Disabled"}}})"), 300s);
  ASSERT_TRUE(dis.ok());
  EXPECT_EQ(dis->scale_down.select, hpa::SelectPolicy::kDisabled);
}

}  // namespace
}  // namespace kernlet::controllers

namespace kernlet::controllers {
namespace {

const std::string kPodsMetric = R"({"type": "Pods", "pods": {"metric": {"name": "rps", "selector": {"matchLabels": {"verb": "GET"}}},
    "target": {"type": "AverageValue", "averageValue": "10"}}})";
const std::string kObjectValue = R"({"type": "Object", "object": {"metric": {"name": "hits"},
    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
    "target": {"type": "Value", "value": "100"}}})";
const std::string kObjectAverage = R"({"type": "Object", "object": {"metric": {"name": "hits"},
    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
    "target": {"type": "AverageValue", "averageValue": "50"}}})";
const std::string kExternalValue = R"({"type": "External", "external": {"metric": {"name": "queue_depth"},
    "target": {"type": "Value", "value": "30"}}})";
const std::string kExternalAverage = R"({"type": "External", "external": {"metric": {"name": "queue_depth"},
    "target": {"type": "AverageValue", "averageValue": "30"}}})";
const std::string kCpu50 = R"({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}})";

TEST(HpaSyncer, PodsMetricAverageValueFromAnAdapter) {
  FakeApi api;
  api.set_pods(2, 50);
  api.replicas = 2;
  api.custom_pods = std::map<std::string, std::string>{{"web-0", "30"}, {"web-1", "20"}};  // avg 25 vs 10 -> 5
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object("[" + kPodsMetric + "]", "", 1, 10), kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{5});
  EXPECT_EQ(api.last_metric_selector_seen, R"({"matchLabels":{"verb":"GET"}})");
  const json::object& st = api.statuses.back();
  const json::object& cm = (*json::get_array(st, "currentMetrics"))[0].as_object();
  EXPECT_EQ(json::get_string(cm, "type"), "Pods");
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(cm, "pods"), "current"), "averageValue"), "25");
  EXPECT_EQ(cond(st, "ScalingActive"), "True/ValidMetricFound");
}

TEST(HpaSyncer, ObjectMetricValueAndAverageValue) {
  FakeApi api;
  api.set_pods(2, 50);
  api.replicas = 2;
  api.object_value = "300";  // Value: 300/100 = 3 x 2 ready pods -> 6
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object("[" + kObjectValue + "]", "", 1, 10), kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{6});
  const json::object& cm = (*json::get_array(api.statuses.back(), "currentMetrics"))[0].as_object();
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(cm, "object"), "current"), "value"), "300");

  FakeApi avg;
  avg.set_pods(2, 50);
  avg.replicas = 2;
  avg.object_value = "210";  // AverageValue: 210 / 50 per pod -> ceil(4.2) = 5; current 105 per replica
  HpaSyncer s2(avg, {});
  ASSERT_TRUE(s2.sync(hpa_object("[" + kObjectAverage + "]", "", 1, 10), kT0).ok());
  EXPECT_EQ(avg.scaled_to, std::vector<int32_t>{5});
  const json::object& cm2 = (*json::get_array(avg.statuses.back(), "currentMetrics"))[0].as_object();
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(cm2, "object"), "current"), "averageValue"), "105");
}

TEST(HpaSyncer, ExternalMetricValueAndAverageValue) {
  FakeApi api;
  api.set_pods(2, 50);
  api.replicas = 2;
  api.external_total = "15";  // Value: 15/30 = 0.5 x 2 -> 1
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object("[" + kExternalValue + "]", R"({"scaleDown": {"stabilizationWindowSeconds": 0}})", 1, 10), kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{1});
  FakeApi avg;
  avg.set_pods(2, 50);
  avg.replicas = 2;
  avg.external_total = "62";  // 62 / (30 x 2) within tolerance: stays at 2
  HpaSyncer s2(avg, {});
  ASSERT_TRUE(s2.sync(hpa_object("[" + kExternalAverage + "]", "", 1, 10), kT0).ok());
  EXPECT_TRUE(avg.scaled_to.empty());
  avg.external_total = "100";  // ceil(100 / 30) = 4
  ASSERT_TRUE(s2.sync(hpa_object("[" + kExternalAverage + "]", "", 1, 10), kT0 + 15s).ok());
  EXPECT_EQ(avg.scaled_to, std::vector<int32_t>{4});
}

TEST(HpaSyncer, NoAdapterFailsEachCustomMetricWithUpstreamsReason) {
  for (const auto& [metric, reason] : std::vector<std::pair<std::string, std::string>>{
           {kPodsMetric, "FailedGetPodsMetric"}, {kObjectValue, "FailedGetObjectMetric"}, {kExternalValue, "FailedGetExternalMetric"}}) {
    FakeApi api;
    api.set_pods(2, 50);
    api.replicas = 2;
    HpaSyncer s(api, {});
    ASSERT_TRUE(s.sync(hpa_object("[" + metric + "]", "", 1, 10), kT0).ok());
    EXPECT_TRUE(api.scaled_to.empty());
    const json::object& st = api.statuses.back();
    EXPECT_EQ(cond(st, "ScalingActive"), "False/" + reason);
    ASSERT_EQ(api.events.size(), 1u) << reason;
    EXPECT_EQ(api.events[0].rfind("Warning " + reason + ": unable to get ", 0), 0u) << api.events[0];
    EXPECT_NE(api.events[0].find("the server could not find the requested resource"), std::string::npos);
  }
}

TEST(HpaSyncer, ResourceMetricStillScalesUpWhenACustomMetricFails) {
  // Upstream: the highest proposal of the metrics that worked wins unless it would scale
  // down (the failed one might have said more).
  FakeApi api;
  api.set_pods(2, 100);  // cpu 200 % of target -> 4
  api.replicas = 2;
  HpaSyncer s(api, {});
  ASSERT_TRUE(s.sync(hpa_object("[" + kCpu50 + "," + kPodsMetric + "]", "", 1, 10), kT0).ok());
  EXPECT_EQ(api.scaled_to, std::vector<int32_t>{4});
  EXPECT_EQ(cond(api.statuses.back(), "ScalingActive"), "True/ValidMetricFound");
  ASSERT_EQ(api.events.size(), 2u);
  EXPECT_EQ(api.events[0].rfind("Warning FailedGetPodsMetric: ", 0), 0u) << api.events[0];
  EXPECT_EQ(api.events[1].rfind("Normal SuccessfulRescale: New size: 4", 0), 0u) << api.events[1];
  // Idle cpu would scale down: with a failed metric that is not allowed.
  api.set_pods(4, 5);
  api.events.clear();
  ASSERT_TRUE(s.sync(hpa_object("[" + kCpu50 + "," + kPodsMetric + "]", "", 1, 10), kT0 + 15s).ok());
  EXPECT_EQ(api.replicas, 4);
  EXPECT_EQ(cond(api.statuses.back(), "ScalingActive"), "False/FailedGetPodsMetric");
}

}  // namespace
}  // namespace kernlet::controllers
