#include "control/scheduler/volume_binding.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "api/object.h"
#include "control/scheduler/scheduler_algorithm.h"

namespace kernlet::scheduler {
namespace {

json::object obj(const std::string& text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v->as_object();
}

// Claims, volumes and classes by name, served through a VolumeLookup.
struct World {
  std::map<std::string, json::object> claims, volumes, classes;

  VolumeLookup lookup() const {
    VolumeLookup l;
    l.claim = [this](std::string_view ns, std::string_view name) -> const json::object* {
      auto it = claims.find(std::string(ns) + "/" + std::string(name));
      return it == claims.end() ? nullptr : &it->second;
    };
    l.volume = [this](std::string_view name) -> const json::object* {
      auto it = volumes.find(std::string(name));
      return it == volumes.end() ? nullptr : &it->second;
    };
    l.storage_class = [this](std::string_view name) -> const json::object* {
      auto it = classes.find(std::string(name));
      return it == classes.end() ? nullptr : &it->second;
    };
    for (const auto& [_, v] : volumes) l.volumes.push_back(&v);
    return l;
  }
};

json::object pod_with(const std::string& claim) {
  return obj(R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"x"}],)"
             R"("volumes":[{"name":"d","persistentVolumeClaim":{"claimName":")" + claim + R"("}}]}})");
}

json::object claim(const std::string& name, const std::string& extra_spec = "", const std::string& meta = "") {
  return obj(R"({"metadata":{"name":")" + name + R"(","namespace":"ns","uid":"u-)" + name + R"(")" + meta +
             R"(},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}})" + extra_spec + "}}");
}

const std::string kBound = R"(,"annotations":{"pv.kubernetes.io/bind-completed":"yes"})";
const std::string kOnN1 =
    R"(,"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})";

json::object volume(const std::string& name, const std::string& extra_spec = "", const std::string& phase = "Available") {
  return obj(R"({"metadata":{"name":")" + name + R"("},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],)"
             R"("hostPath":{"path":"/x"})" + extra_spec + R"(},"status":{"phase":")" + phase + R"("}})");
}

NodeInfo node(const std::string& name, const std::string& zone = "a") {
  NodeInfo n;
  n.name = name;
  n.labels = obj(R"({"kubernetes.io/hostname":")" + name + R"(","topology.kernlet.io/zone":")" + zone + R"("})");
  n.allocatable.pods = 110;
  n.allocatable.milli_cpu = 4000;
  n.allocatable.memory = int64_t{8} << 30;
  return n;
}

std::string message_of(const std::variant<PodVolumes, std::string>& r) {
  const auto* s = std::get_if<std::string>(&r);
  return s == nullptr ? "<schedulable>" : *s;
}

TEST(VolumeBinding, MissingDeletedAndUnboundImmediateClaims) {
  World w;
  EXPECT_EQ(message_of(pod_volumes(pod_with("nope"), w.lookup())), "persistentvolumeclaim \"nope\" not found");
  w.claims["ns/gone"] = claim("gone", "", R"(,"deletionTimestamp":"2026-11-27T07:00:00Z")");
  EXPECT_EQ(message_of(pod_volumes(pod_with("gone"), w.lookup())), "persistentvolumeclaim \"gone\" is being deleted");
  w.claims["ns/c"] = claim("c");
  EXPECT_EQ(message_of(pod_volumes(pod_with("c"), w.lookup())), "pod has unbound immediate PersistentVolumeClaims");
  // Pre-bound by its author but not bound yet counts as unbound.
  w.claims["ns/pre"] = claim("pre", R"(,"volumeName":"v")");
  EXPECT_EQ(message_of(pod_volumes(pod_with("pre"), w.lookup())), "pod has unbound immediate PersistentVolumeClaims");
  // No claims at all: nothing asked.
  auto plain = obj(R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"x"}]}})");
  auto r = pod_volumes(plain, w.lookup());
  ASSERT_TRUE(std::holds_alternative<PodVolumes>(r));
  EXPECT_TRUE(std::get<PodVolumes>(r).requirements.empty());
}

TEST(VolumeBinding, BoundVolumeNodeAffinityRestrictsNodes) {
  World w;
  w.claims["ns/c"] = claim("c", R"(,"volumeName":"local")", kBound);
  w.volumes["local"] = volume("local", kOnN1, "Bound");
  auto r = pod_volumes(pod_with("c"), w.lookup());
  ASSERT_TRUE(std::holds_alternative<PodVolumes>(r)) << message_of(r);
  PodInfo p = *parse_pod(pod_with("c"));
  p.volume_requirements = std::get<PodVolumes>(r).requirements;
  EXPECT_TRUE(std::get<PodVolumes>(r).claims_to_select.empty());
  EXPECT_TRUE(filter_node(p, node("n1"), {}).empty());
  EXPECT_EQ(filter_node(p, node("n2"), {}), std::vector<std::string>{std::string(kReasonVolumeNodeConflict)});

  // Through the whole decision: the one node that fits, and upstream's message when none does.
  ClusterState state;
  state.upsert_node(node("n2"));
  GenericScheduler sched(SchedulerOptions{.parallelism = 1, .seed = 1});
  auto none = sched.schedule(p, state);
  ASSERT_TRUE(std::holds_alternative<FitError>(none));
  EXPECT_EQ(std::get<FitError>(none).message(), "0/1 nodes are available: 1 node(s) had volume node affinity conflict.");
  state.upsert_node(node("n1"));
  auto d = sched.schedule(p, state);
  ASSERT_TRUE(std::holds_alternative<Decision>(d));
  EXPECT_EQ(std::get<Decision>(d).node, "n1");

  // The bound volume vanished.
  w.volumes.clear();
  EXPECT_EQ(message_of(pod_volumes(pod_with("c"), w.lookup())),
            "persistentvolumeclaim \"c\" is bound to persistentvolume \"local\", which is not found");
}

TEST(VolumeBinding, WaitForFirstConsumerStaticVolumes) {
  World w;
  w.classes["local"] = obj(R"({"metadata":{"name":"local"},"provisioner":"kubernetes.io/no-provisioner","volumeBindingMode":"WaitForFirstConsumer"})");
  w.claims["ns/c"] = claim("c", R"(,"storageClassName":"local")");
  auto r = pod_volumes(pod_with("c"), w.lookup());
  ASSERT_TRUE(std::holds_alternative<PodVolumes>(r));
  PodInfo p = *parse_pod(pod_with("c"));
  p.volume_requirements = std::get<PodVolumes>(r).requirements;
  EXPECT_EQ(std::get<PodVolumes>(r).claims_to_select, std::vector<std::string>{"c"});
  // No volume and no provisioner: no node will do.
  EXPECT_EQ(filter_node(p, node("n1"), {}), std::vector<std::string>{std::string(kReasonVolumeBindConflict)});

  // A local volume on n1 of that class: only n1.
  w.volumes["pv1"] = volume("pv1", R"(,"storageClassName":"local")" + kOnN1);
  // One of another class, one too small, one bound elsewhere: not candidates.
  w.volumes["other"] = volume("other", R"(,"storageClassName":"fast")");
  w.volumes["taken"] = volume("taken", R"(,"storageClassName":"local","claimRef":{"namespace":"ns","name":"x","uid":"ux"})", "Bound");
  r = pod_volumes(pod_with("c"), w.lookup());
  ASSERT_TRUE(std::holds_alternative<PodVolumes>(r));
  p.volume_requirements = std::get<PodVolumes>(r).requirements;
  EXPECT_TRUE(filter_node(p, node("n1"), {}).empty());
  EXPECT_FALSE(filter_node(p, node("n2"), {}).empty());

  // Once a node is selected, the claim sticks to it.
  w.claims["ns/c"] = claim("c", R"(,"storageClassName":"local")",
                           R"(,"annotations":{"volume.kubernetes.io/selected-node":"n2"})");
  r = pod_volumes(pod_with("c"), w.lookup());
  p.volume_requirements = std::get<PodVolumes>(r).requirements;
  EXPECT_TRUE(filter_node(p, node("n2"), {}).empty());
  EXPECT_FALSE(filter_node(p, node("n1"), {}).empty());
}

TEST(VolumeBinding, WaitForFirstConsumerProvisioningHonoursAllowedTopologies) {
  World w;
  w.classes["csi"] = obj(R"({"metadata":{"name":"csi"},"provisioner":"local.csi.kernlet.io","volumeBindingMode":"WaitForFirstConsumer",)"
                         R"("allowedTopologies":[{"matchLabelExpressions":[{"key":"topology.kernlet.io/zone","values":["b","c"]}]}]})");
  w.claims["ns/c"] = claim("c", R"(,"storageClassName":"csi")");
  auto r = pod_volumes(pod_with("c"), w.lookup());
  ASSERT_TRUE(std::holds_alternative<PodVolumes>(r));
  PodInfo p = *parse_pod(pod_with("c"));
  p.volume_requirements = std::get<PodVolumes>(r).requirements;
  EXPECT_FALSE(filter_node(p, node("n1", "a"), {}).empty());
  EXPECT_TRUE(filter_node(p, node("n2", "b"), {}).empty());
  EXPECT_TRUE(filter_node(p, node("n3", "c"), {}).empty());

  // Without allowedTopologies every node can provision.
  w.classes["csi"] = obj(R"({"metadata":{"name":"csi"},"provisioner":"local.csi.kernlet.io","volumeBindingMode":"WaitForFirstConsumer"})");
  r = pod_volumes(pod_with("c"), w.lookup());
  EXPECT_TRUE(std::get<PodVolumes>(r).requirements.empty());
  EXPECT_EQ(std::get<PodVolumes>(r).claims_to_select, std::vector<std::string>{"c"});
}

}  // namespace
}  // namespace kernlet::scheduler
