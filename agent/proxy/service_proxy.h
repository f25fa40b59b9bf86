// ServiceProxy: keeps the socket load balancer (bpf::ServiceMap), and the NodePort datapath
// (bpf::NodePortMap) when it has one, equal to what the Services and EndpointSlices in two
// informer caches ask for. Level-triggered: any change
// wakes one worker that recomputes the desired state (desired_services.h) from the caches,
// diffs it against what it applied, and writes only the entries that changed. A failed
// write is logged and retried on the next pass (at most 1 s later).
//
// Nothing is written until `caches_synced` says both caches hold a full list: a pass over a
// Services cache without its EndpointSlices would program every service with no backend
// (refusing connections and draining established ones), which after an agent restart
// would break the connections the pinned maps kept alive. The first pass also takes the
// services the map already holds (pinned by an earlier agent) as applied with unknown
// content, so the ones no longer desired are removed and the others rewritten once.
//
// Metrics (append_metrics): the maps' per-service counters summed per Service port, the
// number of service ports applied, and the duration of each pass.
//
// Thread-safety: trigger() and append_metrics() from any thread (informer handlers); start/stop from one thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/prometheus_text.h"
#include "agent/proxy/desired_services.h"
#include "api/client/cache.h"
#include "bpf/loader/service_map.h"

namespace kernlet::agent {

class ServiceProxy {
 public:
  // The caches and the map must outlive the proxy. `caches_synced` (null: always) says
  // whether both caches have been filled by their first list.
  ServiceProxy(bpf::ServiceMap* map, const client::ObjectCache* services, const client::ObjectCache* endpoint_slices,
               std::string node_name, std::function<bool()> caches_synced = nullptr);
  ~ServiceProxy();

  // Before start(): this node's addresses (nodePort entries in both maps) and the NodePort
  // datapath (outlives the proxy; nullptr = none). The first pass takes the keys the
  // NodePort map already holds (pinned by an earlier agent) as applied with unknown content,
  // so those no longer desired are removed and the others rewritten once.
  void set_node_addresses(std::vector<bpf::IpAddr> addresses);
  void set_nodeport_map(bpf::NodePortMap* map);

  void start();
  void stop();
  // Asks for a pass soon (coalesced).
  void trigger();
  // One pass now, on the caller's thread: compute, diff, apply. Returns the first error;
  // the entries that failed stay pending for the next pass. Before the caches have synced
  // it writes nothing and fails with kUnavailable.
  Result<void> sync_once();

  // Appends kernlet_service_* and kernlet_nodeport_* counters labelled namespace, service,
  // port (name, or number when unnamed) and protocol, and kernlet_service_proxy_* about the
  // passes. Reads each map's counters (one lookup per service); may wait for a map write in
  // progress. Thread-safe.
  void append_metrics(metrics::PrometheusText& out) const;

 private:
  void loop();

  bpf::ServiceMap* map_;
  const client::ObjectCache* services_;
  const client::ObjectCache* slices_;
  std::string node_name_;
  std::function<bool()> caches_synced_;
  std::vector<bpf::IpAddr> node_addresses_;
  bpf::NodePortMap* nodeports_ = nullptr;
  std::mutex sync_mu_;      // one pass at a time
  DesiredServices applied_;  // guarded by sync_mu_
  DesiredNodePorts applied_nodeports_;  // guarded by sync_mu_
  bool adopted_ = false;     // guarded by sync_mu_: the socket LB map's own entries were taken in
  bool nodeports_adopted_ = false;  // guarded by sync_mu_: the NodePort map's own keys taken in
  bool logged_sync_ = false; // guarded by sync_mu_: the first complete pass was logged
  mutable std::mutex owners_mu_;
  ServiceOwners owners_;             // guarded by owners_mu_: of the last pass's Services
  std::size_t applied_count_ = 0;    // guarded by owners_mu_: applied_.size() after the last pass
  std::uint64_t sync_errors_ = 0;    // guarded by owners_mu_: passes that failed a write
  metrics::Histogram sync_seconds_{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false, stop_ = false, retry_ = false;
  std::thread thread_;
};

}  // namespace kernlet::agent
