#include "cni/plugin/rtnl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace kernlet::cni {
namespace {

// Large enough for any dump batch the kernel sends (it fills up to 32 KiB per recv).
constexpr std::size_t kRecvSize = 32768;
constexpr std::size_t kSendSize = 4096;

std::string format_mac(const void* data, std::size_t len) {
  std::string out;
  const auto* b = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < len; ++i) {
    char h[4];
    std::snprintf(h, sizeof h, i == 0 ? "%02x" : ":%02x", b[i]);
    out += h;
  }
  return out;
}

nlmsghdr* put_header(char* buf, uint16_t type, uint16_t flags) {
  std::memset(buf, 0, kSendSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  return nlh;
}

ifinfomsg* put_ifinfo(nlmsghdr* nlh, int index = 0) {
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  return ifm;
}

// libmnl's mnl_attr_for_each macros assign void* and do not compile as C++.
template <class F>
void for_each_attr(const nlmsghdr* nlh, std::size_t offset, F f) {
  const auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, offset));
  const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  while (mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

template <class F>
void for_each_nested(const nlattr* nest, F f) {
  const auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
  const char* end = static_cast<const char*>(mnl_attr_get_payload(nest)) +
                    mnl_attr_get_payload_len(nest);
  while (mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

RtLink parse_link(const nlmsghdr* nlh) {
  RtLink l;
  const auto* ifm = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  l.index = ifm->ifi_index;
  l.flags = ifm->ifi_flags;
  for_each_attr(nlh, sizeof(ifinfomsg), [&](const nlattr* attr) {
    switch (mnl_attr_get_type(attr)) {
      case IFLA_IFNAME: l.name = mnl_attr_get_str(attr); break;
      case IFLA_MTU: l.mtu = mnl_attr_get_u32(attr); break;
      case IFLA_MASTER: l.master = static_cast<int>(mnl_attr_get_u32(attr)); break;
      case IFLA_ADDRESS:
        l.mac = format_mac(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));
        break;
      case IFLA_LINKINFO:
        for_each_nested(attr, [&](const nlattr* info) {
          switch (mnl_attr_get_type(info)) {
            case IFLA_INFO_KIND: l.kind = mnl_attr_get_str(info); break;
            case IFLA_INFO_SLAVE_KIND: l.slave_kind = mnl_attr_get_str(info); break;
            case IFLA_INFO_SLAVE_DATA:
              for_each_nested(info, [&](const nlattr* port) {
                if (mnl_attr_get_type(port) == IFLA_BRPORT_MODE) {
                  l.brport_mode = mnl_attr_get_u8(port);
                }
              });
              break;
            default: break;
          }
        });
        break;
      default: break;
    }
  });
  return l;
}

int dispatch(const nlmsghdr* nlh, void* data) {
  (*static_cast<const std::function<void(const nlmsghdr*)>*>(data))(nlh);
  return MNL_CB_OK;
}

Result<mnl_socket*> open_socket() {
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == nullptr) return Error::from_errno("rtnetlink: socket");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error e = Error::from_errno("rtnetlink: bind");
    mnl_socket_close(nl);
    return e;
  }
  // Ask for extended ACKs: the kernel then says which attribute it refused.
  int one = 1;
  mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof one);
  return nl;
}

}  // namespace

Result<NetnsSwitch> NetnsSwitch::enter(const std::string& path) {
  int back = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (back < 0) return Error::from_errno("open /proc/thread-self/ns/net");
  UniqueFd back_fd(back);
  int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "netns " + path + " does not exist");
    return Error::from_errno("open netns " + path);
  }
  UniqueFd target_fd(target);
  if (::setns(target, CLONE_NEWNET) != 0) return Error::from_errno("setns " + path);
  return NetnsSwitch(std::move(back_fd));
}

NetnsSwitch::~NetnsSwitch() {
  // Failing to return would leave this thread in a pod's netns: nothing sane follows.
  if (back_.valid() && ::setns(back_.get(), CLONE_NEWNET) != 0) std::abort();
}

Result<RtnlSocket> RtnlSocket::open() {
  KL_ASSIGN_OR_RETURN(mnl_socket * nl, open_socket());
  return RtnlSocket(nl, mnl_socket_get_portid(nl));
}

Result<RtnlSocket> RtnlSocket::open_in(const std::string& netns_path) {
  KL_ASSIGN_OR_RETURN(NetnsSwitch in, NetnsSwitch::enter(netns_path));
  // A netlink socket stays bound to the netns it was created in.
  return open();
}

RtnlSocket::RtnlSocket(RtnlSocket&& o) noexcept
    : nl_(std::exchange(o.nl_, nullptr)), portid_(o.portid_), seq_(o.seq_) {}

RtnlSocket::~RtnlSocket() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

Result<void> RtnlSocket::request(nlmsghdr* nlh,
                                 const std::function<void(const nlmsghdr*)>& on_reply,
                                 const std::string& what) {
  unsigned seq = seq_++;
  nlh->nlmsg_seq = seq;
  // NLM_F_DUMP is two bits, one of which NLM_F_EXCL shares: compare both.
  if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP) nlh->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Error::from_errno(what + ": send");
  std::vector<char> buf(kRecvSize);
  std::function<void(const nlmsghdr*)> ignore = [](const nlmsghdr*) {};
  const auto* cb = on_reply ? &on_reply : &ignore;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(what + ": recv");
    }
    int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid_, dispatch,
                        const_cast<std::function<void(const nlmsghdr*)>*>(cb));
    if (rc == MNL_CB_ERROR) {
      int e = errno;
      if (e == EEXIST) return Error(ErrorCode::kAlreadyExists, what + ": exists");
      if (e == ENODEV) return Error(ErrorCode::kNotFound, what + ": no such device");
      return Error(what, e);
    }
    if (rc <= MNL_CB_STOP) return Ok();
  }
}

Result<std::optional<RtLink>> RtnlSocket::get_link(const std::string& name) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_GETLINK, 0);
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  std::optional<RtLink> link;
  auto r = request(
      nlh, [&](const nlmsghdr* m) {
        if (m->nlmsg_type == RTM_NEWLINK) link = parse_link(m);
      },
      "get link " + name);
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kNotFound) return std::optional<RtLink>();
    return std::move(r).error();
  }
  return link;
}

Result<void> RtnlSocket::create_bridge(const std::string& name, int64_t mtu,
                                       const uint8_t* mac) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  return request(nlh, {}, "create bridge " + name);
}

Result<void> RtnlSocket::create_veth(const std::string& host, int master, int64_t mtu,
                                     const std::string& peer, int peer_netns_fd) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg* ifm = put_ifinfo(nlh);
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, host.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(master));
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer_attr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // The peer's attributes follow an ifinfomsg of its own inside VETH_INFO_PEER.
  auto* peer_ifm = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(nlh));
  std::memset(peer_ifm, 0, sizeof *peer_ifm);
  nlh->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(nlh, peer_attr);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  return request(nlh, {}, "create veth " + host + " (peer " + peer + ")");
}

Result<void> RtnlSocket::set_up(int index) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, 0);
  ifinfomsg* ifm = put_ifinfo(nlh, index);
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  return request(nlh, {}, "set link " + std::to_string(index) + " up");
}

Result<void> RtnlSocket::set_mtu(int index, int64_t mtu) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, 0);
  put_ifinfo(nlh, index);
  mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  return request(nlh, {}, "set mtu of link " + std::to_string(index));
}

Result<void> RtnlSocket::set_hairpin(int index, bool on) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, 0);
  put_ifinfo(nlh, index);
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
  mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on ? 1 : 0);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  return request(nlh, {}, "set hairpin on bridge port " + std::to_string(index));
}

Result<void> RtnlSocket::delete_link(const std::string& name) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_DELLINK, 0);
  put_ifinfo(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  auto r = request(nlh, {}, "delete link " + name);
  if (!r.ok() && r.error().code() == ErrorCode::kNotFound) return Ok();
  return r;
}

Result<void> RtnlSocket::add_address(int index, uint32_t address, int prefix_len) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix_len);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(index);
  uint32_t a = htonl(address);
  mnl_attr_put_u32(nlh, IFA_LOCAL, a);
  mnl_attr_put_u32(nlh, IFA_ADDRESS, a);
  if (prefix_len < 31) {
    uint32_t mask = prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
    mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(address | ~mask));
  }
  auto r = request(nlh, {}, "add address to link " + std::to_string(index));
  if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) return Ok();
  return r;
}

Result<void> RtnlSocket::add_default_route(int oif, uint32_t gateway) {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(oif));
  auto r = request(nlh, {}, "add default route via link " + std::to_string(oif));
  if (!r.ok() && r.error().code() == ErrorCode::kAlreadyExists) return Ok();
  return r;
}

Result<std::vector<RtAddr>> RtnlSocket::addresses() {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_GETADDR, NLM_F_DUMP);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  std::vector<RtAddr> out;
  KL_TRY(request(
      nlh,
      [&](const nlmsghdr* m) {
        if (m->nlmsg_type != RTM_NEWADDR) return;
        const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
        if (a->ifa_family != AF_INET) return;
        RtAddr r;
        r.index = static_cast<int>(a->ifa_index);
        r.prefix_len = a->ifa_prefixlen;
        for_each_attr(m, sizeof(ifaddrmsg), [&](const nlattr* attr) {
          if (mnl_attr_get_type(attr) == IFA_LOCAL) r.address = ntohl(mnl_attr_get_u32(attr));
        });
        out.push_back(r);
      },
      "dump addresses"));
  return out;
}

Result<std::vector<RtRoute>> RtnlSocket::routes() {
  char buf[kSendSize];
  nlmsghdr* nlh = put_header(buf, RTM_GETROUTE, NLM_F_DUMP);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  std::vector<RtRoute> out;
  KL_TRY(request(
      nlh,
      [&](const nlmsghdr* m) {
        if (m->nlmsg_type != RTM_NEWROUTE) return;
        const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
        RtRoute r;
        r.dst_len = rt->rtm_dst_len;
        r.table = rt->rtm_table;
        for_each_attr(m, sizeof(rtmsg), [&](const nlattr* attr) {
          switch (mnl_attr_get_type(attr)) {
            case RTA_DST: r.dst = ntohl(mnl_attr_get_u32(attr)); break;
            case RTA_GATEWAY: r.gateway = ntohl(mnl_attr_get_u32(attr)); break;
            case RTA_OIF: r.oif = static_cast<int>(mnl_attr_get_u32(attr)); break;
            case RTA_TABLE: r.table = mnl_attr_get_u32(attr); break;
            default: break;
          }
        });
        out.push_back(r);
      },
      "dump routes"));
  return out;
}

}  // namespace kernlet::cni
