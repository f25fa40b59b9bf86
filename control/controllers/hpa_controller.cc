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

// One metric of spec.metrics that the controller computes.
struct ResourceMetric {
  std::string resource;  // "cpu", "memory"
  hpa::Target target;    // Utilization in percent, AverageValue in milli-units
  bool container = false;
  std::string container_name;  // ContainerResource: only this container's usage and request
};

// spec.metrics -> what we compute; an unsupported entry is an error naming it.
Result<std::vector<ResourceMetric>> parse_metrics(const json::object& spec) {
  std::vector<ResourceMetric> out;
  const json::array* metrics = json::get_array(spec, "metrics");
  if (metrics == nullptr || metrics->empty()) {
    // autoscaling/v2's default: 80 % of the cpu request.
    out.push_back({"cpu", {hpa::TargetType::kUtilization, 80}, false, {}});
    return out;
  }
  for (std::size_t i = 0; i < metrics->size(); ++i) {
    const std::string at = "spec.metrics[" + std::to_string(i) + "]";
    if (!(*metrics)[i].is_object()) return Error(ErrorCode::kInvalidArgument, at + ": not an object");
    const json::object& m = (*metrics)[i].as_object();
    const std::string type(json::get_string(m, "type"));
    if (type != "Resource" && type != "ContainerResource") {
      return Error(ErrorCode::kInvalidArgument,
                   at + ": metric type \"" + type + "\" is not supported (only Resource and ContainerResource)");
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
  std::string what = m.container ? "container " + m.container_name + " " + m.resource : m.resource;
  if (m.target.type == hpa::TargetType::kUtilization) return what + " resource utilization (percentage of request)";
  return what + " resource";
}

json::object current_metric_json(const ResourceMetric& m, const hpa::MetricResult& r, int64_t average_milli) {
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
    std::string first_error, proposal_metric;
    int invalid = 0;
    for (const ResourceMetric& m : *metrics) {
      hpa::MetricResult r;
      int64_t average = 0;
      if (!items.ok()) {
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
        if (first_error.empty()) first_error = r.error;
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
      api_.event(hpa_obj, "Warning", "FailedGetResourceMetric", first_error);
      status["desiredReplicas"] = current;
      status.erase("currentMetrics");
      return finish({able, {"ScalingActive", "False", "FailedGetResourceMetric",
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
  RestApi(std::shared_ptr<client::RestClient> client, client::Informer& pods)
      : client_(std::move(client)), pods_(pods) {}

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
  Result<void> update_status(const json::object& hpa) override {
    api::Meta m(hpa);
    KL_TRY(client_->update_status(hpa_ref(std::string(m.namespace_()), std::string(m.name()), "status"), hpa));
    return Ok();
  }
  void event(const json::object& hpa, std::string_view type, std::string_view reason, const std::string& message) override {
    api::Meta m(hpa);
    const std::string now = api::now_rfc3339();
    json::object ev{{"apiVersion", "v1"},
                    {"kind", "Event"},
                    {"metadata", json::object{{"name", api::event_name(m.name())},
                                              {"namespace", m.namespace_()}}},
                    {"involvedObject", json::object{{"apiVersion", "autoscaling/v2"},
                                                    {"kind", "HorizontalPodAutoscaler"},
                                                    {"name", m.name()},
                                                    {"namespace", m.namespace_()},
                                                    {"uid", m.uid()},
                                                    {"resourceVersion", m.resource_version()}}},
                    {"type", type},
                    {"reason", reason},
                    {"message", message},
                    {"source", json::object{{"component", "horizontal-pod-autoscaler"}}},
                    {"firstTimestamp", now},
                    {"lastTimestamp", now},
                    {"count", 1},
                    {"reportingComponent", "horizontal-pod-autoscaler"}};
    if (auto r = client_->create(client::ResourceRef("", "v1", "events", std::string(m.namespace_())), ev); !r.ok()) {
      std::fprintf(stderr, "warning horizontal-pod-autoscaler: event %s for %s/%s: %s\n", std::string(reason).c_str(),
                   std::string(m.namespace_()).c_str(), std::string(m.name()).c_str(), r.error().to_string().c_str());
    }
  }

 private:
  std::shared_ptr<client::RestClient> client_;
  client::Informer& pods_;
};

HorizontalPodAutoscalerController::HorizontalPodAutoscalerController(SharedInformers& informers, HpaOptions options,
                                                                     int workers)
    : Controller("horizontal-pod-autoscaler", workers),
      options_(options),
      hpas_(informers.get(hpa_ref())),
      api_(std::make_unique<RestApi>(informers.client(), informers.get(client::ResourceRef("", "v1", "pods")))),
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
