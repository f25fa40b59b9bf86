#include "api/objects/autoscaling.h"

#include <array>
#include <string>
#include <utility>

#include "api/objects/common.h"

namespace kernlet::api {
namespace {

// MetricSpec/MetricStatus type -> member holding the source, and the error paths of its
// target and current value (literals, so views can keep them).
struct MetricSource {
  std::string_view type;
  std::string_view member;
  std::string_view target_path;
  std::string_view current_path;
};
constexpr std::array<MetricSource, 5> kMetricSources = {{
    {"Resource", "resource", "resource.target", "resource.current"},
    {"Pods", "pods", "pods.target", "pods.current"},
    {"Object", "object", "object.target", "object.current"},
    {"External", "external", "external.target", "external.current"},
    {"ContainerResource", "containerResource", "containerResource.target",
     "containerResource.current"},
}};

const MetricSource* metric_source(std::string_view type) {
  for (const MetricSource& s : kMetricSources) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

// What API defaulting puts in spec.metrics when the list is empty.
const json::object& default_cpu_metric() {
  static const json::object m = {
      {"type", "Resource"},
      {"resource",
       json::object{{"name", "cpu"},
                    {"target", json::object{{"type", "Utilization"}, {"averageUtilization", 80}}}}},
  };
  return m;
}

constexpr int64_t kScalingPeriodSeconds = 15;

}  // namespace

std::string_view CrossVersionObjectReferenceView::kind() const {
  return json::get_string(*r_, "kind");
}
std::string_view CrossVersionObjectReferenceView::name() const {
  return json::get_string(*r_, "name");
}
std::string_view CrossVersionObjectReferenceView::api_version() const {
  return json::get_string(*r_, "apiVersion");
}

std::string_view MetricValueView::type() const { return json::get_string(*v_, "type"); }
std::optional<int64_t> MetricValueView::average_utilization() const {
  return json::get_int(*v_, "averageUtilization");
}
Result<std::optional<Quantity>> MetricValueView::average_value() const {
  return get_optional_quantity(*v_, "averageValue", std::string(path_) + ".averageValue");
}
Result<std::optional<Quantity>> MetricValueView::value() const {
  return get_optional_quantity(*v_, "value", std::string(path_) + ".value");
}

std::string_view MetricView::type() const { return json::get_string(*m_, "type"); }
const json::object& MetricView::source() const {
  const MetricSource* s = metric_source(type());
  return s != nullptr ? object_or_empty(*m_, s->member) : empty_object();
}
std::string_view MetricView::resource_name() const {
  const std::string_view t = type();
  if (t != "Resource" && t != "ContainerResource") return {};
  return json::get_string(source(), "name");
}
std::string_view MetricView::container() const {
  if (type() != "ContainerResource") return {};
  return json::get_string(source(), "container");
}
std::string_view MetricView::metric_name() const {
  return json::get_string(object_or_empty(source(), "metric"), "name");
}
const json::object* MetricView::metric_selector() const {
  return json::get_object(object_or_empty(source(), "metric"), "selector");
}
std::optional<CrossVersionObjectReferenceView> MetricView::described_object() const {
  if (type() != "Object") return std::nullopt;
  return optional_object_view<CrossVersionObjectReferenceView>(source(), "describedObject");
}
MetricValueView MetricView::target() const {
  const MetricSource* s = metric_source(type());
  return MetricValueView(object_or_empty(source(), "target"),
                         s != nullptr ? s->target_path : "target");
}
MetricValueView MetricView::current() const {
  const MetricSource* s = metric_source(type());
  return MetricValueView(object_or_empty(source(), "current"),
                         s != nullptr ? s->current_path : "current");
}

std::optional<int64_t> HpaScalingRulesView::stabilization_window_seconds() const {
  if (auto v = json::get_int(*r_, "stabilizationWindowSeconds")) return v;
  if (direction_ == Direction::Up) return 0;
  return std::nullopt;
}
std::string_view HpaScalingRulesView::select_policy() const {
  return string_or_default(*r_, "selectPolicy", "Max");
}
std::vector<HpaScalingPolicy> HpaScalingRulesView::policies() const {
  // An explicit list replaces the defaults, even an empty one (validation rejects that).
  if (json::get_array(*r_, "policies") == nullptr) {
    if (direction_ == Direction::Up) {
      return {{"Pods", 4, kScalingPeriodSeconds}, {"Percent", 100, kScalingPeriodSeconds}};
    }
    return {{"Percent", 100, kScalingPeriodSeconds}};
  }
  std::vector<HpaScalingPolicy> out;
  for (const json::object* p : get_object_array(*r_, "policies")) {
    out.push_back({json::get_string(*p, "type"), json::get_int_or(*p, "value", 0),
                   json::get_int_or(*p, "periodSeconds", 0)});
  }
  return out;
}
Result<std::optional<Quantity>> HpaScalingRulesView::tolerance() const {
  return get_optional_quantity(*r_, "tolerance",
                               direction_ == Direction::Up ? "behavior.scaleUp.tolerance"
                                                           : "behavior.scaleDown.tolerance");
}

CrossVersionObjectReferenceView HorizontalPodAutoscalerSpecView::scale_target_ref() const {
  return CrossVersionObjectReferenceView(object_or_empty(*s_, "scaleTargetRef"));
}
int64_t HorizontalPodAutoscalerSpecView::min_replicas() const {
  return json::get_int_or(*s_, "minReplicas", 1);
}
int64_t HorizontalPodAutoscalerSpecView::max_replicas() const {
  return json::get_int_or(*s_, "maxReplicas", 0);
}
std::vector<MetricView> HorizontalPodAutoscalerSpecView::metrics() const {
  std::vector<MetricView> out = object_views<MetricView>(*s_, "metrics");
  if (out.empty()) out.emplace_back(default_cpu_metric());
  return out;
}
const json::object* HorizontalPodAutoscalerSpecView::behavior() const {
  return json::get_object(*s_, "behavior");
}
HpaScalingRulesView HorizontalPodAutoscalerSpecView::scale_up() const {
  return HpaScalingRulesView(object_or_empty(object_or_empty(*s_, "behavior"), "scaleUp"),
                             HpaScalingRulesView::Direction::Up);
}
HpaScalingRulesView HorizontalPodAutoscalerSpecView::scale_down() const {
  return HpaScalingRulesView(object_or_empty(object_or_empty(*s_, "behavior"), "scaleDown"),
                             HpaScalingRulesView::Direction::Down);
}

std::optional<int64_t> HorizontalPodAutoscalerStatusView::observed_generation() const {
  return json::get_int(*s_, "observedGeneration");
}
std::string_view HorizontalPodAutoscalerStatusView::last_scale_time() const {
  return json::get_string(*s_, "lastScaleTime");
}
int64_t HorizontalPodAutoscalerStatusView::current_replicas() const {
  return json::get_int_or(*s_, "currentReplicas", 0);
}
int64_t HorizontalPodAutoscalerStatusView::desired_replicas() const {
  return json::get_int_or(*s_, "desiredReplicas", 0);
}
std::vector<MetricView> HorizontalPodAutoscalerStatusView::current_metrics() const {
  return object_views<MetricView>(*s_, "currentMetrics");
}
std::vector<ConditionView> HorizontalPodAutoscalerStatusView::conditions() const {
  return get_conditions(*s_);
}
std::optional<ConditionView> HorizontalPodAutoscalerStatusView::condition(
    std::string_view type) const {
  return find_condition(*s_, type);
}

}  // namespace kernlet::api
