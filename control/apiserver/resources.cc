#include "control/apiserver/resources.h"

#include <algorithm>

namespace kernlet::apiserver {
namespace {

// Served but never stored: bindings (a subresource of pods) and the metrics.k8s.io
// resources, computed from the metrics collector. No watch cache, no GC, no store key.
bool is_stored(const ResourceInfo& r) { return r.resource != "bindings" && r.group != "metrics.k8s.io"; }

using Strings = std::vector<std::string>;

const Strings kAllVerbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
const Strings kStatusVerbs = {"get", "patch", "update"};

ResourceInfo resource(std::string group, std::string version, std::string plural, std::string singular,
                      std::string kind, bool namespaced, Strings short_names = {}, Strings categories = {},
                      std::vector<Subresource> subresources = {}, Strings verbs = kAllVerbs) {
  ResourceInfo r;
  r.group = std::move(group);
  r.version = std::move(version);
  r.resource = std::move(plural);
  r.singular = std::move(singular);
  r.kind = std::move(kind);
  r.namespaced = namespaced;
  r.short_names = std::move(short_names);
  r.categories = std::move(categories);
  r.subresources = std::move(subresources);
  r.verbs = std::move(verbs);
  return r;
}

Subresource status(const std::string& kind) { return {"status", kind, "", "", kStatusVerbs}; }
Subresource scale() { return {"scale", "Scale", "autoscaling", "v1", kStatusVerbs}; }

std::vector<ResourceInfo> build_table() {
  const Strings all = {"all"};
  std::vector<ResourceInfo> t;
  // core/v1
  t.push_back(resource("", "v1", "bindings", "binding", "Binding", true, {}, {}, {}, {"create"}));
  t.push_back(resource("", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}));
  t.push_back(resource("", "v1", "endpoints", "endpoints", "Endpoints", true, {"ep"}));
  t.push_back(resource("", "v1", "events", "event", "Event", true, {"ev"}));
  t.push_back(resource("", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, {},
                       {status("Namespace"), {"finalize", "Namespace", "", "", {"update"}}},
                       {"create", "delete", "get", "list", "patch", "update", "watch"}));
  t.push_back(resource("", "v1", "nodes", "node", "Node", false, {"no"}, {}, {status("Node")}));
  t.push_back(resource("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim",
                       true, {"pvc"}, {}, {status("PersistentVolumeClaim")}));
  t.push_back(resource("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, {"pv"},
                       {}, {status("PersistentVolume")}));
  t.push_back(resource("", "v1", "pods", "pod", "Pod", true, {"po"}, all,
                       {status("Pod"), {"binding", "Binding", "", "", {"create"}}, {"log", "Pod", "", "", {"get"}},
                        {"attach", "PodAttachOptions", "", "", {"create", "get"}},
                        {"exec", "PodExecOptions", "", "", {"create", "get"}},
                        {"portforward", "PodPortForwardOptions", "", "", {"create", "get"}}}));
  t.push_back(resource("", "v1", "secrets", "secret", "Secret", true));
  t.push_back(resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}));
  t.push_back(resource("", "v1", "services", "service", "Service", true, {"svc"}, all, {status("Service")}));
  // apps/v1 (controllerrevisions: no short name or category, as upstream)
  t.push_back(resource("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true));
  t.push_back(resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, all,
                       {status("DaemonSet")}));
  t.push_back(resource("apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, all,
                       {status("Deployment"), scale()}));
  t.push_back(resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, all,
                       {status("ReplicaSet"), scale()}));
  // batch/v1
  t.push_back(resource("batch", "v1", "cronjobs", "cronjob", "CronJob", true, {"cj"}, all, {status("CronJob")}));
  t.push_back(resource("batch", "v1", "jobs", "job", "Job", true, {}, all, {status("Job")}));
  // autoscaling/v2
  t.push_back(resource("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
                       "HorizontalPodAutoscaler", true, {"hpa"}, all, {status("HorizontalPodAutoscaler")}));
  // discovery.k8s.io/v1
  t.push_back(resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true));
  // coordination.k8s.io/v1
  t.push_back(resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", true));
  // storage.k8s.io/v1
  t.push_back(resource("storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", false));
  t.push_back(resource("storage.k8s.io", "v1", "csinodes", "csinode", "CSINode", false));
  t.push_back(resource("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, {"sc"}));
  t.push_back(resource("storage.k8s.io", "v1", "volumeattachments", "volumeattachment", "VolumeAttachment", false,
                       {}, {}, {status("VolumeAttachment")}));
  // events.k8s.io/v1
  t.push_back(resource("events.k8s.io", "v1", "events", "event", "Event", true, {"ev"}));
  // metrics.k8s.io/v1beta1: read-only, computed by the metrics collector (metrics_collector.h)
  // (not stored: no watch cache, no GC, no store key; see is_stored)
  t.push_back(resource("metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", false, {}, {}, {}, {"get", "list"}));
  t.push_back(resource("metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", true, {}, {}, {}, {"get", "list"}));
  return t;
}

json::array to_array(const Strings& s) {
  json::array a;
  for (const auto& x : s) a.emplace_back(x);
  return a;
}

// Groups in the order discovery lists them (core first, then by preference).
Strings group_order() {
  Strings out;
  for (const auto& r : builtin_resources()) {
    if (!r.group.empty() && std::find(out.begin(), out.end(), r.group) == out.end()) out.push_back(r.group);
  }
  return out;
}

std::string group_version_of(std::string_view group) {
  for (const auto& r : builtin_resources())
    if (r.group == group) return r.version;
  return {};
}

json::object group_json(std::string_view group) {
  std::string version = group_version_of(group);
  std::string gv = std::string(group) + "/" + version;
  json::object v{{"groupVersion", gv}, {"version", version}};
  return {{"name", group}, {"versions", json::array{v}}, {"preferredVersion", v}};
}

}  // namespace

bool ResourceInfo::has_verb(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

const Subresource* ResourceInfo::subresource(std::string_view name) const {
  for (const auto& s : subresources)
    if (s.name == name) return &s;
  return nullptr;
}

const std::vector<ResourceInfo>& builtin_resources() {
  static const std::vector<ResourceInfo> table = build_table();
  return table;
}

const ResourceInfo* find_resource(std::string_view group, std::string_view version, std::string_view res) {
  for (const auto& r : builtin_resources())
    if (r.group == group && r.version == version && r.resource == res) return &r;
  return nullptr;
}

const ResourceInfo* find_kind(std::string_view api_version, std::string_view kind) {
  for (const auto& r : builtin_resources())
    if (r.kind == kind && r.api_version() == api_version && is_stored(r)) return &r;
  return nullptr;
}

std::string key_prefix(const ResourceInfo& r, std::string_view ns) {
  std::string k = "/registry/";
  if (!r.group.empty()) k += r.group + "/";
  k += r.resource + "/";
  if (r.namespaced && !ns.empty()) {
    k += ns;
    k += "/";
  }
  return k;
}

std::string object_key(const ResourceInfo& r, std::string_view ns, std::string_view name) {
  return key_prefix(r, ns) + std::string(name);
}

std::optional<KeyParts> parse_key(std::string_view key) {
  for (const auto& r : builtin_resources()) {
    if (!is_stored(r)) continue;
    const std::string prefix = key_prefix(r, "");
    if (!key.starts_with(prefix)) continue;
    std::string_view rest = key.substr(prefix.size());
    KeyParts parts{&r, {}, rest};
    if (r.namespaced) {
      const auto slash = rest.find('/');
      if (slash == std::string_view::npos) return std::nullopt;
      parts.namespace_ = rest.substr(0, slash);
      parts.name = rest.substr(slash + 1);
    }
    if (parts.name.empty() || parts.name.find('/') != std::string_view::npos) return std::nullopt;
    return parts;
  }
  return std::nullopt;
}

json::object core_api_versions(std::string_view server_address) {
  return {{"kind", "APIVersions"},
          {"versions", json::array{"v1"}},
          {"serverAddressByClientCIDRs",
           json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

json::object api_group_list() {
  json::array groups;
  for (const auto& g : group_order()) groups.push_back(group_json(g));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

json::object api_group(std::string_view group) {
  if (group_version_of(group).empty()) return {};
  json::object o = group_json(group);
  o["kind"] = "APIGroup";
  o["apiVersion"] = "v1";
  return o;
}

json::object api_resource_list(std::string_view group, std::string_view version) {
  json::array list;
  for (const auto& r : builtin_resources()) {
    if (r.group != group || r.version != version) continue;
    json::object e{{"name", r.resource},
                   {"singularName", r.singular},
                   {"namespaced", r.namespaced},
                   {"kind", r.kind},
                   {"verbs", to_array(r.verbs)}};
    if (!r.short_names.empty()) e["shortNames"] = to_array(r.short_names);
    if (!r.categories.empty()) e["categories"] = to_array(r.categories);
    list.push_back(std::move(e));
    for (const auto& s : r.subresources) {
      json::object se{{"name", r.resource + "/" + s.name},
                      {"singularName", ""},
                      {"namespaced", r.namespaced},
                      {"kind", s.kind},
                      {"verbs", to_array(s.verbs)}};
      if (!s.group.empty()) se["group"] = s.group;
      if (!s.version.empty()) se["version"] = s.version;
      list.push_back(std::move(se));
    }
  }
  if (list.empty()) return {};
  std::string gv = group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv}, {"resources", std::move(list)}};
}

}  // namespace kernlet::apiserver
