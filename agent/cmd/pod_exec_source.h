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

// The id of the running instance (the newest attempt that runs) of container `container`
// of pod `ns`/`pod`. Errors: kNotFound for a pod this node does not run or a container the
// pod does not have, kConflict when no instance runs. Thread-safe.
Result<std::string> running_container_id(PodWorkers& workers, RealPodRuntime& rt, std::string_view ns,
                                         std::string_view pod, std::string_view container);

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
