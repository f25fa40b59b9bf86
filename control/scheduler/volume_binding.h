// The scheduler's VolumeBinding step (upstream's VolumeBinding plugin, without its
// in-scheduler PV binding): what a pod's PersistentVolumeClaims ask of the node it goes to.
//
//  - a claim that is missing or being deleted, or unbound with an Immediate class, makes
//    the pod unschedulable everywhere (upstream's texts: `persistentvolumeclaim "x" not
//    found`, "pod has unbound immediate PersistentVolumeClaims");
//  - a bound claim's volume with spec.nodeAffinity admits only the nodes it matches
//    ("node(s) had volume node affinity conflict");
//  - an unbound WaitForFirstConsumer claim admits a node where an available volume that
//    could bind it may be used, or — when its class provisions — a node inside the class's
//    allowedTopologies ("node(s) didn't find available persistent volumes to bind"); such
//    claims get `volume.kubernetes.io/selected-node` set to the chosen node before the pod
//    is bound, which the PV controller (static volumes) or the provisioner acts on.
//
// Thread-safety: pure functions over objects the caller keeps alive and unchanged.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/json.h"
#include "control/scheduler/pod_info.h"

namespace kernlet::scheduler {

inline constexpr std::string_view kReasonVolumeNodeConflict = "node(s) had volume node affinity conflict";
inline constexpr std::string_view kReasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind";
inline constexpr std::string_view kUnboundImmediateClaims = "pod has unbound immediate PersistentVolumeClaims";

// Where the claims of a pod can be: lookups into the scheduler's caches.
struct VolumeLookup {
  std::function<const json::object*(std::string_view ns, std::string_view name)> claim;
  std::function<const json::object*(std::string_view name)> volume;
  std::function<const json::object*(std::string_view name)> storage_class;
  std::vector<const json::object*> volumes;  // every PersistentVolume (for delayed binding)
};

struct PodVolumes {
  std::vector<VolumeNodeRequirement> requirements;
  std::vector<std::string> claims_to_select;  // unbound WaitForFirstConsumer claims
};

// The pod's volume needs, or why it fits no node (a message for the FitError).
std::variant<PodVolumes, std::string> pod_volumes(const json::object& pod, const VolumeLookup& lookup);

}  // namespace kernlet::scheduler
