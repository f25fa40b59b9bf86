#include "control/scheduler/volume_binding.h"

#include "api/object.h"
#include "api/objects/storage.h"
#include "control/controllers/pv_binder.h"

namespace kernlet::scheduler {
namespace {

namespace pv = controllers::pv;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A term admitting exactly the node `name` (as a matchFields requirement).
NodeSelectorTerm node_named(std::string_view name) {
  NodeSelectorTerm t;
  NodeRequirement r;
  r.key = "metadata.name";
  r.op = NodeRequirement::Op::kIn;
  r.values = {std::string(name)};
  t.match_fields.push_back(std::move(r));
  return t;
}

// A volume's nodeAffinity as a requirement's alternatives: none means every node.
Result<void> add_volume_terms(const json::object& volume, VolumeNodeRequirement& req) {
  const json::object* affinity = api::PersistentVolumeView(volume).spec().node_affinity();
  const json::object* required = affinity != nullptr ? json::get_object(*affinity, "required") : nullptr;
  if (required == nullptr) {
    req.any = true;
    return Ok();
  }
  const std::string path = "persistentvolume " + quoted(api::Meta(volume).name()) + " spec.nodeAffinity.required.nodeSelectorTerms";
  KL_ASSIGN_OR_RETURN(auto terms, parse_node_selector_terms(json::find(*required, "nodeSelectorTerms"), path));
  for (auto& t : terms) req.terms.push_back(std::move(t));
  return Ok();
}

}  // namespace

std::variant<PodVolumes, std::string> pod_volumes(const json::object& pod, const VolumeLookup& lookup) {
  PodVolumes out;
  const std::string_view ns = api::Meta(pod).namespace_();
  for (const std::string& name : pv::pod_claims(pod)) {
    const json::object* claim = lookup.claim(ns, name);
    if (claim == nullptr) return "persistentvolumeclaim " + quoted(name) + " not found";
    if (api::Meta(*claim).being_deleted()) return "persistentvolumeclaim " + quoted(name) + " is being deleted";
    const std::string_view volume_name = json::get_string(api::object_or_empty(*claim, "spec"), "volumeName");
    const bool bound = !volume_name.empty() && api::Meta(*claim).annotation(pv::kAnnBindCompleted).has_value();
    if (bound) {
      const json::object* volume = lookup.volume(volume_name);
      if (volume == nullptr) {
        return "persistentvolumeclaim " + quoted(name) + " is bound to persistentvolume " + quoted(volume_name) +
               ", which is not found";
      }
      VolumeNodeRequirement req;
      req.reason = std::string(kReasonVolumeNodeConflict);
      if (auto r = add_volume_terms(*volume, req); !r.ok()) return r.error().message();
      if (!req.any) out.requirements.push_back(std::move(req));
      continue;
    }
    const std::string cls = pv::claim_class(*claim);
    const json::object* sc = cls.empty() ? nullptr : lookup.storage_class(cls);
    if (sc == nullptr || api::StorageClassView(*sc).volume_binding_mode() != "WaitForFirstConsumer") {
      return std::string(kUnboundImmediateClaims);
    }
    VolumeNodeRequirement req;
    req.reason = std::string(kReasonVolumeBindConflict);
    if (auto selected = api::Meta(*claim).annotation(pv::kAnnSelectedNode)) {
      // A node was chosen before (provisioning may be under way there): stay with it.
      req.terms.push_back(node_named(*selected));
      out.requirements.push_back(std::move(req));
      continue;
    }
    for (const json::object* v : lookup.volumes) {
      if (!pv::volume_could_bind(*v, *claim)) continue;
      if (auto r = add_volume_terms(*v, req); !r.ok()) return r.error().message();
    }
    api::StorageClassView class_view(*sc);
    if (!class_view.provisioner().empty() && class_view.provisioner() != pv::kNoProvisioner) {
      const json::array* topologies = class_view.allowed_topologies();
      if (topologies == nullptr || topologies->empty()) {
        req.any = true;
      } else {
        const json::value t(*topologies);
        auto terms = parse_topology_selector_terms(&t, "storageclass " + quoted(cls) + " allowedTopologies");
        if (!terms.ok()) return terms.error().message();
        for (auto& term : *terms) req.terms.push_back(std::move(term));
      }
    }
    if (!req.any) out.requirements.push_back(std::move(req));
    out.claims_to_select.push_back(name);
  }
  return out;
}

}  // namespace kernlet::scheduler
