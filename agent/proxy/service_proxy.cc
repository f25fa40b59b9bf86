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

void ServiceProxy::set_node_addresses(std::vector<bpf::IpAddr> addresses) {
  std::lock_guard sync(sync_mu_);
  node_addresses_ = std::move(addresses);
}

void ServiceProxy::set_nodeport_map(bpf::NodePortMap* map) {
  std::lock_guard sync(sync_mu_);
  nodeports_ = map;
}

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
  const auto services = services_->list();
  const auto slices = slices_->list();
  DesiredServices desired = desired_services(services, slices, node_name_, &warnings, node_addresses_);
  for (const auto& w : warnings) std::fprintf(stderr, "W service proxy: %s\n", w.c_str());
  ServiceDiff d = diff_services(applied_, desired);
  Result<void> first = Ok();
  if (nodeports_ != nullptr) {
    // Warnings about the same objects were printed above.
    if (!nodeports_adopted_) {
      // A backend with port 0 is never desired (and never accepted by the map), so each
      // adopted key differs from its desired spec and is rewritten once.
      for (const auto& k : nodeports_->services()) {
        bpf::NodePortSpec unknown;
        unknown.key = k;
        unknown.backends.push_back({bpf::Backend{k.vip, 0}, false});
        applied_nodeports_.emplace(k, std::move(unknown));
      }
      nodeports_adopted_ = true;
    }
    DesiredNodePorts want = desired_nodeports(services, slices, node_name_, node_addresses_);
    NodePortDiff nd = diff_nodeports(applied_nodeports_, want);
    for (const auto& k : nd.removes) {
      if (auto r = nodeports_->remove(k); !r.ok()) {
        if (first.ok()) first = std::move(r).error();
        continue;
      }
      applied_nodeports_.erase(k);
    }
    for (const auto& spec : nd.upserts) {
      if (auto r = nodeports_->upsert(spec); !r.ok()) {
        if (first.ok()) first = std::move(r).error();
        applied_nodeports_.erase(spec.key);
        continue;
      }
      applied_nodeports_[spec.key] = spec;
    }
  }
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
