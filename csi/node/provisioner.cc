#include "csi/node/provisioner.h"

#include <algorithm>

#include "api/object.h"

namespace kernlet::csi {

namespace {

std::vector<std::string> strings_of(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* a = json::get_array(o, key))
    for (const json::value& v : *a)
      if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

std::string_view claim_class(const json::object& claim) {
  api::Meta m(claim);
  // The beta annotation wins over spec.storageClassName, as in the binder.
  if (auto a = m.annotation("volume.beta.kubernetes.io/storage-class")) return *a;
  const json::object* spec = json::get_object(claim, "spec");
  return spec ? json::get_string(*spec, "storageClassName") : std::string_view();
}

}  // namespace

std::string bytes_quantity(int64_t bytes) {
  constexpr int64_t kMi = 1 << 20, kGi = int64_t{1} << 30;
  if (bytes > 0 && bytes % kGi == 0) return std::to_string(bytes / kGi) + "Gi";
  if (bytes > 0 && bytes % kMi == 0) return std::to_string(bytes / kMi) + "Mi";
  return std::to_string(bytes);
}

Result<std::optional<ProvisionPlan>> plan_provision(const json::object& claim, const json::object* storage_class,
                                                    std::string_view provisioner, std::string_view node_name,
                                                    const TopologySegments& node_topology,
                                                    std::string_view immediate_node) {
  api::Meta m(claim);
  const json::object* spec = json::get_object(claim, "spec");
  const json::object* status = json::get_object(claim, "status");
  if (m.being_deleted() || spec == nullptr) return std::optional<ProvisionPlan>();
  if (!json::get_string(*spec, "volumeName").empty()) return std::optional<ProvisionPlan>();
  if (status != nullptr && json::get_string(*status, "phase") == "Bound") return std::optional<ProvisionPlan>();
  auto wanted = m.annotation(kStorageProvisionerAnnotation);
  if (!wanted) wanted = m.annotation(kBetaStorageProvisionerAnnotation);
  if (!wanted || *wanted != provisioner) return std::optional<ProvisionPlan>();

  std::string cls(claim_class(claim));
  if (storage_class == nullptr)
    return Error(ErrorCode::kNotFound, "storageclass.storage.k8s.io \"" + cls + "\" not found");
  if (json::get_string(*storage_class, "provisioner") != provisioner) return std::optional<ProvisionPlan>();
  std::string_view mode = json::get_string(*storage_class, "volumeBindingMode", "Immediate");
  if (mode == "WaitForFirstConsumer") {
    auto selected = m.annotation(kSelectedNodeAnnotation);
    if (!selected || *selected != node_name) return std::optional<ProvisionPlan>();
  } else if (immediate_node != node_name) {
    return std::optional<ProvisionPlan>();
  }

  ProvisionPlan plan;
  plan.pv_name = "pvc-" + std::string(m.uid());
  if (m.uid().empty()) return Error(ErrorCode::kInvalidArgument, "claim has no metadata.uid");
  CreateVolumeParams& p = plan.params;
  p.name = plan.pv_name;
  const json::object* resources = json::get_object(*spec, "resources");
  const json::object* requests = resources ? json::get_object(*resources, "requests") : nullptr;
  const json::value* storage = requests ? json::find(*requests, "storage") : nullptr;
  if (storage == nullptr) return Error(ErrorCode::kInvalidArgument, "claim has no spec.resources.requests.storage");
  Result<Quantity> q = api::quantity_from_json(*storage);
  if (!q.ok()) return std::move(q).error().context("spec.resources.requests.storage");
  KL_ASSIGN_OR_RETURN(int64_t bytes, q->value());
  if (bytes <= 0) return Error(ErrorCode::kInvalidArgument, "spec.resources.requests.storage must be positive");
  p.required_bytes = bytes;
  if (const json::object* limits = resources ? json::get_object(*resources, "limits") : nullptr) {
    if (const json::value* l = json::find(*limits, "storage")) {
      Result<Quantity> lq = api::quantity_from_json(*l);
      if (!lq.ok()) return std::move(lq).error().context("spec.resources.limits.storage");
      KL_ASSIGN_OR_RETURN(p.limit_bytes, lq->value());
    }
  }

  bool block = json::get_string(*spec, "volumeMode") == "Block";
  if (const json::object* params = json::get_object(*storage_class, "parameters")) {
    for (const auto& kv : *params) {
      if (!kv.value().is_string()) continue;
      std::string key(kv.key());
      if (key == kFsTypeParameter) plan.fs_type = std::string(kv.value().get_string());
      if (key.starts_with(kReservedParameterPrefix)) continue;
      p.parameters[key] = std::string(kv.value().get_string());
    }
  }
  // As external-provisioner with --default-fstype=ext4 (what the bundled driver makes).
  if (!block && plan.fs_type.empty()) plan.fs_type = "ext4";
  if (block) plan.fs_type.clear();
  std::vector<std::string> modes = strings_of(*spec, "accessModes");
  if (modes.empty()) return Error(ErrorCode::kInvalidArgument, "claim has no spec.accessModes");
  for (const std::string& mode_name : modes) {
    VolumeCapability cap;
    cap.block = block;
    cap.fs_type = plan.fs_type;
    cap.mount_flags = strings_of(*storage_class, "mountOptions");
    KL_ASSIGN_OR_RETURN(cap.access_mode, access_mode_from_k8s(mode_name));
    p.capabilities.push_back(std::move(cap));
  }
  if (!node_topology.empty()) {
    p.requisite_topology.push_back(node_topology);
    p.preferred_topology.push_back(node_topology);
  }
  return std::optional<ProvisionPlan>(std::move(plan));
}

json::object make_provisioned_pv(const json::object& claim, const json::object& storage_class,
                                 std::string_view provisioner, const ProvisionPlan& plan, const Volume& volume) {
  api::Meta cm(claim);
  const json::object* cspec = json::get_object(claim, "spec");
  json::object pv;
  pv["apiVersion"] = "v1";
  pv["kind"] = "PersistentVolume";
  json::object meta;
  meta["name"] = plan.pv_name;
  json::object annotations;
  annotations[std::string(kProvisionedByAnnotation)] = std::string(provisioner);
  meta["annotations"] = std::move(annotations);
  pv["metadata"] = std::move(meta);

  json::object spec;
  json::object capacity;
  capacity["storage"] = bytes_quantity(volume.capacity_bytes > 0 ? volume.capacity_bytes : plan.params.required_bytes);
  spec["capacity"] = std::move(capacity);
  json::array modes;
  if (cspec != nullptr)
    if (const json::array* a = json::get_array(*cspec, "accessModes")) modes = *a;
  spec["accessModes"] = std::move(modes);
  std::string_view volume_mode = cspec ? json::get_string(*cspec, "volumeMode") : std::string_view();
  spec["volumeMode"] = volume_mode.empty() ? "Filesystem" : std::string(volume_mode);
  spec["persistentVolumeReclaimPolicy"] = std::string(json::get_string(storage_class, "reclaimPolicy", "Delete"));
  spec["storageClassName"] = std::string(api::Meta(storage_class).name());
  if (const json::array* mo = json::get_array(storage_class, "mountOptions")) spec["mountOptions"] = *mo;
  json::object ref;
  ref["kind"] = "PersistentVolumeClaim";
  ref["apiVersion"] = "v1";
  ref["namespace"] = std::string(cm.namespace_());
  ref["name"] = std::string(cm.name());
  ref["uid"] = std::string(cm.uid());
  ref["resourceVersion"] = std::string(cm.resource_version());
  spec["claimRef"] = std::move(ref);
  json::object csi;
  csi["driver"] = std::string(provisioner);
  csi["volumeHandle"] = volume.volume_id;
  if (!plan.fs_type.empty()) csi["fsType"] = plan.fs_type;
  if (!volume.volume_context.empty()) {
    json::object attrs;
    for (const auto& [k, v] : volume.volume_context) attrs[k] = v;
    csi["volumeAttributes"] = std::move(attrs);
  }
  spec["csi"] = std::move(csi);
  if (!volume.accessible_topology.empty()) {
    json::array terms;
    for (const TopologySegments& seg : volume.accessible_topology) {
      json::array exprs;
      for (const auto& [k, v] : seg) {
        json::object e;
        e["key"] = k;
        e["operator"] = "In";
        e["values"] = json::array{json::value(v)};
        exprs.push_back(std::move(e));
      }
      json::object term;
      term["matchExpressions"] = std::move(exprs);
      terms.push_back(std::move(term));
    }
    json::object required;
    required["nodeSelectorTerms"] = std::move(terms);
    json::object affinity;
    affinity["required"] = std::move(required);
    spec["nodeAffinity"] = std::move(affinity);
  }
  pv["spec"] = std::move(spec);
  return pv;
}

bool should_delete_pv(const json::object& pv, std::string_view provisioner, const TopologySegments& node_topology) {
  api::Meta m(pv);
  if (m.annotation(kProvisionedByAnnotation) != std::optional<std::string_view>(provisioner)) return false;
  const json::object* spec = json::get_object(pv, "spec");
  const json::object* status = json::get_object(pv, "status");
  if (spec == nullptr || status == nullptr) return false;
  if (json::get_string(*status, "phase") != "Released") return false;
  if (json::get_string(*spec, "persistentVolumeReclaimPolicy") != "Delete") return false;
  const json::object* csi = json::get_object(*spec, "csi");
  if (csi == nullptr || json::get_string(*csi, "driver") != provisioner) return false;
  const json::object* affinity = json::get_object(*spec, "nodeAffinity");
  const json::object* required = affinity ? json::get_object(*affinity, "required") : nullptr;
  if (required == nullptr) return false;
  // Node selector terms are ORed, expressions in a term ANDed; only In is produced here,
  // anything else does not match (the volume is left for whoever made it differently).
  for (const json::object* term : api::get_object_array(*required, "nodeSelectorTerms")) {
    bool all = true;
    std::vector<const json::object*> exprs = api::get_object_array(*term, "matchExpressions");
    if (exprs.empty()) all = false;
    for (const json::object* e : exprs) {
      auto it = node_topology.find(std::string(json::get_string(*e, "key")));
      std::vector<std::string> values = strings_of(*e, "values");
      if (json::get_string(*e, "operator") != "In" || it == node_topology.end() ||
          std::find(values.begin(), values.end(), it->second) == values.end()) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

std::string immediate_provisioning_node(const std::vector<const json::object*>& csi_nodes, std::string_view driver) {
  std::string best;
  for (const json::object* n : csi_nodes) {
    const json::object* spec = json::get_object(*n, "spec");
    if (spec == nullptr) continue;
    for (const json::object* d : api::get_object_array(*spec, "drivers")) {
      if (json::get_string(*d, "name") != driver) continue;
      std::string name(api::Meta(*n).name());
      if (best.empty() || name < best) best = name;
    }
  }
  return best;
}

}  // namespace kernlet::csi
