// HorizontalPodAutoscalerController (autoscaling/v2): every sync period, for each HPA, reads
// its target's /scale (Deployments, ReplicaSets, anything with the subresource), the pods
// the Scale's status.selector picks (informer cache) and their PodMetrics
// (metrics.k8s.io/v1beta1 through the API server, as upstream's REST metrics client),
// computes the replicas each Resource metric asks for (hpa_math.h: tolerance, missing and
// not-ready pods), takes the highest, applies `behavior` (stabilization windows, policies)
// and min/max, writes /scale when that differs, and writes status: currentReplicas,
// desiredReplicas, currentMetrics, lastScaleTime and the AbleToScale, ScalingActive and
// ScalingLimited conditions. A rescale is an Event SuccessfulRescale "New size: N; reason:
// ...". Resource and ContainerResource metrics come from metrics.k8s.io; Pods and Object
// metrics from custom.metrics.k8s.io/v1beta2 and External from external.metrics.k8s.io/v1beta1
// (hpa_math.h has their arithmetic). kernlet serves neither of the latter two (no metrics
// adapter), so such a metric fails as upstream's does without an adapter: an Event
// FailedGetPodsMetric/FailedGetObjectMetric/FailedGetExternalMetric per sync, and
// ScalingActive False with that reason when no metric worked or the working ones would
// scale down; otherwise the working metrics decide (the highest proposal).
//
// Recommendations and scale events for stabilization and policies are kept in memory per
// HPA, as kube-controller-manager does (a restarted leader starts with an empty window).
//
// HpaSyncer holds the logic over the HpaApi seam (fakes in the unit tests);
// HorizontalPodAutoscalerController wires it to informers and the RestClient.
// Thread-safety: HpaSyncer::sync is thread-safe (one lock around the per-HPA memory;
// the controller never syncs one key on two workers at once).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "control/controllers/controller.h"
#include "control/controllers/hpa_math.h"

namespace kernlet::controllers {

struct HpaOptions {
  std::chrono::milliseconds sync_period{15'000};                 // --horizontal-pod-autoscaler-sync-period
  std::chrono::seconds downscale_stabilization{300};             // --horizontal-pod-autoscaler-downscale-stabilization
  double tolerance = hpa::kDefaultTolerance;                     // --horizontal-pod-autoscaler-tolerance
  std::chrono::seconds cpu_initialization_period{300};           // --horizontal-pod-autoscaler-cpu-initialization-period
  std::chrono::seconds initial_readiness_delay{30};              // --horizontal-pod-autoscaler-initial-readiness-delay
};

// The target of spec.scaleTargetRef as a REST resource.
struct ScaleTarget {
  std::string group, version, resource, kind, name;
};
// apiVersion + kind -> resource: the built-in workloads by table, anything else as the
// lower-case plural of its kind ("Foo" -> "foos"). Errors: no kind or name, a bad apiVersion.
Result<ScaleTarget> scale_target(const json::object& scale_target_ref);

// The object an Object metric describes (spec.metrics[].object.describedObject).
struct CustomObject {
  std::string api_version, kind, name;
};

// What the syncer reads and writes. Implementations must be thread-safe.
class HpaApi {
 public:
  virtual ~HpaApi() = default;
  // The autoscaling/v1 Scale of the target.
  virtual Result<json::object> get_scale(const ScaleTarget& t, const std::string& ns) = 0;
  // Writes spec.replicas through /scale (the Scale as read, with replicas changed).
  virtual Result<void> update_scale(const ScaleTarget& t, const std::string& ns, const json::object& scale) = 0;
  // The pods matching `selector` (a label selector string) in `ns`.
  virtual std::vector<client::ObjectPtr> pods(const std::string& ns, const std::string& selector) = 0;
  // PodMetrics items of metrics.k8s.io/v1beta1 for the pods matching `selector`.
  virtual Result<std::vector<json::object>> pod_metrics(const std::string& ns, const std::string& selector) = 0;
  // custom.metrics.k8s.io/v1beta2 MetricValue items of `metric` for the pods matching
  // `selector` (each names its pod in describedObject.name and carries `value`).
  // `metric_selector` is the metric's label selector (JSON LabelSelector, may be empty).
  virtual Result<std::vector<json::object>> pods_metric(const std::string& ns, const std::string& selector,
                                                        const std::string& metric,
                                                        const json::object& metric_selector) = 0;
  // custom.metrics.k8s.io/v1beta2 MetricValue of `metric` describing `object`.
  virtual Result<json::object> object_metric(const std::string& ns, const CustomObject& object, const std::string& metric,
                                             const json::object& metric_selector) = 0;
  // external.metrics.k8s.io/v1beta1 ExternalMetricValue items of `metric` (each with `value`).
  virtual Result<std::vector<json::object>> external_metric(const std::string& ns, const std::string& metric,
                                                            const json::object& metric_selector) = 0;
  // PUT the HPA's status subresource.
  virtual Result<void> update_status(const json::object& hpa) = 0;
  virtual void event(const json::object& hpa, std::string_view type, std::string_view reason,
                     const std::string& message) = 0;
};

class HpaSyncer {
 public:
  HpaSyncer(HpaApi& api, HpaOptions options) : api_(api), options_(options) {}
  // One pass over one HPA at `now`. Errors only for a failed status write (the caller
  // retries); failures to read the target or metrics are reported in status and events.
  Result<void> sync(const json::object& hpa, hpa::Clock::time_point now);
  // Drops the memory of a deleted HPA.
  void forget(const std::string& key);

 private:
  struct Memory {
    std::vector<hpa::Recommendation> recommendations;
    std::vector<hpa::ScaleEvent> events;
  };
  HpaApi& api_;
  HpaOptions options_;
  std::mutex mu_;
  std::map<std::string, Memory> memory_;
};

// spec.behavior over the defaults (the scale-down window from `downscale_window` when the
// HPA sets none). Errors name a bad field.
Result<hpa::Behavior> parse_behavior(const json::object& spec, std::chrono::seconds downscale_window);

class HorizontalPodAutoscalerController final : public Controller {
 public:
  HorizontalPodAutoscalerController(SharedInformers& informers, HpaOptions options, int workers = 1);
  ~HorizontalPodAutoscalerController() override;

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  class RestApi;
  HpaOptions options_;
  client::Informer& hpas_;
  std::unique_ptr<RestApi> api_;
  HpaSyncer syncer_;
};

}  // namespace kernlet::controllers
