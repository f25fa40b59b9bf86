// KubeletServer: the kubelet API of kernlet-agent (port 10250). HTTPS only; a client
// must present a certificate signed by the client CA (the API server's kubelet-client
// certificate): requests without one get 401, and only members of system:masters are
// allowed (403 otherwise), which is what kube-apiserver's kubelet-client identity is.
//
// Endpoints (as the kubelet answers them):
//   GET /healthz                                       "ok"
//   GET /pods                                          PodList of the pods the agent runs
//   GET /containerLogs/{namespace}/{pod}/{container}   text/plain, chunked; query
//       follow, previous, tailLines, sinceSeconds, sinceTime, timestamps, limitBytes
//   GET /stats/summary                                 the Summary API (stats.h), JSON; 503
//       before the first sample, 404 when no stats provider is set
//   GET|POST /exec/{namespace}/{pod}/{container}       WebSocket upgrade (v5.channel.k8s.io,
//       v4.channel.k8s.io; exec_protocol.h); query command (repeated), input, output, error,
//       tty. A bad query or a request that is not a WebSocket upgrade gets 400; once the
//       WebSocket is up, a command that cannot be started gets its error as a Failure
//       status on channel 3 (so kubectl shows it as is); 404 with no exec source
//   GET|POST /attach/{namespace}/{pod}[/{uid}]/{container}   as /exec, to the container's
//       own streams (set_attach; 404 unset; attach_source.h): query input, output, error,
//       tty and no command; the live output from now on, input to its stdin or terminal;
//       ends with a Success status when the container exits, and the client leaving
//       detaches (the container keeps running)
//   GET|POST /portForward/{namespace}/{pod}[/{uid}]    port-forward (set_port_forward; 404
//       unset): SPDY/3.1 upgrade with X-Stream-Protocol-Version portforward.k8s.io, or a
//       WebSocket with subprotocol SPDY/3.1+portforward.k8s.io tunnelling the same frames
//       (spdy_port_forward.h); 404 for a pod this node does not run, 400 without an upgrade
//   GET /metrics                                       Prometheus text (set_metrics); 404 unset
// Errors are plain text: 400 for a bad query, 404 for an unknown pod or container.
//
// One io thread serves every connection (Boost.Beast/Asio coroutines). Reading a log is
// blocking (file reads, inotify, poll), so each log request gets a reader thread that
// hands chunks to the connection through a bounded buffer; the io thread only writes
// them. Following stops when the container stops and its file is drained, or when the
// client goes away (its socket turns readable: EOF or TLS close_notify). Starting an exec
// (the runtime clones and waits) runs on a small worker pool; its streams are then moved
// on the io thread (exec_stream.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/server/attach_source.h"
#include "agent/server/exec_source.h"
#include "agent/server/log_source.h"
#include "agent/server/port_forward_source.h"
#include "api/json.h"
#include "api/result.h"

namespace kernlet::agent {

struct KubeletServerOptions {
  std::string address = "0.0.0.0";  // --address
  uint16_t port = 10250;             // 0: pick a free port (see KubeletServer::port)
  std::string cert_pem;              // serving certificate (chain), PEM
  std::string key_pem;               // its key, PEM
  std::string client_ca_pem;         // CA whose client certificates are accepted
  int idle_timeout_seconds = 120;    // keep-alive connections idle longer are closed
  std::size_t log_buffer_bytes = 1 << 20;  // per log request: output queued before the reader waits
};

class KubeletServer {
 public:
  // The pods the agent runs (v1 Pod objects) for GET /pods. Called on the io thread:
  // must not block; must be thread-safe against the pod layer.
  using PodLister = std::function<json::array()>;

  // The Summary for GET /stats/summary. Called on the io thread: must not block
  // (StatsCollector::summary answers from its last sample).
  using SummaryProvider = std::function<Result<json::object>()>;

  KubeletServer(KubeletServerOptions options, std::shared_ptr<LogSource> logs, PodLister pods,
                SummaryProvider stats = nullptr, std::shared_ptr<ExecSource> exec = nullptr);
  ~KubeletServer();
  KubeletServer(const KubeletServer&) = delete;
  KubeletServer& operator=(const KubeletServer&) = delete;

  // The body of GET /metrics in the Prometheus text format 0.0.4. Called on the io thread:
  // must answer quickly. Call before start().
  using MetricsProvider = std::function<std::string()>;
  void set_metrics(MetricsProvider metrics);
  // Serves /attach through `source`. Call before start().
  void set_attach(std::shared_ptr<AttachSource> source);
  // Serves /portForward through `source`. Call before start().
  void set_port_forward(std::shared_ptr<PortForwardSource> source);

  // Loads the TLS material, binds, listens and starts the io thread. Errors name what
  // failed: `kubelet server: serving certificate: ...`, `listen 0.0.0.0:10250: bind: EADDRINUSE`.
  Result<void> start();
  // Stops accepting, ends log streams, joins every thread. Idempotent.
  void stop();
  // The bound port (useful with port 0); 0 before start().
  uint16_t port() const;
  // Log requests being answered now. Thread-safe.
  std::size_t active_log_streams() const;
  // Exec sessions being served now (from the upgrade to the close). Thread-safe.
  std::size_t active_execs() const;
  // Attach sessions being served now. Thread-safe.
  std::size_t active_attaches() const;
  // Port-forward sessions being served now. Thread-safe.
  std::size_t active_port_forwards() const;

  struct Impl;  // the connections in kubelet_server.cc reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kernlet::agent
