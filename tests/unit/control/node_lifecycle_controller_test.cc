// The node lifecycle controller's decisions: when a node counts as dead, what its
// conditions and taints become, and what a pod tolerates.
#include "control/controllers/node_lifecycle_controller.h"

#include <gtest/gtest.h>

#include "api/time.h"

namespace kernlet::controllers::lifecycle {
namespace {

using namespace std::chrono_literals;

json::object obj(std::string_view text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return o.ok() ? *o : json::object{};
}

TEST(NodeHealth, SilenceIsMeasuredFromTheLastChangeByOurClock) {
  HealthTracker t;
  const Clock::time_point t0{};
  EXPECT_EQ(t.observe("a", "hb1", "r1", t0), t0);  // first sight counts as alive
  EXPECT_EQ(t.observe("a", "hb1", "r1", t0 + 30s), t0);
  // The lease renewed: alive again, whatever time the kubelet wrote.
  EXPECT_EQ(t.observe("a", "hb1", "r2", t0 + 35s), t0 + 35s);
  EXPECT_EQ(t.observe("a", "hb2", "r2", t0 + 50s), t0 + 50s);  // the heartbeat alone counts too
  EXPECT_EQ(t.observe("a", "hb2", "r2", t0 + 99s), t0 + 50s);
  t.forget("a");
  EXPECT_EQ(t.observe("a", "hb2", "r2", t0 + 100s), t0 + 100s);
}

TEST(NodeHealth, UnknownConditions) {
  json::object node = obj(R"({"metadata":{"name":"n","creationTimestamp":"2026-01-01T00:00:00Z"},
    "status":{"conditions":[
      {"type":"MemoryPressure","status":"False","lastHeartbeatTime":"2026-01-01T00:00:05Z"},
      {"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":"2026-01-01T00:00:05Z"}]}})");
  auto c = unknown_conditions(node, "2026-01-01T00:01:00Z");
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->size(), 2u);
  const json::object& ready = (*c)[1].as_object();
  EXPECT_EQ(json::get_string(ready, "status"), "Unknown");
  EXPECT_EQ(json::get_string(ready, "reason"), "NodeStatusUnknown");
  EXPECT_EQ(json::get_string(ready, "message"), "Kubelet stopped posting node status.");
  EXPECT_EQ(json::get_string(ready, "lastHeartbeatTime"), "2026-01-01T00:00:05Z");  // kept
  EXPECT_EQ(json::get_string(ready, "lastTransitionTime"), "2026-01-01T00:01:00Z");
  EXPECT_EQ(json::get_string((*c)[0].as_object(), "status"), "Unknown");

  // Once Unknown, nothing more to write.
  json::object marked = node;
  marked["status"] = json::object{{"conditions", *c}};
  EXPECT_FALSE(unknown_conditions(marked, "2026-01-01T00:02:00Z").has_value());

  // A node whose kubelet never posted a status.
  auto never = unknown_conditions(obj(R"({"metadata":{"name":"n","creationTimestamp":"2026-01-01T00:00:00Z"}})"),
                                  "2026-01-01T00:01:00Z");
  ASSERT_TRUE(never.has_value());
  ASSERT_EQ(never->size(), 1u);
  EXPECT_EQ(json::get_string((*never)[0].as_object(), "reason"), "NodeStatusNeverUpdated");
}

TEST(NodeTaints, ReadyStatusPicksTheTaint) {
  EXPECT_EQ(taint_for_ready("Unknown"), kUnreachableTaint);
  EXPECT_EQ(taint_for_ready("False"), kNotReadyTaint);
  EXPECT_EQ(taint_for_ready("True"), "");
  EXPECT_EQ(taint_for_ready(""), "");
}

TEST(NodeTaints, AddSwapAndRemove) {
  const json::object other = obj(R"({"key":"dedicated","value":"gpu","effect":"NoSchedule"})");
  json::array current{other};
  // Unreachable, no token: NoSchedule only.
  json::array a = reconcile_taints(&current, kUnreachableTaint, false, "T1");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].as_object(), other);
  EXPECT_EQ(json::get_string(a[1].as_object(), "effect"), "NoSchedule");
  EXPECT_FALSE(has_our_no_execute(&a));
  // With a token: NoExecute too, stamped.
  json::array b = reconcile_taints(&a, kUnreachableTaint, true, "T2");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_TRUE(has_our_no_execute(&b));
  EXPECT_EQ(json::get_string(b[2].as_object(), "timeAdded"), "T2");
  // Steady state: unchanged (timeAdded kept).
  EXPECT_EQ(reconcile_taints(&b, kUnreachableTaint, true, "T3"), b);
  // Ready=False now: swapped for not-ready without needing a token.
  json::array c = reconcile_taints(&b, kNotReadyTaint, false, "T4");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(json::get_string(c[1].as_object(), "key"), kNotReadyTaint);
  EXPECT_EQ(json::get_string(c[2].as_object(), "key"), kNotReadyTaint);
  EXPECT_EQ(json::get_string(c[2].as_object(), "timeAdded"), "T4");
  // Recovered: ours go, others stay.
  EXPECT_EQ(reconcile_taints(&c, "", false, "T5"), json::array{other});
  EXPECT_EQ(reconcile_taints(nullptr, "", true, "T5"), json::array{});
}

TEST(TaintEviction, DefaultTolerationsRunOutAndNoTolerationMeansNow) {
  const auto added = api::parse_rfc3339("2026-01-01T00:00:00Z");
  ASSERT_TRUE(added.ok());
  json::object node = obj(R"({"spec":{"taints":[
      {"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
      {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2026-01-01T00:00:00Z"}]}})");
  auto taints = no_execute_taints(node, {});
  ASSERT_EQ(taints.size(), 1u);
  EXPECT_EQ(taints[0].added, *added);

  // As the API server defaults them: 300 s for not-ready and unreachable.
  json::object defaulted = obj(R"({"spec":{"tolerations":[
      {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
      {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}})");
  EXPECT_EQ(eviction_deadline(taints, pod_tolerations(defaulted)), *added + 300s);
  json::object shortened = obj(R"({"spec":{"tolerations":[
      {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}]}})");
  EXPECT_EQ(eviction_deadline(taints, pod_tolerations(shortened)), *added + 2s);
  EXPECT_EQ(eviction_deadline(taints, pod_tolerations(obj(R"({"spec":{}})"))), *added);  // at once
  json::object forever = obj(R"({"spec":{"tolerations":[{"operator":"Exists"}]}})");
  EXPECT_FALSE(eviction_deadline(taints, pod_tolerations(forever)).has_value());

  // A NoExecute taint without timeAdded counts from the fallback.
  auto fb = no_execute_taints(obj(R"({"spec":{"taints":[{"key":"k","effect":"NoExecute"}]}})"), *added + 7s);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fb[0].added, *added + 7s);
}

}  // namespace
}  // namespace kernlet::controllers::lifecycle
