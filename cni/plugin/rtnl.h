// RtnlSocket: a NETLINK_ROUTE socket (libmnl) with the handful of requests kernlet-cni
// makes, bound to the network namespace it was opened in. NetnsSwitch moves the calling
// thread into a namespace and back.
//
// Thread-safety: one socket per thread.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/result.h"
#include "api/unique_fd.h"

struct mnl_socket;

namespace kernlet::cni {

// Enters the netns at `path` for the calling thread; leaves it on destruction.
class NetnsSwitch {
 public:
  // Errors: kNotFound when `path` does not exist; setns errors.
  static Result<NetnsSwitch> enter(const std::string& path);
  NetnsSwitch(NetnsSwitch&&) noexcept = default;
  NetnsSwitch& operator=(NetnsSwitch&&) = delete;
  ~NetnsSwitch();

 private:
  explicit NetnsSwitch(UniqueFd back) : back_(std::move(back)) {}
  UniqueFd back_;
};

struct RtLink {
  int index = 0;
  unsigned flags = 0;
  int64_t mtu = 0;
  int master = 0;
  std::string name, mac, kind, slave_kind;
  int brport_mode = -1;  // hairpin (IFLA_BRPORT_MODE) when a bridge port, else -1
};

struct RtAddr {
  int index = 0;
  uint32_t address = 0;  // host order
  int prefix_len = 0;
};

struct RtRoute {
  uint32_t dst = 0;  // host order
  int dst_len = 0;
  uint32_t gateway = 0;
  int oif = 0;
  unsigned table = 0;
};

class RtnlSocket {
 public:
  // A socket in the calling thread's netns, or in the netns at `netns_path`.
  static Result<RtnlSocket> open();
  static Result<RtnlSocket> open_in(const std::string& netns_path);
  RtnlSocket(RtnlSocket&& o) noexcept;
  RtnlSocket& operator=(RtnlSocket&&) = delete;
  ~RtnlSocket();

  // nullopt when no link has that name.
  Result<std::optional<RtLink>> get_link(const std::string& name);
  // RTM_NEWLINK kind bridge with a fixed MAC (6 bytes); kAlreadyExists when the name is taken.
  Result<void> create_bridge(const std::string& name, int64_t mtu, const uint8_t* mac);
  Result<void> set_mtu(int index, int64_t mtu);
  // A veth `host` (mtu, master, up) whose peer `peer` (mtu) is created in `peer_netns_fd`.
  // kAlreadyExists when either name is taken.
  Result<void> create_veth(const std::string& host, int master, int64_t mtu,
                           const std::string& peer, int peer_netns_fd);
  Result<void> set_up(int index);
  Result<void> set_hairpin(int index, bool on);
  // Absent links are not an error.
  Result<void> delete_link(const std::string& name);
  // kAlreadyExists-tolerant: an identical address already there is success.
  Result<void> add_address(int index, uint32_t address, int prefix_len);
  Result<void> add_default_route(int oif, uint32_t gateway);
  Result<std::vector<RtAddr>> addresses();
  Result<std::vector<RtRoute>> routes();

 private:
  RtnlSocket(mnl_socket* nl, unsigned portid) : nl_(nl), portid_(portid) {}
  Result<void> request(nlmsghdr* nlh, const std::function<void(const nlmsghdr*)>& on_reply,
                       const std::string& what);

  mnl_socket* nl_ = nullptr;
  unsigned portid_ = 0;
  unsigned seq_ = 1;
};

}  // namespace kernlet::cni
