#include "agent/dns/local_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace kernlet::agent::dns {

namespace {

struct Addr {
  int family = 0;
  unsigned char bytes[16] = {};
};

Result<Addr> parse(const std::string& ip) {
  Addr a;
  if (::inet_pton(AF_INET, ip.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
  } else if (::inet_pton(AF_INET6, ip.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
  } else {
    return Error(ErrorCode::kInvalidArgument, "cluster dns address \"" + ip + "\" is not an IP address");
  }
  return a;
}

struct MnlClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};

// One RTM_NEWADDR or RTM_DELADDR for `a` on lo, acknowledged. Returns the errno (0: done).
Result<int> address_request(const Addr& a, uint16_t type, uint16_t flags, const std::string& what) {
  std::unique_ptr<mnl_socket, MnlClose> nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  if (!nl) return Error::from_errno(what + ": netlink socket");
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return Error::from_errno(what + ": netlink bind");
  const unsigned lo = ::if_nametoindex("lo");
  if (lo == 0) return Error::from_errno(what + ": no link lo");
  char buf[8192];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = static_cast<unsigned>(::time(nullptr));
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<unsigned char>(a.family);
  ifa->ifa_prefixlen = a.family == AF_INET ? 32 : 128;
  ifa->ifa_scope = RT_SCOPE_HOST;
  ifa->ifa_index = lo;
  const size_t len = a.family == AF_INET ? 4 : 16;
  mnl_attr_put(nlh, IFA_LOCAL, len, a.bytes);
  mnl_attr_put(nlh, IFA_ADDRESS, len, a.bytes);
  if (a.family == AF_INET && type == RTM_NEWADDR) mnl_attr_put_strz(nlh, IFA_LABEL, "lo:kldns");
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) return Error::from_errno(what + ": netlink send");
  char rbuf[8192];
  ssize_t n = mnl_socket_recvfrom(nl.get(), rbuf, sizeof rbuf);
  if (n < 0) return Error::from_errno(what + ": netlink recv");
  int rc = mnl_cb_run(rbuf, static_cast<size_t>(n), nlh->nlmsg_seq, mnl_socket_get_portid(nl.get()), nullptr, nullptr);
  return rc == MNL_CB_ERROR ? errno : 0;
}

}  // namespace

bool is_local_address(const std::string& ip) {
  auto a = parse(ip);
  if (!a.ok()) return false;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != a->family) continue;
    if (a->family == AF_INET) {
      found = std::memcmp(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, a->bytes, 4) == 0;
    } else {
      found = std::memcmp(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, a->bytes, 16) == 0;
    }
  }
  ::freeifaddrs(list);
  return found;
}

Result<bool> ensure_local_address(const std::string& ip) {
  KL_ASSIGN_OR_RETURN(Addr a, parse(ip));
  if (is_local_address(ip)) return false;
  const std::string what = "add cluster dns address " + ip + " to lo";
  KL_ASSIGN_OR_RETURN(int err, address_request(a, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, what));
  if (err == EEXIST) return false;
  if (err != 0) return Error(what, err);
  return true;
}

Result<void> remove_loopback_address(const std::string& ip) {
  KL_ASSIGN_OR_RETURN(Addr a, parse(ip));
  const std::string what = "remove address " + ip + " from lo";
  KL_ASSIGN_OR_RETURN(int err, address_request(a, RTM_DELADDR, 0, what));
  if (err != 0 && err != EADDRNOTAVAIL && err != ENOENT) return Error(what, err);
  return Ok();
}

}  // namespace kernlet::agent::dns
