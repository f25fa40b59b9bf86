// MetricsCollector: the metrics-server of kernlet-control. Every `resolution` it scrapes
// GET /stats/summary from the kubelet of each Ready Node (through NodeProxy: the cluster
// CA and the API server's kubelet-client certificate, as pods/log), all nodes at once
// with one deadline, and keeps the newest usable numbers per node (metrics.h). A node that
// is not Ready, is gone or fails its scrape loses its numbers until the next good one, as
// with metrics-server, so consumers never see stale values as current.
//
// Runs on a thread of its own with its own io_context (store reads happen there too).
// Thread-safety: the getters may be called from any thread (one mutex, copies out).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/apiserver/metrics.h"
#include "control/apiserver/node_proxy.h"
#include "control/store/store.h"

namespace kernlet::apiserver {

class MetricsCollector {
 public:
  MetricsCollector(store::Store& store, std::shared_ptr<NodeProxy> proxy, std::chrono::milliseconds resolution);
  ~MetricsCollector();  // stops
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  void start();
  void stop();
  // One round now (blocking): list the nodes, scrape the Ready ones, replace the data.
  void scrape_once();

  std::chrono::milliseconds resolution() const { return resolution_; }
  std::optional<metrics::NodeUsage> node(std::string_view name) const;
  // The pod's usage when its uid matches (a pod recreated under the same name is not
  // given its predecessor's numbers); an empty uid matches any.
  std::optional<metrics::PodUsage> pod(std::string_view ns, std::string_view name, std::string_view uid) const;

 private:
  void loop();
  store::Store& store_;
  std::shared_ptr<NodeProxy> proxy_;
  std::chrono::milliseconds resolution_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, metrics::NodeUsage, std::less<>> nodes_;
  std::map<std::string, metrics::PodUsage, std::less<>> pods_;  // "ns/name"
  std::thread thread_;
};

}  // namespace kernlet::apiserver
