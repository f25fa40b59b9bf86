// NodeProxy: the API server's outbound HTTPS connections to kubelets (port 10250). It
// verifies the kubelet's serving certificate against the cluster CA and the node's
// address, presents the API server's kubelet-client certificate, and relays the answer
// to the API client as it arrives. pods/log uses get(); pods/exec uses upgrade(), which
// splices a WebSocket between the API client and the kubelet; attach and port-forward
// can reuse it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "control/apiserver/http_server.h"

namespace kernlet::apiserver {

struct KubeletClientOptions {
  std::string ca_pem;    // verifies kubelet serving certificates; empty: the system trust store
  std::string cert_pem;  // the API server's kubelet-client certificate; empty: none
  std::string key_pem;
  std::chrono::seconds connect_timeout{10};  // TCP connect + TLS handshake + response header
};

// One kubelet endpoint.
struct NodeTarget {
  std::string host;  // IP address or DNS name
  uint16_t port = 10250;
  bool insecure_skip_verify = false;  // ?insecureSkipTLSVerifyBackend=true
};

class NodeProxy {
 public:
  // Builds the TLS contexts. Errors: unparsable PEM (kInvalidArgument).
  static Result<std::shared_ptr<NodeProxy>> create(const KubeletClientOptions& options);

  // GET https://<node>`target` and answers `out` with it: a 2xx reply streamed chunk by
  // chunk with the kubelet's status and Content-Type until the kubelet ends it or the API
  // client goes away; a kubelet error as a Status with the kubelet's code and text; a
  // node that cannot be reached as a 500 Status naming the URL and the cause (as
  // kube-apiserver: `Get "https://10.0.0.5:10250/containerLogs/...": dial tcp ...`).
  // Runs on the caller's executor; thread-safe (no mutable state).
  asio::awaitable<void> get(const NodeTarget& node, const std::string& target, Responder& out) const;

  // GET https://<node>`target` with the client's upgrade headers (Upgrade, Connection,
  // Sec-WebSocket-Key/Version/Protocol/Extensions) and, when the kubelet answers 101,
  // relays its 101 (Responder::upgrade) and then copies bytes both ways until either
  // side ends: the protocol (WebSocket) runs end to end between the client and the
  // kubelet, as kube-apiserver's upgrade-aware proxy does. A non-101 answer, or a kubelet
  // that cannot be reached, is answered as get() answers errors. Thread-safe.
  asio::awaitable<void> upgrade(const NodeTarget& node, const std::string& target, const Request& request,
                                Responder& out) const;

  // GET https://<node>`target` and returns the whole 2xx body (at most `max_bytes`), for
  // the metrics collector's /stats/summary scrapes. The whole exchange is bounded by
  // `timeout`. Errors: kUnavailable naming the URL for a node that cannot be reached, an
  // error with the kubelet's code and text for a non-2xx answer. Thread-safe.
  asio::awaitable<Result<std::string>> fetch(const NodeTarget& node, const std::string& target,
                                             std::chrono::milliseconds timeout, std::size_t max_bytes = 64 << 20) const;

 private:
  NodeProxy() = default;
  KubeletClientOptions options_;
  std::shared_ptr<asio::ssl::context> verify_;
  std::shared_ptr<asio::ssl::context> insecure_;
};

}  // namespace kernlet::apiserver
