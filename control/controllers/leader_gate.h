// LeaderGate: runs a component (the scheduler, or the controllers) only while this
// process holds a coordination.k8s.io Lease, as kube-scheduler and
// kube-controller-manager do with --leader-elect.
//
// Upstream exits when it loses the lease. kernlet-control also serves the API, so it
// stops the component instead (all its threads joined, its caches dropped) and
// campaigns again; a new term starts the component afresh from a new list.
// Thread-safety: start()/stop() from one thread; leading() from any.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "api/client/leader_election.h"

namespace kernlet::controllers {

class LeaderGate {
 public:
  // Starts the component and returns how to stop it (blocking until it has stopped).
  using StartFn = std::function<Result<std::function<void()>>()>;

  // `cfg` callbacks are set by the gate; the rest (lease, identity, durations) is used as is.
  LeaderGate(std::shared_ptr<client::RestClient> client, client::LeaderElectionConfig cfg, StartFn start);
  ~LeaderGate();
  LeaderGate(const LeaderGate&) = delete;
  LeaderGate& operator=(const LeaderGate&) = delete;

  void start();  // begins campaigning on a thread of its own
  void stop();   // stops the component, releases the lease, joins
  // Whether the component is running now.
  bool leading() const;

 private:
  void loop();
  std::shared_ptr<client::RestClient> client_;
  client::LeaderElectionConfig cfg_;
  StartFn start_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool want_ = false;      // the elector says we lead
  bool elector_done_ = false;
  bool running_ = false;   // the component runs
  client::LeaderElector* elector_ = nullptr;
};

}  // namespace kernlet::controllers
