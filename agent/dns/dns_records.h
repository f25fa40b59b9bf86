// DnsRecords: the cluster's DNS data, an immutable index built from the Services and
// EndpointSlices in the agent's informer caches (pure: no API calls, no sockets), and the
// lookup the DNS server answers from. Rebuilt as a whole on every change (ClusterDns) and
// swapped in; a query reads one snapshot.
//
// Records, by the Kubernetes DNS specification (names relative to the cluster domain D):
//  - <svc>.<ns>.svc.D: A/AAAA = the clusterIPs; for a headless service the addresses of
//    its ready endpoints (every endpoint when publishNotReadyAddresses); CNAME = the
//    externalName of an ExternalName service;
//  - <host>.<svc>.<ns>.svc.D: A/AAAA of one endpoint, <host> being the endpoint's hostname,
//    or its address with '.' or ':' turned into '-' (10-244-1-5) when it has none;
//  - _<port>._<proto>.<svc>.<ns>.svc.D: SRV for each named port: priority 0, weight 100,
//    the port and <svc>.<ns>.svc.D (headless: one per endpoint, the endpoint's port and
//    <host>.<svc>...); the targets' A/AAAA go in the additional section;
//  - PTR for every clusterIP (-> <svc>.<ns>.svc.D) and every endpoint address
//    (-> <host>.<svc>.<ns>.svc.D);
//  - the zone's SOA at D; names under D that do not exist are NXDOMAIN (with the SOA),
//    names that exist without the asked type are NODATA (<ns>.svc.D exists while the
//    namespace has a service; svc.D and D always).
// Reverse names (in-addr.arpa, ip6.arpa) that are not a cluster address are not ours: they
// go upstream like any name outside D.
// Thread-safety: immutable after build; lookups run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/client/cache.h"

namespace kernlet::agent::dns {

// RR types (RFC 1035, 3596, 2782).
enum RrType : uint16_t { kTypeA = 1, kTypeNs = 2, kTypeCname = 5, kTypeSoa = 6, kTypePtr = 12, kTypeAaaa = 28,
                         kTypeSrv = 33, kTypeAny = 255 };

struct DnsRecord {
  std::string name;  // owner, lower case, no trailing dot
  uint16_t type = 0;
  std::string value;  // A/AAAA: the address; PTR/CNAME/SRV: the target name
  uint16_t priority = 0, weight = 0, port = 0;  // SRV
  bool operator==(const DnsRecord&) const = default;
};

enum class LookupStatus {
  kAnswer,    // answers (NOERROR, authoritative)
  kNoData,    // the name exists without that type (NOERROR, SOA in authority)
  kNxDomain,  // under the cluster domain, no such name (SOA in authority)
  kNotOurs,   // outside the cluster's names: forward upstream
};

struct LookupResult {
  LookupStatus status = LookupStatus::kNotOurs;
  std::vector<DnsRecord> answers;
  std::vector<DnsRecord> additional;
};

struct DnsRecordsOptions {
  std::string cluster_domain = "cluster.local";
  uint32_t ttl = 5;  // seconds, for answers and the SOA's negative TTL (CoreDNS's default)
};

class DnsRecords {
 public:
  // Builds the index. Objects or fields that cannot be used (a bad address, say) are
  // skipped and described in *warnings when given.
  static std::shared_ptr<const DnsRecords> build(const std::vector<client::ObjectPtr>& services,
                                                 const std::vector<client::ObjectPtr>& endpoint_slices,
                                                 const DnsRecordsOptions& options, uint32_t serial,
                                                 std::vector<std::string>* warnings = nullptr);

  // Looks `qname` (any case, trailing dot optional) up for `qtype` (kTypeAny: every type).
  LookupResult lookup(std::string_view qname, uint16_t qtype) const;

  const std::string& domain() const { return options_.cluster_domain; }
  uint32_t ttl() const { return options_.ttl; }
  uint32_t serial() const { return serial_; }
  // Every record (tests, debugging).
  std::vector<DnsRecord> all() const;

 private:
  DnsRecords() = default;
  void add(DnsRecord r);
  void add_node(std::string_view name);
  bool in_domain(std::string_view name) const;

  DnsRecordsOptions options_;
  uint32_t serial_ = 0;
  std::unordered_map<std::string, std::vector<DnsRecord>> names_;  // owner -> its records
  std::unordered_set<std::string> nodes_;  // every name that exists (with ancestors under the domain)
};

// "10.0.0.1" -> "1.0.0.10.in-addr.arpa", an IPv6 address -> its nibble name under ip6.arpa;
// "" when `ip` is not an address.
std::string reverse_name(std::string_view ip);
// The lower-cased name without its trailing dot.
std::string normalize_name(std::string_view name);

}  // namespace kernlet::agent::dns
