// HostGwRoutes: keeps this node's routes to every other node's pods true (host-gw): one
// route `<node podCIDR> via <node InternalIP>` per other Node, computed from the Nodes the
// agent watches (desired_routes in route.h), applied to a RouteTable (netlink in the agent).
//
// Level-triggered: every reconcile lists the routes that exist with kernlet's protocol and
// the Nodes in the cache, removes ours that no Node asks for (a node deleted, its podCIDR
// or address changed, leftovers of an earlier run) and adds the missing ones. It runs on
// its own thread after wake() (node events), every resync period, and again after
// retry_after when a change failed. Nothing is reconciled before the Node cache has
// synced, so an agent restart never removes routes it is about to add again.
//
// Thread-safety: wake(), status() and reconcile_once() from any thread; start/stop from one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client/cache.h"
#include "cni/routes/netlink_routes.h"
#include "cni/routes/route.h"

namespace kernlet::cni::routes {

struct HostGwOptions {
  std::string node_name;  // this node: it gets no route to itself
  std::chrono::milliseconds resync{30'000};
  std::chrono::milliseconds retry_after{2'000};
  std::function<void(const std::string&)> log;  // one line per change or failure; null = stderr
};

struct HostGwStatus {
  int64_t reconciles = 0;
  std::vector<NodeRoute> routes;  // ours after the last reconcile
  std::string last_error;     // "" when the last reconcile succeeded
};

class HostGwRoutes {
 public:
  // `nodes` lists the cached Nodes; `synced` says whether the cache holds the first list.
  // `table` must outlive this object.
  HostGwRoutes(RouteTable& table, std::function<std::vector<client::ObjectPtr>()> nodes,
               std::function<bool()> synced, HostGwOptions options);
  ~HostGwRoutes();  // stop()
  HostGwRoutes(const HostGwRoutes&) = delete;
  HostGwRoutes& operator=(const HostGwRoutes&) = delete;

  void start();
  void stop();
  // Asks for a reconcile soon (a Node changed).
  void wake();
  // One reconcile now. Errors: the cache has not synced (kUnavailable), the table's errors
  // (every change is still tried; the first error is returned with a count).
  Result<void> reconcile_once();
  HostGwStatus status() const;

 private:
  void run();
  void log(const std::string& line) const;

  RouteTable& table_;
  std::function<std::vector<client::ObjectPtr>()> nodes_;
  std::function<bool()> synced_;
  HostGwOptions opts_;
  std::mutex reconcile_mu_;  // one reconcile at a time
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stopping_ = false;
  std::string last_skipped_;  // under reconcile_mu_: logged when it changes
  HostGwStatus status_;
  std::thread thread_;
};

}  // namespace kernlet::cni::routes
