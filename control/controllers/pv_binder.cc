#include "control/controllers/pv_binder.h"

#include <algorithm>

#include "api/labels.h"
#include "api/object.h"
#include "api/objects/pod.h"
#include "api/objects/storage.h"
#include "control/scheduler/pod_info.h"

namespace kernlet::controllers::pv {
namespace {

using Action = ClaimDecision::Action;

Quantity storage_of(const Result<Quantity>& q) { return q.ok() ? *q : Quantity(); }

Quantity volume_capacity(const json::object& volume) {
  return storage_of(api::PersistentVolumeView(volume).spec().storage_capacity());
}
Quantity claim_request(const json::object& claim) {
  return storage_of(api::PersistentVolumeClaimView(claim).spec().storage_request());
}

bool has_access_modes(const json::object& volume, const json::object& claim) {
  const auto have = api::PersistentVolumeView(volume).spec().access_modes();
  for (auto m : api::PersistentVolumeClaimView(claim).spec().access_modes()) {
    if (std::find(have.begin(), have.end(), m) == have.end()) return false;
  }
  return true;
}

bool same_volume_mode(const json::object& volume, const json::object& claim) {
  return api::PersistentVolumeView(volume).spec().volume_mode() ==
         api::PersistentVolumeClaimView(claim).spec().volume_mode();
}

bool selector_matches(const json::object& claim, const json::object& volume) {
  const json::object* sel = api::PersistentVolumeClaimView(claim).spec().selector();
  if (sel == nullptr) return true;
  const json::value v(*sel);
  auto s = api::Selector::from_json(&v, api::Selector::NullMeans::kEverything, "spec.selector");
  return s.ok() && s->matches(api::Meta(volume).labels());
}

const json::object* claim_ref(const json::object& volume) {
  return json::get_object(api::object_or_empty(volume, "spec"), "claimRef");
}

bool has_annotation(const json::object& obj, std::string_view key) {
  return api::Meta(obj).annotation(key).has_value();
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The claimRef a volume gets when bound to `claim`.
json::object claim_reference(const json::object& claim) {
  api::Meta m(claim);
  return {{"kind", "PersistentVolumeClaim"},     {"namespace", m.namespace_()}, {"name", m.name()},
          {"uid", m.uid()},                      {"apiVersion", "v1"},          {"resourceVersion", m.resource_version()}};
}

// The class's provisioner when it provisions at all.
std::optional<std::string> provisioner_of(const json::object* storage_class) {
  if (storage_class == nullptr) return std::nullopt;
  std::string_view p = api::StorageClassView(*storage_class).provisioner();
  if (p.empty() || p == kNoProvisioner) return std::nullopt;
  return std::string(p);
}

bool delay_binding(const json::object* storage_class) {
  return storage_class != nullptr &&
         api::StorageClassView(*storage_class).volume_binding_mode() == "WaitForFirstConsumer";
}

ClaimDecision with_event(ClaimDecision d, std::string type, std::string reason, std::string message) {
  d.event = Event{std::move(type), std::move(reason), std::move(message)};
  return d;
}

ClaimDecision bind(const json::object* volume) {
  ClaimDecision d;
  d.action = Action::kBind;
  d.volume = volume;
  return d;
}

ClaimDecision pending() {
  ClaimDecision d;
  d.action = Action::kPending;
  return d;
}

const json::object* find_volume(const std::vector<const json::object*>& volumes, std::string_view name) {
  for (const json::object* v : volumes) {
    if (api::Meta(*v).name() == name) return v;
  }
  return nullptr;
}

// A claim with spec.volumeName set by its author and not yet bound (upstream's
// syncUnboundClaim, second half).
ClaimDecision sync_prebound_claim(const ClaimInputs& in, std::string_view volume_name) {
  const json::object& claim = *in.claim;
  const json::object* volume = find_volume(in.volumes, volume_name);
  if (volume == nullptr) {
    return with_event(pending(), "Warning", "FailedBinding",
                      "volume " + quoted(volume_name) + " requested by claim not found");
  }
  if (claim_ref(*volume) == nullptr) {
    std::string why = volume_mismatch(*volume, claim);
    if (!why.empty()) {
      return with_event(pending(), "Warning", "VolumeMismatch",
                        "Cannot bind to requested volume " + quoted(volume_name) + ": " + why);
    }
    return bind(volume);
  }
  if (volume_bound_to_claim(*volume, claim)) return bind(volume);
  return with_event(pending(), "Warning", "FailedBinding",
                    "volume " + quoted(volume_name) + " already bound to a different claim.");
}

// A claim with neither volumeName nor bind-completed (upstream's syncUnboundClaim, first half).
ClaimDecision sync_unbound_claim(const ClaimInputs& in) {
  const json::object& claim = *in.claim;
  if (in.default_class != nullptr && !api::pvc_storage_class(api::PersistentVolumeClaimView(claim))) {
    ClaimDecision d;
    d.action = Action::kAssignClass;
    d.storage_class = std::string(api::Meta(*in.default_class).name());
    return d;
  }
  const bool delay = delay_binding(in.storage_class);
  std::optional<NodeRef> node;
  if (delay && in.selected_node != nullptr) {
    node = NodeRef{api::Meta(*in.selected_node).labels(), api::Meta(*in.selected_node).name()};
  }
  if (const json::object* volume = find_matching_volume(claim, in.volumes, delay, node)) return bind(volume);

  const std::string cls = claim_class(claim);
  const bool selected = has_annotation(claim, kAnnSelectedNode);
  if (delay && !selected) {
    return with_event(pending(), "Normal", "WaitForFirstConsumer",
                      "waiting for first consumer to be created before binding");
  }
  if (cls.empty()) {
    return with_event(pending(), "Normal", "FailedBinding",
                      "no persistent volumes available for this claim and no storage class is set");
  }
  if (in.storage_class == nullptr) {
    return with_event(pending(), "Warning", "ProvisioningFailed",
                      "storageclass.storage.k8s.io " + quoted(cls) + " not found");
  }
  auto prov = provisioner_of(in.storage_class);
  if (!prov) {
    return with_event(pending(), "Normal", "FailedBinding",
                      "no persistent volumes available for this claim and storage class " + quoted(cls) +
                          " does not provision volumes (provisioner " +
                          std::string(api::StorageClassView(*in.storage_class).provisioner()) + ")");
  }
  const std::string msg = "Waiting for a volume to be created either by the external provisioner '" + *prov +
                          "' or manually by the system administrator. If volume creation is delayed, please "
                          "verify that the provisioner is running and correctly registered.";
  if (api::Meta(claim).annotation(kAnnStorageProvisioner) == std::optional<std::string_view>(*prov) &&
      api::Meta(claim).annotation(kAnnBetaStorageProvisioner) == std::optional<std::string_view>(*prov)) {
    return with_event(pending(), "Normal", "ExternalProvisioning", msg);
  }
  ClaimDecision d;
  d.action = Action::kProvision;
  d.provisioner = *prov;
  return with_event(d, "Normal", "ExternalProvisioning", msg);
}

// A claim the controller has bound before (bind-completed; upstream's syncBoundClaim).
ClaimDecision sync_bound_claim(const ClaimInputs& in) {
  const json::object& claim = *in.claim;
  const std::string_view name = api::PersistentVolumeClaimView(claim).spec().volume_name();
  if (name.empty()) {
    ClaimDecision d;
    d.action = Action::kLost;
    return with_event(d, "Warning", "ClaimLost", "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
  }
  const json::object* volume = find_volume(in.volumes, name);
  if (volume == nullptr) {
    ClaimDecision d;
    d.action = Action::kLost;
    return with_event(d, "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
  }
  if (claim_ref(*volume) == nullptr) return bind(volume);  // the volume side is to be redone
  if (volume_bound_to_claim(*volume, claim)) {
    if (claim_status_is(claim, "Bound", volume)) return {};
    ClaimDecision d = bind(volume);  // finishes whatever step of the binding is missing
    return d;
  }
  ClaimDecision d;
  d.action = Action::kLost;
  return with_event(d, "Warning", "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly");
}

void set_bool_annotation(json::object& obj, std::string_view key) { api::MutableMeta(obj).set_annotation(key, "yes"); }

}  // namespace

std::string claim_class(const json::object& claim) {
  auto c = api::pvc_storage_class(api::PersistentVolumeClaimView(claim));
  return c ? std::string(*c) : std::string();
}

std::string volume_class(const json::object& volume) {
  if (auto a = api::Meta(volume).annotation(api::kBetaStorageClassAnnotation)) return std::string(*a);
  return std::string(api::PersistentVolumeView(volume).spec().storage_class_name());
}

bool volume_bound_to_claim(const json::object& volume, const json::object& claim) {
  const json::object* ref = claim_ref(volume);
  if (ref == nullptr) return false;
  api::Meta m(claim);
  if (json::get_string(*ref, "namespace") != m.namespace_() || json::get_string(*ref, "name") != m.name()) return false;
  const std::string_view uid = json::get_string(*ref, "uid");
  return uid.empty() || uid == m.uid();
}

bool volume_fits_node(const json::object& volume, const json::object* node_labels, std::string_view node_name) {
  const json::object* affinity = api::PersistentVolumeView(volume).spec().node_affinity();
  if (affinity == nullptr) return true;
  const json::object* required = json::get_object(*affinity, "required");
  if (required == nullptr) return true;
  auto terms = scheduler::parse_node_selector_terms(json::find(*required, "nodeSelectorTerms"),
                                                    "spec.nodeAffinity.required.nodeSelectorTerms");
  if (!terms.ok()) return false;
  return std::any_of(terms->begin(), terms->end(),
                     [&](const scheduler::NodeSelectorTerm& t) { return t.matches(node_labels, node_name); });
}

std::string volume_mismatch(const json::object& volume, const json::object& claim) {
  const Quantity want = claim_request(claim);
  const Quantity have = volume_capacity(volume);
  if (have < want) {
    return "requested PV is too small (requested " + want.to_string() + ", PV has " + have.to_string() + ")";
  }
  if (volume_class(volume) != claim_class(claim)) return "storageClassName does not match";
  if (!same_volume_mode(volume, claim)) return "incompatible volumeMode";
  if (!has_access_modes(volume, claim)) return "incompatible accessMode";
  return "";
}

const json::object* find_matching_volume(const json::object& claim, const std::vector<const json::object*>& volumes,
                                         bool delay, const std::optional<NodeRef>& node) {
  const Quantity want = claim_request(claim);
  const std::string cls = claim_class(claim);
  const json::object* best = nullptr;
  Quantity best_size;
  for (const json::object* v : volumes) {
    const json::object& volume = *v;
    if (!has_access_modes(volume, claim)) continue;
    if (claim_ref(volume) != nullptr && !volume_bound_to_claim(volume, claim)) continue;
    const Quantity size = volume_capacity(volume);
    if (size < want) continue;
    if (!same_volume_mode(volume, claim)) continue;
    if (api::Meta(volume).being_deleted()) continue;
    const bool fits_node = !node || volume_fits_node(volume, node->labels, node->name);
    if (volume_bound_to_claim(volume, claim)) {
      if (!fits_node) return nullptr;
      return v;  // reserved for this claim (by its author or a provisioner)
    }
    if (delay && !node) continue;  // the scheduler picks the node first
    if (api::PersistentVolumeView(volume).status().phase() != "Available") continue;
    if (volume_class(volume) != cls) continue;
    if (!selector_matches(claim, volume)) continue;
    if (!fits_node) continue;
    if (best == nullptr || size < best_size) {
      best = v;
      best_size = size;
    }
  }
  return best;
}

bool volume_could_bind(const json::object& volume, const json::object& claim) {
  if (!has_access_modes(volume, claim)) return false;
  if (claim_ref(volume) != nullptr && !volume_bound_to_claim(volume, claim)) return false;
  if (volume_capacity(volume) < claim_request(claim)) return false;
  if (!same_volume_mode(volume, claim) || api::Meta(volume).being_deleted()) return false;
  if (volume_bound_to_claim(volume, claim)) return true;
  return api::PersistentVolumeView(volume).status().phase() == "Available" &&
         volume_class(volume) == claim_class(claim) && selector_matches(claim, volume);
}

const json::object* default_storage_class(const std::vector<const json::object*>& classes) {
  const json::object* best = nullptr;
  for (const json::object* c : classes) {
    if (!api::StorageClassView(*c).is_default_class()) continue;
    if (best == nullptr) {
      best = c;
      continue;
    }
    // RFC 3339 timestamps of one format compare as strings; ties go to the name.
    const auto t = api::Meta(*c).creation_timestamp();
    const auto bt = api::Meta(*best).creation_timestamp();
    if (t > bt || (t == bt && api::Meta(*c).name() < api::Meta(*best).name())) best = c;
  }
  return best;
}

ClaimDecision decide_claim(const ClaimInputs& in) {
  const json::object& claim = *in.claim;
  if (!has_annotation(claim, kAnnBindCompleted)) {
    const std::string_view name = api::PersistentVolumeClaimView(claim).spec().volume_name();
    if (!name.empty()) return sync_prebound_claim(in, name);
    // A claim being deleted is not bound any more (its pods are gone or going).
    if (api::Meta(claim).being_deleted()) return {};
    return sync_unbound_claim(in);
  }
  return sync_bound_claim(in);
}

json::object bind_volume_to_claim(const json::object& volume, const json::object& claim) {
  json::object out = volume;
  if (volume_bound_to_claim(volume, claim)) {
    const json::object* ref = claim_ref(volume);
    if (!json::get_string(*ref, "uid").empty()) return out;
    // Reserved by name only (by its author): fill the uid in.
    json::ensure_object(out, "spec")["claimRef"] = claim_reference(claim);
    return out;
  }
  json::ensure_object(out, "spec")["claimRef"] = claim_reference(claim);
  set_bool_annotation(out, kAnnBoundByController);
  return out;
}

json::object bind_claim_to_volume(const json::object& claim, const json::object& volume) {
  json::object out = claim;
  json::object& spec = json::ensure_object(out, "spec");
  const std::string name(api::Meta(volume).name());
  if (json::get_string(spec, "volumeName") != name) {
    spec["volumeName"] = name;
    set_bool_annotation(out, kAnnBoundByController);
  }
  set_bool_annotation(out, kAnnBindCompleted);
  return out;
}

bool claim_status_is(const json::object& claim, std::string_view phase, const json::object* volume) {
  const json::object& status = api::object_or_empty(claim, "status");
  if (json::get_string(status, "phase") != phase) return false;
  if (volume == nullptr) return true;
  const json::object& vspec = api::object_or_empty(*volume, "spec");
  const json::value* cap = json::find(status, "capacity");
  const json::value* vcap = json::find(vspec, "capacity");
  const json::value* modes = json::find(status, "accessModes");
  const json::value* vmodes = json::find(vspec, "accessModes");
  auto same = [](const json::value* a, const json::value* b) {
    return (a == nullptr && b == nullptr) || (a != nullptr && b != nullptr && *a == *b);
  };
  return same(cap, vcap) && same(modes, vmodes);
}

json::object claim_with_status(const json::object& claim, std::string_view phase, const json::object* volume) {
  json::object out = claim;
  json::object& status = json::ensure_object(out, "status");
  status["phase"] = phase;
  if (volume != nullptr) {
    const json::object& vspec = api::object_or_empty(*volume, "spec");
    if (const json::value* cap = json::find(vspec, "capacity")) status["capacity"] = *cap;
    if (const json::value* modes = json::find(vspec, "accessModes")) status["accessModes"] = *modes;
  } else if (phase == "Pending") {
    status.erase("capacity");
    status.erase("accessModes");
  }
  return out;
}

json::object claim_with_provisioner(const json::object& claim, std::string_view provisioner) {
  json::object out = claim;
  api::MutableMeta m(out);
  m.set_annotation(kAnnStorageProvisioner, provisioner);
  m.set_annotation(kAnnBetaStorageProvisioner, provisioner);
  return out;
}

VolumeDecision decide_volume(const VolumeInputs& in) {
  const json::object& volume = *in.volume;
  api::PersistentVolumeView pv(volume);
  const std::string_view phase = pv.status().phase();
  auto set_phase = [&](std::string p, std::string message = {}) {
    VolumeDecision d;
    if (phase == p && pv.status().message() == message) return d;
    d.action = VolumeDecision::Action::kPhase;
    d.phase = std::move(p);
    d.message = std::move(message);
    return d;
  };
  const json::object* ref = claim_ref(volume);
  if (ref == nullptr) return set_phase("Available");
  if (json::get_string(*ref, "uid").empty()) {
    // Reserved for a claim by name that has not bound yet; the claim side binds it.
    VolumeDecision d = set_phase("Available");
    if (d.action == VolumeDecision::Action::kNone) d.action = VolumeDecision::Action::kEnqueueClaim;
    return d;
  }
  const json::object* claim = in.claim;
  if (claim != nullptr && !volume_bound_to_claim(volume, *claim)) claim = nullptr;  // a new claim of the same name
  if (claim == nullptr) {
    // The claim is gone: the volume is released and reclaimed by its policy.
    if (phase == "Failed") return {};
    const std::string_view policy = pv.spec().reclaim_policy();
    if (policy == "Retain") return set_phase("Released");
    if (policy == "Delete") {
      if (has_annotation(volume, kAnnProvisionedBy)) return set_phase("Released");  // the provisioner deletes it
      VolumeDecision d = set_phase("Failed", "error getting deleter volume plugin for volume " +
                                                 quoted(api::Meta(volume).name()) +
                                                 ": no deletable volume plugin matched");
      d.event = Event{"Warning", "VolumeFailedDelete", d.message};
      return d;
    }
    VolumeDecision d = set_phase("Failed", "No recycler plugin found for the volume!");
    d.event = Event{"Warning", "VolumeFailedRecycle", d.message};
    return d;
  }
  const std::string_view bound_to = api::PersistentVolumeClaimView(*claim).spec().volume_name();
  if (bound_to.empty()) {
    // Half bound: the claim side finishes (or undoes) it.
    VolumeDecision d;
    d.action = VolumeDecision::Action::kEnqueueClaim;
    return d;
  }
  if (bound_to == api::Meta(volume).name()) return set_phase("Bound");
  // The claim is bound to another volume: a reservation of ours is dropped; one the
  // author made stays and waits.
  if (has_annotation(volume, kAnnBoundByController)) {
    VolumeDecision d;
    d.action = VolumeDecision::Action::kUnbind;
    d.phase = "Available";
    return d;
  }
  return set_phase("Available");
}

json::object volume_with_phase(const json::object& volume, std::string_view phase, std::string_view message,
                               std::string_view now) {
  json::object out = volume;
  json::object& status = json::ensure_object(out, "status");
  if (json::get_string(status, "phase") != phase) status["lastPhaseTransitionTime"] = now;
  status["phase"] = phase;
  if (message.empty()) {
    status.erase("message");
  } else {
    status["message"] = message;
  }
  status.erase("reason");
  return out;
}

std::vector<std::string> pod_claims(const json::object& pod) {
  std::vector<std::string> out;
  for (const json::object* v : api::get_object_array(api::object_or_empty(pod, "spec"), "volumes")) {
    if (const json::object* c = json::get_object(*v, "persistentVolumeClaim")) {
      const std::string_view name = json::get_string(*c, "claimName");
      if (!name.empty()) out.emplace_back(name);
    }
  }
  return out;
}

bool pod_uses_claim(const json::object& pod, std::string_view claim_name) {
  if (api::pod_is_terminal(api::PodView(pod))) return false;
  const auto claims = pod_claims(pod);
  return std::find(claims.begin(), claims.end(), claim_name) != claims.end();
}

FinalizerAction claim_protection(const json::object& claim, const std::vector<const json::object*>& pods) {
  api::Meta m(claim);
  const auto fins = m.finalizers();
  const bool has = std::find(fins.begin(), fins.end(), kPvcProtectionFinalizer) != fins.end();
  if (!m.being_deleted()) return has ? FinalizerAction::kNone : FinalizerAction::kAdd;
  if (!has) return FinalizerAction::kNone;
  for (const json::object* p : pods) {
    if (api::Meta(*p).namespace_() == m.namespace_() && pod_uses_claim(*p, m.name())) return FinalizerAction::kNone;
  }
  return FinalizerAction::kRemove;
}

FinalizerAction volume_protection(const json::object& volume) {
  api::Meta m(volume);
  const auto fins = m.finalizers();
  const bool has = std::find(fins.begin(), fins.end(), kPvProtectionFinalizer) != fins.end();
  if (!m.being_deleted()) return has ? FinalizerAction::kNone : FinalizerAction::kAdd;
  if (!has) return FinalizerAction::kNone;
  return api::PersistentVolumeView(volume).status().phase() == "Bound" ? FinalizerAction::kNone
                                                                       : FinalizerAction::kRemove;
}

json::object with_finalizer(const json::object& obj, std::string_view finalizer, bool present) {
  json::object out = obj;
  api::MutableMeta m(out);
  if (present) {
    m.add_finalizer(finalizer);
  } else {
    m.remove_finalizer(finalizer);
  }
  return out;
}

}  // namespace kernlet::controllers::pv
