// What the scheduler knows about pods and nodes, parsed once from their API objects so that
// filtering and scoring thousands of nodes per pod touch no JSON.
//
// PodInfo and NodeInfo are plain values; parse_pod()/parse_node() are pure and report
// malformed fields by name. Thread-safety: none needed (values), shared as const.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/labels.h"
#include "api/result.h"

namespace kernlet::scheduler {

// Amounts of the resources the scheduler accounts for. cpu in millicores, memory and
// ephemeral-storage in bytes, pods as a count; anything else (extended resources,
// hugepages-*) in its integer value.
struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  int64_t pods = 0;
  std::map<std::string, int64_t, std::less<>> scalar;

  void add(const Resources& r);
  void subtract(const Resources& r);
  bool operator==(const Resources&) const = default;
};

// A host port a pod's container asks for. An empty or 0.0.0.0 ip means every address.
struct HostPort {
  std::string ip;
  std::string protocol;  // TCP, UDP, SCTP
  int64_t port = 0;
  bool conflicts_with(const HostPort& o) const;
};

// One requirement of a NodeSelectorTerm (matchExpressions or matchFields).
struct NodeRequirement {
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  std::string key;
  Op op = Op::kIn;
  std::vector<std::string> values;
  // `value` is the node's label (or field) value; nullopt when the node has none.
  bool matches(std::optional<std::string_view> value) const;
};

// Requirements are ANDed within a term; terms are ORed. A term with no requirements
// matches nothing (as in Kubernetes).
struct NodeSelectorTerm {
  std::vector<NodeRequirement> match_expressions;
  std::vector<NodeRequirement> match_fields;  // only metadata.name exists
  bool matches(const json::object* labels, std::string_view node_name) const;
};

struct PreferredSchedulingTerm {
  int64_t weight = 0;
  NodeSelectorTerm term;
};

struct Toleration {
  std::string key;
  std::string op;  // "Equal" or "Exists"
  std::string value;
  std::string effect;  // "" = every effect
  bool tolerates(std::string_view key, std::string_view value, std::string_view effect) const;
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

// A (required) pod affinity or anti-affinity term.
struct PodAffinityTerm {
  api::Selector selector;                // labelSelector; null matches nothing
  std::vector<std::string> namespaces;   // where matching pods count
  bool all_namespaces = false;           // namespaceSelector: {}
  std::string topology_key;
  // Does `pod` (its namespace and labels) fall under this term?
  bool matches(std::string_view pod_namespace, const json::object* pod_labels) const;
};

// What a pod's volumes ask of its node (volume_binding.h): a node passes when `any`, or
// when one of `terms` matches it; otherwise `reason` filters it out.
struct VolumeNodeRequirement {
  std::string reason;
  bool any = false;
  std::vector<NodeSelectorTerm> terms;
  bool matches(const json::object* labels, std::string_view node_name) const;
};

struct PodInfo {
  std::string namespace_;
  std::string name;
  std::string uid;
  json::object labels;
  std::string node_name;       // spec.nodeName: bound (or asked for) node
  std::string scheduler_name;  // default "default-scheduler"
  std::string owner_uid;       // the controller ownerReference's uid, "" when none
  Resources requests;          // what fit counts (api::pod_resource_requests), pods = 1
  Resources nonzero;           // for scoring: unset cpu/memory requests count 100m/200Mi
  std::vector<HostPort> host_ports;
  std::map<std::string, std::string> node_selector;
  std::vector<NodeSelectorTerm> required_node_affinity;  // empty = none
  bool has_required_node_affinity = false;
  std::vector<PreferredSchedulingTerm> preferred_node_affinity;
  std::vector<Toleration> tolerations;
  std::vector<PodAffinityTerm> required_anti_affinity;
  bool terminal = false;  // Succeeded/Failed: holds no resources
  // Set by the scheduler (not parse_pod) for a pod with PersistentVolumeClaims.
  std::vector<VolumeNodeRequirement> volume_requirements;
  std::vector<std::string> claims_to_select;  // get volume.kubernetes.io/selected-node on binding

  std::string key() const { return namespace_ + "/" + name; }
};

struct NodeInfo {
  std::string name;
  json::object labels;
  std::vector<Taint> taints;
  bool unschedulable = false;
  Resources allocatable;
  // Sums over the pods on this node (bound or assumed).
  Resources requested;
  Resources nonzero_requested;
  std::vector<std::shared_ptr<const PodInfo>> pods;
  std::vector<HostPort> used_ports;

  void add_pod(std::shared_ptr<const PodInfo> pod);
  // Removes the pod with this key; false when it is not here.
  bool remove_pod(std::string_view key);
  std::optional<std::string_view> label(std::string_view key) const;
};

// Parses a NodeSelector's nodeSelectorTerms array (nullptr or null: none), as a PV's
// spec.nodeAffinity.required holds them. Errors name the field under `path`.
Result<std::vector<NodeSelectorTerm>> parse_node_selector_terms(const json::value* terms, std::string_view path);
// Parses TopologySelectorTerms (a StorageClass's allowedTopologies: matchLabelExpressions
// of {key, values}) as NodeSelectorTerms of In requirements on node labels.
Result<std::vector<NodeSelectorTerm>> parse_topology_selector_terms(const json::value* terms, std::string_view path);

// Parses a Pod. Errors name the field (a malformed quantity, selector or operator).
Result<PodInfo> parse_pod(const json::object& pod);
// Parses a Node's labels, taints, unschedulable and allocatable (capacity when
// allocatable is absent). Pods are added separately.
Result<NodeInfo> parse_node(const json::object& node);

}  // namespace kernlet::scheduler
