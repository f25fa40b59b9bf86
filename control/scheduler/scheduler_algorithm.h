// The scheduling decision: which node a pod goes to, or why none fits.
//
// ClusterState is the scheduler's cache — nodes and the pods bound or assumed on them,
// accounted as they arrive, so the next decision sees the last one. GenericScheduler runs
// Kubernetes' default profile over it: filters (NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity incl. nodeSelector, NodePorts, NodeResourcesFit,
// VolumeBinding's node part (PodInfo::volume_requirements, from volume_binding.h),
// InterPodAffinity's required anti-affinity, both ways) and scores (TaintToleration ×3,
// NodeAffinity ×2, spreading an owner's pods ×2, LeastAllocated ×1,
// BalancedAllocation ×1), in parallel across nodes, stopping once enough feasible nodes
// are found on large clusters (percentageOfNodesToScore's adaptive rule), ties broken at
// random. The failure message is upstream's: "0/3 nodes are available: 1 Insufficient
// cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
//
// Thread-safety: neither class is thread-safe; the scheduler owns both and runs one
// decision at a time (each decision itself uses the worker threads).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "control/scheduler/pod_info.h"

namespace kernlet::scheduler {

// Reasons a node is filtered out, with upstream's texts.
inline constexpr std::string_view kReasonNodeName = "node(s) didn't match the requested node name";
inline constexpr std::string_view kReasonUnschedulable = "node(s) were unschedulable";
inline constexpr std::string_view kReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector";
inline constexpr std::string_view kReasonNodePorts = "node(s) didn't have free ports for the requested pod ports";
inline constexpr std::string_view kReasonTooManyPods = "Too many pods";
inline constexpr std::string_view kReasonAntiAffinity = "node(s) didn't match pod anti-affinity rules";
inline constexpr std::string_view kReasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules";

class ClusterState {
 public:
  // Adds or replaces a node, keeping the pods already accounted on it.
  void upsert_node(NodeInfo node);
  void remove_node(std::string_view name);
  // Accounts a pod on its node_name (bound, or assumed by the scheduler); replaces an
  // earlier entry with the same key. A pod on a node not known yet is kept and accounted
  // when the node arrives.
  void add_pod(std::shared_ptr<const PodInfo> pod);
  // Forgets a pod (deleted, or an assumption whose binding failed). False when unknown.
  bool remove_pod(std::string_view key);

  std::size_t node_count() const { return nodes_.size(); }
  const NodeInfo* node(std::string_view name) const;
  const std::vector<NodeInfo>& nodes() const { return nodes_; }
  // Pods that carry required anti-affinity terms (checked against every incoming pod).
  const std::unordered_map<std::string, std::shared_ptr<const PodInfo>>& anti_affinity_pods() const {
    return anti_affinity_pods_;
  }

 private:
  std::vector<NodeInfo> nodes_;                                   // decision order
  std::unordered_map<std::string, std::size_t> index_;            // name → position in nodes_
  std::unordered_map<std::string, std::shared_ptr<const PodInfo>> pods_;  // key → pod (with node_name)
  std::unordered_map<std::string, std::shared_ptr<const PodInfo>> anti_affinity_pods_;
};

// Why a pod fits no node: how many nodes gave each reason.
struct FitError {
  std::size_t num_nodes = 0;
  std::map<std::string, int, std::less<>> reasons;
  // "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable."
  std::string message() const;
};

struct Decision {
  std::string node;
  std::size_t feasible = 0;   // feasible nodes found
  std::size_t evaluated = 0;  // nodes filtered
};

// A fixed set of worker threads that run one parallel loop at a time.
class Parallelizer {
 public:
  explicit Parallelizer(int threads);
  ~Parallelizer();
  Parallelizer(const Parallelizer&) = delete;
  Parallelizer& operator=(const Parallelizer&) = delete;
  // Calls fn(i) for i in [0, n) on the workers and the calling thread; fn returns false to
  // stop the loop early (other workers finish the index they hold). Returns when done.
  void for_each(std::size_t n, const std::function<bool(std::size_t)>& fn);

 private:
  void work();
  void run_current();
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  const std::function<bool(std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stop_loop_{false};
  int active_ = 0;
  bool open_ = false;
  uint64_t generation_ = 0;
  bool shutdown_ = false;
};

struct SchedulerOptions {
  int parallelism = 2;                // threads filtering and scoring nodes
  int percentage_of_nodes_to_score = 0;  // 0 = Kubernetes' adaptive default
  uint64_t seed = 0;                  // 0 = random; otherwise deterministic tie-breaks
};

class GenericScheduler {
 public:
  explicit GenericScheduler(SchedulerOptions options = {});
  // Picks a node for `pod` (its node_name, if set, restricts the choice to that node).
  std::variant<Decision, FitError> schedule(const PodInfo& pod, const ClusterState& state);

  // How many feasible nodes a decision looks for among `nodes` (percentageOfNodesToScore).
  static std::size_t feasible_nodes_to_find(std::size_t nodes, int percentage);

 private:
  SchedulerOptions options_;
  Parallelizer workers_;
  std::mt19937_64 rng_;
  std::size_t next_start_ = 0;
};

// Filters one node; the reasons it does not fit (empty: it fits). `forbidden` holds the
// topology (key, value) pairs anti-affinity rules out for this pod, both ways.
struct AntiAffinityTopology {
  std::map<std::string, std::vector<std::string>, std::less<>> by_incoming;  // the pod's own terms
  std::map<std::string, std::vector<std::string>, std::less<>> by_existing;  // other pods' terms
};
std::vector<std::string> filter_node(const PodInfo& pod, const NodeInfo& node, const AntiAffinityTopology& anti);
AntiAffinityTopology anti_affinity_topology(const PodInfo& pod, const ClusterState& state);

}  // namespace kernlet::scheduler
