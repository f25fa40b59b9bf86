#include "cni/routes/netlink_routes.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <vector>

namespace kernlet::cni::routes {

Result<std::unique_ptr<NetlinkRouteTable>> NetlinkRouteTable::open(uint8_t protocol) {
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == nullptr) return Error::from_errno("netlink route socket: open");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error e = Error::from_errno("netlink route socket: bind");
    mnl_socket_close(nl);
    return e;
  }
  return std::unique_ptr<NetlinkRouteTable>(new NetlinkRouteTable(nl, protocol));
}

NetlinkRouteTable::NetlinkRouteTable(mnl_socket* nl, uint8_t protocol)
    : nl_(nl), portid_(mnl_socket_get_portid(nl)), seq_(static_cast<uint32_t>(::time(nullptr))), protocol_(protocol) {}

NetlinkRouteTable::~NetlinkRouteTable() { mnl_socket_close(nl_); }

namespace {

struct DumpState {
  uint8_t protocol;
  std::vector<NodeRoute>* out;
};

int route_attr(const nlattr* attr, void* data) {
  auto** tb = static_cast<const nlattr**>(data);
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, RTA_MAX) < 0) return MNL_CB_OK;
  tb[type] = attr;
  return MNL_CB_OK;
}

int on_route(const nlmsghdr* nlh, void* data) {
  auto* st = static_cast<DumpState*>(data);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_protocol != st->protocol || rtm->rtm_type != RTN_UNICAST) return MNL_CB_OK;
  if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return MNL_CB_OK;
  const nlattr* tb[RTA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(*rtm), route_attr, tb);
  uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
  if (table != RT_TABLE_MAIN || tb[RTA_GATEWAY] == nullptr) return MNL_CB_OK;
  NodeRoute r;
  r.dst.address.family = rtm->rtm_family;
  r.dst.length = rtm->rtm_dst_len;
  r.gateway.family = rtm->rtm_family;
  const size_t len = r.gateway.size();
  if (tb[RTA_DST] != nullptr) {
    if (mnl_attr_get_payload_len(tb[RTA_DST]) != len) return MNL_CB_OK;
    std::copy_n(static_cast<const uint8_t*>(mnl_attr_get_payload(tb[RTA_DST])), len, r.dst.address.bytes.begin());
  }
  if (mnl_attr_get_payload_len(tb[RTA_GATEWAY]) != len) return MNL_CB_OK;
  std::copy_n(static_cast<const uint8_t*>(mnl_attr_get_payload(tb[RTA_GATEWAY])), len, r.gateway.bytes.begin());
  st->out->push_back(r);
  return MNL_CB_OK;
}

}  // namespace

Result<std::vector<NodeRoute>> NetlinkRouteTable::list() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++seq_;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_UNSPEC;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Error::from_errno("netlink: dump routes: send");
  std::vector<NodeRoute> out;
  DumpState st{protocol_, &out};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) return Error::from_errno("netlink: dump routes: receive");
    int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq_, portid_, on_route, &st);
    if (rc == MNL_CB_STOP) break;
    if (rc < 0) return Error::from_errno("netlink: dump routes");
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> NetlinkRouteTable::change(int type, const NodeRoute& r, uint16_t flags) {
  if (r.dst.address.family != r.gateway.family || (r.dst.address.family != AF_INET && r.dst.address.family != AF_INET6))
    return Error(ErrorCode::kInvalidArgument, "route " + r.str() + ": destination and gateway families differ");
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = static_cast<uint16_t>(type);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = ++seq_;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(r.dst.address.family);
  rtm->rtm_dst_len = static_cast<uint8_t>(r.dst.length);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = protocol_;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  const auto len = static_cast<uint16_t>(r.gateway.size());
  mnl_attr_put(nlh, RTA_DST, len, r.dst.address.bytes.data());
  mnl_attr_put(nlh, RTA_GATEWAY, len, r.gateway.bytes.data());
  const char* what = type == RTM_NEWROUTE ? "add route " : "delete route ";
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return Error::from_errno(what + r.str() + ": send");
  ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
  if (n < 0) return Error::from_errno(what + r.str() + ": receive");
  if (mnl_cb_run(buf.data(), static_cast<size_t>(n), seq_, portid_, nullptr, nullptr) < 0) {
    if (type == RTM_DELROUTE && errno == ESRCH) return Ok();
    return Error::from_errno(what + r.str());
  }
  return Ok();
}

Result<void> NetlinkRouteTable::add(const NodeRoute& r) { return change(RTM_NEWROUTE, r, NLM_F_CREATE | NLM_F_EXCL); }

Result<void> NetlinkRouteTable::remove(const NodeRoute& r) { return change(RTM_DELROUTE, r, 0); }

}  // namespace kernlet::cni::routes
