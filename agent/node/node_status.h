// NodeStatusManager: registers this machine's Node and keeps its status true, as the
// kubelet's node status loop does.
//
//  - Registration: POST the Node (labels kubernetes.io/hostname, kubernetes.io/os,
//    kubernetes.io/arch and their beta.kubernetes.io twins, plus NodeOptions::labels; the
//    attach-detach annotation; the full status). On AlreadyExists the existing Node's
//    default and extra labels are patched to our values; its status is then posted by the
//    first sync. A Node deleted while the agent runs is registered again.
//  - Status: every check_interval (10 s) the manager reads the Node and the machine,
//    computes capacity, allocatable, addresses, nodeInfo, daemonEndpoints and the four
//    conditions, and PATCHes nodes/<name>/status (strategic merge: conditions merge by
//    type, so conditions others own survive; addresses are replaced whole) when any of it
//    differs from the Node, or report_interval (60 s) has passed since the last post.
//  - Conditions: Ready (KubeletReady "kernlet is posting ready status" / KubeletNotReady
//    with the messages of the readiness sources that report not ready), MemoryPressure,
//    DiskPressure, PIDPressure with the kubelet's reasons and messages. lastHeartbeatTime is the time of the post that wrote
//    it; lastTransitionTime changes only when the status does. A pressure condition stays
//    True for pressure_transition_period (5 min) after the signal last crossed its
//    threshold, as the kubelet's eviction manager holds it.
//  - The Lease (agent/node/node_lease.h) runs on its own thread beside the status thread.
//
// Failures of the API never stop the manager: registration and status posts are retried
// on the next tick (registration with back-off 100 ms doubling to 7 s), and nothing else
// waits for them.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/node/clock.h"
#include "agent/node/host_info.h"
#include "agent/node/node_lease.h"
#include "api/client/rest_client.h"
#include "api/json.h"
#include "api/object.h"
#include "api/result.h"

namespace kernlet::agent {

// A hard eviction threshold on an "available" signal: the signal is under pressure when
// it is below `quantity` (when > 0), else below `percentage` of its capacity (when > 0).
// Neither set = no threshold.
struct EvictionThreshold {
  int64_t quantity = 0;
  double percentage = 0;

  bool enabled() const { return quantity > 0 || percentage > 0; }
  // The threshold in the signal's unit for this capacity (0 when disabled).
  int64_t value_for(int64_t capacity) const;
};

// The kubelet's Linux defaults memory.available<100Mi and nodefs.available<10%.
// pid.available has no upstream default; kernlet uses 5% so PIDPressure means something.
struct EvictionThresholds {
  EvictionThreshold memory_available{100 * 1024 * 1024, 0};
  EvictionThreshold nodefs_available{0, 0.10};
  EvictionThreshold pid_available{0, 0.05};
};

struct NodeOptions {
  std::string node_name;                // required
  std::string hostname;                 // the Hostname address and label; "" = node_name
  // InternalIP (--node-ip); "" = the first IPv4 address of the default route's interface.
  std::string node_ip;
  std::map<std::string, std::string> labels;  // added to (and win over) the default labels
  api::ResourceList system_reserved;
  api::ResourceList kube_reserved;
  int64_t max_pods = 110;
  std::string root_dir = "/var/lib/kernlet";  // its filesystem is ephemeral-storage
  int kubelet_port = 10250;
  std::string version = "v1.30.0-kernlet";  // kubeletVersion and kubeProxyVersion
  std::string runtime_version = "0.1.0";    // containerRuntimeVersion kernlet://<this>
  EvictionThresholds eviction;
  std::chrono::seconds pressure_transition_period{300};
  std::chrono::milliseconds check_interval{10'000};
  std::chrono::seconds report_interval{60};
  bool run_lease = true;  // start() also starts the NodeLease
  NodeLeaseOptions lease;  // node_name, node_uid and clock are filled in by the manager
};

// ---- pure computations (unit-tested) ----------------------------------------------------

struct NodeResources {
  api::ResourceList capacity;
  api::ResourceList allocatable;
};
// capacity: cpu, memory, pods, ephemeral-storage; allocatable = capacity - system_reserved
// - kube_reserved - hard eviction threshold (memory.available for memory, nodefs.available
// for ephemeral-storage), floored at zero, as the kubelet computes it. Errors on overflow.
Result<NodeResources> compute_node_resources(const MachineFacts& facts, const HostUsage& usage,
                                             const NodeOptions& options);

// Which eviction signals are below their thresholds now.
struct PressureSignals {
  bool memory = false;
  bool disk = false;
  bool pid = false;
};
PressureSignals observe_pressure(const HostUsage& usage, const EvictionThresholds& thresholds);

// Desired condition content, without times.
struct ConditionState {
  std::string type;
  std::string status;  // "True" / "False"
  std::string reason;
  std::string message;
};
// MemoryPressure, DiskPressure, PIDPressure, Ready (the kubelet's order). not_ready holds the
// messages of the readiness sources that are not ready (empty = Ready True).
std::vector<ConditionState> node_conditions(const PressureSignals& pressure,
                                            const std::vector<std::string>& not_ready);
// The condition as JSON: lastTransitionTime kept from `existing` (the Node's condition of
// that type) when the status is unchanged, else `now`; lastHeartbeatTime = `now`.
json::object condition_json(const ConditionState& c, const json::object* existing, api::TimePoint now);

// ---- the manager --------------------------------------------------------------------------

class NodeStatusManager {
 public:
  // host/clock nullptr = LinuxHostInfo / system clock. Nothing is read or sent until
  // start() or a call below. Programmer error (std::invalid_argument) on a null client or
  // an empty node name.
  NodeStatusManager(std::shared_ptr<client::RestClient> client, NodeOptions options,
                    std::shared_ptr<HostInfo> host = nullptr, std::shared_ptr<WallClock> clock = nullptr);
  ~NodeStatusManager();  // stop()
  NodeStatusManager(const NodeStatusManager&) = delete;
  NodeStatusManager& operator=(const NodeStatusManager&) = delete;

  // Starts the status thread (register, then check every check_interval) and the lease
  // thread. No-op when running.
  void start();
  // Stops and joins both threads; a request in flight finishes first. Idempotent.
  void stop();
  // Wakes the status thread for a check now (which posts if anything changed).
  void sync_now();

  // Sets a readiness source ("runtime", "network", ...): nullopt = ready, else the message
  // put into Ready=False ("container runtime network not ready: ..."). The Node is Ready
  // when every source is ready. Wakes the status thread when the state changed.
  void set_readiness(const std::string& source, std::optional<std::string> not_ready_message);

  // Registers the Node (create, or patch labels of an existing one). Errors carry the API
  // or host error naming the Node.
  Result<void> register_node();
  // One status check: reads machine and Node, posts when changed or report_interval has
  // passed. True when a post was made. Registers first when not registered (or the Node
  // was deleted). Errors name the Node.
  Result<bool> sync_status();

  // The Node as last read or written; nullopt before registration.
  std::optional<json::object> node() const;
  // metadata.uid of the Node; "" before registration.
  std::string node_uid() const;
  // spec.podCIDR as the control plane assigned it ("" when unset). Never written by us.
  std::string pod_cidr() const;
  bool registered() const;
  // Status posts made so far (for tests and metrics).
  int64_t posts() const;
  // The lease (its own thread; see node_lease.h).
  NodeLease& lease() { return *lease_; }

 private:
  void run();
  Result<void> load_facts();
  Result<json::object> desired_status(const json::object& node_status, const HostUsage& usage, api::TimePoint now);
  json::object default_labels() const;
  Result<std::string> internal_ip();
  void remember(json::object node);

  std::shared_ptr<client::RestClient> client_;
  NodeOptions opt_;
  std::shared_ptr<HostInfo> host_;
  std::shared_ptr<WallClock> clock_;
  client::ResourceRef ref_;
  std::unique_ptr<NodeLease> lease_;

  std::mutex sync_mu_;  // serialises register_node() / sync_status()
  // Under sync_mu_:
  std::optional<MachineFacts> facts_;
  std::optional<api::TimePoint> last_post_;
  std::optional<api::TimePoint> memory_pressure_seen_, disk_pressure_seen_, pid_pressure_seen_;
  bool warned_no_ip_ = false;  // log a missing InternalIP once, not at every check

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wake_ = false;
  std::thread thread_;
  std::map<std::string, std::string> not_ready_;  // source -> message
  std::optional<json::object> node_;
  bool registered_ = false;
  int64_t posts_ = 0;
};

}  // namespace kernlet::agent
