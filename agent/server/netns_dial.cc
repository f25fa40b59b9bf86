#include "agent/server/netns_dial.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace kernlet::agent {
namespace {

const char* family_name(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

// Connects `fd` (non-blocking) to `addr`, waiting at most `timeout`. An empty string on
// success, else what went wrong.
std::string connect_within(int fd, const sockaddr* addr, socklen_t len, std::chrono::milliseconds timeout) {
  if (::connect(fd, addr, len) == 0) return {};
  if (errno != EINPROGRESS) return std::strerror(errno);
  pollfd p{fd, POLLOUT, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return std::string("poll: ") + std::strerror(errno);
  if (n == 0) return "timed out after " + std::to_string(timeout.count()) + " ms";
  int err = 0;
  socklen_t elen = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) return std::strerror(errno);
  return err == 0 ? std::string() : std::string(std::strerror(err));
}

}  // namespace

Result<UniqueFd> socket_in_netns(int netns_fd, int family) {
  const int type = SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK;
  if (netns_fd < 0) {
    int fd = ::socket(family, type, 0);
    if (fd < 0) return Error::from_errno(std::string(family_name(family)) + " socket");
    return UniqueFd(fd);
  }
  int fd = -1;
  int setns_errno = 0, socket_errno = 0;
  // The thread ends in the pod's namespace and takes it with it.
  std::thread t([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      setns_errno = errno;
      return;
    }
    fd = ::socket(family, type, 0);
    if (fd < 0) socket_errno = errno;
  });
  t.join();
  if (setns_errno != 0) return Error("enter the pod's network namespace: setns", setns_errno);
  if (fd < 0) return Error(std::string(family_name(family)) + " socket in the pod's network namespace", socket_errno);
  return UniqueFd(fd);
}

Result<UniqueFd> dial_pod_loopback(int netns_fd, uint16_t port, std::chrono::milliseconds timeout) {
  const std::string p = std::to_string(port);
  std::string failures;
  {
    auto s = socket_in_netns(netns_fd, AF_INET);
    if (!s.ok()) return std::move(s).error();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string why = connect_within(s->get(), reinterpret_cast<const sockaddr*>(&a), sizeof a, timeout);
    if (why.empty()) return std::move(*s);
    failures = "connect to 127.0.0.1:" + p + ": " + why;
  }
  auto s6 = socket_in_netns(netns_fd, AF_INET6);
  if (!s6.ok()) {
    // A pod without IPv6 (disabled by sysctl): the IPv4 answer is the one to show.
    return Error(ErrorCode::kUnavailable, failures + "; [::1]:" + p + ": " + s6.error().to_string());
  }
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(port);
  a6.sin6_addr = in6addr_loopback;
  std::string why = connect_within(s6->get(), reinterpret_cast<const sockaddr*>(&a6), sizeof a6, timeout);
  if (why.empty()) return std::move(*s6);
  return Error(ErrorCode::kUnavailable, failures + "; [::1]:" + p + ": " + why);
}

}  // namespace kernlet::agent
