// Running one probe's handler (exec, httpGet, tcpSocket, grpc) against a container, with
// the kubelet's port resolution, defaults and messages. ProbeManager calls a ProbeRunner;
// unit tests substitute a scripted one.
#pragma once

#include <string>

#include "agent/prober/net_probe.h"
#include "agent/prober/probe_target.h"
#include "api/object.h"

namespace kernlet::agent {

// Runs one probe. Implementations are called from several worker threads at once.
class ProbeRunner {
 public:
  virtual ~ProbeRunner() = default;
  // Runs the handler of `probe` (a livenessProbe/readinessProbe/startupProbe object) once,
  // bounded by its timeoutSeconds. Never fails: problems are kFailure or kError results.
  virtual ProbeResult run(const ProbeTarget& target, const json::object& probe) = 0;
};

// The real handlers: exec through ProbeRuntime, network probes inside the pod's network
// namespace. Thread-safe when the ProbeRuntime is.
class HandlerProbeRunner : public ProbeRunner {
 public:
  explicit HandlerProbeRunner(ProbeRuntime& runtime) : runtime_(runtime) {}
  ProbeResult run(const ProbeTarget& target, const json::object& probe) override;

 private:
  ProbeRuntime& runtime_;
};

// The kubelet's port resolution: a number, or a container port's name, or a name that is
// a number; 1-65535. Errors: "port http not found", "invalid port number: 0".
Result<int> resolve_container_port(const api::IntOrString& port, const json::object& container);

// The host probes and hooks connect to: `host` when set, else the pod IP, else 127.0.0.1
// (inside the pod's network namespace that is the pod itself).
std::string probe_host(std::string_view host, const ProbeTarget& target);

// The request of an httpGet action (a probe's or a hook's), ports resolved.
Result<HttpGetRequest> http_request_for(const json::object& http_get, const ProbeTarget& target,
                                        const char* user_agent);

// Joins argv as the kubelet prints a command in messages ("sh -c exit 1").
std::string join_command(const std::vector<std::string>& argv);

}  // namespace kernlet::agent
