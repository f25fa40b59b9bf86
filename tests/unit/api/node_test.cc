#include "api/objects/node.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "api/objects/namespace.h"
#include "api/objects/pod.h"

namespace kernlet::api {
namespace {

json::object load(const std::string& name) {
  std::ifstream in(std::string(KERNLET_TESTDATA) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  auto o = decode_object(ss.str());
  EXPECT_TRUE(o.ok()) << o.error().message();
  return o.ok() ? *o : json::object{};
}

TEST(NodeView, ReadsTheTestdataNode) {
  json::object doc = load("node.json");
  NodeView node(doc);
  EXPECT_EQ(node.meta().name(), "node-3");
  EXPECT_EQ(node.meta().label("topology.kubernetes.io/zone"), "eu-west-1b");

  NodeSpecView spec = node.spec();
  EXPECT_EQ(spec.pod_cidr(), "10.244.3.0/24");
  EXPECT_EQ(spec.pod_cidrs(), (std::vector<std::string_view>{"10.244.3.0/24", "fd00:10:244:3::/64"}));
  EXPECT_EQ(spec.provider_id(), "aws:///eu-west-1b/i-0a1b2c3d4e5f60718");
  EXPECT_FALSE(spec.unschedulable());
  auto taints = spec.taints();
  ASSERT_EQ(taints.size(), 2u);
  EXPECT_EQ(taints[0].key(), "dedicated");
  EXPECT_EQ(taints[0].value(), "shop");
  EXPECT_EQ(taints[0].effect(), "NoSchedule");
  EXPECT_EQ(taints[0].time_added(), "");
  EXPECT_EQ(taints[1].effect(), "NoExecute");
  EXPECT_EQ(taints[1].time_added(), "2026-11-20T09:01:12Z");

  NodeStatusView st = node.status();
  EXPECT_EQ(st.capacity().get("cpu")->value().value(), 4);
  EXPECT_EQ(st.allocatable().get("cpu")->milli_value().value(), 3920);
  EXPECT_EQ(st.allocatable().get("memory")->value().value(), 15262892LL * 1024);
  EXPECT_EQ(st.allocatable().get("ephemeral-storage")->value().value(), 96625420948LL);
  EXPECT_EQ(st.allocatable().get("pods")->value().value(), 110);
  EXPECT_TRUE(st.allocatable().has("hugepages-2Mi"));
  EXPECT_TRUE(st.allocatable().get("hugepages-2Mi")->is_zero());
  EXPECT_FALSE(st.allocatable().has("nvidia.com/gpu"));
  EXPECT_EQ(st.capacity().to_list()->size(), 6u);

  auto conds = st.conditions();
  ASSERT_EQ(conds.size(), 4u);
  EXPECT_EQ(conds[0].type(), "MemoryPressure");
  EXPECT_FALSE(conds[0].is_true());
  EXPECT_EQ(conds[0].reason(), "KubeletHasSufficientMemory");
  EXPECT_EQ(conds[0].last_heartbeat_time(), "2026-11-20T08:59:40Z");
  ASSERT_TRUE(st.condition("Ready").has_value());
  EXPECT_EQ(st.condition("Ready")->message(), "kubelet is posting ready status");
  EXPECT_TRUE(node_is_ready(node));

  auto addrs = st.addresses();
  ASSERT_EQ(addrs.size(), 3u);
  EXPECT_EQ(addrs[1].type(), "InternalIP");
  EXPECT_EQ(addrs[1].address(), "2001:db8::13");
  EXPECT_EQ(st.address("InternalIP"), "192.0.2.13");  // the first of its type
  EXPECT_EQ(st.address("Hostname"), "node-3");
  EXPECT_EQ(st.address("ExternalIP"), std::nullopt);
  ASSERT_NE(st.node_info(), nullptr);
  EXPECT_EQ(json::get_string(*st.node_info(), "kubeletVersion"), "v1.31.0");
  ASSERT_NE(st.images(), nullptr);
  EXPECT_EQ(st.images()->size(), 1u);
}

TEST(NodeView, PodToleratesTheNodesTaints) {
  json::object node_doc = load("node.json");
  json::object pod_doc = load("pod.json");
  NodeView node(node_doc);
  auto tolerates = [&](const TaintView& t) {
    for (const TolerationView& tol : PodView(pod_doc).spec().tolerations()) {
      if (tol.tolerates(t.key(), t.value(), t.effect())) return true;
    }
    return false;
  };
  auto taints = node.spec().taints();
  EXPECT_FALSE(tolerates(taints[0]));  // dedicated=shop:NoSchedule is not tolerated
  EXPECT_TRUE(tolerates(taints[1]));   // unreachable:NoExecute is, for 300 s
}

TEST(NodeView, NotReadyAndEmptyNodes) {
  auto doc = json::parse_object(R"({"spec":{"unschedulable":true},
      "status":{"conditions":[{"type":"Ready","status":"Unknown"}]}})");
  ASSERT_TRUE(doc.ok());
  EXPECT_TRUE(NodeView(*doc).spec().unschedulable());
  EXPECT_FALSE(node_is_ready(NodeView(*doc)));
  json::object empty;
  NodeView n(empty);
  EXPECT_FALSE(node_is_ready(n));
  EXPECT_TRUE(n.status().allocatable().empty());
  EXPECT_TRUE(n.spec().taints().empty());
  EXPECT_EQ(n.status().node_info(), nullptr);
}

TEST(NamespaceView, PhaseAndFinalizers) {
  auto active = json::parse_object(R"({"kind":"Namespace","metadata":{"name":"shop"},
      "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})");
  ASSERT_TRUE(active.ok());
  NamespaceView ns(*active);
  EXPECT_EQ(ns.meta().name(), "shop");
  EXPECT_EQ(ns.phase(), "Active");
  EXPECT_FALSE(ns.terminating());
  EXPECT_EQ(ns.finalizers(), std::vector<std::string_view>{"kubernetes"});

  auto gone = json::parse_object(R"({"metadata":{"deletionTimestamp":"2026-11-20T09:00:00Z"},
      "status":{"phase":"Terminating"}})");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(NamespaceView(*gone).terminating());
  EXPECT_TRUE(NamespaceView(*gone).meta().being_deleted());

  json::object fresh;
  EXPECT_EQ(NamespaceView(fresh).phase(), "Active");  // Kubernetes defaults an unset phase
  EXPECT_TRUE(NamespaceView(fresh).finalizers().empty());
}

}  // namespace
}  // namespace kernlet::api
