// Lifecycle hooks (postStart, preStop) with the kubelet's actions and messages
// (pkg/kubelet/lifecycle/handlers.go). The pod worker runs them and records
// FailedPostStartHook / FailedPreStopHook events with the error's message.
#pragma once

#include <chrono>
#include <stop_token>

#include "agent/prober/probe_target.h"

namespace kernlet::agent {

// Runs `handler` (lifecycle.postStart or lifecycle.preStop) for the container: exec in the
// container through `runtime`, httpGet from inside the pod's network namespace (host:
// handler's, else pod IP, else 127.0.0.1; any HTTP status counts as delivered, as the
// kubelet's), or sleep.seconds. Bounded by `timeout`; `stop` ends a sleep early (the
// container is being killed). Errors carry the kubelet's event text, e.g.
//   Exec lifecycle hook ([sh -c exit 3]) for Container "web" in Pod "web_default(uid)"
//   failed - error: command 'sh -c exit 3' exited with 3: , message: ""
// Thread-safe when `runtime` is; blocks the caller.
Result<void> run_lifecycle_handler(ProbeRuntime& runtime, const json::object& handler,
                                   const HandlerTarget& target, std::chrono::milliseconds timeout,
                                   std::stop_token stop = {});

}  // namespace kernlet::agent
