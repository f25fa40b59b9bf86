// Node lifecycle: the part of auto-repair that notices a dead node, as Kubernetes' node
// lifecycle controller and taint eviction controller do.
//
// NodeLifecycleController (one worker, keyed by node name) watches Nodes and their Leases
// in kube-node-lease. A node that showed no sign of life (its Lease renewTime or its Ready
// heartbeat changing, judged by this process's own clock) for the grace period gets every
// condition set Unknown (Ready: NodeStatusUnknown) and its pods marked not Ready. Its
// Ready status decides the taints: Unknown -> node.kubernetes.io/unreachable, False ->
// node.kubernetes.io/not-ready, each as NoSchedule and NoExecute; True removes them.
// Adding a NoExecute taint is rate limited per zone (token bucket, burst 1, at the
// zone's eviction rate: --node-eviction-rate, stopped when every zone is fully down).
//
// TaintEvictionController (keyed by pod) deletes a pod from a node with NoExecute taints
// once its tolerations run out (at once without a toleration).
// Thread-safety: as Controller; the lifecycle controller's state is used by its one worker.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "control/controllers/controller.h"
#include "control/controllers/node_lifecycle_math.h"

namespace kernlet::controllers {

namespace lifecycle {

inline constexpr std::string_view kUnreachableTaint = "node.kubernetes.io/unreachable";
inline constexpr std::string_view kNotReadyTaint = "node.kubernetes.io/not-ready";

// When each node last showed life, by our clock: a change of its Ready heartbeat or its
// Lease's renewTime. A node first seen counts as alive at that moment (the grace period
// starts when the controller does, as upstream).
class HealthTracker {
 public:
  // Records what the node shows at `now`; returns when it last changed.
  Clock::time_point observe(const std::string& node, std::string_view heartbeat, std::string_view lease_renew,
                            Clock::time_point now);
  void forget(const std::string& node);

 private:
  struct Probe {
    std::string heartbeat, renew;
    Clock::time_point at;
  };
  std::unordered_map<std::string, Probe> probes_;
};

// The node's status.conditions once its grace period ran out: Ready (added when missing)
// and every other condition Unknown, heartbeats kept, transitions stamped `now`. Reason
// NodeStatusUnknown ("Kubelet stopped posting node status."), or NodeStatusNeverUpdated
// when the kubelet never posted one. nullopt when all are Unknown already.
std::optional<json::array> unknown_conditions(const json::object& node, std::string_view now);

// Which of our taints a Ready status calls for: "Unknown" -> unreachable, "False" ->
// not-ready, anything else -> "" (none).
std::string_view taint_for_ready(std::string_view ready_status);

// Whether the taints hold our unreachable or not-ready NoExecute taint.
bool has_our_no_execute(const json::array* taints);

// The node's taints with ours set to `want` ("" = none): its NoSchedule variant always,
// its NoExecute variant when `may_add_no_execute` or when swapping for the other of ours
// (no new eviction wave). Other taints are kept in order; new ones carry timeAdded `now`.
json::array reconcile_taints(const json::array* current, std::string_view want, bool may_add_no_execute,
                             std::string_view now);

// The NoExecute taints of a node and a pod's tolerations, in node_lifecycle_math's terms.
// A taint without timeAdded counts as added at `fallback`.
std::vector<NoExecuteTaint> no_execute_taints(const json::object& node, std::chrono::system_clock::time_point fallback);
std::vector<PodToleration> pod_tolerations(const json::object& pod);

}  // namespace lifecycle

struct NodeLifecycleOptions {
  std::chrono::milliseconds grace_period{40'000};  // --node-monitor-grace-period
  std::chrono::milliseconds monitor_period{5'000}; // how often each node is checked
  lifecycle::Thresholds thresholds;                // --node-eviction-rate, ...
};

class NodeLifecycleController final : public Controller {
 public:
  NodeLifecycleController(SharedInformers& informers, NodeLifecycleOptions opts);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  // Evictions allowed now in the node's zone (takes a token when true).
  bool may_taint_no_execute(const json::object& node, lifecycle::Clock::time_point now);
  Result<void> mark_pods_not_ready(const std::string& node);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& nodes_;
  client::Informer& leases_;
  client::Informer& pods_;
  NodeLifecycleOptions opts_;
  lifecycle::HealthTracker health_;
  std::map<std::string, lifecycle::TokenBucket> buckets_;  // by zone
};

class TaintEvictionController final : public Controller {
 public:
  explicit TaintEvictionController(SharedInformers& informers, int workers = 1);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  void enqueue_pods_on(const json::object& node);
  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& nodes_;
  client::Informer& pods_;
};

}  // namespace kernlet::controllers
