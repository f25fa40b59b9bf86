// Agent: the kernlet-agent process assembled from its parts: the API client and the pod
// informer (spec.nodeName=<node>), the runtime (RealPodRuntime), the pod syncer and
// workers. Thin main: parse flags, Agent::create, start, wait for a signal, stop.
// Thread-safety: create/start/stop from one thread.
#pragma once

#include <memory>
#include <string>

#include "agent/cmd/agent_options.h"
#include "agent/pod/pod_sync.h"
#include "agent/pod/pod_workers.h"
#include "agent/pod/real_pod_runtime.h"
#include "api/client/informer.h"
#include "api/client/rest_client.h"

namespace kernlet::agent {

// The node's address: `flag` when set, else the first global IPv4 address of an interface
// that is up, else 127.0.0.1.
std::string detect_node_ip(const std::string& flag);

// The default node name: the host name, lower-cased.
std::string default_node_name();

class Agent {
 public:
  // Loads the kubeconfig, opens the runtime (re-adopting what runs) and builds the parts.
  // Nothing talks to the API server yet. Errors name the file or path.
  static Result<std::unique_ptr<Agent>> create(AgentOptions options);
  ~Agent();
  // Starts the pod informer and workers; the API connection is retried with back-off in
  // the background (pods keep running meanwhile).
  Result<void> start();
  // Stops every thread; containers keep running.
  void stop();

 private:
  Agent() = default;
  AgentOptions opts_;
  std::string node_ip_;
  std::shared_ptr<client::RestClient> client_;
  std::unique_ptr<RealPodRuntime> rt_;
  std::unique_ptr<EventSink> events_;
  std::unique_ptr<PodEnvironment> env_;
  std::unique_ptr<PodProbes> probes_;
  std::unique_ptr<PodNetwork> net_;
  std::unique_ptr<PodSyncer> syncer_;
  std::unique_ptr<PodApi> api_;
  std::unique_ptr<PodWorkers> workers_;
  std::unique_ptr<client::Informer> informer_;
  bool stopped_ = false;
};

}  // namespace kernlet::agent
