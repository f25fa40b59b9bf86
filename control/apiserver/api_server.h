// ApiServer: the Kubernetes-compatible request handler on top of a revisioned Store.
//
// It authenticates (client certificates; anonymous requests are refused except for the
// health endpoints), parses the request (RequestInfo), serves discovery, and implements
// the verbs for every built-in resource: get, list, watch, create, update, patch, delete.
// Objects are stored as JSON without metadata.resourceVersion; the store's mod_revision
// of the key is the resourceVersion clients see.
//
// Blocking store calls run on a thread pool of their own so that the io_context threads
// only do I/O. Creates and updates instead go through the store's write_async: the
// request's coroutine is suspended, not a thread, while its write waits for the group
// commit, and the commit thread posts the result back to the connection's strand.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "api/client/rest_client.h"
#include "control/apiserver/http_server.h"
#include "control/apiserver/node_proxy.h"
#include "control/apiserver/request_info.h"
#include "control/apiserver/resources.h"
#include "control/store/store.h"

namespace kernlet::apiserver {

struct ApiServerOptions {
  std::string server_address = "127.0.0.1:6443";  // advertised in /api discovery
  // Concurrent blocking store calls (reads, deletes, the steps of patch and update before
  // their write). A pool thread waits through a blocking write's group commit, so this
  // bounds how many such writes one commit can carry; creates and updates do not hold one.
  int store_threads = 128;
  int max_watch_seconds = 1800;                    // upper bound for a watch's timeoutSeconds
  // Treat requests without a client certificate as the admin. Only for the explicit
  // plain-HTTP loopback mode (kernlet-control --insecure-listen).
  bool trust_unauthenticated = false;
  std::string service_cidr = "10.96.0.0/12";        // ClusterIPs come from here
  std::string node_port_range = "30000-32767";      // NodePorts come from here
  int secure_port = 6443;                           // targetPort of default/kubernetes
  // Serve list and watch from the in-memory watch cache (started by bootstrap()). Off:
  // every list and watch reads the store.
  bool watch_cache = true;
  size_t watch_cache_window = 4096;          // recent events kept per resource
  size_t watcher_buffer_events = 1024;       // a watcher further behind is dropped
  int bookmark_interval_seconds = 60;        // BOOKMARK cadence with allowWatchBookmarks
  int consistent_read_wait_ms = 3000;        // how long a list waits for the cache to catch up
  // How pods/log reaches kubelets: the CA of their serving certificates and the API
  // server's kubelet-client certificate (pki.h).
  KubeletClientOptions kubelet_client;
  // metrics.k8s.io: how often the metrics collector scrapes every Ready node's
  // /stats/summary (metrics-server's --metric-resolution). 0: no collector; the metrics
  // API then answers 503.
  std::chrono::milliseconds metrics_resolution{15'000};
};

class ApiServer final : public Handler {
 public:
  ApiServer(store::Store& store, ApiServerOptions options);
  ~ApiServer() override;

  asio::awaitable<void> handle(Request& request, Responder& out) override;
  // Waits until no write in flight will post to an executor any more (see Handler::drain).
  void drain() override;

  // Creates the namespaces every cluster has (default, kube-system, kube-public,
  // kube-node-lease) and the default/kubernetes Service when missing, and rebuilds the
  // Service IP/port allocator from the stored Services. Blocking; call once at start-up,
  // before serving; it also fills the watch cache. Errors: store failures, an invalid
  // service CIDR or port range.
  Result<void> bootstrap();

  // A watch for a component of this process (InProcessTransport::watch). `target` is what
  // a RestClient would send: a collection's path with the watch query (labelSelector,
  // fieldSelector, resourceVersion, timeoutSeconds, allowWatchBookmarks). It is parsed
  // and checked as the HTTP watch of that target and served from the same watch cache
  // watcher, so the events, bookmarks, end after the timeout and 410 Expired are the
  // HTTP stream's; but events carry decoded objects, one per object version shared by
  // every in-process watcher (in_process_watch.h). Errors: the HTTP answer's, as a
  // RestClient reads it (400 kInvalidArgument, 404 kNotFound, 405 ...); kUnimplemented
  // when it cannot be served in-process (no watch cache, not a collection watch): the
  // caller then watches over HTTP. Thread-safety: from any thread; may block briefly
  // while the cache catches up with the store (a watch without resourceVersion).
  Result<std::unique_ptr<client::WatchStream>> watch_in_process(const std::string& target);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kernlet::apiserver
