#include "agent/dns/cluster_dns.h"

#include <cstdio>
#include <ctime>

#include "agent/dns/local_address.h"

namespace kernlet::agent::dns {

ClusterDns::ClusterDns(ClusterDnsOptions options, const client::ObjectCache* services,
                       const client::ObjectCache* slices, std::function<bool()> synced)
    : options_(std::move(options)), services_(services), slices_(slices), synced_(std::move(synced)) {}

ClusterDns::~ClusterDns() { stop(); }

Result<void> ClusterDns::start() {
  ForwarderOptions fo;
  fo.resolv_conf = options_.resolv_conf;
  fo.timeout = options_.upstream_timeout;
  fo.exclude = options_.addresses;
  fo.port = options_.upstream_port;
  forwarder_ = std::make_unique<DnsForwarder>(fo);
  // A zone serial that grows across restarts too.
  serial_ = static_cast<uint32_t>(::time(nullptr));
  for (const auto& ip : options_.addresses) {
    if (options_.add_missing_addresses) {
      KL_ASSIGN_OR_RETURN(bool added, ensure_local_address(ip));
      if (added) std::fprintf(stderr, "I cluster dns: added %s to lo\n", ip.c_str());
    }
    DnsServerOptions so;
    so.address = ip;
    so.port = options_.port;
    so.domain = options_.cluster_domain;
    KL_ASSIGN_OR_RETURN(auto server, DnsServer::start(so, [this] { return records(); }, forwarder_.get()));
    servers_.push_back(std::move(server));
  }
  thread_ = std::thread([this] { loop(); });
  return Ok();
}

void ClusterDns::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& s : servers_) s->stop();
}

void ClusterDns::trigger() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

std::vector<std::string> ClusterDns::rebuild() {
  std::lock_guard lock(rebuild_mu_);
  std::vector<std::string> warnings;
  if (synced_ && !synced_()) return warnings;
  DnsRecordsOptions ro;
  ro.cluster_domain = options_.cluster_domain;
  ro.ttl = options_.ttl;
  auto next = DnsRecords::build(services_->list(), slices_->list(), ro, ++serial_, &warnings);
  std::lock_guard rl(records_mu_);
  records_ = std::move(next);
  return warnings;
}

std::shared_ptr<const DnsRecords> ClusterDns::records() const {
  std::lock_guard lock(records_mu_);
  return records_;
}

void ClusterDns::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait(lock, [this] { return stop_ || wake_; });
    if (stop_) return;
    wake_ = false;
    lock.unlock();
    for (const auto& w : rebuild()) std::fprintf(stderr, "W cluster dns: %s\n", w.c_str());
    lock.lock();
  }
}

}  // namespace kernlet::agent::dns
