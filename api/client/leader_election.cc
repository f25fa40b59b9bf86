#include "api/client/leader_election.h"

#include <cstdio>
#include <random>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::client {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

Result<std::unique_ptr<LeaderElector>> LeaderElector::create(std::shared_ptr<RestClient> client,
                                                             LeaderElectionConfig cfg) {
  auto bad = [](const std::string& m) { return Error(ErrorCode::kInvalidArgument, "leader election: " + m); };
  if (cfg.lease_name.empty()) return bad("lease name is required");
  if (cfg.identity.empty()) return bad("identity is required");
  if (cfg.retry_period.count() <= 0) return bad("retry period must be positive");
  if (cfg.lease_duration <= cfg.renew_deadline) return bad("lease duration must be greater than renew deadline");
  if (cfg.renew_deadline.count() * 5 <= cfg.retry_period.count() * 6) {
    return bad("renew deadline must be greater than 1.2 x retry period");
  }
  if (cfg.lease_duration < seconds(1)) return bad("lease duration must be at least 1s");
  return std::unique_ptr<LeaderElector>(new LeaderElector(std::move(client), std::move(cfg)));
}

LeaderElector::LeaderElector(std::shared_ptr<RestClient> client, LeaderElectionConfig cfg)
    : client_(std::move(client)), cfg_(std::move(cfg)) {
  lease_ = ResourceRef{"coordination.k8s.io", "v1", "leases", cfg_.lease_namespace, cfg_.lease_name};
}

bool LeaderElector::is_leader() const {
  std::lock_guard lock(mu_);
  return leader_;
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return holder_;
}

void LeaderElector::stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  cv_.notify_all();
}

bool LeaderElector::wait(milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

void LeaderElector::observe(const std::string& holder, const std::string& renew_time, int64_t transitions) {
  std::string changed_to;
  {
    std::lock_guard lock(mu_);
    if (holder != holder_ || renew_time != observed_renew_ || transitions != observed_transitions_) {
      observed_at_ = SteadyClock::now();
      observed_renew_ = renew_time;
      observed_transitions_ = transitions;
    }
    if (holder != holder_) {
      holder_ = holder;
      changed_to = holder;
    }
  }
  if (!changed_to.empty() && cfg_.on_new_leader) cfg_.on_new_leader(changed_to);
}

Result<bool> LeaderElector::try_acquire_or_renew() {
  const std::string now = api::now_rfc3339_micro();
  const int64_t duration_s = duration_cast<seconds>(cfg_.lease_duration).count();
  auto current = client_->get(lease_);
  if (!current.ok()) {
    if (current.error().code() != ErrorCode::kNotFound) return std::move(current).error().context("get lease");
    json::object lease{{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", json::object{{"name", cfg_.lease_name}, {"namespace", cfg_.lease_namespace}}},
                       {"spec", json::object{{"holderIdentity", cfg_.identity},
                                             {"leaseDurationSeconds", duration_s},
                                             {"acquireTime", now},
                                             {"renewTime", now},
                                             {"leaseTransitions", 0}}}};
    auto created = client_->create(lease_, lease);
    if (!created.ok()) {
      if (created.error().code() == ErrorCode::kAlreadyExists) return false;
      return std::move(created).error().context("create lease");
    }
    observe(cfg_.identity, now, 0);
    return true;
  }

  json::object& lease = *current;
  json::object& spec = json::ensure_object(lease, "spec");
  std::string holder(json::get_string(spec, "holderIdentity"));
  std::string renew(json::get_string(spec, "renewTime"));
  int64_t transitions = json::get_int_or(spec, "leaseTransitions", 0);
  observe(holder, renew, transitions);
  const bool mine = holder == cfg_.identity;
  if (!holder.empty() && !mine) {
    std::lock_guard lock(mu_);
    if (SteadyClock::now() < observed_at_ + cfg_.lease_duration) return false;  // held, not expired
  }
  if (!mine) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = transitions + 1;
  }
  spec["holderIdentity"] = cfg_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  auto updated = client_->update(lease_, lease);
  if (!updated.ok()) {
    if (updated.error().code() == ErrorCode::kConflict) return false;  // another candidate won the race
    return std::move(updated).error().context("update lease");
  }
  observe(cfg_.identity, now, json::get_int_or(spec, "leaseTransitions", 0));
  return true;
}

void LeaderElector::release() {
  auto current = client_->get(lease_);
  if (!current.ok()) return;
  json::object& spec = json::ensure_object(*current, "spec");
  if (json::get_string(spec, "holderIdentity") != cfg_.identity) return;
  // As client-go releases: no holder, a 1 s lease, so the next candidate acquires at once.
  spec["holderIdentity"] = nullptr;
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = api::now_rfc3339_micro();
  if (auto u = client_->update(lease_, *current); !u.ok()) {
    std::fprintf(stderr, "warning leader-election: release lease %s/%s: %s\n", cfg_.lease_namespace.c_str(),
                 cfg_.lease_name.c_str(), u.error().to_string().c_str());
  }
}

void LeaderElector::run() {
  std::minstd_rand rng{std::random_device{}()};
  auto jittered = [&] {
    // Up to +20% so that candidates started together do not retry in lockstep.
    return cfg_.retry_period + milliseconds(std::uniform_int_distribution<int64_t>(
                                   0, std::max<int64_t>(cfg_.retry_period.count() / 5, 1))(rng));
  };
  // Campaign.
  for (;;) {
    auto r = try_acquire_or_renew();
    if (!r.ok()) {
      std::fprintf(stderr, "warning leader-election: %s/%s: %s\n", cfg_.lease_namespace.c_str(),
                   cfg_.lease_name.c_str(), r.error().to_string().c_str());
    }
    if (r.ok() && *r) break;
    if (!wait(jittered())) return;
  }
  {
    std::lock_guard lock(mu_);
    leader_ = true;
  }
  if (cfg_.on_started_leading) cfg_.on_started_leading();
  // Lead: renew every retry period; step down when renewals fail for renew_deadline.
  bool stopped = false;
  for (;;) {
    if (!wait(cfg_.retry_period)) {
      stopped = true;
      break;
    }
    auto deadline = SteadyClock::now() + cfg_.renew_deadline;
    bool renewed = false;
    for (;;) {
      auto r = try_acquire_or_renew();
      if (r.ok() && *r) {
        renewed = true;
        break;
      }
      if (!r.ok()) {
        std::fprintf(stderr, "warning leader-election: renew %s/%s: %s\n", cfg_.lease_namespace.c_str(),
                     cfg_.lease_name.c_str(), r.error().to_string().c_str());
      }
      if (SteadyClock::now() >= deadline) break;
      if (!wait(cfg_.retry_period)) {
        stopped = true;
        break;
      }
    }
    if (!renewed || stopped) break;
  }
  {
    std::lock_guard lock(mu_);
    leader_ = false;
  }
  if (stopped && cfg_.release_on_stop) release();
  if (cfg_.on_stopped_leading) cfg_.on_stopped_leading();
}

}  // namespace kernlet::client
