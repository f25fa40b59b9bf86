// The Table framework, the shared formatting helpers and the core/v1 printers (plus
// discovery, storage and coordination kinds). Workload printers live in
// tables_workloads.cc.
#include "control/apiserver/tables.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "api/object.h"
#include "api/objects/pod.h"
#include "api/objects/service.h"
#include "api/objects/storage.h"
#include "api/quantity.h"
#include "api/time.h"
#include "control/apiserver/tables_printers.h"

namespace kernlet::apiserver {

namespace tables {

std::optional<TimePoint> parse_time(std::string_view rfc3339) {
  if (rfc3339.empty()) return std::nullopt;
  auto t = api::parse_rfc3339(rfc3339);
  if (!t.ok()) return std::nullopt;
  return *t;
}

std::string since(std::string_view rfc3339, TimePoint now) {
  auto t = parse_time(rfc3339);
  if (!t) return "<unknown>";
  return human_duration(now - *t);
}

std::string age(const json::object& obj, TimePoint now) {
  return since(api::Meta(obj).creation_timestamp(), now);
}

std::string format_labels(const json::object* labels) {
  if (labels == nullptr) return "<none>";
  std::map<std::string_view, std::string_view> sorted;
  for (const auto& [k, v] : *labels) {
    if (v.is_string()) sorted.emplace(k, v.get_string());
  }
  std::string out;
  for (const auto& [k, v] : sorted) {
    if (!out.empty()) out += ',';
    out.append(k).append("=").append(v);
  }
  return out.empty() ? "<none>" : out;
}

std::optional<std::string> selector_string(const json::object* selector) {
  if (selector == nullptr) return std::string();
  // Requirements print sorted by key (a stable sort keeps a key's matchLabels entry before
  // its expressions, as Kubernetes builds them in that order).
  std::vector<std::pair<std::string, std::string>> reqs;
  if (const json::object* ml = json::get_object(*selector, "matchLabels")) {
    for (const auto& [k, v] : *ml) {
      if (!v.is_string()) return std::nullopt;
      reqs.emplace_back(std::string(k), std::string(k) + "=" + std::string(v.get_string()));
    }
  }
  for (const json::object* e : api::get_object_array(*selector, "matchExpressions")) {
    std::string key(json::get_string(*e, "key"));
    std::string_view op = json::get_string(*e, "operator");
    std::vector<std::string> values;
    for (std::string_view v : api::get_string_array(*e, "values")) values.emplace_back(v);
    std::sort(values.begin(), values.end());
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
    if (key.empty()) return std::nullopt;
    if (op == "In" || op == "NotIn") {
      if (values.empty()) return std::nullopt;
      reqs.emplace_back(key, key + (op == "In" ? " in (" : " notin (") + joined + ")");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values.empty()) return std::nullopt;
      reqs.emplace_back(key, (op == "Exists" ? "" : "!") + key);
    } else {
      return std::nullopt;
    }
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& r : reqs) {
    if (!out.empty()) out += ',';
    out += r.second;
  }
  return out;
}

std::string format_label_selector(const json::object* selector) {
  auto s = selector_string(selector);
  if (!s) return "<error>";
  return s->empty() ? "<none>" : *s;
}

std::pair<std::string, std::string> container_cells(const json::object& pod_spec) {
  std::string names;
  std::string images;
  bool first = true;
  for (const json::object* c : api::get_object_array(pod_spec, "containers")) {
    if (!first) {
      names += ',';
      images += ',';
    }
    first = false;
    names += json::get_string(*c, "name");
    images += json::get_string(*c, "image");
  }
  return {names, images};
}

std::string quantity_string(const json::value* v) {
  if (v == nullptr) return "0";
  auto q = Quantity::from_json(*v);
  if (!q.ok()) return v->is_string() ? std::string(v->get_string()) : "0";
  return q->to_string();
}

int64_t int_or(const json::object& o, std::string_view key, int64_t fallback) {
  return json::get_int(o, key).value_or(fallback);
}

}  // namespace tables

namespace {

using tables::Column;
using tables::Printer;
using tables::Row;
using tables::TimePoint;
using tables::age;
using tables::kAgeDescription;
using tables::kNameDescription;

// ---- shared small helpers ---------------------------------------------------------------

std::string_view or_none(std::string_view s) { return s.empty() ? "<none>" : s; }

const json::object& sub(const json::object& o, std::string_view key) {
  return api::object_or_empty(o, key);
}

// Number of members of o[key] when it is an object.
int64_t member_count(const json::object& o, std::string_view key) {
  const json::object* m = json::get_object(o, key);
  return m == nullptr ? 0 : static_cast<int64_t>(m->size());
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

bool is_deleting(const json::object& obj) { return !api::Meta(obj).deletion_timestamp().empty(); }

// ---- pods -------------------------------------------------------------------------------

struct PodSummary {
  std::string reason;
  int64_t ready = 0;
  int64_t total = 0;
  int64_t restarts = 0;
  std::optional<TimePoint> last_restart;
};

bool condition_true(const json::object& status, std::string_view type) {
  auto c = api::find_condition(status, type);
  return c && c->is_true();
}

// Keeps the latest lastState.terminated.finishedAt seen.
void note_restart(const json::object& cs, std::optional<TimePoint>& latest) {
  const json::object* term = json::get_path(cs, "lastState.terminated");
  if (term == nullptr) return;
  auto t = tables::parse_time(json::get_string(*term, "finishedAt"));
  if (t && (!latest || *latest < *t)) latest = t;
}

// The "<prefix>Signal:N" / "<prefix>ExitCode:N" / "<prefix><reason>" of a terminated state.
std::string terminated_reason(const json::object& term, std::string_view prefix) {
  std::string_view reason = json::get_string(term, "reason");
  if (!reason.empty()) return std::string(prefix) + std::string(reason);
  int64_t signal = tables::int_or(term, "signal");
  if (signal != 0) return std::string(prefix) + "Signal:" + std::to_string(signal);
  return std::string(prefix) + "ExitCode:" + std::to_string(tables::int_or(term, "exitCode"));
}

PodSummary summarize_pod(const json::object& pod) {
  const json::object& spec = sub(pod, "spec");
  const json::object& status = sub(pod, "status");
  PodSummary s;
  std::string_view phase = json::get_string(status, "phase");
  std::string_view status_reason = json::get_string(status, "reason");
  s.reason = std::string(status_reason.empty() ? phase : status_reason);
  for (const api::ConditionView& c : api::get_conditions(status)) {
    if (c.type() == "PodScheduled" && c.reason() == "SchedulingGated") s.reason = "SchedulingGated";
  }

  std::vector<const json::object*> init_specs = api::get_object_array(spec, "initContainers");
  std::set<std::string_view> sidecars;
  for (const json::object* c : init_specs) {
    if (api::ContainerView(*c).is_sidecar()) sidecars.insert(json::get_string(*c, "name"));
  }
  s.total = static_cast<int64_t>(api::get_object_array(spec, "containers").size() + sidecars.size());

  int64_t sidecar_restarts = 0;
  std::optional<TimePoint> sidecar_last_restart;
  bool initializing = false;
  std::vector<const json::object*> init_statuses = api::get_object_array(status, "initContainerStatuses");
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json::object& cs = *init_statuses[i];
    const bool sidecar = sidecars.contains(json::get_string(cs, "name"));
    s.restarts += tables::int_or(cs, "restartCount");
    note_restart(cs, s.last_restart);
    if (sidecar) {
      sidecar_restarts += tables::int_or(cs, "restartCount");
      note_restart(cs, sidecar_last_restart);
    }
    const json::object* terminated = json::get_path(cs, "state.terminated");
    const json::object* waiting = json::get_path(cs, "state.waiting");
    if (terminated != nullptr && tables::int_or(*terminated, "exitCode") == 0) continue;
    if (sidecar && json::get_bool_or(cs, "started", false)) {
      if (json::get_bool_or(cs, "ready", false)) ++s.ready;
      continue;
    }
    if (terminated != nullptr) {
      s.reason = terminated_reason(*terminated, "Init:");
    } else if (waiting != nullptr && !json::get_string(*waiting, "reason").empty() &&
               json::get_string(*waiting, "reason") != "PodInitializing") {
      s.reason = "Init:" + std::string(json::get_string(*waiting, "reason"));
    } else {
      s.reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_specs.size());
    }
    initializing = true;
    break;
  }

  if (!initializing || condition_true(status, "Initialized")) {
    s.restarts = sidecar_restarts;
    s.last_restart = sidecar_last_restart;
    bool has_running = false;
    std::vector<const json::object*> statuses = api::get_object_array(status, "containerStatuses");
    for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
      const json::object& cs = **it;
      s.restarts += tables::int_or(cs, "restartCount");
      note_restart(cs, s.last_restart);
      const json::object* waiting = json::get_path(cs, "state.waiting");
      const json::object* terminated = json::get_path(cs, "state.terminated");
      const json::object* running = json::get_path(cs, "state.running");
      if (waiting != nullptr && !json::get_string(*waiting, "reason").empty()) {
        s.reason = json::get_string(*waiting, "reason");
      } else if (terminated != nullptr) {
        s.reason = terminated_reason(*terminated, "");
      } else if (json::get_bool_or(cs, "ready", false) && running != nullptr) {
        has_running = true;
        ++s.ready;
      }
    }
    // A container that completed while another still runs: the pod as a whole runs on.
    if (s.reason == "Completed" && has_running) {
      s.reason = condition_true(status, "Ready") ? "Running" : "NotReady";
    }
  }

  if (is_deleting(pod) && status_reason == "NodeLost") {
    s.reason = "Unknown";
  } else if (is_deleting(pod) && phase != "Succeeded" && phase != "Failed") {
    s.reason = "Terminating";
  }
  return s;
}

constexpr Column kPodColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
    {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
    {"Restarts", "string", "",
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted.",
     0},
    {"Age", "string", "", kAgeDescription, 0},
    {"IP", "string", "",
     "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
     "allocated.",
     1},
    {"Node", "string", "",
     "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for "
     "preemption by the scheduler.",
     1},
    {"Nominated Node", "string", "",
     "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
     "scheduled right away as preemption victims receive their graceful termination periods.",
     1},
    {"Readiness Gates", "string", "",
     "If specified, all readiness gates will be evaluated for pod readiness.", 1},
};

Row print_pod(const json::object& pod, TimePoint now) {
  const json::object& spec = sub(pod, "spec");
  const json::object& status = sub(pod, "status");
  PodSummary s = summarize_pod(pod);
  Row row;
  std::string_view phase = json::get_string(status, "phase");
  if (phase == "Succeeded" || phase == "Failed") {
    const bool ok = phase == "Succeeded";
    row.conditions.push_back(json::object{
        {"type", "Completed"},
        {"status", "True"},
        {"reason", phase},
        {"message", ok ? "The pod has completed successfully." : "The pod failed."}});
  }
  std::string restarts = std::to_string(s.restarts);
  if (s.restarts != 0 && s.last_restart) {
    restarts += " (" + human_duration(now - *s.last_restart) + " ago)";
  }
  std::string_view ip;
  std::vector<std::string_view> ips = api::PodStatusView(status).pod_ips();
  if (!ips.empty()) ip = ips.front();
  if (ip.empty()) ip = json::get_string(status, "podIP");

  std::string gates = "<none>";
  std::vector<const json::object*> gate_specs = api::get_object_array(spec, "readinessGates");
  if (!gate_specs.empty()) {
    int64_t true_count = 0;
    for (const json::object* g : gate_specs) {
      if (condition_true(status, json::get_string(*g, "conditionType"))) ++true_count;
    }
    gates = std::to_string(true_count) + "/" + std::to_string(gate_specs.size());
  }
  row.cells = {api::Meta(pod).name(),
               std::to_string(s.ready) + "/" + std::to_string(s.total),
               s.reason,
               restarts,
               age(pod, now),
               or_none(ip),
               or_none(json::get_string(spec, "nodeName")),
               or_none(json::get_string(status, "nominatedNodeName")),
               gates};
  return row;
}

// ---- nodes ------------------------------------------------------------------------------

constexpr Column kNodeColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Status", "string", "", "The status of the node", 0},
    {"Roles", "string", "", "The roles of the node", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Version", "string", "", "Kubelet Version reported by the node.", 0},
    {"Internal-IP", "string", "", "List of addresses reachable to the node.", 1},
    {"External-IP", "string", "", "List of addresses reachable to the node.", 1},
    {"OS-Image", "string", "",
     "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1},
    {"Kernel-Version", "string", "",
     "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1},
    {"Container-Runtime", "string", "",
     "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
     "containerd://1.4.2).",
     1},
};

std::string node_address(const json::object& status, std::string_view type) {
  for (const json::object* a : api::get_object_array(status, "addresses")) {
    if (json::get_string(*a, "type") == type) return std::string(json::get_string(*a, "address"));
  }
  return "<none>";
}

Row print_node(const json::object& node, TimePoint now) {
  const json::object& status = sub(node, "status");
  std::vector<std::string> conds;
  if (auto ready = api::find_condition(status, "Ready")) {
    conds.emplace_back(ready->is_true() ? "Ready" : "NotReady");
  } else {
    conds.emplace_back("Unknown");
  }
  if (json::get_bool_or(sub(node, "spec"), "unschedulable", false)) {
    conds.emplace_back("SchedulingDisabled");
  }
  std::set<std::string> roles;
  constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
  if (const json::object* labels = api::Meta(node).labels()) {
    for (const auto& [k, v] : *labels) {
      std::string_view key = k;
      if (key.starts_with(kRolePrefix)) {
        if (key.size() > kRolePrefix.size()) roles.emplace(key.substr(kRolePrefix.size()));
      } else if (key == "kubernetes.io/role" && v.is_string() && !v.get_string().empty()) {
        roles.emplace(v.get_string());
      }
    }
  }
  std::string role_cell = join({roles.begin(), roles.end()}, ",");
  const json::object& info = sub(status, "nodeInfo");
  auto unknown = [](std::string_view s) { return s.empty() ? std::string_view("<unknown>") : s; };
  Row row;
  row.cells = {api::Meta(node).name(),
               join(conds, ","),
               role_cell.empty() ? "<none>" : role_cell,
               age(node, now),
               json::get_string(info, "kubeletVersion"),
               node_address(status, "InternalIP"),
               node_address(status, "ExternalIP"),
               unknown(json::get_string(info, "osImage")),
               unknown(json::get_string(info, "kernelVersion")),
               unknown(json::get_string(info, "containerRuntimeVersion"))};
  return row;
}

// ---- services, endpoints ----------------------------------------------------------------

constexpr Column kServiceColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Type", "string", "",
     "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
     "ExternalName, ClusterIP, NodePort, and LoadBalancer.",
     0},
    {"Cluster-IP", "string", "",
     "clusterIP is the IP address of the service and is usually assigned randomly.", 0},
    {"External-IP", "string", "",
     "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
     "traffic for this service.",
     0},
    {"Port(s)", "string", "", "The list of ports that are exposed by this service.", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Selector", "string", "",
     "Route service traffic to pods with label keys and values matching this selector.", 1},
};

std::string service_external_ip(const api::ServiceView& svc) {
  api::ServiceSpecView spec = svc.spec();
  std::vector<std::string> external;
  for (std::string_view ip : spec.external_ips()) external.emplace_back(ip);
  std::string_view type = spec.type();
  if (type == "ClusterIP" || type == "NodePort") {
    return external.empty() ? "<none>" : join(external, ",");
  }
  if (type == "LoadBalancer") {
    // Server-side printing is always wide, so the ingress list is never clipped.
    std::set<std::string> lb;
    for (const api::LoadBalancerIngressView& i : svc.status().load_balancer_ingress()) {
      if (!i.ip().empty()) {
        lb.emplace(i.ip());
      } else if (!i.hostname().empty()) {
        lb.emplace(i.hostname());
      }
    }
    std::vector<std::string> all(lb.begin(), lb.end());
    if (!external.empty()) {
      all.insert(all.end(), external.begin(), external.end());
      return join(all, ",");
    }
    return all.empty() ? "<pending>" : join(all, ",");
  }
  if (type == "ExternalName") return std::string(spec.external_name());
  return "<unknown>";
}

Row print_service(const json::object& obj, TimePoint now) {
  api::ServiceView svc(obj);
  std::vector<std::string_view> cluster_ips = svc.spec().cluster_ips();
  std::vector<std::string> ports;
  for (const api::ServicePortView& p : svc.spec().ports()) {
    std::string s = std::to_string(p.port());
    if (p.node_port() > 0) s += ":" + std::to_string(p.node_port());
    ports.push_back(s + "/" + std::string(p.protocol()));
  }
  std::string port_cell = join(ports, ",");
  Row row;
  row.cells = {svc.meta().name(),
               svc.spec().type(),
               cluster_ips.empty() ? std::string_view("<none>") : cluster_ips.front(),
               service_external_ip(svc),
               port_cell.empty() ? "<none>" : port_cell,
               age(obj, now),
               tables::format_labels(svc.spec().selector())};
  return row;
}

constexpr Column kEndpointsColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Endpoints", "string", "",
     "The set of all endpoints is the union of all subsets. Addresses are placed into subsets "
     "according to the IPs they share.",
     0},
    {"Age", "string", "", kAgeDescription, 0},
};

// Upstream's host:port join: IPv6 addresses get brackets.
std::string host_port(std::string_view ip, int64_t port) {
  std::string host(ip);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

// The first `kMax` items joined with ",", then " + N more..." for the rest.
constexpr size_t kMaxListed = 3;
std::string list_with_more(const std::vector<std::string>& list, size_t count, std::string_view empty) {
  std::string ret = join(list, ",");
  if (count > list.size()) return ret + " + " + std::to_string(count - list.size()) + " more...";
  return ret.empty() ? std::string(empty) : ret;
}

Row print_endpoints(const json::object& obj, TimePoint now) {
  std::vector<std::string> list;
  size_t count = 0;
  std::vector<const json::object*> subsets = api::get_object_array(obj, "subsets");
  for (const json::object* ss : subsets) {
    std::vector<const json::object*> addrs = api::get_object_array(*ss, "addresses");
    std::vector<const json::object*> ports = api::get_object_array(*ss, "ports");
    if (ports.empty()) {
      // Headless services may have no ports: the bare addresses then.
      count += addrs.size();
      for (const json::object* a : addrs) {
        if (list.size() == kMaxListed) break;
        list.emplace_back(json::get_string(*a, "ip"));
      }
      continue;
    }
    for (const json::object* p : ports) {
      count += addrs.size();
      for (const json::object* a : addrs) {
        if (list.size() == kMaxListed) break;
        list.push_back(host_port(json::get_string(*a, "ip"), tables::int_or(*p, "port")));
      }
    }
  }
  Row row;
  row.cells = {api::Meta(obj).name(),
               subsets.empty() ? std::string("<none>") : list_with_more(list, count, ""),
               age(obj, now)};
  return row;
}

constexpr Column kEndpointSliceColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"AddressType", "string", "", "addressType specifies the type of address carried by this EndpointSlice.", 0},
    {"Ports", "string", "", "ports specifies the list of network ports exposed by each endpoint in this slice.", 0},
    {"Endpoints", "string", "", "endpoints is a list of unique endpoints in this slice.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_endpoint_slice(const json::object& obj, TimePoint now) {
  std::vector<std::string> ports;
  size_t port_count = 0;
  for (const json::object* p : api::get_object_array(obj, "ports")) {
    if (ports.size() < kMaxListed) {
      if (auto n = json::get_int(*p, "port")) {
        ports.push_back(std::to_string(*n));
      } else if (const json::value* name = json::find(*p, "name"); name && name->is_string()) {
        ports.emplace_back(name->get_string());
      } else {
        ports.emplace_back("*");
      }
    }
    ++port_count;
  }
  std::vector<std::string> addrs;
  size_t addr_count = 0;
  for (const json::object* e : api::get_object_array(obj, "endpoints")) {
    for (std::string_view a : api::get_string_array(*e, "addresses")) {
      if (addrs.size() < kMaxListed) addrs.emplace_back(a);
      ++addr_count;
    }
  }
  Row row;
  row.cells = {api::Meta(obj).name(), json::get_string(obj, "addressType"),
               list_with_more(ports, port_count, "<unset>"),
               list_with_more(addrs, addr_count, "<unset>"), age(obj, now)};
  return row;
}

// ---- namespaces, events -----------------------------------------------------------------

constexpr Column kNamespaceColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Status", "string", "", "The status of the namespace", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_namespace(const json::object& obj, TimePoint now) {
  Row row;
  row.cells = {api::Meta(obj).name(), json::get_string(sub(obj, "status"), "phase"), age(obj, now)};
  return row;
}

constexpr Column kEventColumns[] = {
    {"Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0},
    {"Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0},
    {"Reason", "string", "",
     "This should be a short, machine understandable string that gives the reason for the "
     "transition into the object's current status.",
     0},
    {"Object", "string", "", "The object that this event is about.", 0},
    {"Subobject", "string", "",
     "If referring to a piece of an object instead of an entire object, this string should contain "
     "a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
     1},
    {"Source", "string", "", "The component reporting this event. Should be a short machine understandable string.", 1},
    {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
    {"First Seen", "string", "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1},
    {"Count", "string", "", "The number of times this event has occurred.", 1},
    {"Name", "string", "name", kNameDescription, 1},
};

std::string trim_space(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(kSpace);
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Both Event kinds print alike; events.k8s.io/v1 names the core/v1 fields differently.
Row print_event_fields(const json::object& obj, TimePoint now, bool events_v1) {
  const json::object& involved = sub(obj, events_v1 ? "regarding" : "involvedObject");
  const json::object& source = sub(obj, events_v1 ? "deprecatedSource" : "source");
  std::string_view first_ts = json::get_string(obj, events_v1 ? "deprecatedFirstTimestamp" : "firstTimestamp");
  std::string_view last_ts = json::get_string(obj, events_v1 ? "deprecatedLastTimestamp" : "lastTimestamp");
  int64_t count = tables::int_or(obj, events_v1 ? "deprecatedCount" : "count");

  std::string first = tables::parse_time(first_ts) ? tables::since(first_ts, now)
                                                   : tables::since(json::get_string(obj, "eventTime"), now);
  std::string last = tables::parse_time(last_ts) ? tables::since(last_ts, now) : first;
  if (const json::object* series = json::get_object(obj, "series")) {
    last = tables::since(json::get_string(*series, "lastObservedTime"), now);
    count = tables::int_or(*series, "count");
  } else if (count == 0) {
    count = 1;  // singleton events of the new API carry no count
  }
  std::string target = lower(json::get_string(involved, "kind"));
  if (!json::get_string(involved, "name").empty()) target += "/" + std::string(json::get_string(involved, "name"));

  std::string_view component = json::get_string(source, "component");
  // core/v1 serializes ReportingController as "reportingComponent".
  if (component.empty()) component = json::get_string(obj, events_v1 ? "reportingController" : "reportingComponent");
  std::string_view host = json::get_string(source, "host");
  if (host.empty()) host = json::get_string(obj, "reportingInstance");
  std::string source_cell(component);
  if (!host.empty()) source_cell += ", " + std::string(host);

  Row row;
  row.cells = {last,
               json::get_string(obj, "type"),
               json::get_string(obj, "reason"),
               target,
               json::get_string(involved, "fieldPath"),
               source_cell,
               trim_space(json::get_string(obj, events_v1 ? "note" : "message")),
               first,
               count,
               api::Meta(obj).name()};
  return row;
}

Row print_event(const json::object& obj, TimePoint now) { return print_event_fields(obj, now, false); }
Row print_events_v1_event(const json::object& obj, TimePoint now) {
  return print_event_fields(obj, now, true);
}

// ---- config -----------------------------------------------------------------------------

constexpr Column kConfigMapColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Data", "string", "", "Data contains the configuration data.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_config_map(const json::object& obj, TimePoint now) {
  Row row;
  row.cells = {api::Meta(obj).name(), member_count(obj, "data") + member_count(obj, "binaryData"),
               age(obj, now)};
  return row;
}

constexpr Column kSecretColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Type", "string", "", "Used to facilitate programmatic handling of secret data.", 0},
    {"Data", "string", "", "Data contains the secret data.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_secret(const json::object& obj, TimePoint now) {
  Row row;
  row.cells = {api::Meta(obj).name(), json::get_string(obj, "type"), member_count(obj, "data"),
               age(obj, now)};
  return row;
}

constexpr Column kServiceAccountColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Secrets", "string", "",
     "Secrets is a list of the secrets in the same namespace that pods running using this "
     "ServiceAccount are allowed to use.",
     0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_service_account(const json::object& obj, TimePoint now) {
  const json::array* secrets = json::get_array(obj, "secrets");
  Row row;
  row.cells = {api::Meta(obj).name(), static_cast<int64_t>(secrets ? secrets->size() : 0), age(obj, now)};
  return row;
}

// ---- storage ----------------------------------------------------------------------------

// GetAccessModesAsString: a fixed order, duplicates and unknown modes dropped.
std::string access_modes(const std::vector<std::string_view>& modes) {
  std::vector<std::string> out;
  auto has = [&](std::string_view m) { return std::find(modes.begin(), modes.end(), m) != modes.end(); };
  if (has("ReadWriteOnce")) out.emplace_back("RWO");
  if (has("ReadOnlyMany")) out.emplace_back("ROX");
  if (has("ReadWriteMany")) out.emplace_back("RWX");
  if (has("ReadWriteOncePod")) out.emplace_back("RWOP");
  return join(out, ",");
}

// The volume (claim) class: the beta annotation wins over spec.storageClassName.
std::string_view storage_class_of(const json::object& obj) {
  if (auto a = api::Meta(obj).annotation("volume.beta.kubernetes.io/storage-class")) return *a;
  return json::get_string(sub(obj, "spec"), "storageClassName");
}

std::string_view unset_or(const json::object& o, std::string_view key) {
  const json::value* v = json::find(o, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : "<unset>";
}

constexpr Column kPersistentVolumeColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Capacity", "string", "", "capacity is the description of the persistent volume's resources and capacity.", 0},
    {"Access Modes", "string", "", "accessModes contains all ways the volume can be mounted.", 0},
    {"Reclaim Policy", "string", "",
     "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from "
     "its claim.",
     0},
    {"Status", "string", "", "phase indicates if a volume is available, bound to a claim, or released by a claim.", 0},
    {"Claim", "string", "", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.", 0},
    {"StorageClass", "string", "", "StorageClass of the pv", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pv", 0},
    {"Reason", "string", "", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"VolumeMode", "string", "", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.", 1},
};

Row print_persistent_volume(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  std::string claim;
  if (const json::object* ref = json::get_object(spec, "claimRef")) {
    claim = std::string(json::get_string(*ref, "namespace")) + "/" + std::string(json::get_string(*ref, "name"));
  }
  std::string phase(json::get_string(status, "phase"));
  if (is_deleting(obj)) phase = "Terminating";
  Row row;
  row.cells = {api::Meta(obj).name(),
               tables::quantity_string(json::find(sub(spec, "capacity"), "storage")),
               access_modes(api::get_string_array(spec, "accessModes")),
               json::get_string(spec, "persistentVolumeReclaimPolicy"),
               phase,
               claim,
               storage_class_of(obj),
               unset_or(spec, "volumeAttributesClassName"),
               json::get_string(status, "reason"),
               age(obj, now),
               unset_or(spec, "volumeMode")};
  return row;
}

constexpr Column kPersistentVolumeClaimColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Status", "string", "", "phase represents the current phase of PersistentVolumeClaim.", 0},
    {"Volume", "string", "", "volumeName is the binding reference to the PersistentVolume backing this claim.", 0},
    {"Capacity", "string", "", "capacity represents the actual resources of the underlying volume.", 0},
    {"Access Modes", "string", "", "accessModes contains the actual access modes the volume backing the PVC has.", 0},
    {"StorageClass", "string", "", "StorageClass of the pvc", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pvc", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"VolumeMode", "string", "", "volumeMode defines what type of volume is required by the claim.", 1},
};

Row print_persistent_volume_claim(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  std::string phase(json::get_string(status, "phase"));
  if (is_deleting(obj)) phase = "Terminating";
  std::string_view volume = json::get_string(spec, "volumeName");
  std::string capacity;
  std::string modes;
  // Capacity and modes are the bound volume's, so blank until the claim is bound.
  if (!volume.empty()) {
    modes = access_modes(api::get_string_array(status, "accessModes"));
    capacity = tables::quantity_string(json::find(sub(status, "capacity"), "storage"));
  }
  Row row;
  row.cells = {api::Meta(obj).name(), phase, volume, capacity, modes, storage_class_of(obj),
               unset_or(spec, "volumeAttributesClassName"), age(obj, now), unset_or(spec, "volumeMode")};
  return row;
}

constexpr Column kStorageClassColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Provisioner", "string", "", "provisioner indicates the type of the provisioner.", 0},
    {"ReclaimPolicy", "string", "",
     "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this "
     "storage class. Defaults to Delete.",
     0},
    {"VolumeBindingMode", "string", "",
     "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. When "
     "unset, VolumeBindingImmediate is used.",
     0},
    {"AllowVolumeExpansion", "string", "", "allowVolumeExpansion shows whether the storage class allow volume expand.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_storage_class(const json::object& obj, TimePoint now) {
  api::StorageClassView sc(obj);
  std::string name(sc.meta().name());
  if (sc.is_default_class()) name += " (default)";
  Row row;
  row.cells = {name, sc.provisioner(), sc.reclaim_policy(), sc.volume_binding_mode(),
               sc.allow_volume_expansion(), age(obj, now)};
  return row;
}

constexpr Column kCsiDriverColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"AttachRequired", "boolean", "", "attachRequired indicates this CSI volume driver requires an attach operation.", 0},
    {"PodInfoOnMount", "boolean", "", "podInfoOnMount indicates this CSI volume driver requires additional pod information during mount operations.", 0},
    {"StorageCapacity", "boolean", "", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity.", 0},
    {"TokenRequests", "string", "", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication.", 0},
    {"RequiresRepublish", "boolean", "", "requiresRepublish indicates the CSI driver wants NodePublishVolume being periodically called.", 0},
    {"Modes", "string", "", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_csi_driver(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  std::vector<std::string> audiences;
  for (const json::object* t : api::get_object_array(spec, "tokenRequests"))
    audiences.emplace_back(json::get_string(*t, "audience"));
  std::vector<std::string> modes;
  for (auto m : api::get_string_array(spec, "volumeLifecycleModes")) modes.emplace_back(m);
  Row row;
  row.cells = {api::Meta(obj).name(),
               json::get_bool_or(spec, "attachRequired", true),
               json::get_bool_or(spec, "podInfoOnMount", false),
               json::get_bool_or(spec, "storageCapacity", false),
               audiences.empty() ? std::string("<unset>") : join(audiences, ","),
               json::get_bool_or(spec, "requiresRepublish", false),
               modes.empty() ? std::string("<none>") : join(modes, ","),
               age(obj, now)};
  return row;
}

constexpr Column kCsiNodeColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Drivers", "integer", "", "Drivers indicates the number of CSI drivers registered on the node", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_csi_node(const json::object& obj, TimePoint now) {
  Row row;
  row.cells = {api::Meta(obj).name(),
               static_cast<int64_t>(api::get_object_array(sub(obj, "spec"), "drivers").size()), age(obj, now)};
  return row;
}

constexpr Column kVolumeAttachmentColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Attacher", "string", "", "attacher indicates the name of the volume driver that MUST handle this request.", 0},
    {"PV", "string", "", "Name of the persistent volume to attach.", 0},
    {"Node", "string", "", "nodeName represents the node that the volume should be attached to.", 0},
    {"Attached", "boolean", "", "attached indicates the volume is successfully attached.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_volume_attachment(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  Row row;
  row.cells = {api::Meta(obj).name(), json::get_string(spec, "attacher"),
               json::get_string(sub(spec, "source"), "persistentVolumeName"), json::get_string(spec, "nodeName"),
               json::get_bool_or(sub(obj, "status"), "attached", false), age(obj, now)};
  return row;
}

// ---- coordination -----------------------------------------------------------------------

constexpr Column kLeaseColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Holder", "string", "", "holderIdentity contains the identity of the holder of a current lease.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

Row print_lease(const json::object& obj, TimePoint now) {
  Row row;
  row.cells = {api::Meta(obj).name(), json::get_string(sub(obj, "spec"), "holderIdentity"), age(obj, now)};
  return row;
}

// ---- the generic table ------------------------------------------------------------------

constexpr Column kDefaultColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Created At", "date", "", kAgeDescription, 0},
};

// The default convertor prints the creation time itself, UTC RFC 3339; an unset one is
// Go's zero time.
Row print_default(const json::object& obj, TimePoint) {
  auto t = tables::parse_time(api::Meta(obj).creation_timestamp());
  Row row;
  row.cells = {api::Meta(obj).name(), t ? api::format_rfc3339(*t) : "0001-01-01T00:00:00Z"};
  return row;
}

const Printer* find_core_printer(std::string_view group, std::string_view resource) {
  struct Entry {
    std::string_view group;
    std::string_view resource;
    Printer printer;
  };
  static const Entry kEntries[] = {
      {"", "pods", {kPodColumns, print_pod}},
      {"", "nodes", {kNodeColumns, print_node}},
      {"", "services", {kServiceColumns, print_service}},
      {"", "endpoints", {kEndpointsColumns, print_endpoints}},
      {"", "namespaces", {kNamespaceColumns, print_namespace}},
      {"", "events", {kEventColumns, print_event}},
      {"", "configmaps", {kConfigMapColumns, print_config_map}},
      {"", "secrets", {kSecretColumns, print_secret}},
      {"", "serviceaccounts", {kServiceAccountColumns, print_service_account}},
      {"", "persistentvolumes", {kPersistentVolumeColumns, print_persistent_volume}},
      {"", "persistentvolumeclaims", {kPersistentVolumeClaimColumns, print_persistent_volume_claim}},
      {"discovery.k8s.io", "endpointslices", {kEndpointSliceColumns, print_endpoint_slice}},
      {"events.k8s.io", "events", {kEventColumns, print_events_v1_event}},
      {"storage.k8s.io", "storageclasses", {kStorageClassColumns, print_storage_class}},
      {"storage.k8s.io", "csidrivers", {kCsiDriverColumns, print_csi_driver}},
      {"storage.k8s.io", "csinodes", {kCsiNodeColumns, print_csi_node}},
      {"storage.k8s.io", "volumeattachments", {kVolumeAttachmentColumns, print_volume_attachment}},
      {"coordination.k8s.io", "leases", {kLeaseColumns, print_lease}},
  };
  for (const Entry& e : kEntries) {
    if (e.group == group && e.resource == resource) return &e.printer;
  }
  return nullptr;
}

json::object column_json(const Column& c) {
  return {{"name", c.name},
          {"type", c.type},
          {"format", c.format},
          {"description", c.description},
          {"priority", c.priority}};
}

json::value row_object(const ResourceInfo& resource, const json::object& obj, IncludeObject include) {
  switch (include) {
    case IncludeObject::kNone:
      return nullptr;
    case IncludeObject::kMetadata: {
      json::object partial{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}};
      partial["metadata"] = api::Meta(obj).raw();
      return partial;
    }
    case IncludeObject::kObject: {
      json::object full = obj;
      // Stored objects may lack their type meta; the encoder would always write it.
      if (api::kind(full).empty()) full["kind"] = resource.kind;
      if (api::api_version(full).empty()) full["apiVersion"] = resource.api_version();
      return full;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<IncludeObject> parse_include_object(std::string_view value) {
  if (value.empty() || value == "Metadata") return IncludeObject::kMetadata;
  if (value == "None") return IncludeObject::kNone;
  if (value == "Object") return IncludeObject::kObject;
  return std::nullopt;
}

std::string human_duration(std::chrono::nanoseconds d) {
  using std::chrono::duration_cast;
  // Go's int(d.Seconds()) truncates toward zero, so up to 1.999s ahead reads "0s".
  const int64_t seconds = duration_cast<std::chrono::seconds>(d).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m" : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h" : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const int64_t dy = (hours / 24) % 365;
    return dy == 0 ? std::to_string(hours / 24 / 365) + "y"
                   : std::to_string(hours / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string pod_status_reason(const json::object& pod) { return summarize_pod(pod).reason; }

json::object make_table(const ResourceInfo& resource, const std::vector<const json::object*>& objects,
                        const TableOptions& options) {
  const Printer* printer = find_core_printer(resource.group, resource.resource);
  if (printer == nullptr) printer = tables::find_workload_printer(resource.group, resource.resource);
  static const Printer kDefault{kDefaultColumns, print_default};
  if (printer == nullptr) printer = &kDefault;

  json::object metadata;
  if (!options.resource_version.empty()) metadata["resourceVersion"] = options.resource_version;
  if (!options.continue_token.empty()) metadata["continue"] = options.continue_token;
  if (options.remaining_item_count) metadata["remainingItemCount"] = *options.remaining_item_count;

  json::value columns = nullptr;
  if (!options.no_headers) {
    json::array defs;
    for (const Column& c : printer->columns) defs.push_back(column_json(c));
    columns = std::move(defs);
  }

  json::array rows;
  for (const json::object* obj : objects) {
    if (obj == nullptr) continue;
    Row r = printer->print(*obj, options.now);
    json::object row{{"cells", std::move(r.cells)}};
    if (!r.conditions.empty()) row["conditions"] = std::move(r.conditions);
    row["object"] = row_object(resource, *obj, options.include_object);
    rows.push_back(std::move(row));
  }

  json::object table{{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}};
  table["metadata"] = std::move(metadata);
  table["columnDefinitions"] = std::move(columns);
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace kernlet::apiserver
