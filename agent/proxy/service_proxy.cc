#include "agent/proxy/service_proxy.h"

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace kernlet::agent {

ServiceProxy::ServiceProxy(bpf::ServiceMap* map, const client::ObjectCache* services,
                           const client::ObjectCache* endpoint_slices, std::string node_name,
                           std::function<bool()> caches_synced)
    : map_(map),
      services_(services),
      slices_(endpoint_slices),
      node_name_(std::move(node_name)),
      caches_synced_(std::move(caches_synced)) {}

ServiceProxy::~ServiceProxy() { stop(); }

void ServiceProxy::start() { thread_ = std::thread([this] { loop(); }); }

void ServiceProxy::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ServiceProxy::trigger() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

namespace {

// A map entry whose content is not known (pinned by an earlier agent, or a write that
// failed half-way): never equal to a desired spec, so it is rewritten, and removed when no
// longer desired.
bpf::ServiceSpec unknown_spec(const bpf::ServiceKey& key) {
  bpf::ServiceSpec s;
  s.key = key;
  s.affinity_timeout_seconds = UINT32_MAX;
  return s;
}

}  // namespace

Result<void> ServiceProxy::sync_once() {
  std::lock_guard sync(sync_mu_);
  if (caches_synced_ && !caches_synced_())
    return Error(ErrorCode::kUnavailable, "service proxy: waiting for the Service and EndpointSlice caches to sync");
  if (!adopted_) {
    // Entries an earlier agent left in pinned maps.
    for (const bpf::ServiceKey& k : map_->services()) applied_.emplace(k, unknown_spec(k));
    adopted_ = true;
  }
  std::vector<std::string> warnings;
  DesiredServices desired = desired_services(services_->list(), slices_->list(), node_name_, &warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "W service proxy: %s\n", w.c_str());
  ServiceDiff d = diff_services(applied_, desired);
  Result<void> first = Ok();
  for (const auto& k : d.removes) {
    if (auto r = map_->remove(k); !r.ok()) {
      if (first.ok()) first = std::move(r).error();
      continue;
    }
    applied_.erase(k);
  }
  for (const auto& spec : d.upserts) {
    if (auto r = map_->upsert(spec); !r.ok()) {
      if (first.ok()) first = std::move(r).error();
      applied_[spec.key] = unknown_spec(spec.key);  // rewritten next pass, or removed
      continue;
    }
    applied_[spec.key] = spec;
  }
  if (first.ok() && (!logged_sync_ || !d.upserts.empty() || !d.removes.empty())) {
    std::fprintf(stderr, "I service proxy: synced %zu service ports (%zu written, %zu removed)\n", applied_.size(),
                 d.upserts.size(), d.removes.size());
    logged_sync_ = true;
  }
  return first;
}

void ServiceProxy::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || wake_; });
    if (stop_) return;
    if (!wake_ && !retry_) continue;
    wake_ = false;
    lock.unlock();
    auto r = sync_once();
    if (!r.ok() && r.error().code() != ErrorCode::kUnavailable)
      std::fprintf(stderr, "W service proxy: %s\n", r.error().to_string().c_str());
    lock.lock();
    retry_ = !r.ok();
  }
}

}  // namespace kernlet::agent
