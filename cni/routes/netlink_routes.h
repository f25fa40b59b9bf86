// RouteTable: the node's routing table as host-gw routing needs it, a seam for tests.
// NetlinkRouteTable is the real one: rtnetlink through libmnl on a socket opened in the
// caller's network namespace (a socket stays in the netns it was created in, so the agent's
// routes land in the agent's netns whichever thread calls later).
//
// Only routes of one rtm_protocol (kernlet's, kRouteProtocol) in the main table are ever
// listed, added or removed: routes others made (the kernel's connected routes, an
// operator's static ones, another daemon's) are never touched. A route to a destination
// that already has a route of another owner fails with EEXIST rather than replacing it.
//
// Thread-safety: NetlinkRouteTable's calls are serialised by a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "api/result.h"
#include "cni/routes/route.h"

struct mnl_socket;

namespace kernlet::cni::routes {

// kernlet's rtm_protocol for the routes it owns. 0-4 are the kernel's, 8-18, 42, 99 and
// 186-192 are registered in iproute2's rt_protos; 107 is free. `ip route show proto 107`
// lists them.
inline constexpr uint8_t kRouteProtocol = 107;

class RouteTable {
 public:
  virtual ~RouteTable() = default;
  // Our routes (main table, our protocol, unicast via a gateway), sorted.
  virtual Result<std::vector<NodeRoute>> list() = 0;
  // Adds `dst via gateway`; EEXIST when the destination already has a route.
  virtual Result<void> add(const NodeRoute& r) = 0;
  // Removes our route `dst via gateway`; succeeds when it is already gone.
  virtual Result<void> remove(const NodeRoute& r) = 0;
};

class NetlinkRouteTable final : public RouteTable {
 public:
  // Opens and binds a NETLINK_ROUTE socket in the calling thread's network namespace.
  static Result<std::unique_ptr<NetlinkRouteTable>> open(uint8_t protocol = kRouteProtocol);
  ~NetlinkRouteTable() override;
  NetlinkRouteTable(const NetlinkRouteTable&) = delete;
  NetlinkRouteTable& operator=(const NetlinkRouteTable&) = delete;

  Result<std::vector<NodeRoute>> list() override;
  Result<void> add(const NodeRoute& r) override;
  Result<void> remove(const NodeRoute& r) override;

 private:
  NetlinkRouteTable(mnl_socket* nl, uint8_t protocol);
  Result<void> change(int type, const NodeRoute& r, uint16_t flags);

  std::mutex mu_;
  mnl_socket* nl_;
  uint32_t portid_;
  uint32_t seq_;
  uint8_t protocol_;
};

}  // namespace kernlet::cni::routes
