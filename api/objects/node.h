// NodeView: read-only typed view of a core/v1 Node document (pattern: api/objects/pod.h).
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"

namespace kernlet::api {

// spec.taints[i]
class TaintView {
 public:
  explicit TaintView(const json::object& t) : t_(&t) {}
  std::string_view key() const;
  std::string_view value() const;
  std::string_view effect() const;      // "NoSchedule", "PreferNoSchedule", "NoExecute"
  std::string_view time_added() const;  // RFC 3339, NoExecute taints only; "" when unset
  const json::object& raw() const { return *t_; }

 private:
  const json::object* t_;
};

// status.addresses[i]
class NodeAddressView {
 public:
  explicit NodeAddressView(const json::object& a) : a_(&a) {}
  std::string_view type() const;  // "InternalIP", "ExternalIP", "Hostname", ...
  std::string_view address() const;
  const json::object& raw() const { return *a_; }

 private:
  const json::object* a_;
};

// spec
class NodeSpecView {
 public:
  explicit NodeSpecView(const json::object& s) : s_(&s) {}
  std::string_view pod_cidr() const;
  std::vector<std::string_view> pod_cidrs() const;
  std::string_view provider_id() const;
  bool unschedulable() const;
  std::vector<TaintView> taints() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// status
class NodeStatusView {
 public:
  explicit NodeStatusView(const json::object& s) : s_(&s) {}
  ResourceListView capacity() const;
  // What the scheduler may place: capacity minus system reservations.
  ResourceListView allocatable() const;
  std::vector<ConditionView> conditions() const;
  std::optional<ConditionView> condition(std::string_view type) const;
  std::vector<NodeAddressView> addresses() const;
  // The first address of `type`, if any.
  std::optional<std::string_view> address(std::string_view type) const;
  const json::object* node_info() const;
  const json::object* daemon_endpoints() const;
  const json::array* images() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// A whole Node. Labels (kubernetes.io/hostname, topology.kubernetes.io/zone) via meta().
class NodeView {
 public:
  explicit NodeView(const json::object& node) : node_(&node) {}
  Meta meta() const { return Meta(*node_); }
  NodeSpecView spec() const { return NodeSpecView(object_or_empty(*node_, "spec")); }
  NodeStatusView status() const { return NodeStatusView(object_or_empty(*node_, "status")); }
  const json::object& raw() const { return *node_; }

 private:
  const json::object* node_;
};

// Whether the Ready condition is True.
bool node_is_ready(const NodeView& node);

}  // namespace kernlet::api
