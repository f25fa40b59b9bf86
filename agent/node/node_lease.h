// NodeLease: the node's heartbeat, a coordination.k8s.io/v1 Lease named after the node in
// kube-node-lease, renewed as the kubelet's node lease controller renews it:
// holderIdentity = the node name, leaseDurationSeconds = 40, renewTime (MicroTime) every
// 10 s, ownerReference to the Node (so the lease goes when the Node is deleted). The lease
// is created when missing; the last written lease is PUT again with a new renewTime (no GET
// per renewal); a conflict or any other failure drops that copy and the next attempt reads
// the lease afresh. Failed attempts are retried with back-off (200 ms doubling to 7 s)
// until one succeeds; an API outage only delays renewals, it never blocks other threads.
//
// Thread-safety: start(), stop(), renew_once() and last_renew() may be called from any
// thread; renew_once() calls are serialised internally.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/node/clock.h"
#include "api/client/rest_client.h"
#include "api/json.h"
#include "api/result.h"

namespace kernlet::agent {

struct NodeLeaseOptions {
  std::string node_name;
  std::string lease_namespace = "kube-node-lease";
  std::chrono::seconds lease_duration{40};
  std::chrono::milliseconds renew_interval{10'000};
  // Back-off after a failed attempt: initial, doubled per failure up to max.
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{7'000};
  // The Node's uid for the ownerReference, when the caller already knows it ("" = not
  // known: the lease reads the Node itself). May be empty.
  std::function<std::string()> node_uid;
  std::shared_ptr<WallClock> clock;  // nullptr = system clock
};

class NodeLease {
 public:
  // Does nothing until start() or renew_once(). Programmer error (std::invalid_argument)
  // when client is null or node_name empty.
  NodeLease(std::shared_ptr<client::RestClient> client, NodeLeaseOptions options);
  ~NodeLease();
  NodeLease(const NodeLease&) = delete;
  NodeLease& operator=(const NodeLease&) = delete;

  // Starts the renewal thread (no-op when running).
  void start();
  // Stops and joins the thread; an attempt in flight finishes first (bounded by the
  // client's request deadline). Idempotent.
  void stop();

  // One attempt: creates the lease or renews it (renewTime = now, holder, duration, and the
  // ownerReference when the Node's uid is known). Errors carry the API error, naming the
  // lease. Thread-safe.
  Result<void> renew_once();

  // The renewTime last written successfully; nullopt before the first success.
  std::optional<api::TimePoint> last_renew() const;
  // Failed attempts since the last success (for metrics and tests).
  int consecutive_failures() const;

 private:
  void run();
  std::string owner_uid();
  json::object fresh_lease(api::TimePoint now, const std::string& uid) const;

  std::shared_ptr<client::RestClient> client_;
  NodeLeaseOptions opt_;
  client::ResourceRef ref_;

  std::mutex renew_mu_;                 // serialises renew_once()
  std::optional<json::object> cached_;  // the lease as last written (under renew_mu_)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::optional<api::TimePoint> last_renew_;
  int failures_ = 0;
};

}  // namespace kernlet::agent
