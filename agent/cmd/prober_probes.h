// ProberPodProbes: PodProbes over agent/prober's ProbeManager (liveness, readiness and
// startup probes; network probes inside the pod's netns) and run_lifecycle_handler
// (postStart, preStop), with exec through the PodRuntime. Probe changes wake the pod's
// sync through `on_change`; probe events go to `on_event`.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>

#include "agent/pod/pod_sync.h"
#include "agent/prober/lifecycle.h"
#include "agent/prober/probe_manager.h"

namespace kernlet::agent {

class ProberPodProbes final : public PodProbes, public ProbeRuntime {
 public:
  ProberPodProbes(PodRuntime* rt, std::function<void(const std::string& pod_uid)> on_change,
                  std::function<void(const ProbeEvent&)> on_event);
  ~ProberPodProbes() override;

  void update(const api::PodView& pod, const std::vector<ContainerInfo>& running) override;
  bool started(const std::string& pod_uid, const api::ContainerView& c, const ContainerInfo& ci) override;
  bool ready(const std::string& pod_uid, const api::ContainerView& c, const ContainerInfo& ci) override;
  bool liveness_failed(const std::string& pod_uid, const ContainerInfo& ci) override;
  Result<void> run_hook(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& ci,
                        const api::HandlerView& hook, std::chrono::milliseconds timeout) override;
  void forget(const std::string& pod_uid) override;

  // ProbeRuntime
  Result<ExecOutput> exec(const std::string& container_id, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override;

 private:
  ProbeTarget target(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& ci);
  PodRuntime* rt_;
  HandlerProbeRunner runner_;
  std::unique_ptr<ProbeManager> manager_;
};

}  // namespace kernlet::agent
