// PodExecSource: the kubelet API's ExecSource over the pod workers and the runtime: finds
// the running instance of the container (the newest attempt that runs), gives the
// command pipes (or, with a tty, a pty from the container's devpts) and starts it as the
// container's own process (RealPodRuntime::start_exec with ExecSpec::as_container: the
// container's uid, gids, capabilities, seccomp, environment and working directory, in its
// namespaces and cgroup). Thread-safety: exec() may be called from any thread.
#pragma once

#include "agent/pod/pod_workers.h"
#include "agent/pod/real_pod_runtime.h"
#include "agent/server/exec_source.h"

namespace kernlet::agent {

class PodExecSource final : public ExecSource {
 public:
  PodExecSource(PodWorkers* workers, RealPodRuntime* rt) : workers_(workers), rt_(rt) {}
  Result<std::unique_ptr<ExecProcess>> exec(std::string_view ns, std::string_view pod, std::string_view container,
                                            const ExecOptions& options) override;

 private:
  PodWorkers* workers_;
  RealPodRuntime* rt_;
};

}  // namespace kernlet::agent
