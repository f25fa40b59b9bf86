// ClusterDns: the node's cluster DNS. Keeps a DnsRecords snapshot equal to the Services
// and EndpointSlices in two informer caches (the agent's own, shared with the service
// proxy: no watch of its own) and serves it with one DnsServer per --cluster-dns address.
// Level-triggered like ServiceProxy: any change wakes one thread that rebuilds the whole
// index from the caches and swaps it in; queries read the snapshot they got and never
// wait for a rebuild or touch the API server. Until both caches have synced, cluster
// names get SERVFAIL (not a wrong NXDOMAIN a client would cache).
//
// Thread-safety: trigger() and records() from any thread; start/stop from one thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/dns/dns_forwarder.h"
#include "agent/dns/dns_records.h"
#include "agent/dns/dns_server.h"
#include "api/client/cache.h"

namespace kernlet::agent::dns {

struct ClusterDnsOptions {
  std::vector<std::string> addresses;  // where to listen (--cluster-dns)
  uint16_t port = 53;
  std::string cluster_domain = "cluster.local";
  std::string resolv_conf = "/etc/resolv.conf";  // the upstreams
  std::chrono::milliseconds upstream_timeout{2000};
  uint16_t upstream_port = 53;
  // Put an address that is not on the node on lo (local_address.h) before binding.
  bool add_missing_addresses = true;
  uint32_t ttl = 5;
};

class ClusterDns {
 public:
  // The caches must outlive this; `synced` says whether both have listed once.
  ClusterDns(ClusterDnsOptions options, const client::ObjectCache* services, const client::ObjectCache* slices,
             std::function<bool()> synced);
  ~ClusterDns();

  // Makes the addresses local when asked, binds every server and starts the rebuild
  // thread. Errors name the address.
  Result<void> start();
  void stop();
  // Asks for a rebuild soon (coalesced).
  void trigger();
  // One rebuild now on the caller's thread (when synced). Returns the warnings.
  std::vector<std::string> rebuild();
  // The newest snapshot; null before the caches synced.
  std::shared_ptr<const DnsRecords> records() const;
  const std::vector<std::unique_ptr<DnsServer>>& servers() const { return servers_; }

 private:
  void loop();

  ClusterDnsOptions options_;
  const client::ObjectCache* services_;
  const client::ObjectCache* slices_;
  std::function<bool()> synced_;
  std::unique_ptr<DnsForwarder> forwarder_;
  std::vector<std::unique_ptr<DnsServer>> servers_;
  mutable std::mutex records_mu_;
  std::shared_ptr<const DnsRecords> records_;  // guarded by records_mu_
  uint32_t serial_ = 0;                        // rebuild_mu_
  std::mutex rebuild_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace kernlet::agent::dns
