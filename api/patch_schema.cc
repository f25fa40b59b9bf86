#include "api/patch_schema.h"

#include <initializer_list>
#include <utility>
#include <vector>

namespace kernlet::api::patch_internal {
namespace {

// One struct tag: the field at `path` (dotted, relative to a type; a list's element
// fields follow the list's own name) has `strategy` and `merge_key`.
struct Rule {
  std::string path;
  FieldStrategy strategy;
  std::string merge_key;
};

using Rules = std::vector<Rule>;
constexpr auto kMerge = FieldStrategy::kMerge;

// Rules of `inner` placed under `prefix`.
Rules under(std::string_view prefix, const Rules& inner) {
  Rules out;
  for (const Rule& r : inner) {
    out.push_back({std::string(prefix) + "." + r.path, r.strategy, r.merge_key});
  }
  return out;
}

Rules join(std::initializer_list<Rules> parts) {
  Rules out;
  for (const Rules& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// meta/v1 ObjectMeta.
const Rules& object_meta() {
  static const Rules r = {
      {"ownerReferences", kMerge, "uid"},
      {"finalizers", kMerge, ""},
  };
  return r;
}

// core/v1 Container and EphemeralContainerCommon.
const Rules& container() {
  static const Rules r = {
      {"ports", kMerge, "containerPort"},
      {"env", kMerge, "name"},
      {"volumeMounts", kMerge, "mountPath"},
      {"volumeDevices", kMerge, "devicePath"},
  };
  return r;
}

// core/v1 PodSpec. volumes and resourceClaims are "merge,retainKeys": retainKeys only
// shapes the patches clients compute, applying honours the $retainKeys directive anywhere.
const Rules& pod_spec() {
  static const Rules r = join({
      Rules{{"volumes", kMerge, "name"},
            {"containers", kMerge, "name"},
            {"initContainers", kMerge, "name"},
            {"ephemeralContainers", kMerge, "name"},
            {"imagePullSecrets", kMerge, "name"},
            {"hostAliases", kMerge, "ip"},
            {"topologySpreadConstraints", kMerge, "topologyKey"},
            {"schedulingGates", kMerge, "name"},
            {"resourceClaims", kMerge, "name"},
            {"evictionResponders", kMerge, "name"}},
      under("containers", container()),
      under("initContainers", container()),
      under("ephemeralContainers", container()),
  });
  return r;
}

// core/v1 PodStatus (containerStatuses are atomic, so their inner tags never apply).
const Rules& pod_status() {
  static const Rules r = {
      {"conditions", kMerge, "type"},
      {"podIPs", kMerge, "ip"},
      {"hostIPs", kMerge, "ip"},
      {"resourceClaimStatuses", kMerge, "name"},
      {"nodeAllocatableResourceClaimStatuses", kMerge, "resourceClaimName"},
      {"nodeAllocatableResourceClaimStatuses.mapping", kMerge, "name"},
      {"nodeAllocatableResourceClaimStatuses.overhead", kMerge, "name"},
  };
  return r;
}

// core/v1 PodTemplateSpec.
const Rules& pod_template() {
  static const Rules r = join({under("metadata", object_meta()), under("spec", pod_spec())});
  return r;
}

const Rules& conditions_by_type() {
  static const Rules r = {{"conditions", kMerge, "type"}};
  return r;
}

// A workload: spec.template is a pod template, status.conditions merge by type.
Rules workload() {
  return join({under("spec.template", pod_template()), under("status", conditions_by_type())});
}

struct KindRules {
  std::string group;
  std::string kind;
  Rules rules;  // besides metadata, which every kind has
};

std::vector<KindRules> kind_table() {
  return {
      {"", "Pod", join({under("spec", pod_spec()), under("status", pod_status())})},
      {"", "PodTemplate", under("template", pod_template())},
      {"", "ReplicationController", workload()},
      {"apps", "Deployment", workload()},
      {"apps", "ReplicaSet", workload()},
      {"apps", "DaemonSet", workload()},
      {"apps", "StatefulSet", workload()},
      {"batch", "Job", workload()},
      {"batch", "CronJob",
       join({under("spec.jobTemplate.metadata", object_meta()),
             under("spec.jobTemplate.spec.template", pod_template())})},
      {"", "Node",
       {{"spec.podCIDRs", kMerge, ""},
        {"status.conditions", kMerge, "type"},
        {"status.addresses", kMerge, "type"}}},
      {"", "Namespace", under("status", conditions_by_type())},
      {"", "PersistentVolumeClaim", under("status", conditions_by_type())},
      {"", "Service", {{"spec.ports", kMerge, "port"}, {"status.conditions", kMerge, "type"}}},
      {"", "ServiceAccount", {{"secrets", kMerge, "name"}}},
      {"", "ComponentStatus", conditions_by_type()},
      {"policy", "PodDisruptionBudget",
       {{"spec.selector", FieldStrategy::kReplace, ""}, {"status.conditions", kMerge, "type"}}},
      {"autoscaling", "HorizontalPodAutoscaler", under("status", conditions_by_type())},
      {"networking.k8s.io", "ServiceCIDR", under("status", conditions_by_type())},
      {"storage.k8s.io", "CSINode", {{"spec.drivers", kMerge, "name"}}},
  };
}

// Built-in kinds whose only tagged fields are in their ObjectMeta.
const std::vector<std::pair<std::string_view, std::string_view>>& plain_kinds() {
  static const std::vector<std::pair<std::string_view, std::string_view>> k = {
      {"", "ConfigMap"},
      {"", "Secret"},
      {"", "Endpoints"},
      {"", "Event"},
      {"", "LimitRange"},
      {"", "ResourceQuota"},
      {"", "PersistentVolume"},
      {"", "Binding"},
      {"apps", "ControllerRevision"},
      {"autoscaling", "Scale"},
      {"coordination.k8s.io", "Lease"},
      {"discovery.k8s.io", "EndpointSlice"},
      {"events.k8s.io", "Event"},
      {"rbac.authorization.k8s.io", "Role"},
      {"rbac.authorization.k8s.io", "RoleBinding"},
      {"rbac.authorization.k8s.io", "ClusterRole"},
      {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
      {"storage.k8s.io", "StorageClass"},
      {"storage.k8s.io", "CSIDriver"},
      {"storage.k8s.io", "VolumeAttachment"},
      {"storage.k8s.io", "CSIStorageCapacity"},
      {"networking.k8s.io", "NetworkPolicy"},
      {"networking.k8s.io", "Ingress"},
      {"networking.k8s.io", "IngressClass"},
      {"networking.k8s.io", "IPAddress"},
      {"scheduling.k8s.io", "PriorityClass"},
      {"node.k8s.io", "RuntimeClass"},
      {"policy", "Eviction"},
      {"certificates.k8s.io", "CertificateSigningRequest"},
      {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"},
      {"admissionregistration.k8s.io", "MutatingWebhookConfiguration"},
      {"apiextensions.k8s.io", "CustomResourceDefinition"},
      {"apiregistration.k8s.io", "APIService"},
  };
  return k;
}

SchemaNode build(const Rules& rules) {
  SchemaNode root;
  for (const Rule& r : rules) {
    SchemaNode* node = &root;
    std::string_view rest = r.path;
    while (!rest.empty()) {
      std::size_t dot = rest.find('.');
      std::string_view step = rest.substr(0, dot);
      node = &node->fields[std::string(step)];
      rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    }
    node->strategy = r.strategy;
    node->merge_key = r.merge_key;
  }
  return root;
}

using Table = std::map<std::pair<std::string, std::string>, SchemaNode, std::less<>>;

const Table& table() {
  static const Table t = [] {
    Table out;
    for (const KindRules& k : kind_table()) {
      out.emplace(std::pair(k.group, k.kind),
                  build(join({under("metadata", object_meta()), k.rules})));
    }
    for (const auto& [group, kind] : plain_kinds()) {
      out.emplace(std::pair(std::string(group), std::string(kind)),
                  build(under("metadata", object_meta())));
    }
    return out;
  }();
  return t;
}

}  // namespace

const SchemaNode* SchemaNode::child(std::string_view name) const {
  auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

const SchemaNode* strategic_schema(std::string_view group, std::string_view kind) {
  const Table& t = table();
  auto it = t.find(std::pair(std::string(group), std::string(kind)));
  return it == t.end() ? nullptr : &it->second;
}

}  // namespace kernlet::api::patch_internal
