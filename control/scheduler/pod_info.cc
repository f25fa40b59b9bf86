#include "control/scheduler/pod_info.h"

#include <algorithm>
#include <charconv>

#include "api/object.h"
#include "api/objects/node.h"
#include "api/objects/pod.h"
#include "api/quantity.h"

namespace kernlet::scheduler {
namespace {

constexpr int64_t kDefaultMilliCpuRequest = 100;                // 0.1 core
constexpr int64_t kDefaultMemoryRequest = 200LL * 1024 * 1024;  // 200 MiB

Result<void> add_resource(Resources& out, std::string_view name, const Quantity& q) {
  if (name == "cpu") {
    KL_ASSIGN_OR_RETURN(out.milli_cpu, q.milli_value());
  } else if (name == "memory") {
    KL_ASSIGN_OR_RETURN(out.memory, q.value());
  } else if (name == "ephemeral-storage") {
    KL_ASSIGN_OR_RETURN(out.ephemeral_storage, q.value());
  } else if (name == "pods") {
    KL_ASSIGN_OR_RETURN(out.pods, q.value());
  } else {
    KL_ASSIGN_OR_RETURN(int64_t v, q.value());
    out.scalar[std::string(name)] = v;
  }
  return Ok();
}

Result<Resources> to_resources(const api::ResourceList& list) {
  Resources r;
  for (const auto& [name, q] : list) {
    if (auto ok = add_resource(r, name, q); !ok.ok()) return std::move(ok).error().context(name);
  }
  return r;
}

std::optional<std::string_view> label_of(const json::object& labels, std::string_view key) {
  const json::value* v = json::find(labels, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

Result<std::vector<std::string>> string_list(const json::value* v, std::string_view path) {
  std::vector<std::string> out;
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": expected a list of strings");
  for (const json::value& e : v->as_array()) {
    if (!e.is_string()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": expected a list of strings");
    out.emplace_back(e.get_string());
  }
  return out;
}

Result<std::vector<NodeRequirement>> requirements(const json::value* v, std::string_view path) {
  std::vector<NodeRequirement> out;
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": expected a list");
  std::size_t i = 0;
  for (const json::value& e : v->as_array()) {
    const std::string at = std::string(path) + "[" + std::to_string(i++) + "]";
    if (!e.is_object()) return Error(ErrorCode::kInvalidArgument, at + ": expected an object");
    const json::object& o = e.as_object();
    NodeRequirement r;
    r.key = std::string(json::get_string(o, "key"));
    const std::string_view op = json::get_string(o, "operator");
    if (op == "In") {
      r.op = NodeRequirement::Op::kIn;
    } else if (op == "NotIn") {
      r.op = NodeRequirement::Op::kNotIn;
    } else if (op == "Exists") {
      r.op = NodeRequirement::Op::kExists;
    } else if (op == "DoesNotExist") {
      r.op = NodeRequirement::Op::kDoesNotExist;
    } else if (op == "Gt") {
      r.op = NodeRequirement::Op::kGt;
    } else if (op == "Lt") {
      r.op = NodeRequirement::Op::kLt;
    } else {
      return Error(ErrorCode::kInvalidArgument, at + ".operator: \"" + std::string(op) + "\" is not a valid node selector operator");
    }
    KL_ASSIGN_OR_RETURN(r.values, string_list(json::find(o, "values"), at + ".values"));
    out.push_back(std::move(r));
  }
  return out;
}

Result<NodeSelectorTerm> selector_term(const json::value& v, std::string_view path) {
  if (!v.is_object()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": expected an object");
  NodeSelectorTerm t;
  KL_ASSIGN_OR_RETURN(t.match_expressions,
                      requirements(json::find(v.as_object(), "matchExpressions"), std::string(path) + ".matchExpressions"));
  KL_ASSIGN_OR_RETURN(t.match_fields, requirements(json::find(v.as_object(), "matchFields"), std::string(path) + ".matchFields"));
  return t;
}

Result<void> parse_affinity(const json::object& affinity, PodInfo& p) {
  const std::string base = "spec.affinity";
  if (const json::object* na = json::get_object(affinity, "nodeAffinity")) {
    if (const json::object* req = json::get_object(*na, "requiredDuringSchedulingIgnoredDuringExecution")) {
      p.has_required_node_affinity = true;
      if (const json::array* terms = json::get_array(*req, "nodeSelectorTerms")) {
        for (std::size_t i = 0; i < terms->size(); ++i) {
          KL_ASSIGN_OR_RETURN(NodeSelectorTerm t,
                              selector_term((*terms)[i], base + ".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                                                                "nodeSelectorTerms[" + std::to_string(i) + "]"));
          p.required_node_affinity.push_back(std::move(t));
        }
      }
    }
    if (const json::array* pref = json::get_array(*na, "preferredDuringSchedulingIgnoredDuringExecution")) {
      for (std::size_t i = 0; i < pref->size(); ++i) {
        const std::string at = base + ".nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[" + std::to_string(i) + "]";
        if (!(*pref)[i].is_object()) return Error(ErrorCode::kInvalidArgument, at + ": expected an object");
        const json::object& o = (*pref)[i].as_object();
        PreferredSchedulingTerm t;
        t.weight = json::get_int_or(o, "weight", 0);
        const json::value* pt = json::find(o, "preference");
        if (pt != nullptr) {
          KL_ASSIGN_OR_RETURN(t.term, selector_term(*pt, at + ".preference"));
        }
        p.preferred_node_affinity.push_back(std::move(t));
      }
    }
  }
  if (const json::object* anti = json::get_object(affinity, "podAntiAffinity")) {
    if (const json::array* req = json::get_array(*anti, "requiredDuringSchedulingIgnoredDuringExecution")) {
      for (std::size_t i = 0; i < req->size(); ++i) {
        const std::string at = base + ".podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[" + std::to_string(i) + "]";
        if (!(*req)[i].is_object()) return Error(ErrorCode::kInvalidArgument, at + ": expected an object");
        const json::object& o = (*req)[i].as_object();
        PodAffinityTerm t;
        KL_ASSIGN_OR_RETURN(t.selector, api::Selector::from_json(json::find(o, "labelSelector"),
                                                                 api::Selector::NullMeans::kNothing, at + ".labelSelector"));
        KL_ASSIGN_OR_RETURN(t.namespaces, string_list(json::find(o, "namespaces"), at + ".namespaces"));
        const json::object* ns_sel = json::get_object(o, "namespaceSelector");
        // An empty namespaceSelector selects every namespace; a non-empty one would need
        // the namespaces' labels, which the scheduler does not track yet, so it adds none.
        t.all_namespaces = ns_sel != nullptr && ns_sel->empty();
        if (t.namespaces.empty() && ns_sel == nullptr) t.namespaces.push_back(p.namespace_);
        t.topology_key = std::string(json::get_string(o, "topologyKey"));
        p.required_anti_affinity.push_back(std::move(t));
      }
    }
  }
  return Ok();
}

}  // namespace

void Resources::add(const Resources& r) {
  milli_cpu += r.milli_cpu;
  memory += r.memory;
  ephemeral_storage += r.ephemeral_storage;
  pods += r.pods;
  for (const auto& [k, v] : r.scalar) scalar[k] += v;
}

void Resources::subtract(const Resources& r) {
  milli_cpu -= r.milli_cpu;
  memory -= r.memory;
  ephemeral_storage -= r.ephemeral_storage;
  pods -= r.pods;
  for (const auto& [k, v] : r.scalar) scalar[k] -= v;
}

bool HostPort::conflicts_with(const HostPort& o) const {
  if (port != o.port || protocol != o.protocol) return false;
  auto any = [](const std::string& addr) { return addr.empty() || addr == "0.0.0.0" || addr == "::"; };
  return any(ip) || any(o.ip) || ip == o.ip;
}

bool NodeRequirement::matches(std::optional<std::string_view> value) const {
  switch (op) {
    case Op::kIn:
      return value && std::find(values.begin(), values.end(), *value) != values.end();
    case Op::kNotIn:
      return !value || std::find(values.begin(), values.end(), *value) == values.end();
    case Op::kExists:
      return value.has_value();
    case Op::kDoesNotExist:
      return !value.has_value();
    case Op::kGt:
    case Op::kLt: {
      // Both sides must be integers; anything else does not match (as upstream).
      if (!value || values.size() != 1) return false;
      int64_t have = 0, want = 0;
      auto [p1, e1] = std::from_chars(value->data(), value->data() + value->size(), have);
      auto [p2, e2] = std::from_chars(values[0].data(), values[0].data() + values[0].size(), want);
      if (e1 != std::errc() || p1 != value->data() + value->size() || e2 != std::errc() ||
          p2 != values[0].data() + values[0].size()) {
        return false;
      }
      return op == Op::kGt ? have > want : have < want;
    }
  }
  return false;
}

bool NodeSelectorTerm::matches(const json::object* labels, std::string_view node_name) const {
  if (match_expressions.empty() && match_fields.empty()) return false;
  for (const NodeRequirement& r : match_expressions) {
    if (!r.matches(labels != nullptr ? label_of(*labels, r.key) : std::nullopt)) return false;
  }
  for (const NodeRequirement& r : match_fields) {
    if (r.key != "metadata.name" || !r.matches(node_name)) return false;
  }
  return true;
}

bool VolumeNodeRequirement::matches(const json::object* labels, std::string_view node_name) const {
  return any || std::any_of(terms.begin(), terms.end(),
                            [&](const NodeSelectorTerm& t) { return t.matches(labels, node_name); });
}

bool Toleration::tolerates(std::string_view k, std::string_view v, std::string_view e) const {
  if (!effect.empty() && effect != e) return false;
  if (key.empty()) return op == "Exists";  // an empty key with Exists tolerates everything
  if (key != k) return false;
  return op == "Exists" || value == v;
}

bool PodAffinityTerm::matches(std::string_view pod_namespace, const json::object* pod_labels) const {
  if (!all_namespaces && std::find(namespaces.begin(), namespaces.end(), pod_namespace) == namespaces.end()) return false;
  return selector.matches(pod_labels);
}

void NodeInfo::add_pod(std::shared_ptr<const PodInfo> pod) {
  if (!pod->terminal) {
    requested.add(pod->requests);
    nonzero_requested.add(pod->nonzero);
    used_ports.insert(used_ports.end(), pod->host_ports.begin(), pod->host_ports.end());
  }
  pods.push_back(std::move(pod));
}

bool NodeInfo::remove_pod(std::string_view key) {
  for (auto it = pods.begin(); it != pods.end(); ++it) {
    if ((*it)->key() != key) continue;
    const PodInfo& p = **it;
    if (!p.terminal) {
      requested.subtract(p.requests);
      nonzero_requested.subtract(p.nonzero);
      for (const HostPort& hp : p.host_ports) {
        auto u = std::find_if(used_ports.begin(), used_ports.end(), [&](const HostPort& x) {
          return x.port == hp.port && x.protocol == hp.protocol && x.ip == hp.ip;
        });
        if (u != used_ports.end()) used_ports.erase(u);
      }
    }
    pods.erase(it);
    return true;
  }
  return false;
}

std::optional<std::string_view> NodeInfo::label(std::string_view key) const { return label_of(labels, key); }

Result<std::vector<NodeSelectorTerm>> parse_node_selector_terms(const json::value* terms, std::string_view path) {
  std::vector<NodeSelectorTerm> out;
  if (terms == nullptr || terms->is_null()) return out;
  if (!terms->is_array()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": expected a list");
  for (std::size_t i = 0; i < terms->as_array().size(); ++i) {
    KL_ASSIGN_OR_RETURN(NodeSelectorTerm t,
                        selector_term(terms->as_array()[i], std::string(path) + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<NodeSelectorTerm>> parse_topology_selector_terms(const json::value* terms, std::string_view path) {
  std::vector<NodeSelectorTerm> out;
  if (terms == nullptr || terms->is_null()) return out;
  if (!terms->is_array()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": expected a list");
  for (std::size_t i = 0; i < terms->as_array().size(); ++i) {
    const std::string at = std::string(path) + "[" + std::to_string(i) + "]";
    const json::value& v = terms->as_array()[i];
    if (!v.is_object()) return Error(ErrorCode::kInvalidArgument, at + ": expected an object");
    NodeSelectorTerm t;
    const json::value* exprs = json::find(v.as_object(), "matchLabelExpressions");
    if (exprs != nullptr && !exprs->is_null()) {
      if (!exprs->is_array()) return Error(ErrorCode::kInvalidArgument, at + ".matchLabelExpressions: expected a list");
      for (std::size_t j = 0; j < exprs->as_array().size(); ++j) {
        const std::string eat = at + ".matchLabelExpressions[" + std::to_string(j) + "]";
        const json::value& e = exprs->as_array()[j];
        if (!e.is_object()) return Error(ErrorCode::kInvalidArgument, eat + ": expected an object");
        NodeRequirement r;
        r.key = std::string(json::get_string(e.as_object(), "key"));
        r.op = NodeRequirement::Op::kIn;
        KL_ASSIGN_OR_RETURN(r.values, string_list(json::find(e.as_object(), "values"), eat + ".values"));
        t.match_expressions.push_back(std::move(r));
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

Result<PodInfo> parse_pod(const json::object& obj) {
  api::PodView pod(obj);
  api::Meta meta = pod.meta();
  api::PodSpecView spec = pod.spec();
  PodInfo p;
  p.namespace_ = std::string(meta.namespace_());
  p.name = std::string(meta.name());
  p.uid = std::string(meta.uid());
  if (const json::object* l = meta.labels()) p.labels = *l;
  p.node_name = std::string(spec.node_name());
  p.scheduler_name = std::string(spec.scheduler_name());
  if (auto c = meta.controller_ref()) p.owner_uid = c->uid;
  p.terminal = api::pod_is_terminal(pod);

  KL_ASSIGN_OR_RETURN(api::ResourceList req, api::pod_resource_requests(pod));
  KL_ASSIGN_OR_RETURN(p.requests, to_resources(req));
  p.requests.pods = 1;
  // Scoring counts a container without a cpu/memory request as asking for a little, so
  // that best-effort pods still spread instead of piling onto one node.
  p.nonzero.pods = 1;
  for (const api::ContainerView& c : spec.containers()) {
    KL_ASSIGN_OR_RETURN(Quantity cpu, c.resources().request("cpu"));
    KL_ASSIGN_OR_RETURN(Quantity mem, c.resources().request("memory"));
    KL_ASSIGN_OR_RETURN(int64_t mc, cpu.milli_value());
    KL_ASSIGN_OR_RETURN(int64_t mb, mem.value());
    p.nonzero.milli_cpu += mc != 0 ? mc : kDefaultMilliCpuRequest;
    p.nonzero.memory += mb != 0 ? mb : kDefaultMemoryRequest;
    for (const api::ContainerPortView& port : c.ports()) {
      if (port.host_port() > 0) {
        p.host_ports.push_back({std::string(port.host_ip()), std::string(port.protocol()), port.host_port()});
      }
    }
  }
  if (const json::object* sel = spec.node_selector()) {
    for (const auto& [k, v] : *sel) {
      if (!v.is_string()) return Error(ErrorCode::kInvalidArgument, "spec.nodeSelector[" + std::string(k) + "]: expected string");
      p.node_selector.emplace(std::string(k), std::string(v.get_string()));
    }
  }
  for (const api::TolerationView& t : spec.tolerations()) {
    p.tolerations.push_back({std::string(t.key()), std::string(t.operator_()), std::string(t.value()), std::string(t.effect())});
  }
  if (const json::object* affinity = spec.affinity()) KL_TRY(parse_affinity(*affinity, p));
  return p;
}

Result<NodeInfo> parse_node(const json::object& obj) {
  api::NodeView node(obj);
  NodeInfo n;
  n.name = std::string(node.meta().name());
  if (const json::object* l = node.meta().labels()) n.labels = *l;
  n.unschedulable = node.spec().unschedulable();
  for (const api::TaintView& t : node.spec().taints()) {
    n.taints.push_back({std::string(t.key()), std::string(t.value()), std::string(t.effect())});
  }
  api::ResourceListView alloc = node.status().allocatable();
  if (alloc.empty()) alloc = node.status().capacity();
  auto list = alloc.to_list();
  if (!list.ok()) return std::move(list).error().context("node " + n.name + " status.allocatable");
  auto r = to_resources(*list);
  if (!r.ok()) return std::move(r).error().context("node " + n.name + " status.allocatable");
  n.allocatable = std::move(*r);
  return n;
}

}  // namespace kernlet::scheduler
