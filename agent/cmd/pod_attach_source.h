// PodAttachSource: the kubelet API's AttachSource over the pod workers and the runtime:
// finds the running instance of the container (as PodExecSource) and attaches to it
// through RealPodRuntime::attach — the log pump's live output, a writer of its stdin FIFO
// or its pty master. Ending the session unsubscribes; for a stdinOnce container the end
// of the session's input closes the container's stdin. Thread-safety: attach() may be
// called from any thread.
#pragma once

#include "agent/pod/pod_workers.h"
#include "agent/pod/real_pod_runtime.h"
#include "agent/server/attach_source.h"

namespace kernlet::agent {

class PodAttachSource final : public AttachSource {
 public:
  PodAttachSource(PodWorkers* workers, RealPodRuntime* rt) : workers_(workers), rt_(rt) {}
  Result<std::unique_ptr<ExecProcess>> attach(std::string_view ns, std::string_view pod, std::string_view container,
                                              const AttachOptions& options) override;

 private:
  PodWorkers* workers_;
  RealPodRuntime* rt_;
};

}  // namespace kernlet::agent
