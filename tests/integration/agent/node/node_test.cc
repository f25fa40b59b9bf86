// agent/node against a real kernlet-control (started per test on a free loopback port,
// without scheduler and controllers): the Node registered and its status kept, the Lease
// renewed, Events aggregated, mirror pods created, recreated, replaced and deleted.
#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/node/event_recorder.h"
#include "agent/node/node_lease.h"
#include "agent/node/node_status.h"
#include "agent/node/static_pods.h"
#include "api/object.h"
#include "api/objects/node.h"
#include "api/yaml.h"
#include "tests/integration/client/control_plane.h"
#include "tests/unit/agent/node/fake_host.h"

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;
using client::ResourceRef;
using client::testing::ControlPlane;
using client::testing::eventually;

const std::string kNode = "kl-node-it";
const ResourceRef kNodes{"", "v1", "nodes"};
const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", "kube-node-lease"};

#define REQUIRE_SERVER() \
  if (ControlPlane::binary().empty()) GTEST_SKIP() << "kernlet-control not built (KERNLET_BIN or this build)"

class NodeAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SERVER();
    cp_ = std::make_unique<ControlPlane>();
    auto s = cp_->start();
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    auto c = cp_->client();
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    client_ = *c;
  }

  NodeOptions options() {
    NodeOptions o;
    o.node_name = kNode;
    o.node_ip = "192.0.2.10";
    o.root_dir = "/";
    o.labels["topology.kubernetes.io/zone"] = "z1";
    o.system_reserved["cpu"] = *Quantity::parse("100m");
    return o;
  }

  json::object get(const ResourceRef& ref) {
    auto r = client_->get(ref);
    EXPECT_TRUE(r.ok()) << ref.describe() << ": " << r.error().to_string();
    return r.ok() ? *r : json::object();
  }

  std::unique_ptr<ControlPlane> cp_;
  std::shared_ptr<client::RestClient> client_;
};

std::string cond_field(const json::object& node, std::string_view type, std::string_view field) {
  auto c = api::NodeView(node).status().condition(type);
  return c ? std::string(json::get_string(c->raw(), field)) : "<absent>";
}

TEST_F(NodeAgent, RegistersTheNodeWithTheKubeletsFields) {
  NodeStatusManager m(client_, options());
  ASSERT_TRUE(m.register_node().ok());
  auto posted = m.sync_status();
  ASSERT_TRUE(posted.ok()) << posted.error().to_string();
  EXPECT_TRUE(*posted);

  json::object node = get(kNodes.named(kNode));
  api::NodeView v(node);
  struct utsname u {};
  ::uname(&u);
  EXPECT_EQ(v.meta().label("kubernetes.io/hostname"), kNode);
  EXPECT_EQ(v.meta().label("kubernetes.io/os"), "linux");
  EXPECT_EQ(v.meta().label("kubernetes.io/arch"), go_arch(u.machine));
  EXPECT_EQ(v.meta().label("beta.kubernetes.io/arch"), go_arch(u.machine));
  EXPECT_EQ(v.meta().label("topology.kubernetes.io/zone"), "z1");
  EXPECT_EQ(v.meta().annotation("volumes.kubernetes.io/controller-managed-attach-detach"), "true");
  EXPECT_EQ(m.node_uid(), v.meta().uid());

  auto cap = v.status().capacity();
  auto alloc = v.status().allocatable();
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(cap.get("cpu")->to_string(), std::to_string(cpus));
  EXPECT_EQ(*alloc.get("cpu"), *Quantity::from_milli(cpus * 1000).sub(*Quantity::parse("100m")));
  EXPECT_EQ(cap.get("pods")->to_string(), "110");
  EXPECT_EQ(*cap.get("memory")->sub(*alloc.get("memory")), *Quantity::parse("100Mi"));
  EXPECT_TRUE(cap.has("ephemeral-storage"));
  EXPECT_LT(*alloc.get("ephemeral-storage"), *cap.get("ephemeral-storage"));

  EXPECT_EQ(v.status().address("InternalIP"), "192.0.2.10");
  EXPECT_EQ(v.status().address("Hostname"), kNode);
  EXPECT_EQ(v.status().addresses().size(), 2u);
  const json::object& info = *v.status().node_info();
  EXPECT_EQ(json::get_string(info, "kernelVersion"), u.release);
  EXPECT_EQ(json::get_string(info, "containerRuntimeVersion"), "kernlet://0.1.0");
  EXPECT_EQ(json::get_string(info, "kubeletVersion"), "v1.30.0-kernlet");
  EXPECT_EQ(json::get_string(info, "operatingSystem"), "linux");
  EXPECT_EQ(json::get_string(info, "architecture"), go_arch(u.machine));
  EXPECT_FALSE(json::get_string(info, "bootID").empty());
  EXPECT_FALSE(json::get_string(info, "osImage").empty());
  EXPECT_EQ(json::get_int(*json::get_object(*v.status().daemon_endpoints(), "kubeletEndpoint"), "Port"), 10250);

  EXPECT_EQ(cond_field(node, "Ready", "status"), "True");
  EXPECT_EQ(cond_field(node, "Ready", "reason"), "KubeletReady");
  EXPECT_EQ(cond_field(node, "MemoryPressure", "reason"), "KubeletHasSufficientMemory");
  EXPECT_EQ(cond_field(node, "DiskPressure", "reason"), "KubeletHasNoDiskPressure");
  EXPECT_EQ(cond_field(node, "PIDPressure", "reason"), "KubeletHasSufficientPID");
  EXPECT_TRUE(api::node_is_ready(v));
}

TEST_F(NodeAgent, PostsOnChangeAndAtTheReportInterval) {
  auto clock = std::make_shared<FakeWallClock>();
  clock->set(std::chrono::system_clock::now());
  NodeStatusManager m(client_, options(), nullptr, clock);
  ASSERT_TRUE(m.sync_status().ok());  // registers, then posts
  EXPECT_EQ(m.posts(), 1);
  std::string beat = cond_field(get(kNodes.named(kNode)), "Ready", "lastHeartbeatTime");
  std::string ready_since = cond_field(get(kNodes.named(kNode)), "Ready", "lastTransitionTime");

  // Nothing changed, 10 s later: no post.
  clock->advance(10s);
  auto r = m.sync_status();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(*r);

  // A readiness source goes bad: posted at once, with a transition.
  clock->advance(10s);
  m.set_readiness("network", "container runtime network not ready: NetworkReady=false");
  r = m.sync_status();
  ASSERT_TRUE(r.ok() && *r);
  json::object node = get(kNodes.named(kNode));
  EXPECT_EQ(cond_field(node, "Ready", "status"), "False");
  EXPECT_EQ(cond_field(node, "Ready", "reason"), "KubeletNotReady");
  EXPECT_EQ(cond_field(node, "Ready", "message"), "container runtime network not ready: NetworkReady=false");
  EXPECT_NE(cond_field(node, "Ready", "lastTransitionTime"), ready_since);
  std::string not_ready_since = cond_field(node, "Ready", "lastTransitionTime");
  // Pressure conditions did not change: their transition times stay.
  EXPECT_EQ(cond_field(node, "MemoryPressure", "lastTransitionTime"), ready_since);

  // Unchanged for the report interval: posted again, heartbeat only.
  clock->advance(30s);
  EXPECT_FALSE(*m.sync_status());
  clock->advance(31s);
  r = m.sync_status();
  ASSERT_TRUE(r.ok() && *r);
  node = get(kNodes.named(kNode));
  EXPECT_EQ(cond_field(node, "Ready", "lastTransitionTime"), not_ready_since);
  EXPECT_NE(cond_field(node, "Ready", "lastHeartbeatTime"), beat);
  EXPECT_EQ(cond_field(node, "Ready", "lastHeartbeatTime"), api::format_rfc3339(clock->now()));
  EXPECT_EQ(m.posts(), 3);

  // Someone else's condition survives our posts (conditions merge by type).
  auto p = client_->patch(kNodes.named(kNode).sub("status"), client::PatchType::kStrategicMerge,
                          json::parse(R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False",
                                          "reason":"RouteCreated"}]}})")
                              .value());
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  m.set_readiness("network", std::nullopt);
  ASSERT_TRUE(*m.sync_status());
  node = get(kNodes.named(kNode));
  EXPECT_EQ(cond_field(node, "Ready", "status"), "True");
  EXPECT_EQ(cond_field(node, "NetworkUnavailable", "reason"), "RouteCreated");
}

// Pressure from a fake machine: posted at once, and held for the transition period after
// the signal recovers, as the kubelet's eviction manager holds it.
TEST_F(NodeAgent, MemoryPressureHeldForTheTransitionPeriod) {
  auto host = std::make_shared<testing::FakeHostInfo>();
  auto clock = std::make_shared<FakeWallClock>();
  clock->set(std::chrono::system_clock::now());
  NodeStatusManager m(client_, options(), host, clock);
  ASSERT_TRUE(m.sync_status().ok());
  json::object node = get(kNodes.named(kNode));
  EXPECT_EQ(cond_field(node, "MemoryPressure", "status"), "False");
  EXPECT_EQ(api::NodeView(node).status().capacity().get("memory")->to_string(), "8Gi");
  EXPECT_EQ(api::NodeView(node).status().capacity().get("cpu")->to_string(), "4");

  host->files["/proc/meminfo"] = "MemTotal: 8388608 kB\nMemAvailable: 51200 kB\n";  // 50Mi < 100Mi
  clock->advance(10s);
  auto r = m.sync_status();
  ASSERT_TRUE(r.ok() && *r);
  node = get(kNodes.named(kNode));
  EXPECT_EQ(cond_field(node, "MemoryPressure", "status"), "True");
  EXPECT_EQ(cond_field(node, "MemoryPressure", "reason"), "KubeletHasInsufficientMemory");
  EXPECT_EQ(cond_field(node, "MemoryPressure", "lastTransitionTime"), api::format_rfc3339(clock->now()));
  EXPECT_EQ(cond_field(node, "DiskPressure", "status"), "False");

  host->files["/proc/meminfo"] = "MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\n";
  clock->advance(4min);
  ASSERT_TRUE(m.sync_status().ok());
  EXPECT_EQ(cond_field(get(kNodes.named(kNode)), "MemoryPressure", "status"), "True");
  clock->advance(61s);
  ASSERT_TRUE(m.sync_status().ok());
  node = get(kNodes.named(kNode));
  EXPECT_EQ(cond_field(node, "MemoryPressure", "status"), "False");
  EXPECT_EQ(cond_field(node, "MemoryPressure", "reason"), "KubeletHasSufficientMemory");

  // Disk below 10% free.
  host->fs.available_bytes = 5ull << 30;  // of 100Gi
  clock->advance(10s);
  ASSERT_TRUE(*m.sync_status());
  EXPECT_EQ(cond_field(get(kNodes.named(kNode)), "DiskPressure", "reason"), "KubeletHasDiskPressure");
}

TEST_F(NodeAgent, ExistingNodeGetsOurLabelsAndDeletedNodeComesBack) {
  json::object mine{{"apiVersion", "v1"},
                    {"kind", "Node"},
                    {"metadata", json::object{{"name", kNode},
                                              {"labels", json::object{{"kubernetes.io/hostname", "wrong"},
                                                                      {"custom", "kept"}}}}}};
  ASSERT_TRUE(client_->create(kNodes, mine).ok());
  NodeStatusManager m(client_, options());
  auto r = m.sync_status();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  json::object node = get(kNodes.named(kNode));
  EXPECT_EQ(api::Meta(node).label("kubernetes.io/hostname"), kNode);
  EXPECT_EQ(api::Meta(node).label("custom"), "kept");
  EXPECT_EQ(api::Meta(node).label("kubernetes.io/os"), "linux");
  EXPECT_EQ(cond_field(node, "Ready", "status"), "True");

  client::DeleteOptions del;
  ASSERT_TRUE(client_->remove(kNodes.named(kNode), del).ok());
  EXPECT_FALSE(m.sync_status().ok());  // notices the deletion
  ASSERT_TRUE(m.sync_status().ok());   // and registers again
  EXPECT_EQ(cond_field(get(kNodes.named(kNode)), "Ready", "status"), "True");
}

TEST_F(NodeAgent, LeaseCreatedOwnedByTheNodeAndRenewed) {
  auto clock = std::make_shared<FakeWallClock>();
  clock->set(std::chrono::system_clock::now());
  NodeLeaseOptions lo;
  lo.node_name = kNode;
  lo.clock = clock;
  NodeLease lease(client_, lo);
  // Before the Node exists: the lease is written without an owner.
  auto r = lease.renew_once();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  json::object l = get(kLeases.named(kNode));
  EXPECT_EQ(json::get_string(*json::get_object(l, "spec"), "holderIdentity"), kNode);
  EXPECT_EQ(json::get_int(*json::get_object(l, "spec"), "leaseDurationSeconds"), 40);
  EXPECT_EQ(json::get_string(*json::get_object(l, "spec"), "renewTime"), api::format_rfc3339_micro(clock->now()));
  EXPECT_TRUE(api::Meta(l).owner_references().empty());

  NodeStatusManager m(client_, options());
  ASSERT_TRUE(m.register_node().ok());
  clock->advance(10s);
  ASSERT_TRUE(lease.renew_once().ok());
  l = get(kLeases.named(kNode));
  EXPECT_EQ(json::get_string(*json::get_object(l, "spec"), "renewTime"), api::format_rfc3339_micro(clock->now()));
  auto owners = api::Meta(l).owner_references();
  ASSERT_EQ(owners.size(), 1u);
  EXPECT_EQ(owners[0].kind, "Node");
  EXPECT_EQ(owners[0].name, kNode);
  EXPECT_EQ(owners[0].uid, m.node_uid());

  // Someone else wrote the lease: our cached copy conflicts once, then we read and win.
  json::object other = l;
  json::ensure_object(other, "spec")["holderIdentity"] = "someone";
  ASSERT_TRUE(client_->update(kLeases, other).ok());
  clock->advance(10s);
  EXPECT_FALSE(lease.renew_once().ok());
  EXPECT_EQ(lease.consecutive_failures(), 1);
  ASSERT_TRUE(lease.renew_once().ok());
  EXPECT_EQ(json::get_string(*json::get_object(get(kLeases.named(kNode)), "spec"), "holderIdentity"), kNode);
}

TEST_F(NodeAgent, ThreadsRenewTheLeaseAndSurviveAnOutage) {
  NodeOptions o = options();
  o.lease.renew_interval = 100ms;
  o.lease.retry_initial = 20ms;
  o.lease.retry_max = 100ms;
  o.check_interval = 100ms;
  NodeStatusManager m(client_, o);
  m.start();
  ASSERT_TRUE(eventually([&] { return m.registered() && m.lease().last_renew().has_value(); }));
  auto first = *m.lease().last_renew();
  ASSERT_TRUE(eventually([&] { return m.lease().last_renew() > first; }));
  EXPECT_TRUE(eventually([&] {
    auto l = client_->get(kLeases.named(kNode));
    return l.ok() && !api::Meta(*l).owner_references().empty();
  }));

  // The API goes away: renewals fail and are retried, nothing blocks.
  cp_->stop();
  ASSERT_TRUE(eventually([&] { return m.lease().consecutive_failures() >= 2; }));
  m.sync_now();
  // ... and comes back: renewals resume.
  ASSERT_TRUE(cp_->start().ok());
  auto before = std::chrono::system_clock::now();
  EXPECT_TRUE(eventually([&] { return m.lease().last_renew() > before; }));
  auto t0 = std::chrono::steady_clock::now();
  m.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(NodeAgent, EventsAggregateRepeats) {
  json::object pod{{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", json::object{{"name", "web"}, {"namespace", "default"}}},
                   {"spec", json::object{{"containers", json::array{json::object{{"name", "app"}, {"image", "i"}}}}}}};
  auto created = client_->create(ResourceRef("", "v1", "pods", "default"), pod);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  auto clock = std::make_shared<FakeWallClock>();
  clock->set(std::chrono::system_clock::now());
  EventRecorderOptions eo;
  eo.node_name = kNode;
  eo.clock = clock;
  EventRecorder rec(client_, eo);
  rec.start();
  for (int i = 0; i < 3; ++i) {
    rec.event(*created, container_field_path("app"), "Warning", "BackOff", "Back-off restarting failed container");
    clock->advance(5s);
  }
  rec.event(*created, container_field_path("app"), "Normal", "Pulled", "Successfully pulled image \"i\"");
  json::object node{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", json::object{{"name", kNode}, {"uid", kNode}}}};
  rec.event(node, "Normal", "NodeReady", "Node " + kNode + " status is now: NodeReady");
  ASSERT_TRUE(rec.flush(10s));

  auto list = client_->list(ResourceRef("", "v1", "events", "default"));
  ASSERT_TRUE(list.ok()) << list.error().to_string();
  std::map<std::string, json::object> by_reason;
  for (const auto& e : list->items) by_reason[std::string(json::get_string(e, "reason"))] = e;
  ASSERT_EQ(list->items.size(), 3u);
  const json::object& backoff = by_reason["BackOff"];
  EXPECT_EQ(json::get_int(backoff, "count"), 3);
  EXPECT_EQ(json::get_string(backoff, "type"), "Warning");
  EXPECT_EQ(json::get_string(backoff, "lastTimestamp"), api::format_rfc3339(clock->now() - 5s));
  EXPECT_EQ(json::get_string(backoff, "firstTimestamp"), api::format_rfc3339(clock->now() - 15s));
  const json::object& ref = *json::get_object(backoff, "involvedObject");
  EXPECT_EQ(json::get_string(ref, "kind"), "Pod");
  EXPECT_EQ(json::get_string(ref, "name"), "web");
  EXPECT_EQ(json::get_string(ref, "uid"), api::Meta(*created).uid());
  EXPECT_EQ(json::get_string(ref, "fieldPath"), "spec.containers{app}");
  EXPECT_EQ(json::get_string(*json::get_object(backoff, "source"), "component"), "kubelet");
  EXPECT_EQ(json::get_string(*json::get_object(backoff, "source"), "host"), kNode);
  EXPECT_EQ(json::get_int(by_reason["Pulled"], "count"), 1);
  EXPECT_EQ(json::get_string(*json::get_object(by_reason["NodeReady"], "involvedObject"), "kind"), "Node");
  auto c = rec.counters();
  EXPECT_EQ(c.created, 3u);
  EXPECT_EQ(c.patched, 2u);

  // After the window, the same event starts a new Event.
  clock->advance(11min);
  rec.event(*created, container_field_path("app"), "Warning", "BackOff", "Back-off restarting failed container");
  ASSERT_TRUE(rec.flush(10s));
  EXPECT_EQ(client_->list(ResourceRef("", "v1", "events", "default"))->items.size(), 4u);

  // A deleted Event that repeats is created again with its count.
  clock->advance(1s);
  list = client_->list(ResourceRef("", "v1", "events", "default"));
  for (const auto& e : list->items) ASSERT_TRUE(client_->remove(ResourceRef("", "v1", "events", "default", std::string(api::Meta(e).name()))).ok());
  rec.event(*created, container_field_path("app"), "Warning", "BackOff", "Back-off restarting failed container");
  ASSERT_TRUE(rec.flush(10s));
  list = client_->list(ResourceRef("", "v1", "events", "default"));
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(json::get_int(list->items[0], "count"), 2);
}

TEST_F(NodeAgent, EventQueueDropsWhenFullWithoutBlocking) {
  EventRecorderOptions eo;
  eo.node_name = kNode;
  eo.queue_capacity = 2;
  EventRecorder rec(client_, eo);  // not started: nothing drains the queue
  json::object node{{"metadata", json::object{{"name", kNode}}}};
  for (int i = 0; i < 5; ++i) rec.event(node, "Normal", "R", "m" + std::to_string(i));
  EXPECT_EQ(rec.counters().dropped, 3u);
  rec.start();
  ASSERT_TRUE(rec.flush(10s));
  EXPECT_EQ(rec.counters().created, 2u);
}

TEST_F(NodeAgent, MirrorPodsCreatedRecreatedReplacedAndDeleted) {
  NodeStatusManager m(client_, options());
  MirrorPodManager mirrors(client_, kNode);
  auto sp = static_pod_from_manifest(
      yaml::to_json("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\n"
                    "spec:\n  containers: [{name: etcd, image: etcd}]\n")
          .value(),
      "etcd.yaml", kNode, std::chrono::system_clock::now());
  ASSERT_TRUE(sp.ok());
  // No Node yet: mirror pods wait for it.
  auto early = mirrors.sync({*sp});
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(m.register_node().ok());

  const ResourceRef mirror_ref("", "v1", "pods", "kube-system", "etcd-" + kNode);
  auto r = mirrors.sync({*sp});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  json::object mirror = get(mirror_ref);
  api::Meta mm(mirror);
  EXPECT_EQ(mm.annotation(kConfigMirrorAnnotation), api::Meta(*sp).uid());
  EXPECT_EQ(mm.annotation(kConfigSourceAnnotation), "file");
  auto owner = mm.controller_ref();
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->kind, "Node");
  EXPECT_EQ(owner->uid, m.node_uid());
  EXPECT_EQ(json::get_string(*json::get_object(mirror, "spec"), "nodeName"), kNode);
  std::string first_uid(mm.uid());

  // In sync: nothing written.
  ASSERT_TRUE(mirrors.sync({*sp}).ok());
  EXPECT_EQ(mirrors.counters().created, 1);
  EXPECT_EQ(mirrors.counters().deleted, 0);

  // Deleted by a user: a pod on a node is only marked (grace period 30 s); the sync
  // deletes it for good and creates a fresh one.
  ASSERT_TRUE(client_->remove(mirror_ref).ok());
  EXPECT_TRUE(api::Meta(get(mirror_ref)).being_deleted());
  ASSERT_TRUE(mirrors.sync({*sp}).ok());
  std::string second_uid(api::Meta(get(mirror_ref)).uid());
  EXPECT_NE(second_uid, first_uid);

  // The manifest changed (new hash): the mirror is replaced.
  auto sp2 = static_pod_from_manifest(
      yaml::to_json("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\n"
                    "spec:\n  containers: [{name: etcd, image: etcd:2}]\n")
          .value(),
      "etcd.yaml", kNode, std::chrono::system_clock::now());
  ASSERT_TRUE(sp2.ok());
  r = mirrors.sync({*sp2});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  json::object replaced = get(mirror_ref);
  EXPECT_EQ(api::Meta(replaced).annotation(kConfigMirrorAnnotation), api::Meta(*sp2).uid());
  EXPECT_NE(api::Meta(replaced).uid(), second_uid);

  // A regular pod on the node is not ours to delete; the mirror of a removed manifest is.
  json::object plain{{"apiVersion", "v1"},
                     {"kind", "Pod"},
                     {"metadata", json::object{{"name", "plain"}, {"namespace", "default"}}},
                     {"spec", json::object{{"nodeName", kNode},
                                           {"containers", json::array{json::object{{"name", "c"}, {"image", "i"}}}}}}};
  ASSERT_TRUE(client_->create(ResourceRef("", "v1", "pods", "default"), plain).ok());
  ASSERT_TRUE(mirrors.sync({}).ok());
  auto gone = client_->get(mirror_ref);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(client_->get(ResourceRef("", "v1", "pods", "default", "plain")).ok());
  EXPECT_EQ(mirrors.counters().created, 3);
  // The terminating one, the stale one, the orphan.
  EXPECT_EQ(mirrors.counters().deleted, 3);
}

}  // namespace
}  // namespace kernlet::agent
