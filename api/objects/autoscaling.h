// HorizontalPodAutoscalerView: read-only typed view of an autoscaling/v2
// HorizontalPodAutoscaler (pattern: api/objects/pod.h), with the defaults the API server
// writes: minReplicas 1, a cpu-utilization-80% metric when none is listed, and the
// scale-up/scale-down rules.
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/quantity.h"
#include "api/result.h"

namespace kernlet::api {

// spec.scaleTargetRef and metric describedObject (a CrossVersionObjectReference).
class CrossVersionObjectReferenceView {
 public:
  explicit CrossVersionObjectReferenceView(const json::object& r) : r_(&r) {}
  std::string_view kind() const;
  std::string_view name() const;
  std::string_view api_version() const;
  const json::object& raw() const { return *r_; }

 private:
  const json::object* r_;
};

// A metric's target (spec) or current value (status): MetricTarget / MetricValueStatus.
// Quantities are parsed on access; errors name the field, e.g.
// `resource.target.averageValue: ...`.
class MetricValueView {
 public:
  // `path` names the member in errors; it must outlive the view (pass a string literal).
  MetricValueView(const json::object& v, std::string_view path) : v_(&v), path_(path) {}
  // "Utilization", "Value" or "AverageValue"; "" in status, which has no type.
  std::string_view type() const;
  std::optional<int64_t> average_utilization() const;  // percent of the pods' requests
  Result<std::optional<Quantity>> average_value() const;
  Result<std::optional<Quantity>> value() const;
  const json::object& raw() const { return *v_; }

 private:
  const json::object* v_;
  std::string_view path_;
};

// spec.metrics[i] (MetricSpec) or status.currentMetrics[i] (MetricStatus): a type and the
// source member it names ("Resource" -> resource, "Pods" -> pods, "Object" -> object,
// "External" -> external, "ContainerResource" -> containerResource).
class MetricView {
 public:
  explicit MetricView(const json::object& m) : m_(&m) {}
  std::string_view type() const;
  // The source member for type(); empty when missing.
  const json::object& source() const;
  // resource.name / containerResource.name ("cpu", "memory"); "" for other types.
  std::string_view resource_name() const;
  // containerResource.container; "" for other types.
  std::string_view container() const;
  // metric.name of Pods/Object/External metrics; "" for the others.
  std::string_view metric_name() const;
  // metric.selector of Pods/Object/External metrics; nullptr when unset.
  const json::object* metric_selector() const;
  // object.describedObject of Object metrics.
  std::optional<CrossVersionObjectReferenceView> described_object() const;
  // The target (in spec).
  MetricValueView target() const;
  // The current value (in status).
  MetricValueView current() const;
  const json::object& raw() const { return *m_; }

 private:
  const json::object* m_;
};

// behavior.scaleUp / behavior.scaleDown[i].policies[j]
struct HpaScalingPolicy {
  std::string_view type;  // "Pods" or "Percent"
  int64_t value = 0;
  int64_t period_seconds = 0;
  bool operator==(const HpaScalingPolicy&) const = default;
};

// behavior.scaleUp or behavior.scaleDown, each field read with the default API defaulting
// writes once behavior is set. (With behavior unset Kubernetes' controller keeps its older
// built-in limits, so check behavior() before relying on these as what it will do.)
class HpaScalingRulesView {
 public:
  enum class Direction { Up, Down };
  HpaScalingRulesView(const json::object& r, Direction d) : r_(&r), direction_(d) {}
  // Up: default 0. Down: nullopt when unset, meaning the controller's
  // --horizontal-pod-autoscaler-downscale-stabilization (5 minutes by default).
  std::optional<int64_t> stabilization_window_seconds() const;
  std::string_view select_policy() const;  // "Max" (default), "Min" or "Disabled"
  // Up default: 4 Pods per 15s and 100 Percent per 15s. Down default: 100 Percent per 15s.
  std::vector<HpaScalingPolicy> policies() const;
  // The change ratio within which no scaling happens; nullopt means the controller's
  // --horizontal-pod-autoscaler-tolerance (0.1). Errors name the field.
  Result<std::optional<Quantity>> tolerance() const;
  const json::object& raw() const { return *r_; }

 private:
  const json::object* r_;
  Direction direction_;
};

class HorizontalPodAutoscalerSpecView {
 public:
  explicit HorizontalPodAutoscalerSpecView(const json::object& s) : s_(&s) {}
  CrossVersionObjectReferenceView scale_target_ref() const;
  int64_t min_replicas() const;  // default 1
  int64_t max_replicas() const;  // 0 when unset (required)
  // The metrics; when none are listed, Kubernetes' default: one Resource metric, cpu,
  // target Utilization 80%.
  std::vector<MetricView> metrics() const;
  // behavior; nullptr when unset.
  const json::object* behavior() const;
  HpaScalingRulesView scale_up() const;
  HpaScalingRulesView scale_down() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class HorizontalPodAutoscalerStatusView {
 public:
  explicit HorizontalPodAutoscalerStatusView(const json::object& s) : s_(&s) {}
  std::optional<int64_t> observed_generation() const;
  std::string_view last_scale_time() const;  // RFC 3339, "" when unset
  int64_t current_replicas() const;          // 0 when unset
  int64_t desired_replicas() const;          // 0 when unset
  std::vector<MetricView> current_metrics() const;
  std::vector<ConditionView> conditions() const;
  // "AbleToScale", "ScalingActive" or "ScalingLimited".
  std::optional<ConditionView> condition(std::string_view type) const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class HorizontalPodAutoscalerView {
 public:
  explicit HorizontalPodAutoscalerView(const json::object& h) : h_(&h) {}
  Meta meta() const { return Meta(*h_); }
  HorizontalPodAutoscalerSpecView spec() const {
    return HorizontalPodAutoscalerSpecView(object_or_empty(*h_, "spec"));
  }
  HorizontalPodAutoscalerStatusView status() const {
    return HorizontalPodAutoscalerStatusView(object_or_empty(*h_, "status"));
  }
  const json::object& raw() const { return *h_; }

 private:
  const json::object* h_;
};

}  // namespace kernlet::api
