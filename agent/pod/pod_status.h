// The pod status machine: what the kubelet would write to pods/<name>/status, computed from
// the pod spec and what the runtime reports. Pure functions, unit-tested without a runtime.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/pod/pod_runtime.h"
#include "api/json.h"
#include "api/objects/pod.h"

namespace kernlet::agent {

// A waiting reason the worker remembers for a container (ErrImagePull, CrashLoopBackOff,
// CreateContainerConfigError, ...) until it next starts.
struct WaitingReason {
  std::string reason;
  std::string message;
  bool operator==(const WaitingReason&) const = default;
};

struct StatusInput {
  // Every instance of the pod, by container name, oldest attempt first.
  std::map<std::string, std::vector<ContainerInfo>> instances;
  std::map<std::string, WaitingReason> waiting;  // by container name
  std::map<std::string, std::string> image_ids;  // by container name: "sha256:..."
  // Probe results by instance id; a running instance missing here is started and (when it
  // has no readiness probe) ready.
  std::function<bool(const api::ContainerView&, const ContainerInfo&)> started;
  std::function<bool(const api::ContainerView&, const ContainerInfo&)> ready;
  bool sandbox_ready = false;
  std::vector<std::string> pod_ips;
  std::vector<std::string> host_ips;
  std::string start_time;  // RFC 3339
  // Set when the worker failed the pod as a whole (DeadlineExceeded).
  std::optional<WaitingReason> pod_failure;
  // The pod may no longer start containers (restartPolicy Never after a failed init
  // container is found by the status itself; this is for deletion and deadlines).
  bool terminating = false;
  std::string now;  // RFC 3339, for new condition transitions
};

// "kernlet://<id>".
std::string container_id_uri(std::string_view id);
// RFC 3339 of a unix-ns time (0 -> "").
std::string time_from_ns(int64_t ns);

// The container's state object ({"running": ...}, {"terminated": ...}) of an instance.
json::object instance_state(const ContainerInfo& ci);

// The whole status the agent owns for `pod`: phase, conditions (PodScheduled,
// PodReadyToStartContainers, Initialized, ContainersReady, Ready with upstream reasons),
// initContainerStatuses, containerStatuses, podIP(s), hostIP(s), startTime, qosClass,
// reason/message for a failed pod. Conditions keep the lastTransitionTime the pod already
// has when their status did not change.
json::object build_pod_status(const api::PodView& pod, const StatusInput& in);

// The kubelet's getPhase over already built container statuses.
std::string pod_phase(const api::PodView& pod, const json::array& init_statuses, const json::array& statuses);

// Whether every init container is done (non-sidecars exited 0, sidecars started).
bool pod_initialized(const api::PodView& pod, const json::array& init_statuses);

// The status keys the agent writes (and removes when it no longer sets them).
const std::vector<std::string>& owned_status_keys();

// Whether `desired` differs from what the API has in `current` for the owned keys
// (nulls and absent members are the same).
bool status_differs(const json::object& current, const json::object& desired);

// The merge patch for pods/<name>/status: metadata.uid as precondition, the owned keys of
// `desired`, and null for owned keys `current` has but `desired` does not.
json::object status_patch(std::string_view uid, const json::object& current, const json::object& desired);

}  // namespace kernlet::agent
