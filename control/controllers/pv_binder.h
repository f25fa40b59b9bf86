// The PersistentVolume controller's decisions, as pure functions over API objects (the
// loop around them is pv_controller.h): which volume a claim binds to, what phase a claim
// and a volume are in, when a claim is handed to a provisioner, what reclaiming a released
// volume means, and when the protection finalizers may go. The rules and texts are
// upstream's (pkg/controller/volume/persistentvolume), so kubectl describe reads the same
// and external provisioners see the annotations they look for.
//
// Thread-safety: pure functions; the objects passed in must not change during a call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"

namespace kernlet::controllers::pv {

// The binding protocol's annotations and finalizers (upstream's names).
inline constexpr std::string_view kAnnBindCompleted = "pv.kubernetes.io/bind-completed";
inline constexpr std::string_view kAnnBoundByController = "pv.kubernetes.io/bound-by-controller";
inline constexpr std::string_view kAnnProvisionedBy = "pv.kubernetes.io/provisioned-by";
inline constexpr std::string_view kAnnStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kAnnBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kAnnSelectedNode = "volume.kubernetes.io/selected-node";
inline constexpr std::string_view kPvcProtectionFinalizer = "kubernetes.io/pvc-protection";
inline constexpr std::string_view kPvProtectionFinalizer = "kubernetes.io/pv-protection";
// A StorageClass provisioner that never provisions (local volumes made by hand).
inline constexpr std::string_view kNoProvisioner = "kubernetes.io/no-provisioner";

// The class a claim asks for: the beta annotation, else spec.storageClassName, else ""
// (no class: only class-less volumes).
std::string claim_class(const json::object& claim);
// The class of a volume: the beta annotation, else spec.storageClassName.
std::string volume_class(const json::object& volume);
// Whether the volume's claimRef names this claim (namespace, name, and uid when set).
bool volume_bound_to_claim(const json::object& volume, const json::object& claim);
// Whether the node (labels and name) satisfies the volume's spec.nodeAffinity (none: yes).
// A malformed nodeAffinity matches no node.
bool volume_fits_node(const json::object& volume, const json::object* node_labels, std::string_view node_name);

// Why `volume` cannot serve `claim`, or "" when it can: capacity, access modes, volume
// mode and class (upstream's checkVolumeSatisfyClaim; used for a claim naming a volume).
std::string volume_mismatch(const json::object& volume, const json::object& claim);

// The volume an unbound claim should bind to among `volumes` (upstream's
// findMatchingVolume): a volume already reserved for the claim (claimRef) wins; else the
// smallest Available one with enough capacity, every requested access mode, the same
// volume mode and class, and labels the claim's selector matches. With `node` set (a
// WaitForFirstConsumer claim whose node is chosen) the volume's nodeAffinity must admit
// that node; with `delay_binding` and no node only reserved volumes count (the scheduler
// chooses). nullptr when none fits.
struct NodeRef {
  const json::object* labels = nullptr;
  std::string_view name;
};
const json::object* find_matching_volume(const json::object& claim, const std::vector<const json::object*>& volumes,
                                         bool delay_binding, const std::optional<NodeRef>& node);

// Whether `volume` could bind `claim` on some node (find_matching_volume's tests without
// the node): reserved for it, or Available with enough capacity, the access modes, volume
// mode, class and labels it asks for.
bool volume_could_bind(const json::object& volume, const json::object& claim);

// ---- claims ------------------------------------------------------------------------

struct ClaimInputs {
  const json::object* claim = nullptr;
  std::vector<const json::object*> volumes;     // every PersistentVolume
  const json::object* storage_class = nullptr;  // the claim's class; nullptr when none or missing
  const json::object* selected_node = nullptr;  // the Node the selected-node annotation names
  const json::object* default_class = nullptr;  // the cluster's default StorageClass, if any
};

struct Event {
  std::string type;  // Normal, Warning
  std::string reason;
  std::string message;
};

struct ClaimDecision {
  enum class Action {
    kNone,       // nothing to change (maybe an Event)
    kBind,       // bind the claim and `volume` both ways, then set both Bound
    kProvision,  // set the storage-provisioner annotations to `provisioner`
    kPending,    // status.phase Pending
    kLost,       // status.phase Lost: the bound volume is gone or bound elsewhere
    kBound,      // status Bound with the volume's capacity and access modes
    kAssignClass,  // set spec.storageClassName to `storage_class` (the default class)
  };
  Action action = Action::kNone;
  const json::object* volume = nullptr;
  std::string provisioner;
  std::string storage_class;
  std::optional<Event> event;
};

// The default StorageClass among `classes` (annotated is-default-class "true"): the newest
// when several are, as upstream; nullptr when none is.
const json::object* default_storage_class(const std::vector<const json::object*>& classes);

// What syncing one claim does (upstream's syncClaim; claims being deleted included: a
// bound claim stays bound until it is gone). An unbound claim that names no class at all
// (not even "") first gets the default class, as upstream's retroactive default
// StorageClass assignment does.
ClaimDecision decide_claim(const ClaimInputs& in);

// The volume with its claimRef set to `claim` (and bound-by-controller when the
// controller made the reservation). Unchanged copy when it is already so.
json::object bind_volume_to_claim(const json::object& volume, const json::object& claim);
// The claim with spec.volumeName and the bind-completed (and bound-by-controller)
// annotations.
json::object bind_claim_to_volume(const json::object& claim, const json::object& volume);
// The claim's status when bound to `volume`: phase Bound, the volume's capacity and
// access modes. (The claim object with the new status.)
json::object claim_with_status(const json::object& claim, std::string_view phase, const json::object* volume);
// The claim with both storage-provisioner annotations set to `provisioner`.
json::object claim_with_provisioner(const json::object& claim, std::string_view provisioner);
// Whether the claim's status already says `phase` with the volume's capacity and modes.
bool claim_status_is(const json::object& claim, std::string_view phase, const json::object* volume);

// ---- volumes -----------------------------------------------------------------------

struct VolumeInputs {
  const json::object* volume = nullptr;
  const json::object* claim = nullptr;  // the claim claimRef names (nullptr when missing)
};

struct VolumeDecision {
  enum class Action {
    kNone,
    kPhase,        // set status.phase (and reason/message)
    kUnbind,       // clear claimRef (controller-made reservation that went stale), Available
    kEnqueueClaim, // the claim side finishes the binding
  };
  Action action = Action::kNone;
  std::string phase;
  std::string message;
  std::optional<Event> event;
};

// What syncing one volume does (upstream's syncVolume and reclaimVolume). A released
// volume with policy Delete that a provisioner made (provisioned-by) is left Released for
// that provisioner to delete; Delete without a provisioner, and Recycle, fail.
VolumeDecision decide_volume(const VolumeInputs& in);
// The volume with status.phase (and message) set, lastPhaseTransitionTime = `now` when the
// phase changes.
json::object volume_with_phase(const json::object& volume, std::string_view phase, std::string_view message,
                               std::string_view now);

// ---- protection finalizers ---------------------------------------------------------

// Whether `pod` uses the claim `claim_name` (of its namespace) and is not finished: such a
// pod keeps a deleted claim (pvc-protection) alive.
bool pod_uses_claim(const json::object& pod, std::string_view claim_name);
// The claim names a pod mounts (spec.volumes[].persistentVolumeClaim.claimName).
std::vector<std::string> pod_claims(const json::object& pod);

enum class FinalizerAction { kNone, kAdd, kRemove };
// pvc-protection: added while the claim lives, removed once it is being deleted and no pod
// of `pods` (its namespace's) uses it.
FinalizerAction claim_protection(const json::object& claim, const std::vector<const json::object*>& pods);
// pv-protection: added while the volume lives, removed once it is being deleted and is not
// Bound.
FinalizerAction volume_protection(const json::object& volume);
// `obj` with `finalizer` added or removed.
json::object with_finalizer(const json::object& obj, std::string_view finalizer, bool present);

}  // namespace kernlet::controllers::pv
