// The node-side provisioner's decisions (upstream's external-provisioner protocol, as
// docs/architecture.md "Provisioning protocol" describes): which claims this node
// provisions for a driver registered on it, the CreateVolume request for one, the
// PersistentVolume that records the result, and which Released volumes it deletes. Pure
// functions over API objects: the loop that calls them (and the CSI driver) lives in the
// agent (agent/cmd/agent_csi), so these are table-tested.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "csi/client/csi_client.h"

namespace kernlet::csi {

inline constexpr std::string_view kStorageProvisionerAnnotation = "volume.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kBetaStorageProvisionerAnnotation = "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";
inline constexpr std::string_view kProvisionedByAnnotation = "pv.kubernetes.io/provisioned-by";
// StorageClass parameters with this prefix are for the provisioner, not the driver.
inline constexpr std::string_view kReservedParameterPrefix = "csi.storage.k8s.io/";
inline constexpr std::string_view kFsTypeParameter = "csi.storage.k8s.io/fstype";

struct ProvisionPlan {
  std::string pv_name;       // pvc-<claim uid>, also CreateVolume's name (idempotency key)
  CreateVolumeParams params;
  std::string fs_type;       // spec.csi.fsType of the PV ("" for block)
};

// Whether this node provisions `claim` now for the driver `provisioner` (registered here
// with topology `node_topology`), and how. nullopt when the claim is not this node's to
// provision (bound, being deleted, another provisioner, WaitForFirstConsumer with another
// selected node, Immediate and `immediate_node` is another node). An error for a claim
// that is ours but cannot be provisioned (no such class, no storage request, a bad
// quantity), worded for a ProvisioningFailed Event. `storage_class` is the claim's class
// (nullptr: not found).
Result<std::optional<ProvisionPlan>> plan_provision(const json::object& claim, const json::object* storage_class,
                                                    std::string_view provisioner, std::string_view node_name,
                                                    const TopologySegments& node_topology,
                                                    std::string_view immediate_node);

// The PersistentVolume for a volume CreateVolume made for `claim`: spec.csi (driver,
// volumeHandle, fsType, volumeAttributes), nodeAffinity from the volume's accessible
// topology, capacity, the claim's access modes and volumeMode, the class's name,
// reclaimPolicy (default Delete) and mountOptions, claimRef to the claim, and
// pv.kubernetes.io/provisioned-by.
json::object make_provisioned_pv(const json::object& claim, const json::object& storage_class,
                                 std::string_view provisioner, const ProvisionPlan& plan, const Volume& volume);

// Whether this node deletes `pv` (DeleteVolume, then the PV object): Released, reclaim
// policy Delete, provisioned by `provisioner` through that driver, and its nodeAffinity
// admits `node_topology` (a node-local volume is deleted only by the node holding it; a
// volume without nodeAffinity is left alone: no node can tell it holds it).
bool should_delete_pv(const json::object& pv, std::string_view provisioner, const TopologySegments& node_topology);

// For Immediate claims, one node must provision: the first by name of `csi_nodes`
// (CSINode objects) that lists the driver. "" when none does.
std::string immediate_provisioning_node(const std::vector<const json::object*>& csi_nodes, std::string_view driver);

// A byte count as a quantity string: "32Mi", "1Gi", or plain bytes.
std::string bytes_quantity(int64_t bytes);

}  // namespace kernlet::csi
