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
  const auto started = std::chrono::steady_clock::now();
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
  // One call for all: on the first pass (thousands of new services) the map writes them in
  // bulk instead of several syscalls each.
  std::vector<Result<void>> written = map_->upsert_many(d.upserts);
  for (std::size_t i = 0; i < d.upserts.size(); ++i) {
    const auto& spec = d.upserts[i];
    if (!written[i].ok()) {
      if (first.ok()) first = std::move(written[i]).error();
      applied_[spec.key] = unknown_spec(spec.key);  // rewritten next pass, or removed
      continue;
    }
    applied_[spec.key] = spec;
  }
  {
    std::lock_guard lock(owners_mu_);
    owners_ = service_owners(services, node_addresses_);
    applied_count_ = applied_.size();
    if (!first.ok()) ++sync_errors_;
  }
  sync_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (first.ok() && (!logged_sync_ || !d.upserts.empty() || !d.removes.empty())) {
    std::fprintf(stderr, "I service proxy: synced %zu service ports (%zu written, %zu removed)\n", applied_.size(),
                 d.upserts.size(), d.removes.size());
    logged_sync_ = true;
  }
  return first;
}

namespace {

metrics::Labels labels_of(const ServicePortRef& r) {
  return {{"namespace", r.namespace_}, {"service", r.name}, {"port", r.port}, {"protocol", r.protocol}};
}

// Sums per-key counters into their Service ports; keys of no known Service (adopted from
// pinned maps, about to be removed) are left out.
template <typename Stats, typename Add>
std::map<ServicePortRef, Stats> by_owner(const std::map<bpf::ServiceKey, Stats>& per_key, const ServiceOwners& owners,
                                         Add add) {
  std::map<ServicePortRef, Stats> out;
  for (const auto& [k, st] : per_key) {
    auto it = owners.find(k);
    if (it != owners.end()) add(out[it->second], st);
  }
  return out;
}

template <typename Stats, typename Field>
void counter_family(metrics::PrometheusText& out, const char* name, const char* help,
                    const std::map<ServicePortRef, Stats>& rows, Field field) {
  out.family(name, help, metrics::MetricType::kCounter);
  for (const auto& [ref, st] : rows) out.sample(labels_of(ref), static_cast<std::uint64_t>(st.*field));
}

}  // namespace

void ServiceProxy::append_metrics(metrics::PrometheusText& out) const {
  ServiceOwners owners;
  std::size_t applied = 0;
  std::uint64_t errors = 0;
  {
    std::lock_guard lock(owners_mu_);
    owners = owners_;
    applied = applied_count_;
    errors = sync_errors_;
  }
  using bpf::NodePortStats;
  using bpf::ServiceStats;
  auto sock = by_owner(map_->stats(), owners, [](ServiceStats& a, const ServiceStats& b) {
    a.connects += b.connects;
    a.sendmsgs += b.sendmsgs;
    a.refused += b.refused;
  });
  counter_family(out, "kernlet_service_connections_total",
                 "connect() calls to a Service address:port (clusterIP, externalIP, load-balancer IP, node "
                 "address:nodePort) from this node given a backend by the socket load balancer.",
                 sock, &ServiceStats::connects);
  counter_family(out, "kernlet_service_datagrams_total",
                 "Unconnected UDP sendmsg() calls to a Service address:port from this node given a backend.", sock,
                 &ServiceStats::sendmsgs);
  counter_family(out, "kernlet_service_refused_total",
                 "connect()/sendmsg() calls to a Service address:port from this node refused with ECONNREFUSED "
                 "because it had no ready backend.",
                 sock, &ServiceStats::refused);
  if (nodeports_ != nullptr) {
    auto np = by_owner(nodeports_->stats(), owners, [](NodePortStats& a, const NodePortStats& b) {
      a.flows += b.flows;
      a.packets += b.packets;
      a.bytes += b.bytes;
      a.no_backend += b.no_backend;
      a.denied += b.denied;
    });
    counter_family(out, "kernlet_nodeport_flows_total",
                   "Flows from outside the node (nodePort, load-balancer IP, externalIP) given a backend.", np,
                   &NodePortStats::flows);
    counter_family(out, "kernlet_nodeport_packets_total",
                   "Client-to-service packets from outside the node translated to a backend.", np,
                   &NodePortStats::packets);
    counter_family(out, "kernlet_nodeport_bytes_total",
                   "Bytes of client-to-service packets from outside the node translated to a backend.", np,
                   &NodePortStats::bytes);
    counter_family(out, "kernlet_nodeport_no_backend_drops_total",
                   "Packets from outside the node dropped because the service had no ready backend.", np,
                   &NodePortStats::no_backend);
    counter_family(out, "kernlet_nodeport_source_range_drops_total",
                   "Packets from outside the node dropped by the service's loadBalancerSourceRanges.", np,
                   &NodePortStats::denied);
  }
  out.family("kernlet_service_proxy_service_ports", "Service address:port:protocol entries the socket load "
             "balancer holds.", metrics::MetricType::kGauge);
  out.sample({}, static_cast<std::uint64_t>(applied));
  out.family("kernlet_service_proxy_sync_errors_total", "Service proxy passes in which a map write failed (retried).",
             metrics::MetricType::kCounter);
  out.sample({}, errors);
  out.family("kernlet_service_proxy_sync_duration_seconds",
             "Duration of a service proxy pass: desired state from the caches, diff, map writes and drains.",
             metrics::MetricType::kHistogram);
  out.histogram({}, sync_seconds_.snapshot());
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
