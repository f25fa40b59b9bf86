// PodLogSource: the kubelet API's LogSource over the pod workers: a container's current
// log is <pod-logs-dir>/<ns>_<pod>_<uid>/<container>/<restartCount>.log, the previous one
// the attempt before it, as the pod layer names them. Answers from the pods the workers
// know (no runtime call on the server's io thread); `running` asks the runtime.
// Thread-safety: every method may be called from any thread.
#pragma once

#include "agent/pod/pod_sync.h"
#include "agent/pod/pod_workers.h"
#include "agent/server/log_source.h"

namespace kernlet::agent {

class PodLogSource final : public LogSource {
 public:
  PodLogSource(PodWorkers* workers, PodRuntime* rt, std::string pod_logs_dir)
      : workers_(workers), rt_(rt), dir_(std::move(pod_logs_dir)) {}
  Result<ContainerLogInfo> locate(std::string_view ns, std::string_view pod, std::string_view container,
                                  bool previous) override;

 private:
  PodWorkers* workers_;
  PodRuntime* rt_;
  std::string dir_;
};

}  // namespace kernlet::agent
