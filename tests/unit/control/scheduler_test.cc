#include "control/scheduler/scheduler_algorithm.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace kernlet::scheduler {
namespace {

json::object obj(std::string_view text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v->as_object();
}

// A node with `cpu` and `memory` allocatable, optional labels/taints/unschedulable as JSON.
NodeInfo node(const std::string& name, const std::string& cpu, const std::string& memory,
              const std::string& extra_meta = "", const std::string& extra_spec = "", int pods = 110) {
  std::string text = R"({"metadata":{"name":")" + name + R"(")" + (extra_meta.empty() ? "" : "," + extra_meta) +
                     R"(},"spec":{)" + extra_spec + R"(},"status":{"allocatable":{"cpu":")" + cpu +
                     R"(","memory":")" + memory + R"(","pods":")" + std::to_string(pods) + R"("}}})";
  auto n = parse_node(obj(text));
  EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message());
  return *n;
}

// A pod requesting `cpu`/`memory` (empty: none), with optional extra spec members.
std::shared_ptr<PodInfo> pod(const std::string& name, const std::string& cpu, const std::string& memory,
                             const std::string& extra_spec = "", const std::string& extra_meta = "") {
  std::string requests;
  if (!cpu.empty()) requests += R"("cpu":")" + cpu + R"(")";
  if (!memory.empty()) requests += std::string(requests.empty() ? "" : ",") + R"("memory":")" + memory + R"(")";
  std::string text = R"({"metadata":{"name":")" + name + R"(","namespace":"default","uid":"uid-)" + name + R"(")" +
                     (extra_meta.empty() ? "" : "," + extra_meta) +
                     R"(},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{)" + requests +
                     R"(}}}])" + (extra_spec.empty() ? "" : "," + extra_spec) + "}}";
  auto p = parse_pod(obj(text));
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
  return std::make_shared<PodInfo>(*p);
}

// Schedules and, on success, assumes the pod on the chosen node (what the scheduler does).
std::string place(GenericScheduler& s, ClusterState& state, std::shared_ptr<PodInfo> p) {
  auto r = s.schedule(*p, state);
  if (auto* err = std::get_if<FitError>(&r)) return "error: " + err->message();
  p->node_name = std::get<Decision>(r).node;
  state.add_pod(p);
  return p->node_name;
}

std::string fit_error(GenericScheduler& s, const ClusterState& state, const PodInfo& p) {
  auto r = s.schedule(p, state);
  if (auto* err = std::get_if<FitError>(&r)) return err->message();
  return "scheduled to " + std::get<Decision>(r).node;
}

TEST(Scheduler, ResourcesFitAndTheMessageCountsReasonsPerNode) {
  ClusterState state;
  state.upsert_node(node("small-1", "1", "1Gi"));
  state.upsert_node(node("small-2", "1", "1Gi"));
  state.upsert_node(node("tainted", "8", "8Gi", "", R"("taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])"));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  EXPECT_EQ(fit_error(s, state, *pod("big", "2", "")),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.");
  EXPECT_EQ(fit_error(s, state, *pod("huge", "2", "2Gi")),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu, 2 "
            "Insufficient memory.");
  // A toleration opens the big node.
  EXPECT_EQ(fit_error(s, state, *pod("big", "2", "", R"("tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}])")),
            "scheduled to tainted");
}

TEST(Scheduler, EachDecisionSeesTheLastOne) {
  ClusterState state;
  state.upsert_node(node("a", "2", "4Gi"));
  state.upsert_node(node("b", "2", "4Gi"));
  GenericScheduler s({.parallelism = 2, .seed = 7});
  std::map<std::string, int> per_node;
  for (int i = 0; i < 4; ++i) ++per_node[place(s, state, pod("p" + std::to_string(i), "1", "100Mi"))];
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"a", 2}, {"b", 2}}));
  EXPECT_EQ(place(s, state, pod("p4", "1", "")), "error: 0/2 nodes are available: 2 Insufficient cpu.");
  // A pod going away frees its share.
  ASSERT_TRUE(state.remove_pod("default/p0"));
  EXPECT_NE(place(s, state, pod("p5", "1", "")).rfind("error", 0), 0u);
}

TEST(Scheduler, PodCountIsAResource) {
  ClusterState state;
  state.upsert_node(node("tiny", "4", "4Gi", "", "", 1));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  EXPECT_EQ(place(s, state, pod("one", "", "")), "tiny");
  EXPECT_EQ(place(s, state, pod("two", "", "")), "error: 0/1 nodes are available: 1 Too many pods.");
}

TEST(Scheduler, NodeSelectorAndEveryAffinityOperator) {
  ClusterState state;
  state.upsert_node(node("ssd-1", "4", "4Gi", R"("labels":{"disk":"ssd","cores":"16","zone":"a"})"));
  state.upsert_node(node("hdd-1", "4", "4Gi", R"("labels":{"disk":"hdd","cores":"4","zone":"b"})"));
  state.upsert_node(node("bare", "4", "4Gi"));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  auto with = [&](const std::string& spec) { return fit_error(s, state, *pod("x", "100m", "", spec)); };
  EXPECT_EQ(with(R"("nodeSelector":{"disk":"ssd"})"), "scheduled to ssd-1");
  EXPECT_EQ(with(R"("nodeSelector":{"disk":"nvme"})"),
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
  auto required = [&](const std::string& expr) {
    return with(R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[)" +
                expr + "]}}}");
  };
  EXPECT_EQ(required(R"({"matchExpressions":[{"key":"disk","operator":"In","values":["hdd","nvme"]}]})"), "scheduled to hdd-1");
  EXPECT_EQ(required(R"({"matchExpressions":[{"key":"cores","operator":"Gt","values":["8"]}]})"), "scheduled to ssd-1");
  EXPECT_EQ(required(R"({"matchExpressions":[{"key":"cores","operator":"Lt","values":["8"]}]})"), "scheduled to hdd-1");
  EXPECT_EQ(required(R"({"matchExpressions":[{"key":"disk","operator":"DoesNotExist"}]})"), "scheduled to bare");
  EXPECT_EQ(required(R"({"matchExpressions":[{"key":"disk","operator":"Exists"},{"key":"zone","operator":"NotIn","values":["a"]}]})"),
            "scheduled to hdd-1");
  EXPECT_EQ(required(R"({"matchFields":[{"key":"metadata.name","operator":"In","values":["bare"]}]})"), "scheduled to bare");
  // Terms are ORed; an empty term matches nothing.
  EXPECT_EQ(required(R"({}, {"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]})"), "scheduled to hdd-1");
  EXPECT_EQ(required(R"({})"), "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
}

TEST(Scheduler, UnschedulableNodesAndNodeName) {
  ClusterState state;
  state.upsert_node(node("cordoned", "4", "4Gi", "", R"("unschedulable":true)"));
  state.upsert_node(node("open", "4", "4Gi"));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  EXPECT_EQ(fit_error(s, state, *pod("x", "", "", R"("nodeName":"cordoned")")),
            "0/2 nodes are available: 1 node(s) didn't match the requested node name, 1 node(s) were unschedulable.");
  EXPECT_EQ(fit_error(s, state, *pod("x", "", "",
                                     R"("nodeName":"cordoned","tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}])")),
            "scheduled to cordoned");
}

TEST(Scheduler, HostPortsConflict) {
  ClusterState state;
  state.upsert_node(node("only", "4", "4Gi"));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  const std::string port80 = R"("containers":[{"name":"c","image":"x","ports":[{"containerPort":80,"hostPort":8080}]}])";
  auto web = pod("web", "", "");
  web->host_ports.push_back({"", "TCP", 8080});
  EXPECT_EQ(place(s, state, web), "only");
  auto again = pod("web2", "", "");
  again->host_ports.push_back({"127.0.0.1", "TCP", 8080});
  EXPECT_EQ(place(s, state, again), "error: 0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.");
  auto udp = pod("dns", "", "");
  udp->host_ports.push_back({"", "UDP", 8080});
  EXPECT_EQ(place(s, state, udp), "only");
}

TEST(Scheduler, RequiredAntiAffinityByHostnameBothWays) {
  ClusterState state;
  state.upsert_node(node("n1", "4", "4Gi", R"("labels":{"kubernetes.io/hostname":"n1"})"));
  state.upsert_node(node("n2", "4", "4Gi", R"("labels":{"kubernetes.io/hostname":"n2"})"));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  const std::string anti =
      R"("affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"kubernetes.io/hostname"}]}})";
  const std::string db = R"("labels":{"app":"db"})";
  const std::string first = place(s, state, pod("db-0", "", "", anti, db));
  const std::string second = place(s, state, pod("db-1", "", "", anti, db));
  EXPECT_NE(first, second);
  EXPECT_EQ(place(s, state, pod("db-2", "", "", anti, db)),
            "error: 0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.");
  // A pod without the rule is still kept off by the rule of the pods already there.
  EXPECT_EQ(place(s, state, pod("db-3", "", "", "", db)),
            "error: 0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.");
  // Another namespace is not covered by the default (the pod's own namespace).
  auto other = pod("other", "", "", anti, db);
  other->namespace_ = "elsewhere";
  other->required_anti_affinity[0].namespaces = {"elsewhere"};  // as parsing it there would give
  EXPECT_NE(place(s, state, other).rfind("error", 0), 0u);
}

TEST(Scheduler, ScoresSpreadReplicasAndPreferFreeNodes) {
  ClusterState state;
  state.upsert_node(node("a", "4", "8Gi"));
  state.upsert_node(node("b", "4", "8Gi"));
  state.upsert_node(node("c", "4", "8Gi"));
  GenericScheduler s({.parallelism = 2, .seed = 3});
  const std::string owned = R"("ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"rs-1","controller":true}])";
  std::map<std::string, int> per_node;
  for (int i = 0; i < 6; ++i) ++per_node[place(s, state, pod("r" + std::to_string(i), "100m", "64Mi", "", owned))];
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}));
  // Least allocated: a node with a heavy pod loses to the others.
  ClusterState busy;
  busy.upsert_node(node("full", "4", "8Gi"));
  busy.upsert_node(node("empty", "4", "8Gi"));
  auto hog = pod("hog", "3", "6Gi");
  hog->node_name = "full";
  busy.add_pod(hog);
  EXPECT_EQ(place(s, busy, pod("next", "100m", "64Mi")), "empty");
}

TEST(Scheduler, PreferredAffinityAndPreferNoScheduleTaints) {
  ClusterState state;
  state.upsert_node(node("plain", "4", "4Gi", R"("labels":{"zone":"a"})"));
  state.upsert_node(node("fast", "4", "4Gi", R"("labels":{"zone":"b","disk":"ssd"})"));
  GenericScheduler s({.parallelism = 1, .seed = 1});
  const std::string prefer =
      R"("affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":50,"preference":{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}}]}})";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(fit_error(s, state, *pod("x", "100m", "", prefer)), "scheduled to fast");
  ClusterState tainted;
  tainted.upsert_node(node("meh", "4", "4Gi", "", R"("taints":[{"key":"spot","value":"true","effect":"PreferNoSchedule"}])"));
  tainted.upsert_node(node("ok", "4", "4Gi"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(fit_error(s, tainted, *pod("x", "100m", "")), "scheduled to ok");
}

TEST(Scheduler, LargeClustersStopAfterEnoughFeasibleNodes) {
  EXPECT_EQ(GenericScheduler::feasible_nodes_to_find(50, 0), 50u);
  EXPECT_EQ(GenericScheduler::feasible_nodes_to_find(1000, 0), 420u);  // 50 - 1000/125 = 42 %
  EXPECT_EQ(GenericScheduler::feasible_nodes_to_find(5000, 0), 500u);  // 10 %
  EXPECT_EQ(GenericScheduler::feasible_nodes_to_find(100000, 0), 5000u);  // floor of 5 %
  EXPECT_EQ(GenericScheduler::feasible_nodes_to_find(5000, 100), 5000u);
  ClusterState state;
  for (int i = 0; i < 1000; ++i) state.upsert_node(node("n" + std::to_string(i), "4", "4Gi"));
  GenericScheduler s({.parallelism = 2, .seed = 1});
  auto r = s.schedule(*pod("x", "100m", ""), state);
  ASSERT_TRUE(std::holds_alternative<Decision>(r));
  EXPECT_GE(std::get<Decision>(r).feasible, 420u);
  EXPECT_LT(std::get<Decision>(r).evaluated, 1000u);
}

TEST(Scheduler, ParallelFilteringOnLargeClusters) {
  // 1,200 one-cpu nodes, every node considered: filtering and scoring run on the workers.
  ClusterState state;
  for (int i = 0; i < 1200; ++i) state.upsert_node(node("n" + std::to_string(i), "1", "4Gi"));
  GenericScheduler s({.parallelism = 2, .percentage_of_nodes_to_score = 100, .seed = 5});
  std::set<std::string> used;
  for (int i = 0; i < 60; ++i) {
    const std::string n = place(s, state, pod("p" + std::to_string(i), "1", ""));
    ASSERT_EQ(n.rfind("error", 0), std::string::npos) << n;
    EXPECT_TRUE(used.insert(n).second) << "two one-cpu pods on " << n;
  }
}

TEST(Scheduler, NoNodes) {
  ClusterState state;
  GenericScheduler s({.parallelism = 1, .seed = 1});
  EXPECT_EQ(fit_error(s, state, *pod("x", "", "")), "no nodes available to schedule pods");
}

TEST(Scheduler, MalformedInputIsNamed) {
  auto bad_op = parse_pod(obj(R"({"metadata":{"name":"x"},"spec":{"containers":[],"affinity":{"nodeAffinity":
      {"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"Near"}]}]}}}}})"));
  ASSERT_FALSE(bad_op.ok());
  EXPECT_NE(bad_op.error().message().find("nodeSelectorTerms[0].matchExpressions[0].operator"), std::string::npos);
  auto bad_cpu = parse_node(obj(R"({"metadata":{"name":"n"},"status":{"allocatable":{"cpu":"lots"}}})"));
  ASSERT_FALSE(bad_cpu.ok());
  EXPECT_NE(bad_cpu.error().message().find("node n"), std::string::npos);
}

}  // namespace
}  // namespace kernlet::scheduler
