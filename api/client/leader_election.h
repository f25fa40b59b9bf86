// LeaderElector: leader election over a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does it, so that of several replicas (kernlet-control hot standby) exactly
// one runs the controllers.
//
// The holder renews spec.renewTime every retry period; a candidate takes the lease over
// when it has not seen the record change for leaseDuration (by its own clock, so clock
// skew between machines does not matter), bumping leaseTransitions and acquireTime. All
// writes carry the lease's resourceVersion, so two candidates cannot both win: the loser
// gets 409 Conflict. A leader that cannot renew within renewDeadline steps down.
//
// Thread-safety: run() blocks the calling thread; stop(), is_leader() and leader() may be
// called from any thread. Callbacks run on run()'s thread and must return promptly
// (on_started_leading typically starts the controllers' threads).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "api/client/rest_client.h"

namespace kernlet::client {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;
  std::string identity;  // unique per candidate, e.g. hostname + "_" + a random suffix
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
  // On stop(), give the lease up at once (holder cleared) so a standby need not wait out
  // the lease duration.
  bool release_on_stop = true;
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;  // any change of holder
};

class LeaderElector {
 public:
  // Errors when the config is inconsistent (durations as client-go checks them: lease
  // duration > renew deadline > retry period * 1.2 > 0; name and identity set).
  static Result<std::unique_ptr<LeaderElector>> create(std::shared_ptr<RestClient> client, LeaderElectionConfig cfg);

  // Campaigns until leader, leads until the lease is lost or stop(); then returns.
  void run();
  // Ends run(): stops campaigning or leading (and releases the lease if configured).
  void stop();
  bool is_leader() const;
  // The last holder seen ("" when none).
  std::string leader() const;

  // One attempt to acquire or renew the lease; true when this candidate holds it now.
  // kConflict-free: a lost race is `false`, other API errors are returned.
  Result<bool> try_acquire_or_renew();

 private:
  LeaderElector(std::shared_ptr<RestClient> client, LeaderElectionConfig cfg);
  bool wait(std::chrono::milliseconds d);  // false when stopped
  void release();
  void observe(const std::string& holder, const std::string& renew_time, int64_t transitions);

  std::shared_ptr<RestClient> client_;
  LeaderElectionConfig cfg_;
  ResourceRef lease_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool leader_ = false;
  std::string holder_;
  // The record last observed and when (steady clock): expiry is judged by our own clock.
  std::string observed_renew_;
  int64_t observed_transitions_ = -1;
  std::chrono::steady_clock::time_point observed_at_{};
};

}  // namespace kernlet::client
