// What the prober needs to know about a running container, the one runtime call it makes
// (exec), and the result of one probe run. Shared by probes (probe_manager.h) and lifecycle
// hooks (lifecycle.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::agent {

// One running container of a pod, as the pod worker sees it. A value type.
struct ProbeTarget {
  std::string pod_uid;
  std::string pod_namespace;
  std::string pod_name;
  std::string container_name;
  // The runtime's id of this run of the container; a new id (restart) resets all results.
  std::string container_id;
  // When this run of the container started (status.containerStatuses[].state.running.startedAt).
  std::chrono::system_clock::time_point started_at;
  // The pod's IP, the default host of httpGet/tcpSocket/grpc; "" means 127.0.0.1 inside
  // the pod's network namespace (useful for host-network pods and before CNI reports).
  std::string pod_ip;
  // The pod's network namespace (/proc/<holder>/ns/net or a bind mount); "" = the agent's
  // own (host network). Network probes create their sockets in it.
  std::string netns_path;
  // The pod is being deleted: liveness and startup probes stop (and count as passing), as
  // the kubelet does during graceful shutdown; readiness keeps running.
  bool terminating = false;
  // spec.containers[i] (a copy): its probes, lifecycle hooks and named ports.
  json::object container;
  // What the pod's status in the API last said of this very run (same container id), if it
  // said anything: `ready` and `started` of containerStatuses[]. The prober starts a run it
  // has not seen from these instead of "not ready" (an agent restart would otherwise take
  // every ready pod out of its Services until its next readiness probe, and destroy the
  // connections the node's balancer holds to it). A probe result replaces them as usual.
  std::optional<bool> reported_ready;
  std::optional<bool> reported_started;
};

// Lifecycle hooks address the same container.
using HandlerTarget = ProbeTarget;

// What an exec in a container returned: exit code and combined stdout+stderr (at most
// 10 KiB are kept, as the kubelet does).
struct ExecOutput {
  int exit_code = 0;
  std::string output;
};

// The one runtime call the prober makes. Implemented by the pod worker over
// runtime::ContainerRuntime::exec; a fake in unit tests.
class ProbeRuntime {
 public:
  virtual ~ProbeRuntime() = default;
  // Runs argv in the container and waits up to `timeout`. Errors: kDeadlineExceeded when
  // the command outlived the timeout (the process must be killed by then), anything else
  // when the exec could not be run. Called concurrently from prober worker threads: the
  // implementation must be thread-safe (serialise on the runtime as it needs).
  virtual Result<ExecOutput> exec(const std::string& container_id,
                                  const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout) = 0;
};

// Which probe.
enum class ProbeType { kLiveness, kReadiness, kStartup };
// "Liveness", "Readiness", "Startup": the words the kubelet's events use.
const char* probe_type_name(ProbeType t);

// The outcome of one probe run, as the kubelet's prober reports it.
enum class ProbeOutcome {
  kSuccess,
  kWarning,  // success with a warning (an httpGet redirect to another host): a ProbeWarning event
  kFailure,  // the handler ran and said no: counts toward failureThreshold
  kError,    // the probe could not be run (bad port, exec failed): result thrown away, event only
};

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::kFailure;
  // Output or the failure's text (the event message's tail).
  std::string message;
};

}  // namespace kernlet::agent
