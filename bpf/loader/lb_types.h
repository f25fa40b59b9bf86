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
  // Terminating backends: no new connections, but their established sockets are left to
  // finish (they are not drained while listed here).
  std::vector<Backend> terminating;
  bool affinity = false;                       // sessionAffinity: ClientIP
  std::uint32_t affinity_timeout_seconds = 0;  // when affinity
  bool operator==(const ServiceSpec&) const = default;
};

}  // namespace kernlet::bpf
