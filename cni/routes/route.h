// NodeRoute, prefix and address values for host-gw routing, and the pure computations over them:
// which routes the Nodes ask for (one per other node's podCIDR, via its InternalIP) and
// what to change to get from the routes that exist to those.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::cni::routes {

// An IPv4 or IPv6 address. IPv4 uses the first 4 bytes of `bytes`.
struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  size_t size() const;  // 4 or 16
  std::string str() const;
  auto operator<=>(const IpAddress&) const = default;
};

// A network prefix with its host bits zero ("10.244.1.0/24").
struct IpPrefix {
  IpAddress address;
  int length = 0;

  std::string str() const;
  bool contains(const IpAddress& a) const;
  bool overlaps(const IpPrefix& other) const;
  auto operator<=>(const IpPrefix&) const = default;
};

// "10.244.1.5" or "fd00::1". Errors (kInvalidArgument) quote the text.
Result<IpAddress> parse_ip(std::string_view text);
// "10.244.1.0/24"; host bits set ("10.244.1.5/24") are an error, as they are for a
// Node's podCIDR. Errors (kInvalidArgument) quote the text.
Result<IpPrefix> parse_prefix(std::string_view text);

// A route `dst via gateway` (main table, kernlet's protocol). `node` says which Node asked
// for it (for log lines); it is not part of the route's identity.
struct NodeRoute {
  IpPrefix dst;
  IpAddress gateway;
  std::string node;

  std::string str() const;  // "10.244.2.0/24 via 198.18.0.12"
  bool same_route(const NodeRoute& o) const { return dst == o.dst && gateway == o.gateway; }
  bool operator<(const NodeRoute& o) const { return dst != o.dst ? dst < o.dst : gateway < o.gateway; }
};

struct DesiredRoutes {
  std::vector<NodeRoute> routes;          // sorted by dst, one per dst
  std::vector<std::string> skipped;   // why a node (or one of its CIDRs) got no route
};

// The routes the Nodes ask for on node `self`: for every other Node, each of spec.podCIDRs
// (or spec.podCIDR) via that Node's first InternalIP of the same family. A Node without a
// podCIDR or without such an address gets none (a line in `skipped`); so does a CIDR that
// overlaps this node's own podCIDRs or another node's CIDR already taken (the
// lexically first node name wins, so every agent decides alike).
DesiredRoutes desired_routes(const std::vector<const json::object*>& nodes, std::string_view self);

// What reconcile does: remove every existing route that is not desired (exactly: dst and
// gateway), then add every desired route that does not exist. Both sorted.
struct RoutePlan {
  std::vector<NodeRoute> remove;
  std::vector<NodeRoute> add;
  bool empty() const { return remove.empty() && add.empty(); }
};
RoutePlan plan_routes(const std::vector<NodeRoute>& desired, const std::vector<NodeRoute>& existing);

}  // namespace kernlet::cni::routes
