// PodPortForwardSource: the kubelet API's PortForwardSource over the pod workers and the
// runtime: the pod's sandbox gives the network namespace to dial into (none for a
// hostNetwork pod: the agent's own) and a pidfd of its holder, whose exit ends the
// forward. Thread-safety: find() may be called from any thread.
#pragma once

#include "agent/pod/pod_workers.h"
#include "agent/pod/real_pod_runtime.h"
#include "agent/server/port_forward_source.h"

namespace kernlet::agent {

class PodPortForwardSource final : public PortForwardSource {
 public:
  PodPortForwardSource(PodWorkers* workers, RealPodRuntime* rt) : workers_(workers), rt_(rt) {}
  Result<PortForwardTarget> find(std::string_view ns, std::string_view pod) override;

 private:
  PodWorkers* workers_;
  RealPodRuntime* rt_;
};

}  // namespace kernlet::agent
