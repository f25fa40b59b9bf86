#include "control/apiserver/defaults.h"

#include <array>
#include <string>

namespace kernlet::apiserver {
namespace {

bool unset(const json::object& o, std::string_view key) {
  const json::value* v = json::find(o, key);
  return v == nullptr || v->is_null();
}

void set_default(json::object& o, std::string_view key, json::value v) {
  if (unset(o, key)) o[key] = std::move(v);
}

// A string field Go reads as "" when absent or empty.
bool empty_string(const json::object& o, std::string_view key) {
  const json::value* v = json::find(o, key);
  return v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty());
}

void set_default_string(json::object& o, std::string_view key, std::string_view v) {
  if (empty_string(o, key)) o[key] = v;
}

// Calls fn on each object element of o[key].
template <class Fn>
void for_each_object(json::object& o, std::string_view key, Fn&& fn) {
  json::array* a = json::get_array(o, key);
  if (a == nullptr) return;
  for (auto& e : *a)
    if (e.is_object()) fn(e.as_object());
}

void default_http_get(json::object& handler) {
  if (json::object* http = json::get_object(handler, "httpGet")) {
    set_default_string(*http, "path", "/");
    set_default_string(*http, "scheme", "HTTP");
  }
}

void default_probe(json::object& container, std::string_view key) {
  json::object* p = json::get_object(container, key);
  if (p == nullptr) return;
  // Go's int32 zero value reads as "unset" here, so an explicit 0 is replaced too.
  for (auto [k, v] : std::array<std::pair<std::string_view, int>, 4>{
           {{"timeoutSeconds", 1}, {"periodSeconds", 10}, {"successThreshold", 1}, {"failureThreshold", 3}}}) {
    if (json::get_int_or(*p, k, 0) == 0) (*p)[k] = v;
  }
  default_http_get(*p);
}

void default_field_ref(json::object& holder) {
  if (json::object* f = json::get_object(holder, "fieldRef")) set_default_string(*f, "apiVersion", "v1");
}

void default_container(json::object& c) {
  if (empty_string(c, "imagePullPolicy")) c["imagePullPolicy"] = default_image_pull_policy(json::get_string(c, "image"));
  set_default_string(c, "terminationMessagePath", "/dev/termination-log");
  set_default_string(c, "terminationMessagePolicy", "File");
  // resources is a struct, not a pointer, in Go: it is always serialized, as {} when empty.
  set_default(c, "resources", json::object{});
  for_each_object(c, "ports", [](json::object& p) { set_default_string(p, "protocol", "TCP"); });
  default_probe(c, "livenessProbe");
  default_probe(c, "readinessProbe");
  default_probe(c, "startupProbe");
  if (json::object* lc = json::get_object(c, "lifecycle")) {
    if (json::object* h = json::get_object(*lc, "postStart")) default_http_get(*h);
    if (json::object* h = json::get_object(*lc, "preStop")) default_http_get(*h);
  }
  for_each_object(c, "env", [](json::object& e) {
    if (json::object* vf = json::get_object(e, "valueFrom")) default_field_ref(*vf);
  });
}

void default_downward_items(json::object& src) {
  for_each_object(src, "items", [](json::object& item) { default_field_ref(item); });
}

void default_volume(json::object& v) {
  bool has_source = false;
  for (const auto& kv : v)
    if (kv.key() != "name" && !kv.value().is_null()) has_source = true;
  if (!has_source) v["emptyDir"] = json::object{};
  for (std::string_view k : {"configMap", "secret", "downwardAPI", "projected"}) {
    if (json::object* s = json::get_object(v, k)) set_default(*s, "defaultMode", 420);
  }
  if (json::object* d = json::get_object(v, "downwardAPI")) default_downward_items(*d);
  if (json::object* p = json::get_object(v, "projected")) {
    for_each_object(*p, "sources", [](json::object& s) {
      if (json::object* t = json::get_object(s, "serviceAccountToken")) set_default(*t, "expirationSeconds", 3600);
      if (json::object* d = json::get_object(s, "downwardAPI")) default_downward_items(*d);
    });
  }
  // HostPathUnset is the empty string behind a non-nil pointer, so it is serialized.
  if (json::object* h = json::get_object(v, "hostPath")) set_default(*h, "type", "");
}

// Copies each limit into requests where no request is given (SetDefaults_Pod).
void default_requests_from_limits(json::object& c) {
  json::object* res = json::get_object(c, "resources");
  if (res == nullptr) return;
  const json::object* limits = json::get_object(*res, "limits");
  if (limits == nullptr) return;
  json::object& requests = json::ensure_object(*res, "requests");
  for (const auto& kv : *limits)
    if (!requests.contains(kv.key())) requests[kv.key()] = kv.value();
}

// DefaultTolerationSeconds admission: pods ride out a 5-minute node outage before eviction.
void default_toleration_seconds(json::object& spec) {
  for (std::string_view taint : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool tolerated = false;
    if (const json::array* ts = json::get_array(spec, "tolerations")) {
      for (const auto& t : *ts) {
        if (!t.is_object()) continue;
        std::string_view key = json::get_string(t.as_object(), "key");
        std::string_view effect = json::get_string(t.as_object(), "effect");
        if ((key == taint || key.empty()) && (effect == "NoExecute" || effect.empty())) tolerated = true;
      }
    }
    if (tolerated) continue;
    json::ensure_array(spec, "tolerations")
        .push_back(json::object{{"key", taint}, {"operator", "Exists"}, {"effect", "NoExecute"},
                                {"tolerationSeconds", 300}});
  }
}

void default_pod_spec(json::object& spec) {
  set_default_string(spec, "dnsPolicy", "ClusterFirst");
  set_default_string(spec, "restartPolicy", "Always");
  set_default(spec, "securityContext", json::object{});
  set_default(spec, "terminationGracePeriodSeconds", 30);
  set_default_string(spec, "schedulerName", "default-scheduler");
  for (std::string_view k : {"initContainers", "containers", "ephemeralContainers"})
    for_each_object(spec, k, default_container);
  for_each_object(spec, "volumes", default_volume);
}

// Defaults only a Pod gets, never a pod template (SetDefaults_Pod and pod admission).
void default_pod_only(json::object& spec) {
  for (std::string_view k : {"initContainers", "containers"}) for_each_object(spec, k, default_requests_from_limits);
  set_default(spec, "enableServiceLinks", true);
  if (json::get_bool_or(spec, "hostNetwork", false)) {
    for (std::string_view k : {"initContainers", "containers"}) {
      for_each_object(spec, k, [](json::object& c) {
        for_each_object(c, "ports", [](json::object& p) {
          if (json::get_int_or(p, "hostPort", 0) == 0 && json::get_int(p, "containerPort"))
            p["hostPort"] = *json::get_int(p, "containerPort");
        });
      });
    }
  }
  // Priority admission with no PriorityClass named and no global default class.
  if (empty_string(spec, "priorityClassName")) {
    set_default(spec, "priority", 0);
    set_default_string(spec, "preemptionPolicy", "PreemptLowerPriority");
  }
  default_toleration_seconds(spec);
}

void default_template(json::object& holder) {
  if (json::object* t = json::get_object(holder, "template"))
    if (json::object* s = json::get_object(*t, "spec")) default_pod_spec(*s);
}

void default_pod(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  default_pod_spec(spec);
  default_pod_only(spec);
}

void default_service(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  set_default_string(spec, "sessionAffinity", "None");
  std::string_view affinity = json::get_string(spec, "sessionAffinity");
  if (affinity == "None") spec.erase("sessionAffinityConfig");
  if (affinity == "ClientIP") {
    json::object& cfg = json::ensure_object(spec, "sessionAffinityConfig");
    json::object& cip = json::ensure_object(cfg, "clientIP");
    set_default(cip, "timeoutSeconds", 10800);
  }
  set_default_string(spec, "type", "ClusterIP");
  std::string type(json::get_string(spec, "type"));
  for_each_object(spec, "ports", [](json::object& p) {
    set_default_string(p, "protocol", "TCP");
    const json::value* tp = json::find(p, "targetPort");
    bool zero = tp == nullptr || tp->is_null() || (tp->is_int64() && tp->get_int64() == 0) ||
                (tp->is_string() && tp->get_string().empty());
    if (zero && json::get_int(p, "port")) p["targetPort"] = *json::get_int(p, "port");
  });
  const json::array* external_ips = json::get_array(spec, "externalIPs");
  bool externally_accessible = type == "LoadBalancer" || type == "NodePort" ||
                               (type == "ClusterIP" && external_ips != nullptr && !external_ips->empty());
  if (externally_accessible) set_default_string(spec, "externalTrafficPolicy", "Cluster");
  if (type == "NodePort" || type == "LoadBalancer" || type == "ClusterIP")
    set_default_string(spec, "internalTrafficPolicy", "Cluster");
  if (type == "LoadBalancer") set_default(spec, "allocateLoadBalancerNodePorts", true);
  if (type != "ExternalName") {
    // A single-stack IPv4 cluster. Headless services without a selector ask for every
    // family the cluster has, which here is IPv4 alone.
    const json::object* sel = json::get_object(spec, "selector");
    bool headless_no_selector = json::get_string(spec, "clusterIP") == "None" && (sel == nullptr || sel->empty());
    set_default_string(spec, "ipFamilyPolicy", headless_no_selector ? "RequireDualStack" : "SingleStack");
    if (unset(spec, "ipFamilies")) spec["ipFamilies"] = json::array{"IPv4"};
  }
}

void default_deployment(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  set_default(spec, "replicas", 1);
  json::object& strategy = json::ensure_object(spec, "strategy");
  set_default_string(strategy, "type", "RollingUpdate");
  if (json::get_string(strategy, "type") == "RollingUpdate") {
    json::object& ru = json::ensure_object(strategy, "rollingUpdate");
    set_default(ru, "maxUnavailable", "25%");
    set_default(ru, "maxSurge", "25%");
  }
  set_default(spec, "revisionHistoryLimit", 10);
  set_default(spec, "progressDeadlineSeconds", 600);
  default_template(spec);
}

void default_daemonset(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  json::object& strategy = json::ensure_object(spec, "updateStrategy");
  set_default_string(strategy, "type", "RollingUpdate");
  if (json::get_string(strategy, "type") == "RollingUpdate") {
    json::object& ru = json::ensure_object(strategy, "rollingUpdate");
    set_default(ru, "maxUnavailable", 1);
    set_default(ru, "maxSurge", 0);
  }
  set_default(spec, "revisionHistoryLimit", 10);
  default_template(spec);
}

void default_job(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  if (unset(spec, "completions") && unset(spec, "parallelism")) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  set_default(spec, "parallelism", 1);
  set_default(spec, "backoffLimit", 6);
  set_default_string(spec, "completionMode", "NonIndexed");
  set_default(spec, "suspend", false);
  // JobPodReplacementPolicy (on by default since 1.29).
  set_default_string(spec, "podReplacementPolicy", unset(spec, "podFailurePolicy") ? "TerminatingOrFailed" : "Failed");
  default_template(spec);
  // A Job without labels of its own takes its template's. (Adding metadata may move
  // obj's members, so spec is looked up again.)
  const json::object* tl = nullptr;
  if (const json::object* tmeta = json::get_path(obj, "spec.template.metadata")) tl = json::get_object(*tmeta, "labels");
  if (tl == nullptr) return;
  json::object labels = *tl;
  json::object& meta = json::ensure_object(obj, "metadata");
  const json::object* ml = json::get_object(meta, "labels");
  if (ml == nullptr || ml->empty()) meta["labels"] = std::move(labels);
}

void default_cronjob(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  set_default_string(spec, "concurrencyPolicy", "Allow");
  set_default(spec, "suspend", false);
  set_default(spec, "successfulJobsHistoryLimit", 3);
  set_default(spec, "failedJobsHistoryLimit", 1);
  if (json::object* jt = json::get_object(spec, "jobTemplate"))
    if (json::object* js = json::get_object(*jt, "spec")) default_template(*js);
}

json::object default_scaling_rules(bool up) {
  json::array policies;
  if (up) policies.push_back(json::object{{"type", "Pods"}, {"value", 4}, {"periodSeconds", 15}});
  policies.push_back(json::object{{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}});
  json::object r{{"selectPolicy", "Max"}, {"policies", std::move(policies)}};
  if (up) r["stabilizationWindowSeconds"] = 0;
  return r;
}

void default_hpa(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  set_default(spec, "minReplicas", 1);
  const json::array* metrics = json::get_array(spec, "metrics");
  if (metrics == nullptr || metrics->empty()) {
    spec["metrics"] = json::array{json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", "cpu"},
                                  {"target", json::object{{"type", "Utilization"}, {"averageUtilization", 80}}}}}}};
  }
  if (json::object* behavior = json::get_object(spec, "behavior")) {
    for (auto [key, up] : std::array<std::pair<std::string_view, bool>, 2>{{{"scaleUp", true}, {"scaleDown", false}}}) {
      json::object rules = default_scaling_rules(up);
      if (const json::object* given = json::get_object(*behavior, key))
        for (const auto& kv : *given)
          if (!kv.value().is_null()) rules[kv.key()] = kv.value();
      (*behavior)[key] = std::move(rules);
    }
  }
}

void default_namespace(json::object& obj) {
  json::object& meta = json::ensure_object(obj, "metadata");
  std::string name(json::get_string(meta, "name"));  // a copy: adding labels may move meta's storage
  if (!name.empty()) json::ensure_object(meta, "labels")["kubernetes.io/metadata.name"] = name;
  set_default_string(json::ensure_object(obj, "status"), "phase", "Active");
}

void default_pvc(json::object& obj) {
  set_default_string(json::ensure_object(obj, "spec"), "volumeMode", "Filesystem");
  set_default_string(json::ensure_object(obj, "status"), "phase", "Pending");
}

void default_pv(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  set_default_string(spec, "persistentVolumeReclaimPolicy", "Retain");
  set_default_string(spec, "volumeMode", "Filesystem");
  set_default_string(json::ensure_object(obj, "status"), "phase", "Pending");
}

// CSIDriver's spec defaults (storage/v1 SetDefaults_CSIDriverSpec).
void default_csi_driver(json::object& obj) {
  json::object& spec = json::ensure_object(obj, "spec");
  set_default(spec, "attachRequired", true);
  set_default(spec, "podInfoOnMount", false);
  set_default(spec, "storageCapacity", false);
  set_default(spec, "requiresRepublish", false);
  set_default(spec, "seLinuxMount", false);
  set_default_string(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
  if (unset(spec, "volumeLifecycleModes")) spec["volumeLifecycleModes"] = json::array{"Persistent"};
}

void default_node(json::object& obj) {
  json::object* status = json::get_object(obj, "status");
  if (status == nullptr) return;
  if (unset(*status, "allocatable") && json::get_object(*status, "capacity") != nullptr)
    (*status)["allocatable"] = *json::get_object(*status, "capacity");
}

void default_endpoints(json::object& obj) {
  for_each_object(obj, "subsets", [](json::object& ss) {
    for_each_object(ss, "ports", [](json::object& p) { set_default_string(p, "protocol", "TCP"); });
  });
}

void default_endpoint_slice(json::object& obj) {
  for_each_object(obj, "ports", [](json::object& p) {
    set_default(p, "name", "");
    set_default(p, "protocol", "TCP");
  });
}

}  // namespace

std::string_view default_image_pull_policy(std::string_view image) {
  std::string_view name = image;
  bool digest = false;
  if (auto at = name.find('@'); at != std::string_view::npos) {
    digest = true;
    name = name.substr(0, at);
  }
  std::string_view tag;
  std::size_t slash = name.rfind('/');
  std::size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) tag = name.substr(colon + 1);
  if (tag.empty() && !digest && !image.empty()) tag = "latest";
  return tag == "latest" ? "Always" : "IfNotPresent";
}

void apply_defaults(const ResourceInfo& r, json::object& obj) {
  const std::string& k = r.kind;
  if (k == "Pod") {
    default_pod(obj);
  } else if (k == "Service") {
    default_service(obj);
  } else if (k == "Deployment") {
    default_deployment(obj);
  } else if (k == "ReplicaSet") {
    json::object& spec = json::ensure_object(obj, "spec");
    set_default(spec, "replicas", 1);
    default_template(spec);
  } else if (k == "DaemonSet") {
    default_daemonset(obj);
  } else if (k == "Job") {
    default_job(obj);
  } else if (k == "CronJob") {
    default_cronjob(obj);
  } else if (k == "HorizontalPodAutoscaler") {
    default_hpa(obj);
  } else if (k == "Namespace") {
    default_namespace(obj);
  } else if (k == "Secret") {
    set_default_string(obj, "type", "Opaque");
  } else if (k == "PersistentVolumeClaim") {
    default_pvc(obj);
  } else if (k == "PersistentVolume") {
    default_pv(obj);
  } else if (k == "StorageClass") {
    set_default_string(obj, "reclaimPolicy", "Delete");
    set_default_string(obj, "volumeBindingMode", "Immediate");
  } else if (k == "CSIDriver") {
    default_csi_driver(obj);
  } else if (k == "Node") {
    default_node(obj);
  } else if (k == "Endpoints") {
    default_endpoints(obj);
  } else if (k == "EndpointSlice") {
    default_endpoint_slice(obj);
  }
}

}  // namespace kernlet::apiserver
