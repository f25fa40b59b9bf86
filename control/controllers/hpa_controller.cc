#include "control/controllers/hpa_controller.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "api/event_name.h"
#include "api/labels.h"
#include "api/object.h"
#include "api/quantity.h"
#include "api/time.h"

namespace kernlet::controllers {
namespace {

using hpa::Clock;

client::ResourceRef hpa_ref(std::string ns = {}, std::string name = {}, std::string sub = {}) {
  return client::ResourceRef("autoscaling", "v2", "horizontalpodautoscalers", std::move(ns), std::move(name),
                             std::move(sub));
}

// Where a metric of spec.metrics comes from.
enum class Source { kResource, kPods, kObject, kExternal };

// One metric of spec.metrics that the controller computes.
struct ResourceMetric {
  std::string resource;  // "cpu", "memory"
  hpa::Target target;    // Utilization in percent, AverageValue in milli-units
  bool container = false;
  std::string container_name;  // ContainerResource: only this container's usage and request
  Source source = Source::kResource;
  // Pods, Object, External: the metric's name and selector, Object's described object.
  std::string metric_name;
  json::object metric_selector;
  CustomObject object;
  bool value_target = false;  // Object/External: a Value target (else AverageValue)
};

// A target's quantity in milli-units; errors name the field.
Result<int64_t> target_milli(const json::object& target, std::string_view key, const std::string& at) {
  const json::value* v = json::find(target, key);
  if (v == nullptr) return Error(ErrorCode::kInvalidArgument, at + ": " + std::string(key) + " is required");
  auto q = Quantity::from_json(*v);
  if (!q.ok()) return std::move(q).error().context(at + ".target." + std::string(key));
  auto milli = q->milli_value();
  if (!milli.ok() || *milli <= 0) return Error(ErrorCode::kInvalidArgument, at + ": " + std::string(key) + " must be positive");
  return *milli;
}

// spec.metrics[i] of type Pods, Object or External.
Result<ResourceMetric> parse_custom_metric(const json::object& m, const std::string& type, const std::string& at) {
  ResourceMetric rm;
  const std::string field = type == "Pods" ? "pods" : type == "Object" ? "object" : "external";
  rm.source = type == "Pods" ? Source::kPods : type == "Object" ? Source::kObject : Source::kExternal;
  const json::object* src = json::get_object(m, field);
  if (src == nullptr) return Error(ErrorCode::kInvalidArgument, at + ": no source for type " + type);
  const json::object& metric = api::object_or_empty(*src, "metric");
  rm.metric_name = json::get_string(metric, "name");
  if (rm.metric_name.empty()) return Error(ErrorCode::kInvalidArgument, at + "." + field + ".metric.name is required");
  if (const json::object* sel = json::get_object(metric, "selector")) rm.metric_selector = *sel;
  if (rm.source == Source::kObject) {
    const json::object& d = api::object_or_empty(*src, "describedObject");
    rm.object = {std::string(json::get_string(d, "apiVersion")), std::string(json::get_string(d, "kind")),
                 std::string(json::get_string(d, "name"))};
    if (rm.object.kind.empty() || rm.object.name.empty())
      return Error(ErrorCode::kInvalidArgument, at + ".object.describedObject: kind and name are required");
  }
  const json::object* target = json::get_object(*src, "target");
  if (target == nullptr) return Error(ErrorCode::kInvalidArgument, at + ": no target");
  const std::string ttype(json::get_string(*target, "type"));
  if (ttype == "AverageValue") {
    KL_ASSIGN_OR_RETURN(int64_t v, target_milli(*target, "averageValue", at));
    rm.target = {hpa::TargetType::kAverageValue, v};
  } else if (ttype == "Value" && rm.source != Source::kPods) {
    KL_ASSIGN_OR_RETURN(int64_t v, target_milli(*target, "value", at));
    rm.target = {hpa::TargetType::kAverageValue, v};
    rm.value_target = true;
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 at + ": target type \"" + ttype + "\" is not supported for " + field + " metrics");
  }
  return rm;
}

// spec.metrics -> what we compute; an unsupported entry is an error naming it.
Result<std::vector<ResourceMetric>> parse_metrics(const json::object& spec) {
  std::vector<ResourceMetric> out;
  const json::array* metrics = json::get_array(spec, "metrics");
  if (metrics == nullptr || metrics->empty()) {
    // autoscaling/v2's default: 80 % of the cpu request.
    ResourceMetric cpu;
    cpu.resource = "cpu";
    cpu.target = {hpa::TargetType::kUtilization, 80};
    out.push_back(std::move(cpu));
    return out;
  }
  for (std::size_t i = 0; i < metrics->size(); ++i) {
    const std::string at = "spec.metrics[" + std::to_string(i) + "]";
    if (!(*metrics)[i].is_object()) return Error(ErrorCode::kInvalidArgument, at + ": not an object");
    const json::object& m = (*metrics)[i].as_object();
    const std::string type(json::get_string(m, "type"));
    if (type == "Pods" || type == "Object" || type == "External") {
      KL_ASSIGN_OR_RETURN(ResourceMetric rm, parse_custom_metric(m, type, at));
      out.push_back(std::move(rm));
      continue;
    }
    if (type != "Resource" && type != "ContainerResource") {
      return Error(ErrorCode::kInvalidArgument, at + ": metric type \"" + type +
                                                    "\" is not supported (Resource, ContainerResource, Pods, Object, External)");
    }
    const json::object* src = json::get_object(m, type == "Resource" ? "resource" : "containerResource");
    if (src == nullptr) return Error(ErrorCode::kInvalidArgument, at + ": no source for type " + type);
    ResourceMetric rm;
    rm.resource = json::get_string(*src, "name");
    rm.container = type == "ContainerResource";
    rm.container_name = json::get_string(*src, "container");
    if (rm.resource.empty()) return Error(ErrorCode::kInvalidArgument, at + ": no resource name");
    const json::object* target = json::get_object(*src, "target");
    if (target == nullptr) return Error(ErrorCode::kInvalidArgument, at + ": no target");
    const std::string ttype(json::get_string(*target, "type"));
    if (ttype == "Utilization") {
      auto u = json::get_int(*target, "averageUtilization");
      if (!u || *u <= 0) return Error(ErrorCode::kInvalidArgument, at + ": averageUtilization must be positive");
      rm.target = {hpa::TargetType::kUtilization, *u};
    } else if (ttype == "AverageValue") {
      const json::value* v = json::find(*target, "averageValue");
      if (v == nullptr) return Error(ErrorCode::kInvalidArgument, at + ": averageValue is required");
      auto q = Quantity::from_json(*v);
      if (!q.ok()) return std::move(q).error().context(at + ".target.averageValue");
      auto milli = q->milli_value();
      if (!milli.ok() || *milli <= 0) return Error(ErrorCode::kInvalidArgument, at + ": averageValue must be positive");
      rm.target = {hpa::TargetType::kAverageValue, *milli};
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   at + ": target type \"" + ttype + "\" is not supported for resource metrics");
    }
    out.push_back(std::move(rm));
  }
  return out;
}

Result<hpa::Rules> parse_rules(const json::object& r, hpa::Rules rules, const std::string& at) {
  if (auto w = json::get_int(r, "stabilizationWindowSeconds")) {
    if (*w < 0 || *w > 3600) return Error(ErrorCode::kInvalidArgument, at + ".stabilizationWindowSeconds: must be 0..3600");
    rules.stabilization_window = std::chrono::seconds(*w);
  }
  if (const json::value* sp = json::find(r, "selectPolicy"); sp != nullptr && sp->is_string()) {
    const std::string s(sp->as_string());
    if (s == "Max") rules.select = hpa::SelectPolicy::kMax;
    else if (s == "Min") rules.select = hpa::SelectPolicy::kMin;
    else if (s == "Disabled") rules.select = hpa::SelectPolicy::kDisabled;
    else return Error(ErrorCode::kInvalidArgument, at + ".selectPolicy: \"" + s + "\" (want Max, Min or Disabled)");
  }
  if (const json::array* ps = json::get_array(r, "policies")) {
    rules.policies.clear();
    for (std::size_t i = 0; i < ps->size(); ++i) {
      const std::string pat = at + ".policies[" + std::to_string(i) + "]";
      if (!(*ps)[i].is_object()) return Error(ErrorCode::kInvalidArgument, pat + ": not an object");
      const json::object& p = (*ps)[i].as_object();
      hpa::Policy pol;
      const std::string type(json::get_string(p, "type"));
      if (type == "Pods") pol.type = hpa::PolicyType::kPods;
      else if (type == "Percent") pol.type = hpa::PolicyType::kPercent;
      else return Error(ErrorCode::kInvalidArgument, pat + ".type: \"" + type + "\" (want Pods or Percent)");
      auto v = json::get_int(p, "value");
      auto period = json::get_int(p, "periodSeconds");
      if (!v || *v <= 0) return Error(ErrorCode::kInvalidArgument, pat + ".value: must be positive");
      if (!period || *period <= 0 || *period > 1800)
        return Error(ErrorCode::kInvalidArgument, pat + ".periodSeconds: must be 1..1800");
      pol.value = static_cast<int32_t>(*v);
      pol.period = std::chrono::seconds(*period);
      rules.policies.push_back(pol);
    }
  }
  return rules;
}

// The sum of the containers' requests for `resource` in milli-units; nullopt when a
// counted container has none (Utilization cannot be computed for the pod).
std::optional<int64_t> pod_request(const json::object& pod, const ResourceMetric& m) {
  const json::object* spec = json::get_object(pod, "spec");
  const json::array* containers = spec ? json::get_array(*spec, "containers") : nullptr;
  if (containers == nullptr) return std::nullopt;
  int64_t sum = 0;
  bool any = false;
  for (const json::value& cv : *containers) {
    if (!cv.is_object()) continue;
    const json::object& c = cv.as_object();
    if (m.container && json::get_string(c, "name") != m.container_name) continue;
    const json::object* res = json::get_object(c, "resources");
    const json::object* req = res ? json::get_object(*res, "requests") : nullptr;
    const json::value* q = req ? json::find(*req, m.resource) : nullptr;
    if (q == nullptr) return std::nullopt;
    auto parsed = Quantity::from_json(*q);
    if (!parsed.ok()) return std::nullopt;
    auto milli = parsed->milli_value();
    if (!milli.ok()) return std::nullopt;
    sum += *milli;
    any = true;
  }
  if (!any) return std::nullopt;
  return sum;
}

struct PodMetricValue {
  int64_t value = 0;  // milli-units
  Clock::time_point timestamp;
  std::chrono::milliseconds window{0};
};

// PodMetrics -> per pod name the summed usage of `m.resource` (milli-units).
std::map<std::string, PodMetricValue> metric_values(const std::vector<json::object>& items, const ResourceMetric& m) {
  std::map<std::string, PodMetricValue> out;
  for (const json::object& item : items) {
    const std::string name(api::Meta(item).name());
    const json::array* containers = json::get_array(item, "containers");
    if (name.empty() || containers == nullptr) continue;
    PodMetricValue v;
    bool found = false, bad = false;
    for (const json::value& cv : *containers) {
      if (!cv.is_object()) continue;
      const json::object& c = cv.as_object();
      if (m.container && json::get_string(c, "name") != m.container_name) continue;
      const json::object* usage = json::get_object(c, "usage");
      const json::value* q = usage ? json::find(*usage, m.resource) : nullptr;
      if (q == nullptr) {
        bad = true;
        break;
      }
      auto parsed = Quantity::from_json(*q);
      auto milli = parsed.ok() ? parsed->milli_value() : Result<int64_t>(parsed.error());
      if (!milli.ok()) {
        bad = true;
        break;
      }
      v.value += *milli;
      found = true;
    }
    if (bad || !found) continue;
    if (auto t = api::parse_rfc3339(json::get_string(item, "timestamp")); t.ok()) v.timestamp = *t;
    // window: a Go duration such as "15s" or "10.5s"; only seconds are written by us.
    std::string w(json::get_string(item, "window"));
    if (!w.empty() && w.back() == 's') {
      char* end = nullptr;
      double secs = std::strtod(w.c_str(), &end);
      if (end != w.c_str()) v.window = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
    }
    out[name] = v;
  }
  return out;
}

const json::object* condition(const json::object& pod, std::string_view type) {
  const json::object* status = json::get_object(pod, "status");
  const json::array* conds = status ? json::get_array(*status, "conditions") : nullptr;
  if (conds == nullptr) return nullptr;
  for (const json::value& c : *conds)
    if (c.is_object() && json::get_string(c.as_object(), "type") == type) return &c.as_object();
  return nullptr;
}

std::optional<Clock::time_point> time_at(const json::object* o, std::string_view key) {
  if (o == nullptr) return std::nullopt;
  auto t = api::parse_rfc3339(json::get_string(*o, key));
  if (!t.ok()) return std::nullopt;
  return *t;
}

// Upstream's groupPods: ignored (being deleted, Failed), unready (Pending; for cpu: not
// Ready yet, or its sample predates readiness during the cpu initialization period),
// missing (no metric), or ready.
hpa::PodSample sample_of(const json::object& pod, const ResourceMetric& m,
                         const std::map<std::string, PodMetricValue>& values, const HpaOptions& o,
                         Clock::time_point now) {
  hpa::PodSample s;
  api::Meta meta(pod);
  s.name = meta.name();
  s.request = pod_request(pod, m).value_or(0);
  const json::object* status = json::get_object(pod, "status");
  const std::string phase(status ? json::get_string(*status, "phase") : "");
  if (meta.being_deleted() || phase == "Failed" || phase == "Succeeded") {
    s.state = hpa::PodState::kIgnored;
    return s;
  }
  if (phase == "Pending" || phase.empty()) {
    s.state = hpa::PodState::kUnready;
    s.usage = 0;  // counted as 0 on a scale-up, not at all otherwise
    return s;
  }
  auto v = values.find(s.name);
  if (v == values.end()) return s;  // missing
  s.usage = v->second.value;
  if (m.resource == "cpu") {
    const json::object* ready = condition(pod, "Ready");
    auto start = time_at(status, "startTime");
    bool unready = false;
    if (ready == nullptr || !start) {
      unready = true;
    } else {
      const bool is_ready = json::get_string(*ready, "status") == "True";
      auto transition = time_at(ready, "lastTransitionTime").value_or(*start);
      if (*start + o.cpu_initialization_period > now) {
        unready = !is_ready || v->second.timestamp < transition + v->second.window;
      } else {
        unready = !is_ready && *start + o.initial_readiness_delay > transition;
      }
    }
    if (unready) s.state = hpa::PodState::kUnready;
  }
  return s;
}

std::string metric_description(const ResourceMetric& m) {
  switch (m.source) {
    case Source::kPods: return "pods metric " + m.metric_name;
    case Source::kObject: return "object metric " + m.metric_name;
    case Source::kExternal: return "external metric " + m.metric_name;
    case Source::kResource: break;
  }
  std::string what = m.container ? "container " + m.container_name + " " + m.resource : m.resource;
  if (m.target.type == hpa::TargetType::kUtilization) return what + " resource utilization (percentage of request)";
  return what + " resource";
}

json::object current_metric_json(const ResourceMetric& m, const hpa::MetricResult& r, int64_t average_milli) {
  if (m.source != Source::kResource) {
    json::object metric{{"name", m.metric_name}};
    if (!m.metric_selector.empty()) metric["selector"] = m.metric_selector;
    const std::string key = m.value_target ? "value" : "averageValue";
    json::object current{{key, Quantity::from_milli(r.current).to_json()}};
    if (m.source == Source::kPods) {
      return {{"type", "Pods"}, {"pods", json::object{{"metric", std::move(metric)}, {"current", std::move(current)}}}};
    }
    if (m.source == Source::kObject) {
      return {{"type", "Object"},
              {"object", json::object{{"describedObject", json::object{{"apiVersion", m.object.api_version},
                                                                        {"kind", m.object.kind},
                                                                        {"name", m.object.name}}},
                                      {"metric", std::move(metric)},
                                      {"current", std::move(current)}}}};
    }
    return {{"type", "External"}, {"external", json::object{{"metric", std::move(metric)}, {"current", std::move(current)}}}};
  }
  json::object current{{"averageValue", Quantity::from_milli(average_milli).to_json()}};
  if (m.target.type == hpa::TargetType::kUtilization) current["averageUtilization"] = r.current;
  if (m.container) {
    return {{"type", "ContainerResource"},
            {"containerResource",
             json::object{{"name", m.resource}, {"container", m.container_name}, {"current", std::move(current)}}}};
  }
  return {{"type", "Resource"}, {"resource", json::object{{"name", m.resource}, {"current", std::move(current)}}}};
}

struct Condition {
  std::string type, status, reason, message;
};

int64_t value_milli(const json::object& item) {
  const json::value* v = json::find(item, "value");
  if (v == nullptr) return 0;
  auto q = Quantity::from_json(*v);
  auto m = q.ok() ? q->milli_value() : Result<int64_t>(q.error());
  return m.ok() ? *m : 0;
}

// A Pods, Object or External metric: the replicas it asks for, or why it failed (with
// upstream's reason FailedGetPodsMetric / FailedGetObjectMetric / FailedGetExternalMetric).
hpa::MetricResult custom_metric_replicas(HpaApi& api, const ResourceMetric& m, const std::string& ns,
                                         const std::string& selector, const std::vector<client::ObjectPtr>& pods,
                                         int32_t current, int32_t status_replicas, double tolerance, std::string* reason) {
  hpa::MetricResult r;
  if (m.source == Source::kPods) {
    *reason = "FailedGetPodsMetric";
    auto items = api.pods_metric(ns, selector, m.metric_name, m.metric_selector);
    if (!items.ok()) {
      r.error = "unable to get metric " + m.metric_name + ": unable to fetch metrics from custom metrics API: " +
                items.error().message();
      return r;
    }
    std::map<std::string, int64_t> by_pod;
    for (const json::object& it : *items) {
      by_pod[std::string(json::get_string(api::object_or_empty(it, "describedObject"), "name"))] = value_milli(it);
    }
    // Upstream's groupPods for a non-cpu metric: readiness does not matter, only deleted
    // or finished pods are ignored and pods without a value are missing.
    std::vector<hpa::PodSample> samples;
    for (const client::ObjectPtr& p : pods) {
      hpa::PodSample s;
      api::Meta pm(*p);
      s.name = pm.name();
      const std::string_view phase = json::get_string(api::object_or_empty(*p, "status"), "phase");
      if (pm.being_deleted() || phase == "Failed" || phase == "Succeeded") s.state = hpa::PodState::kIgnored;
      if (auto v = by_pod.find(s.name); v != by_pod.end()) s.usage = v->second;
      samples.push_back(std::move(s));
    }
    r = hpa::replicas_for_metric(current, samples, m.target, tolerance);
    if (!r.valid) r.error = "unable to get metric " + m.metric_name + ": " + r.error;
    return r;
  }
  int64_t usage = 0;
  if (m.source == Source::kObject) {
    *reason = "FailedGetObjectMetric";
    auto v = api.object_metric(ns, m.object, m.metric_name, m.metric_selector);
    if (!v.ok()) {
      r.error = "unable to get metric " + m.metric_name + ": " + m.object.kind + " on " + ns + " " + m.object.name +
                "/unable to fetch metrics from custom metrics API: " + v.error().message();
      return r;
    }
    usage = value_milli(*v);
  } else {
    *reason = "FailedGetExternalMetric";
    auto items = api.external_metric(ns, m.metric_name, m.metric_selector);
    if (!items.ok()) {
      r.error = "unable to get external metric " + ns + "/" + m.metric_name + "/" + json::dump(json::value(m.metric_selector)) +
                ": unable to fetch metrics from external metrics API: " + items.error().message();
      return r;
    }
    if (items->empty()) {
      r.error = "unable to get external metric " + ns + "/" + m.metric_name + ": no metrics returned from external metrics API";
      return r;
    }
    for (const json::object& it : *items) usage += value_milli(it);
  }
  if (!m.value_target) return hpa::replicas_for_total_average(status_replicas, usage, m.target.value, tolerance);
  int64_t ready = 0;
  for (const client::ObjectPtr& p : pods) {
    if (json::get_string(api::object_or_empty(*p, "status"), "phase") == "Running" && util::pod_ready(*p)) ++ready;
  }
  return hpa::replicas_for_value(current, ready, usage, m.target.value, tolerance);
}

// status.conditions with `set` applied; lastTransitionTime kept when the status did not change.
json::array merge_conditions(const json::object* old_status, const std::vector<Condition>& set, const std::string& now) {
  json::array out;
  const json::array* old = old_status ? json::get_array(*old_status, "conditions") : nullptr;
  for (const Condition& c : set) {
    std::string transition = now;
    if (old != nullptr) {
      for (const json::value& ov : *old) {
        if (!ov.is_object()) continue;
        const json::object& o = ov.as_object();
        if (json::get_string(o, "type") == c.type && json::get_string(o, "status") == c.status) {
          transition = std::string(json::get_string(o, "lastTransitionTime", now));
        }
      }
    }
    out.push_back(json::object{{"type", c.type},
                               {"status", c.status},
                               {"lastTransitionTime", transition},
                               {"reason", c.reason},
                               {"message", c.message}});
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<ScaleTarget> scale_target(const json::object& ref) {
  ScaleTarget t;
  t.kind = json::get_string(ref, "kind");
  t.name = json::get_string(ref, "name");
  const std::string api_version(json::get_string(ref, "apiVersion"));
  if (t.kind.empty() || t.name.empty())
    return Error(ErrorCode::kInvalidArgument, "spec.scaleTargetRef: kind and name are required");
  if (api_version.empty()) return Error(ErrorCode::kInvalidArgument, "spec.scaleTargetRef.apiVersion is required");
  const auto slash = api_version.find('/');
  if (slash == std::string::npos) {
    t.version = api_version;
  } else {
    t.group = api_version.substr(0, slash);
    t.version = api_version.substr(slash + 1);
    if (t.group.empty() || t.version.empty() || t.version.find('/') != std::string::npos)
      return Error(ErrorCode::kInvalidArgument, "spec.scaleTargetRef.apiVersion \"" + api_version + "\" is not valid");
  }
  static const std::map<std::string, std::string> known = {{"Deployment", "deployments"},
                                                           {"ReplicaSet", "replicasets"},
                                                           {"StatefulSet", "statefulsets"},
                                                           {"ReplicationController", "replicationcontrollers"}};
  auto it = known.find(t.kind);
  t.resource = it != known.end() ? it->second : lower(t.kind) + "s";
  return t;
}

Result<hpa::Behavior> parse_behavior(const json::object& spec, std::chrono::seconds downscale_window) {
  hpa::Behavior b = hpa::Behavior::defaults();
  b.scale_down.stabilization_window = downscale_window;
  const json::object* behavior = json::get_object(spec, "behavior");
  if (behavior == nullptr) return b;
  if (const json::object* up = json::get_object(*behavior, "scaleUp")) {
    KL_ASSIGN_OR_RETURN(b.scale_up, parse_rules(*up, b.scale_up, "spec.behavior.scaleUp"));
  }
  if (const json::object* down = json::get_object(*behavior, "scaleDown")) {
    KL_ASSIGN_OR_RETURN(b.scale_down, parse_rules(*down, b.scale_down, "spec.behavior.scaleDown"));
  }
  return b;
}

void HpaSyncer::forget(const std::string& key) {
  std::lock_guard lk(mu_);
  memory_.erase(key);
}

Result<void> HpaSyncer::sync(const json::object& hpa_obj, Clock::time_point now) {
  api::Meta meta(hpa_obj);
  const std::string ns(meta.namespace_());
  const std::string key = ns + "/" + std::string(meta.name());
  const std::string now_s = api::format_rfc3339(now);
  const json::object empty;
  const json::object& spec = api::object_or_empty(hpa_obj, "spec");
  const json::object* old_status = json::get_object(hpa_obj, "status");
  const int32_t min_replicas = static_cast<int32_t>(json::get_int_or(spec, "minReplicas", 1));
  const int32_t max_replicas = static_cast<int32_t>(json::get_int_or(spec, "maxReplicas", 0));

  json::object status = old_status ? *old_status : json::object{};
  status["observedGeneration"] = meta.generation();
  std::vector<Condition> conditions;

  auto finish = [&](std::vector<Condition> conds) -> Result<void> {
    status["conditions"] = merge_conditions(old_status, conds, now_s);
    if (old_status != nullptr && *old_status == status) return Ok();
    json::object updated = hpa_obj;
    updated["status"] = status;
    return api_.update_status(updated);
  };
  auto fail_scale = [&](std::string reason, std::string message) -> Result<void> {
    api_.event(hpa_obj, "Warning", reason, message);
    return finish({{"AbleToScale", "False", reason, message}});
  };

  auto target = scale_target(api::object_or_empty(spec, "scaleTargetRef"));
  if (!target.ok()) return fail_scale("FailedGetScale", target.error().message());
  auto scale = api_.get_scale(*target, ns);
  if (!scale.ok()) {
    return fail_scale("FailedGetScale", "the HPA controller was unable to get the target's current scale: " +
                                            scale.error().message());
  }
  const json::object& scale_spec = api::object_or_empty(*scale, "spec");
  const json::object& scale_status = api::object_or_empty(*scale, "status");
  const int32_t current = static_cast<int32_t>(json::get_int_or(scale_spec, "replicas", 0));
  const std::string selector(json::get_string(scale_status, "selector"));
  status["currentReplicas"] = json::get_int_or(scale_status, "replicas", current);

  Condition able{"AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"};
  Condition active{"ScalingActive", "True", "ValidMetricFound", ""};
  Condition limited{"ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range"};
  int32_t desired = current;
  std::string rescale_reason;

  if (current == 0 && min_replicas != 0) {
    // Scaling to zero by hand turns autoscaling off, as upstream.
    status["desiredReplicas"] = 0;
    status.erase("currentMetrics");
    return finish({able, {"ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"}});
  }
  if (current > max_replicas) {
    desired = max_replicas;
    rescale_reason = "Current number of replicas above Spec.MaxReplicas";
    limited = {"ScalingLimited", "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count"};
    active.message = "the HPA is above its maximum; scaling to maxReplicas";
  } else if (current < min_replicas) {
    desired = min_replicas;
    rescale_reason = "Current number of replicas below Spec.MinReplicas";
    limited = {"ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count"};
    active.message = "the HPA is below its minimum; scaling to minReplicas";
  } else {
    auto metrics = parse_metrics(spec);
    if (!metrics.ok()) {
      api_.event(hpa_obj, "Warning", "InvalidMetricSourceType", metrics.error().message());
      return finish({able, {"ScalingActive", "False", "InvalidMetricSourceType", metrics.error().message()}});
    }
    auto sel = api::Selector::parse(selector);
    if (selector.empty() || !sel.ok()) {
      const std::string msg = "the HPA target's scale is missing a selector" +
                              (sel.ok() ? std::string() : ": " + sel.error().message());
      api_.event(hpa_obj, "Warning", "InvalidSelector", msg);
      return finish({able, {"ScalingActive", "False", "InvalidSelector", msg}});
    }
    std::vector<client::ObjectPtr> pods = api_.pods(ns, selector);
    auto items = api_.pod_metrics(ns, selector);
    json::array current_metrics;
    int32_t proposal = -1;
    std::string first_error, first_reason, proposal_metric;
    int invalid = 0;
    const int32_t status_replicas = static_cast<int32_t>(json::get_int_or(scale_status, "replicas", current));
    for (const ResourceMetric& m : *metrics) {
      hpa::MetricResult r;
      int64_t average = 0;
      std::string reason = "FailedGetResourceMetric";
      if (m.source != Source::kResource) {
        r = custom_metric_replicas(api_, m, ns, selector, pods, current, status_replicas, options_.tolerance, &reason);
        // Upstream records each failed metric, whether or not the others carry the sync.
        if (!r.valid) api_.event(hpa_obj, "Warning", reason, r.error);
      } else if (!items.ok()) {
        r.error = "unable to get metrics for resource " + m.resource + ": " + items.error().message();
      } else if (pods.empty()) {
        r.error = "no pods match the target's selector " + selector;
      } else {
        auto values = metric_values(*items, m);
        std::vector<hpa::PodSample> samples;
        int64_t sum = 0, counted = 0;
        for (const client::ObjectPtr& p : pods) {
          samples.push_back(sample_of(*p, m, values, options_, now));
          const hpa::PodSample& s = samples.back();
          if (s.state == hpa::PodState::kReady && s.usage) sum += *s.usage, ++counted;
        }
        if (values.empty()) {
          r.error = "unable to get metrics for resource " + m.resource + ": no metrics returned from resource metrics API";
        } else {
          r = hpa::replicas_for_metric(current, samples, m.target, options_.tolerance);
          if (!r.valid && r.error.starts_with("missing request"))
            r.error = "failed to get " + m.resource + " utilization: " + r.error;
        }
        average = counted > 0 ? sum / counted : 0;
      }
      if (!r.valid) {
        if (first_error.empty()) {
          first_error = r.error;
          first_reason = reason;
        }
        ++invalid;
        current_metrics.push_back(json::object{{"type", ""}});  // index-aligned with spec.metrics, as upstream
        continue;
      }
      current_metrics.push_back(current_metric_json(m, r, average));
      if (r.replicas > proposal) {
        proposal = r.replicas;
        proposal_metric = metric_description(m);
      }
    }
    // As upstream: all metrics invalid, or some invalid while the valid ones would scale
    // down (the invalid ones might have said otherwise), is a failure to compute.
    if (proposal < 0 || (invalid > 0 && proposal < current)) {
      if (first_reason == "FailedGetResourceMetric") api_.event(hpa_obj, "Warning", first_reason, first_error);
      status["desiredReplicas"] = current;
      status.erase("currentMetrics");
      return finish({able, {"ScalingActive", "False", first_reason,
                            "the HPA was unable to compute the replica count: " + first_error}});
    }
    status["currentMetrics"] = std::move(current_metrics);
    active.message = "the HPA was able to successfully calculate a replica count from " + proposal_metric;

    KL_ASSIGN_OR_RETURN(hpa::Behavior behavior, parse_behavior(spec, options_.downscale_stabilization));
    hpa::Decision d;
    {
      std::lock_guard lk(mu_);
      Memory& mem = memory_[key];
      // Keep what the longest window or period can still look at.
      std::chrono::seconds keep = std::max(behavior.scale_up.stabilization_window, behavior.scale_down.stabilization_window);
      for (const auto* rules : {&behavior.scale_up, &behavior.scale_down})
        for (const hpa::Policy& p : rules->policies) keep = std::max(keep, p.period);
      std::erase_if(mem.recommendations, [&](const hpa::Recommendation& r) { return r.at <= now - keep; });
      std::erase_if(mem.events, [&](const hpa::ScaleEvent& e) { return e.at <= now - keep; });
      d = hpa::normalize(current, proposal, min_replicas, max_replicas, behavior, mem.recommendations, mem.events, now);
      mem.recommendations.push_back({now, proposal});
    }
    desired = d.replicas;
    if (desired > current) rescale_reason = proposal_metric + " above target";
    else rescale_reason = "All metrics below target";
    if (d.stabilized != proposal) {
      able = desired < proposal
                 ? Condition{"AbleToScale", "True", "ScaleUpStabilized",
                             "recent recommendations were lower than current one, applying the lowest recent recommendation"}
                 : Condition{"AbleToScale", "True", "ScaleDownStabilized",
                             "recent recommendations were higher than current one, applying the highest recent recommendation"};
    }
    switch (d.limited) {
      case hpa::LimitReason::kNone: break;
      case hpa::LimitReason::kTooFewReplicas:
        limited = {"ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count"};
        break;
      case hpa::LimitReason::kTooManyReplicas:
        limited = {"ScalingLimited", "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count"};
        break;
      case hpa::LimitReason::kScaleUpLimit:
        limited = {"ScalingLimited", "True", "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"};
        break;
      case hpa::LimitReason::kScaleDownLimit:
        limited = {"ScalingLimited", "True", "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"};
        break;
    }
  }

  status["desiredReplicas"] = desired;
  if (desired != current) {
    json::object updated = *scale;
    json::ensure_object(updated, "spec")["replicas"] = desired;
    if (auto w = api_.update_scale(*target, ns, updated); !w.ok()) {
      const std::string msg = "failed to rescale " + target->kind + "/" + target->name + ": " + w.error().message();
      api_.event(hpa_obj, "Warning", "FailedRescale", msg);
      return finish({{"AbleToScale", "False", "FailedUpdateScale",
                      "the HPA controller was unable to update the target scale: " + w.error().message()},
                     active, limited});
    }
    {
      std::lock_guard lk(mu_);
      memory_[key].events.push_back({now, desired - current});
    }
    api_.event(hpa_obj, "Normal", "SuccessfulRescale",
               "New size: " + std::to_string(desired) + "; reason: " + rescale_reason);
    status["lastScaleTime"] = now_s;
    able = {"AbleToScale", "True", "SucceededRescale",
            "the HPA controller was able to update the target scale to " + std::to_string(desired)};
  }
  return finish({able, active, limited});
}

// --- the controller ------------------------------------------------------------------------

class HorizontalPodAutoscalerController::RestApi final : public HpaApi {
 public:
  RestApi(std::shared_ptr<client::RestClient> client, client::Informer& pods, std::shared_ptr<client::EventSink> events)
      : client_(std::move(client)), pods_(pods), events_(std::move(events)) {}

  Result<json::object> get_scale(const ScaleTarget& t, const std::string& ns) override {
    return client_->get(client::ResourceRef(t.group, t.version, t.resource, ns, t.name, "scale"));
  }
  Result<void> update_scale(const ScaleTarget& t, const std::string& ns, const json::object& scale) override {
    KL_TRY(client_->update(client::ResourceRef(t.group, t.version, t.resource, ns, t.name, "scale"), scale));
    return Ok();
  }
  std::vector<client::ObjectPtr> pods(const std::string& ns, const std::string& selector) override {
    std::vector<client::ObjectPtr> out;
    auto sel = api::Selector::parse(selector);
    if (!sel.ok()) return out;
    auto in_ns = pods_.cache().by_index("namespace", ns);
    if (!in_ns.ok()) return out;
    for (const client::ObjectPtr& p : *in_ns)
      if (sel->matches(api::Meta(*p).labels())) out.push_back(p);
    return out;
  }
  Result<std::vector<json::object>> pod_metrics(const std::string& ns, const std::string& selector) override {
    client::ListOptions o;
    o.label_selector = selector;
    KL_ASSIGN_OR_RETURN(client::ObjectList l, client_->list(client::ResourceRef("metrics.k8s.io", "v1beta1", "pods", ns), o));
    return std::move(l.items);
  }
  Result<std::vector<json::object>> pods_metric(const std::string& ns, const std::string& selector,
                                                const std::string& metric, const json::object& metric_selector) override {
    std::string target = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + client::url_escape(ns) + "/pods/*/" +
                         client::url_escape(metric) + "?labelSelector=" + client::url_escape(selector);
    KL_ASSIGN_OR_RETURN(std::string ms, selector_string(metric_selector));
    if (!ms.empty()) target += "&metricLabelSelector=" + client::url_escape(ms);
    KL_ASSIGN_OR_RETURN(json::object list, get_json(target));
    return items_of(list);
  }
  Result<json::object> object_metric(const std::string& ns, const CustomObject& object, const std::string& metric,
                                     const json::object& metric_selector) override {
    KL_ASSIGN_OR_RETURN(ScaleTarget t, scale_target(json::object{
                                           {"apiVersion", object.api_version}, {"kind", object.kind}, {"name", object.name}}));
    std::string target = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + client::url_escape(ns) + "/" + t.resource +
                         "/" + client::url_escape(object.name) + "/" + client::url_escape(metric);
    KL_ASSIGN_OR_RETURN(std::string ms, selector_string(metric_selector));
    if (!ms.empty()) target += "?metricLabelSelector=" + client::url_escape(ms);
    KL_ASSIGN_OR_RETURN(json::object list, get_json(target));
    // A MetricValueList with one item (v1beta2 answers a list for a single object too).
    std::vector<json::object> items = items_of(list);
    if (items.empty()) return Error(ErrorCode::kNotFound, "no metric " + metric + " for " + object.kind + " " + object.name);
    return items.front();
  }
  Result<std::vector<json::object>> external_metric(const std::string& ns, const std::string& metric,
                                                    const json::object& metric_selector) override {
    std::string target = "/apis/external.metrics.k8s.io/v1beta1/namespaces/" + client::url_escape(ns) + "/" +
                         client::url_escape(metric);
    KL_ASSIGN_OR_RETURN(std::string ms, selector_string(metric_selector));
    if (!ms.empty()) target += "?labelSelector=" + client::url_escape(ms);
    KL_ASSIGN_OR_RETURN(json::object list, get_json(target));
    return items_of(list);
  }
  Result<void> update_status(const json::object& hpa) override {
    api::Meta m(hpa);
    KL_TRY(client_->update_status(hpa_ref(std::string(m.namespace_()), std::string(m.name()), "status"), hpa));
    return Ok();
  }
  void event(const json::object& hpa, std::string_view type, std::string_view reason, const std::string& message) override {
    events_->event(util::event_target(hpa, "autoscaling/v2", "HorizontalPodAutoscaler"), type, reason, message);
  }

 private:
  // A metric's LabelSelector as a query string value ("" when empty).
  static Result<std::string> selector_string(const json::object& metric_selector) {
    if (metric_selector.empty()) return std::string();
    const json::value v(metric_selector);
    KL_ASSIGN_OR_RETURN(api::Selector sel, api::Selector::from_json(&v, api::Selector::NullMeans::kEverything, "metric.selector"));
    return sel.to_string();
  }
  // GET of an aggregated metrics API; a non-2xx answer is an error with the server's message
  // (kernlet serves neither custom nor external metrics: a 404 "the server could not find
  // the requested resource").
  Result<json::object> get_json(const std::string& target) {
    KL_ASSIGN_OR_RETURN(client::Response r, client_->request("GET", target));
    auto body = json::parse_object(r.body);
    if (r.status < 200 || r.status >= 300) {
      std::string msg = body.ok() ? std::string(json::get_string(*body, "message")) : std::string();
      if (msg.empty()) msg = "HTTP " + std::to_string(r.status);
      return Error(r.status == 404 ? ErrorCode::kNotFound : ErrorCode::kUnavailable, msg + " (get " + target + ")");
    }
    if (!body.ok()) return std::move(body).error().context("GET " + target);
    return std::move(*body);
  }
  static std::vector<json::object> items_of(const json::object& list) {
    std::vector<json::object> out;
    if (const json::array* items = json::get_array(list, "items")) {
      for (const json::value& i : *items)
        if (i.is_object()) out.push_back(i.as_object());
    }
    return out;
  }

  std::shared_ptr<client::RestClient> client_;
  client::Informer& pods_;
  std::shared_ptr<client::EventSink> events_;
};

HorizontalPodAutoscalerController::HorizontalPodAutoscalerController(SharedInformers& informers, HpaOptions options,
                                                                     int workers)
    : Controller("horizontal-pod-autoscaler", workers),
      options_(options),
      hpas_(informers.get(hpa_ref())),
      api_(std::make_unique<RestApi>(informers.client(), informers.get(client::ResourceRef("", "v1", "pods")),
                                     informers.events("horizontal-pod-autoscaler"))),
      syncer_(*api_, options) {
  auto add = [this](const client::ObjectPtr& h) { enqueue(client::object_key(*h)); };
  hpas_.add_handler({.on_add = add,
                     // Our own status writes do not bump the generation: they need no extra pass.
                     .on_update =
                         [add](const client::ObjectPtr& o, const client::ObjectPtr& n) {
                           if (api::Meta(*o).generation() != api::Meta(*n).generation()) add(n);
                         },
                     .on_delete = [this](const client::ObjectPtr& h, bool) { syncer_.forget(client::object_key(*h)); },
                     .on_synced = nullptr});
}

HorizontalPodAutoscalerController::~HorizontalPodAutoscalerController() { stop(); }

Result<void> HorizontalPodAutoscalerController::reconcile(const std::string& key) {
  client::ObjectPtr h = hpas_.cache().get(key);
  if (!h) {
    syncer_.forget(key);
    return Ok();  // deleted: no requeue
  }
  // Level-triggered on a clock: every HPA is looked at again each sync period, whatever
  // its informer says (metrics change without any event).
  enqueue_after(key, options_.sync_period);
  return syncer_.sync(*h, Clock::now());
}

}  // namespace kernlet::controllers
