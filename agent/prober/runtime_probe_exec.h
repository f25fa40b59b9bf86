// ProbeRuntime over the node's runtime::ContainerRuntime: what the pod worker hands to
// HandlerProbeRunner and run_lifecycle_handler.
#pragma once

#include <functional>
#include <mutex>

#include "agent/prober/probe_target.h"
#include "runtime/container/container_runtime.h"

namespace kernlet::agent {

// Runs exec probes and hooks in containers. Thread-safe: calls into the runtime (which is
// not) are made under `runtime_mu`, the lock the pod worker holds for its own runtime calls;
// waiting and reading output happen outside it.
class RuntimeProbeExec : public ProbeRuntime {
 public:
  // The process settings (env, uid/gid, capabilities, seccomp, cwd) an exec in the container
  // gets; args and standard streams are set here. Null: a default ProcessSpec (root, "/").
  using ProcessFor = std::function<Result<runtime::ProcessSpec>(const std::string& container_id)>;

  RuntimeProbeExec(runtime::ContainerRuntime& rt, std::mutex& runtime_mu, ProcessFor process_for)
      : rt_(rt), mu_(runtime_mu), process_for_(std::move(process_for)) {}

  // Runs argv with stdout and stderr on one pipe (10 KiB kept, the rest drained so the
  // command never blocks on a full pipe), waits up to `timeout`, then SIGKILLs and reaps it
  // and returns kDeadlineExceeded. Errors from the runtime name the container.
  Result<ExecOutput> exec(const std::string& container_id, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override;

 private:
  runtime::ContainerRuntime& rt_;
  std::mutex& mu_;
  ProcessFor process_for_;
};

}  // namespace kernlet::agent
