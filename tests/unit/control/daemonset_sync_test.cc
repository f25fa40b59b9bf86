// The DaemonSet controller's decisions (daemonset_sync.h): eligibility, manage, rolling
// update with maxUnavailable and maxSurge, status.
#include "control/controllers/daemonset_sync.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::controllers::daemonset {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;
const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'800'000'000));

json::object make_ds(std::string_view spec_extra = "{}", std::string_view image = "agent:1") {
  json::object spec = *json::parse_object(spec_extra);
  spec["selector"] = json::object{{"matchLabels", json::object{{"app", "agent"}}}};
  json::object pod_spec = spec.contains("podSpec") ? spec["podSpec"].as_object() : json::object{};
  spec.erase("podSpec");
  pod_spec["containers"] = json::array{json::object{{"name", "a"}, {"image", image}}};
  spec["template"] = json::object{{"metadata", json::object{{"labels", json::object{{"app", "agent"}}}}}, {"spec", pod_spec}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"metadata", json::object{{"name", "agent"}, {"namespace", "kube-system"}, {"uid", "ds-uid"}, {"generation", 2}}},
          {"spec", std::move(spec)}};
}

client::ObjectPtr make_node(std::string name, std::string_view labels = "{}", std::string_view taints = "[]") {
  return std::make_shared<const json::object>(json::object{
      {"metadata", json::object{{"name", name}, {"labels", *json::parse_object(labels)}}},
      {"spec", json::object{{"taints", *json::parse(taints)}}},
      {"status", json::object{{"allocatable", json::object{{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}}}}}});
}

int serial = 0;
client::ObjectPtr make_pod(const json::object& ds, const std::string& node, bool ready = true, std::string_view phase = "Running",
                           std::optional<std::string> hash = std::nullopt) {
  json::object pod = pod_for_node(ds, node);
  api::MutableMeta m(pod);
  m.set_name("agent-" + std::to_string(++serial));
  m.set_uid("uid-" + std::to_string(serial));
  m.set_creation_timestamp(api::format_rfc3339(kNow - std::chrono::seconds(1000 - serial)));
  if (hash) m.set_label(kRevisionHash, *hash);
  pod["spec"].as_object()["nodeName"] = node;
  json::object status{{"phase", phase}};
  if (ready) {
    status["conditions"] = json::array{json::object{{"type", "Ready"}, {"status", "True"},
                                                    {"lastTransitionTime", api::format_rfc3339(kNow - 100s)}}};
  }
  pod["status"] = std::move(status);
  return std::make_shared<const json::object>(std::move(pod));
}

std::vector<std::string> names(const std::vector<client::ObjectPtr>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.emplace_back(api::Meta(*p).name());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DaemonSetSync, NodeEligibility) {
  auto ds = make_ds(R"({"podSpec":{"nodeSelector":{"disk":"ssd"}}})");
  EXPECT_TRUE(node_fit(ds, *make_node("a", R"({"disk":"ssd"})")).should_run);
  EXPECT_FALSE(node_fit(ds, *make_node("b", R"({"disk":"hdd"})")).should_continue);
  auto plain = make_ds();
  // An untolerated NoSchedule taint: no new pod, but one already there may stay.
  NodeFit f = node_fit(plain, *make_node("c", "{}", R"([{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])"));
  EXPECT_FALSE(f.should_run);
  EXPECT_TRUE(f.should_continue);
  f = node_fit(plain, *make_node("d", "{}", R"([{"key":"dedicated","value":"gpu","effect":"NoExecute"}])"));
  EXPECT_FALSE(f.should_continue);
  // The default daemon tolerations: unschedulable, not-ready, pressure taints.
  for (std::string_view t : {R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])",
                             R"([{"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}])",
                             R"([{"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}])",
                             R"([{"key":"node.kubernetes.io/memory-pressure","effect":"NoSchedule"}])"}) {
    EXPECT_TRUE(node_fit(plain, *make_node("e", "{}", t)).should_run) << t;
  }
  // network-unavailable only for hostNetwork pods.
  const std::string_view net = R"([{"key":"node.kubernetes.io/network-unavailable","effect":"NoSchedule"}])";
  EXPECT_FALSE(node_fit(plain, *make_node("f", "{}", net)).should_run);
  EXPECT_TRUE(node_fit(make_ds(R"({"podSpec":{"hostNetwork":true}})"), *make_node("f", "{}", net)).should_run);
  // Required node affinity from the template.
  auto aff = make_ds(R"({"podSpec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["z1"]}]}]}}}}})");
  EXPECT_TRUE(node_fit(aff, *make_node("g", R"({"zone":"z1"})")).should_run);
  EXPECT_FALSE(node_fit(aff, *make_node("h", R"({"zone":"z2"})")).should_run);
}

TEST(DaemonSetSync, PodForNodePinsTheNodeByAffinity) {
  auto ds = make_ds(R"({"podSpec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["z1"]}]}]}}}}})");
  json::object pod = pod_for_node(ds, "node-a");
  EXPECT_EQ(json::dump(*json::get_path(pod["spec"].as_object(), "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")),
            R"({"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-a"]}]}]})");
  EXPECT_FALSE(pod["spec"].as_object().contains("nodeName"));  // the scheduler binds it
  EXPECT_EQ(target_node(pod), "node-a");
  EXPECT_EQ(api::Meta(pod).label(kRevisionHash), current_hash(ds));
  EXPECT_EQ(api::Meta(pod).generate_name(), "agent-");
  EXPECT_EQ(json::get_array(pod["spec"].as_object(), "tolerations")->size(), 6u);
  EXPECT_EQ(api::Meta(pod).controller_ref()->kind, "DaemonSet");
}

TEST(DaemonSetSync, OnePodPerEligibleNode) {
  auto ds = make_ds(R"({"podSpec":{"nodeSelector":{"role":"worker"}}})");
  std::vector<client::ObjectPtr> nodes = {make_node("a", R"({"role":"worker"})"), make_node("b", R"({"role":"worker"})"),
                                          make_node("c", R"({"role":"master"})")};
  auto on_a = make_pod(ds, "a");
  auto dup = make_pod(ds, "a");
  auto on_c = make_pod(ds, "c");
  Plan p = plan_sync(ds, nodes, {on_a, dup, on_c}, kNow);
  EXPECT_EQ(p.create_on, (std::vector<std::string>{"b"}));
  EXPECT_EQ(names(p.to_delete), names({dup, on_c}));  // the newer duplicate and the misplaced one
  EXPECT_EQ(json::get_int_or(p.status, "desiredNumberScheduled", -1), 2);
  EXPECT_EQ(json::get_int_or(p.status, "currentNumberScheduled", -1), 1);
  EXPECT_EQ(json::get_int_or(p.status, "numberMisscheduled", -1), 1);
  EXPECT_EQ(json::get_int_or(p.status, "numberReady", -1), 1);
  EXPECT_EQ(json::get_int_or(p.status, "numberAvailable", -1), 1);
  EXPECT_EQ(json::get_int_or(p.status, "updatedNumberScheduled", -1), 1);
  EXPECT_EQ(json::get_int_or(p.status, "numberUnavailable", -1), 1);
  EXPECT_EQ(json::get_int_or(p.status, "observedGeneration", -1), 2);
}

TEST(DaemonSetSync, FailedPodIsReplaced) {
  auto ds = make_ds();
  auto failed = make_pod(ds, "a", false, "Failed");
  Plan p = plan_sync(ds, {make_node("a")}, {failed}, kNow);
  EXPECT_EQ(names(p.to_delete), names({failed}));
  EXPECT_TRUE(p.create_on.empty());  // not while it is still there
  json::object gone = *failed;
  api::MutableMeta(gone).set_deletion_timestamp(api::format_rfc3339(kNow));
  Plan q = plan_sync(ds, {make_node("a")}, {std::make_shared<const json::object>(gone)}, kNow);
  EXPECT_TRUE(q.create_on.empty());  // nor while it terminates
  Plan r = plan_sync(ds, {make_node("a")}, {}, kNow);
  EXPECT_EQ(r.create_on, (std::vector<std::string>{"a"}));
}

TEST(DaemonSetSync, RollingUpdateHonoursMaxUnavailable) {
  auto v1 = make_ds();
  auto v2 = make_ds(R"({"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1}}})", "agent:2");
  std::vector<client::ObjectPtr> nodes = {make_node("a"), make_node("b"), make_node("c")};
  std::vector<client::ObjectPtr> pods = {make_pod(v1, "a"), make_pod(v1, "b"), make_pod(v1, "c")};
  Plan p = plan_sync(v2, nodes, pods, kNow);
  EXPECT_EQ(p.to_delete.size(), 1u);  // one old pod at a time
  EXPECT_TRUE(p.create_on.empty());
  EXPECT_FALSE(p.status.contains("updatedNumberScheduled"));
  // While the replacement on "a" is not available yet, no other old pod goes.
  std::vector<client::ObjectPtr> mid = {make_pod(v2, "a", false), pods[1], pods[2]};
  Plan q = plan_sync(v2, nodes, mid, kNow);
  EXPECT_TRUE(q.to_delete.empty());
  EXPECT_EQ(json::get_int_or(q.status, "updatedNumberScheduled", 0), 1);
  // Once it is, the next one.
  mid[0] = make_pod(v2, "a", true);
  Plan r = plan_sync(v2, nodes, mid, kNow);
  EXPECT_EQ(r.to_delete.size(), 1u);
  // An old pod that is not available is replaced at once, outside the budget.
  std::vector<client::ObjectPtr> broken = {make_pod(v1, "a", false), make_pod(v1, "b", false), make_pod(v1, "c")};
  Plan s = plan_sync(v2, nodes, broken, kNow);
  EXPECT_EQ(names(s.to_delete), names({broken[0], broken[1]}));
}

TEST(DaemonSetSync, RollingUpdateWithSurge) {
  auto v1 = make_ds();
  auto v2 = make_ds(R"({"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}})", "agent:2");
  std::vector<client::ObjectPtr> nodes = {make_node("a"), make_node("b")};
  std::vector<client::ObjectPtr> pods = {make_pod(v1, "a"), make_pod(v1, "b")};
  Plan p = plan_sync(v2, nodes, pods, kNow);
  EXPECT_TRUE(p.to_delete.empty());
  EXPECT_EQ(p.create_on.size(), 1u);  // surge onto one node first
  // The new pod on "a" is available: the old one there goes, and "b" surges.
  std::vector<client::ObjectPtr> mid = {pods[0], make_pod(v2, "a"), pods[1]};
  Plan q = plan_sync(v2, nodes, mid, kNow);
  EXPECT_EQ(names(q.to_delete), names({pods[0]}));
  EXPECT_EQ(q.create_on, (std::vector<std::string>{"b"}));
}

TEST(DaemonSetSync, OnDeleteLeavesOldPods) {
  auto v1 = make_ds();
  auto v2 = make_ds(R"({"updateStrategy":{"type":"OnDelete"}})", "agent:2");
  Plan p = plan_sync(v2, {make_node("a")}, {make_pod(v1, "a")}, kNow);
  EXPECT_TRUE(p.to_delete.empty());
  EXPECT_TRUE(p.create_on.empty());
}

TEST(DaemonSetSync, PodsOnVanishedNodesGo) {
  auto ds = make_ds();
  auto orphan = make_pod(ds, "gone");
  Plan p = plan_sync(ds, {make_node("a")}, {orphan}, kNow);
  EXPECT_EQ(names(p.to_delete), names({orphan}));
  EXPECT_EQ(p.create_on, (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace kernlet::controllers::daemonset
