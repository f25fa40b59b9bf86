#include "csi/node/provisioner.h"

#include <gtest/gtest.h>

#include "api/object.h"

namespace kernlet::csi {
namespace {

constexpr std::string_view kDriver = "local.csi.kernlet.io";

json::object parse(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object();
}

json::object claim(std::string_view annotations, std::string_view extra_spec = "", std::string_view phase = "Pending") {
  return parse(std::string(R"({"metadata":{"name":"data","namespace":"default","uid":"c-1","resourceVersion":"7",
    "annotations":{)") + std::string(annotations) + R"(}},"spec":{"storageClassName":"local",
    "accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"32Mi"}})" + std::string(extra_spec) +
               R"(},"status":{"phase":")" + std::string(phase) + R"("}})");
}

const std::string kOurs = R"("volume.kubernetes.io/storage-provisioner":"local.csi.kernlet.io",
  "volume.kubernetes.io/selected-node":"n1")";

json::object storage_class(std::string_view mode = "WaitForFirstConsumer", std::string_view reclaim = "Delete") {
  return parse(std::string(R"({"metadata":{"name":"local"},"provisioner":"local.csi.kernlet.io",
    "parameters":{"size-hint":"x","csi.storage.k8s.io/fstype":"ext4"},"mountOptions":["noatime"],
    "volumeBindingMode":")") + std::string(mode) + R"(","reclaimPolicy":")" + std::string(reclaim) + R"("})");
}

const TopologySegments kTopo{{"topology.kernlet.io/node", "n1"}};

TEST(PlanProvision, WaitForFirstConsumerOnTheSelectedNode) {
  json::object sc = storage_class();
  auto plan = plan_provision(claim(kOurs), &sc, kDriver, "n1", kTopo, "");
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  ASSERT_TRUE(plan->has_value());
  const ProvisionPlan& p = **plan;
  EXPECT_EQ(p.pv_name, "pvc-c-1");
  EXPECT_EQ(p.params.name, "pvc-c-1");
  EXPECT_EQ(p.params.required_bytes, 32 << 20);
  EXPECT_EQ(p.params.parameters, (StringMap{{"size-hint", "x"}}));  // reserved keys stripped
  ASSERT_EQ(p.params.capabilities.size(), 1u);
  EXPECT_EQ(p.params.capabilities[0].access_mode, AccessMode::kSingleNodeWriter);
  EXPECT_EQ(p.params.capabilities[0].fs_type, "ext4");
  EXPECT_EQ(p.params.capabilities[0].mount_flags, (std::vector<std::string>{"noatime"}));
  ASSERT_EQ(p.params.requisite_topology.size(), 1u);
  EXPECT_EQ(p.params.requisite_topology[0], kTopo);
  EXPECT_EQ(p.fs_type, "ext4");
}

TEST(PlanProvision, NotOursToProvision) {
  json::object sc = storage_class();
  auto none = [&](const json::object& c, std::string_view node, const json::object* cls) {
    auto plan = plan_provision(c, cls, kDriver, node, kTopo, "");
    ASSERT_TRUE(plan.ok()) << plan.error().to_string();
    EXPECT_FALSE(plan->has_value());
  };
  none(claim(kOurs), "n2", &sc);                                                    // another selected node
  none(claim(R"("volume.kubernetes.io/storage-provisioner":"local.csi.kernlet.io")"), "n1", &sc);  // not selected yet
  none(claim(R"("volume.kubernetes.io/storage-provisioner":"other.csi","volume.kubernetes.io/selected-node":"n1")"),
       "n1", &sc);
  none(claim(""), "n1", &sc);                                                       // no provisioner asked
  none(claim(kOurs, R"(,"volumeName":"pv-x")"), "n1", &sc);                         // bound already
  none(claim(kOurs, "", "Bound"), "n1", &sc);
  json::object other = parse(R"({"metadata":{"name":"local"},"provisioner":"other.csi"})");
  none(claim(kOurs), "n1", &other);
}

TEST(PlanProvision, ImmediateOnlyOnTheChosenNode) {
  json::object sc = storage_class("Immediate");
  std::string ann = R"("volume.kubernetes.io/storage-provisioner":"local.csi.kernlet.io")";
  auto mine = plan_provision(claim(ann), &sc, kDriver, "n1", kTopo, "n1");
  ASSERT_TRUE(mine.ok());
  EXPECT_TRUE(mine->has_value());
  auto theirs = plan_provision(claim(ann), &sc, kDriver, "n1", kTopo, "n0");
  ASSERT_TRUE(theirs.ok());
  EXPECT_FALSE(theirs->has_value());
}

TEST(PlanProvision, BadClaimsAreErrors) {
  auto missing = plan_provision(claim(kOurs), nullptr, kDriver, "n1", kTopo, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "storageclass.storage.k8s.io \"local\" not found");
  json::object sc = storage_class();
  json::object c = claim(kOurs);
  json::get_object(c, "spec")->erase("resources");
  auto no_size = plan_provision(c, &sc, kDriver, "n1", kTopo, "");
  ASSERT_FALSE(no_size.ok());
  EXPECT_NE(no_size.error().message().find("requests.storage"), std::string::npos);
  json::object bad_mode = claim(kOurs);
  (*json::get_object(bad_mode, "spec"))["accessModes"] = json::array{json::value("Sometimes")};
  EXPECT_FALSE(plan_provision(bad_mode, &sc, kDriver, "n1", kTopo, "").ok());
}

TEST(MakeProvisionedPv, FollowsTheProtocol) {
  json::object sc = storage_class("WaitForFirstConsumer", "Retain");
  json::object c = claim(kOurs);
  auto plan = plan_provision(c, &sc, kDriver, "n1", kTopo, "");
  ASSERT_TRUE(plan.ok() && plan->has_value());
  Volume vol;
  vol.volume_id = "pvc-c-1";
  vol.capacity_bytes = 32 << 20;
  vol.accessible_topology = {kTopo};
  json::object pv = make_provisioned_pv(c, sc, kDriver, **plan, vol);
  api::Meta m(pv);
  EXPECT_EQ(m.name(), "pvc-c-1");
  EXPECT_EQ(m.annotation(kProvisionedByAnnotation), std::optional<std::string_view>(kDriver));
  const json::object& spec = *json::get_object(pv, "spec");
  EXPECT_EQ(json::get_string(*json::get_object(spec, "capacity"), "storage"), "32Mi");
  EXPECT_EQ(json::get_string(spec, "persistentVolumeReclaimPolicy"), "Retain");
  EXPECT_EQ(json::get_string(spec, "storageClassName"), "local");
  EXPECT_EQ(json::get_string(spec, "volumeMode"), "Filesystem");
  const json::object& ref = *json::get_object(spec, "claimRef");
  EXPECT_EQ(json::get_string(ref, "uid"), "c-1");
  EXPECT_EQ(json::get_string(ref, "namespace"), "default");
  EXPECT_EQ(json::get_string(ref, "name"), "data");
  const json::object& csi = *json::get_object(spec, "csi");
  EXPECT_EQ(json::get_string(csi, "driver"), kDriver);
  EXPECT_EQ(json::get_string(csi, "volumeHandle"), "pvc-c-1");
  EXPECT_EQ(json::get_string(csi, "fsType"), "ext4");
  EXPECT_EQ(json::dump(*json::find(spec, "nodeAffinity")),
            R"({"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"topology.kernlet.io/node","operator":"In","values":["n1"]}]}]}})");
}

json::object released_pv(std::string_view reclaim, std::string_view by, std::string_view node,
                         std::string_view phase = "Released") {
  return parse(std::string(R"({"metadata":{"name":"pvc-c-1","annotations":{"pv.kubernetes.io/provisioned-by":")") +
               std::string(by) + R"("}},"spec":{"persistentVolumeReclaimPolicy":")" + std::string(reclaim) +
               R"(","csi":{"driver":")" + std::string(by) + R"(","volumeHandle":"pvc-c-1"},
               "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[
               {"key":"topology.kernlet.io/node","operator":"In","values":[")" + std::string(node) +
               R"("]}]}]}}},"status":{"phase":")" + std::string(phase) + R"("}})");
}

TEST(ShouldDeletePv, OnlyReleasedDeleteVolumesOfThisNodesDriver) {
  EXPECT_TRUE(should_delete_pv(released_pv("Delete", kDriver, "n1"), kDriver, kTopo));
  EXPECT_FALSE(should_delete_pv(released_pv("Retain", kDriver, "n1"), kDriver, kTopo));
  EXPECT_FALSE(should_delete_pv(released_pv("Delete", kDriver, "n2"), kDriver, kTopo));  // another node's image
  EXPECT_FALSE(should_delete_pv(released_pv("Delete", "other.csi", "n1"), kDriver, kTopo));
  EXPECT_FALSE(should_delete_pv(released_pv("Delete", kDriver, "n1", "Bound"), kDriver, kTopo));
  json::object no_affinity = released_pv("Delete", kDriver, "n1");
  json::get_object(no_affinity, "spec")->erase("nodeAffinity");
  EXPECT_FALSE(should_delete_pv(no_affinity, kDriver, kTopo));
}

TEST(ImmediateNode, FirstByNameListingTheDriver) {
  json::object a = parse(R"({"metadata":{"name":"n2"},"spec":{"drivers":[{"name":"local.csi.kernlet.io"}]}})");
  json::object b = parse(R"({"metadata":{"name":"n1"},"spec":{"drivers":[{"name":"other"}]}})");
  json::object c = parse(R"({"metadata":{"name":"n3"},"spec":{"drivers":[{"name":"local.csi.kernlet.io"}]}})");
  EXPECT_EQ(immediate_provisioning_node({&a, &b, &c}, kDriver), "n2");
  EXPECT_EQ(immediate_provisioning_node({&b}, kDriver), "");
}

TEST(BytesQuantity, PicksTheLargestExactUnit) {
  EXPECT_EQ(bytes_quantity(32 << 20), "32Mi");
  EXPECT_EQ(bytes_quantity(int64_t{2} << 30), "2Gi");
  EXPECT_EQ(bytes_quantity(1000), "1000");
}

}  // namespace
}  // namespace kernlet::csi
