// lb_types.h: the value types of the socket load balancer's C++ API (addresses, backends,
// services), independent of libbpf so the agent's proxy can compute desired state with them
// without touching the kernel. Plain values; thread-compatible.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::bpf {

enum class Protocol : std::uint8_t { kTcp = 6, kUdp = 17 };

// "TCP" / "UDP" (Kubernetes spelling) -> Protocol; SCTP and others are an error.
Result<Protocol> parse_protocol(std::string_view s);
std::string_view protocol_name(Protocol p);

// An IPv4 or IPv6 address; bytes in network order (IPv4 in bytes[0..3]).
struct IpAddr {
  int family = 4;  // 4 or 6
  std::array<std::uint8_t, 16> bytes{};

  // Parses dotted IPv4 or textual IPv6; the error names the text.
  static Result<IpAddr> parse(std::string_view text);
  std::string to_string() const;
  auto operator<=>(const IpAddr&) const = default;
};

// An address:port (port in host order).
struct Backend {
  IpAddr addr;
  std::uint16_t port = 0;
  std::string to_string() const;
  auto operator<=>(const Backend&) const = default;
};

// What clients connect to: VIP, port (host order), protocol.
struct ServiceKey {
  IpAddr vip;
  std::uint16_t port = 0;
  Protocol proto = Protocol::kTcp;
  std::string to_string() const;  // "10.96.0.10:53/UDP", "[fd00::1]:80/TCP"
  auto operator<=>(const ServiceKey&) const = default;
};

// One VIP:port:proto and its backends.
struct ServiceSpec {
  ServiceKey key;
  // Ready backends: new connections are spread over these (random). Empty: refuse.
  std::vector<Backend> backends;
  // Terminating or not-ready backends: no new connections, but their established sockets
  // are left to finish (they are not drained while listed here).
  std::vector<Backend> terminating;
  bool affinity = false;                       // sessionAffinity: ClientIP
  std::uint32_t affinity_timeout_seconds = 0;  // when affinity
  bool operator==(const ServiceSpec&) const = default;
};

// An address prefix, e.g. 203.0.113.0/24 (loadBalancerSourceRanges).
struct Cidr {
  IpAddr addr;  // host bits are zero
  int prefix = 0;
  // Parses "a.b.c.d/n" or "x::/n"; the error names the text. Host bits are cleared.
  static Result<Cidr> parse(std::string_view text);
  std::string to_string() const;
  auto operator<=>(const Cidr&) const = default;
};

// A backend of the NodePort datapath: remote ones (on another node) are reached with SNAT
// to the node's address unless the service's externalTrafficPolicy is Local.
struct NodePortBackend {
  Backend backend;
  bool remote = false;
  auto operator<=>(const NodePortBackend&) const = default;
};

// One address:port:proto reachable from outside the node (node address + nodePort,
// LoadBalancer ingress IP or externalIP + port) and how to balance it. IPv4 only.
struct NodePortSpec {
  ServiceKey key;
  std::vector<NodePortBackend> backends;  // ready; empty: new flows are dropped
  std::vector<Backend> terminating;       // their established flows continue; no new ones
  bool local_policy = false;              // externalTrafficPolicy: Local (no SNAT ever)
  std::vector<Cidr> source_ranges;        // non-empty: only these clients (IPv4 entries)
  bool operator==(const NodePortSpec&) const = default;
};

// Per-service counters of the socket load balancer (kl_lb_stats_v1), summed over CPUs.
struct ServiceStats {
  std::uint64_t connects = 0;  // connect() given a backend
  std::uint64_t sendmsgs = 0;  // unconnected UDP sendmsg() given a backend
  std::uint64_t refused = 0;   // ECONNREFUSED: no ready backend
  bool operator==(const ServiceStats&) const = default;
};

// Per-service counters of the NodePort datapath (kl_np_stats_v1), summed over CPUs.
struct NodePortStats {
  std::uint64_t flows = 0;       // new flows given a backend
  std::uint64_t packets = 0;     // client -> service packets translated
  std::uint64_t bytes = 0;       // their bytes
  std::uint64_t no_backend = 0;  // packets dropped: no ready backend
  std::uint64_t denied = 0;      // packets dropped: loadBalancerSourceRanges
  bool operator==(const NodePortStats&) const = default;
};

}  // namespace kernlet::bpf
