// Network probes (httpGet, tcpSocket, grpc) run from inside a pod's network namespace.
//
// Why inside: a socket belongs to the network namespace of the thread that created it, for
// its whole life. So the calling thread enters the pod's namespace only for socket(2) and
// returns to its own at once; connect, TLS and reads then happen in the pod's namespace
// from any thread. Probes thus reach the pod's loopback and its IP without any route from
// the host to pods, exactly as a process inside the pod would.
//
// All functions are thread-safe (no shared state) and bounded by their deadline.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "agent/prober/probe_target.h"
#include "api/result.h"
#include "api/validation.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

using Deadline = std::chrono::steady_clock::time_point;

// The User-Agent of probes ("kube-probe/1.30") and of lifecycle hooks ("kube-lifecycle/1.30"),
// as the kubelet of the Kubernetes version kernlet serves.
extern const char* const kProbeUserAgent;
extern const char* const kLifecycleUserAgent;
// The error text (after `Get "<url>": `) when an HTTPS request is answered in plain HTTP.
extern const char* const kHttpResponseToHttps;

// Creates a close-on-exec socket in the network namespace at `netns_path` ("" = the
// caller's own). Errors name the path. Aborts the process if the thread cannot return to
// its own namespace (it would otherwise go on working in a pod's network).
Result<UniqueFd> socket_in_netns(const std::string& netns_path, int domain, int type);

// Connects a TCP socket made in `netns_path` to host:port before `deadline`. host is an IP
// literal or a name resolved by the agent's resolver. Errors read like Go's dialer
// ("dial tcp 10.1.0.5:80: connect: connection refused"; "...: i/o timeout" with
// kDeadlineExceeded).
Result<UniqueFd> dial_tcp(const std::string& netns_path, const std::string& host, int port,
                          Deadline deadline);

// An httpGet of a probe or lifecycle hook, resolved (port number known, host filled in).
struct HttpGetRequest {
  std::string scheme = "HTTP";  // "HTTP" or "HTTPS" (certificates are not verified)
  std::string host;             // IP literal or name
  int port = 80;
  std::string path = "/";       // may carry a query
  std::vector<std::pair<std::string, std::string>> headers;  // httpHeaders, in order
  std::string user_agent = kProbeUserAgent;  // used unless headers name User-Agent
};

// The final response of an httpGet (after same-host redirects).
struct HttpGetResponse {
  int status = 0;
  std::string body;  // at most 10 KiB
  std::string url;   // of the final request, as Go prints it
};

// Runs the GET the kubelet's probe client would: HTTP/1.1, Connection: close, redirects
// followed (at most 10) only while they stay on the first request's host; a redirect to
// another host ends with its 3xx response. Errors read like Go's client
// (`Get "http://10.1.0.5:80/": dial tcp ...`); a timeout reading the body is kDeadlineExceeded.
Result<HttpGetResponse> http_get(const std::string& netns_path, const HttpGetRequest& req,
                                 Deadline deadline);

// The kubelet's httpGet probe: 200-399 success (3xx left by a cross-host redirect is a
// warning), other codes a failure ("HTTP probe failed with statuscode: 503"), transport
// errors and timeouts a failure with the error text; a body that cannot be read an error.
ProbeResult http_probe(const std::string& netns_path, const HttpGetRequest& req,
                       std::chrono::milliseconds timeout);

// The kubelet's tcpSocket probe: success when a connection opens within the timeout.
ProbeResult tcp_probe(const std::string& netns_path, const std::string& host, int port,
                      std::chrono::milliseconds timeout);

// The kubelet's grpc probe: grpc.health.v1.Health/Check{service} over plaintext HTTP/2;
// SERVING is success ("service is serving"), any other status or RPC error a failure with
// the kubelet's message.
ProbeResult grpc_probe(const std::string& netns_path, const std::string& host, int port,
                       const std::string& service, std::chrono::milliseconds timeout);

// Go's %q of a string: the one in api/validation.h.
using api::go_quote;

}  // namespace kernlet::agent
