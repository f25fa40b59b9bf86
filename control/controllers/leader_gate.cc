#include "control/controllers/leader_gate.h"

#include <cstdio>

namespace kernlet::controllers {

LeaderGate::LeaderGate(std::shared_ptr<client::RestClient> client, client::LeaderElectionConfig cfg, StartFn start)
    : client_(std::move(client)), cfg_(std::move(cfg)), start_(std::move(start)) {}

LeaderGate::~LeaderGate() { stop(); }

void LeaderGate::start() { thread_ = std::thread([this] { loop(); }); }

void LeaderGate::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (elector_ != nullptr) elector_->stop();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderGate::leading() const {
  std::lock_guard lock(mu_);
  return running_;
}

void LeaderGate::loop() {
  const std::string lease = cfg_.lease_namespace + "/" + cfg_.lease_name;
  for (;;) {
    client::LeaderElectionConfig cfg = cfg_;
    // The elector's callbacks only flip flags: starting the component (informers syncing)
    // must not hold up its renewals.
    cfg.on_started_leading = [this] {
      std::lock_guard lock(mu_);
      want_ = true;
      cv_.notify_all();
    };
    cfg.on_stopped_leading = [this] {
      std::lock_guard lock(mu_);
      want_ = false;
      cv_.notify_all();
    };
    auto elector = client::LeaderElector::create(client_, cfg);
    if (!elector.ok()) {
      std::fprintf(stderr, "kernlet-control: leader election %s: %s\n", lease.c_str(),
                   elector.error().to_string().c_str());
      return;
    }
    std::unique_lock lock(mu_);
    if (stopping_) return;
    elector_ = elector->get();
    elector_done_ = false;
    want_ = false;
    std::thread campaign([this, e = elector_] {
      e->run();
      std::lock_guard l(mu_);
      elector_done_ = true;
      cv_.notify_all();
    });
    std::function<void()> stop_component;
    for (;;) {
      cv_.wait(lock, [&] { return want_ != running_ || elector_done_ || stopping_; });
      if (want_ && !running_ && !stopping_) {
        lock.unlock();
        std::fprintf(stderr, "kernlet-control: leading %s, starting\n", lease.c_str());
        auto started = start_();
        lock.lock();
        if (started.ok()) {
          stop_component = std::move(*started);
          running_ = true;
        } else {
          std::fprintf(stderr, "kernlet-control: %s: start failed, giving the lease up: %s\n", lease.c_str(),
                       started.error().to_string().c_str());
          elector_->stop();
          want_ = false;
        }
        continue;
      }
      if (running_ && (!want_ || stopping_)) {
        running_ = false;
        lock.unlock();
        std::fprintf(stderr, "kernlet-control: %s: %s, stopping\n", lease.c_str(),
                     stopping_ ? "shutting down" : "lost the lease");
        stop_component();
        stop_component = nullptr;
        lock.lock();
        continue;
      }
      if (elector_done_) break;
      if (stopping_) {
        elector_->stop();  // run() returns, elector_done_ follows
        cv_.wait(lock, [&] { return elector_done_; });
      }
    }
    elector_ = nullptr;
    const bool stop = stopping_;
    lock.unlock();
    campaign.join();
    if (stop) return;
    // Campaign again after a retry period (a fresh elector: run() is one term).
    lock.lock();
    if (cv_.wait_for(lock, cfg_.retry_period, [&] { return stopping_; })) return;
  }
}

}  // namespace kernlet::controllers
