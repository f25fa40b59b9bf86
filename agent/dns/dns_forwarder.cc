#include "agent/dns/dns_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/dns/resolv_conf.h"
#include "api/unique_fd.h"

namespace kernlet::agent::dns {

namespace {

using Clock = std::chrono::steady_clock;

bool parse_upstream(const std::string& ip, uint16_t port, Upstream* out) {
  std::string host = ip.substr(0, ip.find('%'));  // a scoped IPv6 address: the scope is dropped
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out->addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
  if (::inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    out->len = sizeof(sockaddr_in);
    out->text = host + ":" + std::to_string(port);
    return true;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    out->len = sizeof(sockaddr_in6);
    out->text = "[" + host + "]:" + std::to_string(port);
    return true;
  }
  return false;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd until the deadline. False on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

uint16_t random_id() {
  uint16_t id = 0;
  if (::getrandom(&id, sizeof id, 0) != sizeof id) id = static_cast<uint16_t>(Clock::now().time_since_epoch().count());
  return id;
}

Result<std::vector<uint8_t>> try_udp(const Upstream& up, std::vector<uint8_t> msg, Clock::time_point deadline) {
  UniqueFd fd(::socket(up.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Error::from_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&up.addr), up.len) != 0) return Error::from_errno("connect");
  const uint16_t id = random_id();
  msg[0] = static_cast<uint8_t>(id >> 8);
  msg[1] = static_cast<uint8_t>(id);
  if (::send(fd.get(), msg.data(), msg.size(), 0) < 0) return Error::from_errno("send");
  std::vector<uint8_t> buf(65535);
  while (wait_for(fd.get(), POLLIN, deadline)) {
    ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Error::from_errno("recv");  // ECONNREFUSED: nothing listens there
    }
    // A connected socket only takes the upstream's datagrams; the id must be ours too.
    if (n < 12 || buf[0] != msg[0] || buf[1] != msg[1] || (buf[2] & 0x80) == 0) continue;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
  return Error(ErrorCode::kDeadlineExceeded, "timed out");
}

Result<void> write_all(int fd, const uint8_t* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Error::from_errno("send");
      if (!wait_for(fd, POLLOUT, deadline)) return Error(ErrorCode::kDeadlineExceeded, "timed out");
      continue;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Ok();
}

Result<void> read_all(int fd, uint8_t* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r == 0) return Error(ErrorCode::kUnavailable, "connection closed");
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Error::from_errno("recv");
      if (!wait_for(fd, POLLIN, deadline)) return Error(ErrorCode::kDeadlineExceeded, "timed out");
      continue;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return Ok();
}

Result<std::vector<uint8_t>> try_tcp(const Upstream& up, std::vector<uint8_t> msg, Clock::time_point deadline) {
  UniqueFd fd(::socket(up.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Error::from_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&up.addr), up.len) != 0) {
    if (errno != EINPROGRESS) return Error::from_errno("connect");
    if (!wait_for(fd.get(), POLLOUT, deadline)) return Error(ErrorCode::kDeadlineExceeded, "connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      return Error::from_errno("connect");
    }
  }
  const uint16_t id = random_id();
  msg[0] = static_cast<uint8_t>(id >> 8);
  msg[1] = static_cast<uint8_t>(id);
  uint8_t len[2] = {static_cast<uint8_t>(msg.size() >> 8), static_cast<uint8_t>(msg.size())};
  KL_TRY(write_all(fd.get(), len, 2, deadline));
  KL_TRY(write_all(fd.get(), msg.data(), msg.size(), deadline));
  KL_TRY(read_all(fd.get(), len, 2, deadline));
  std::vector<uint8_t> buf(static_cast<size_t>(len[0]) << 8 | len[1]);
  KL_TRY(read_all(fd.get(), buf.data(), buf.size(), deadline));
  if (buf.size() < 12 || buf[0] != msg[0] || buf[1] != msg[1])
    return Error(ErrorCode::kInvalidArgument, "answer with a wrong id");
  return buf;
}

}  // namespace

DnsForwarder::DnsForwarder(ForwarderOptions options) : options_(std::move(options)) {}

std::vector<Upstream> DnsForwarder::upstreams() {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  if (loaded_ && now - checked_ < std::chrono::seconds(2)) return upstreams_;
  checked_ = now;
  struct stat st {};
  const bool exists = ::stat(options_.resolv_conf.c_str(), &st) == 0;
  if (loaded_ && exists && st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec)
    return upstreams_;
  loaded_ = true;
  mtime_ = exists ? st.st_mtim : timespec{};
  upstreams_.clear();
  auto rc = read_resolv_conf(options_.resolv_conf);
  if (!rc.ok()) {
    std::fprintf(stderr, "W cluster dns: %s\n", rc.error().to_string().c_str());
    return upstreams_;
  }
  for (const auto& ns : rc->nameservers) {
    if (std::find(options_.exclude.begin(), options_.exclude.end(), ns) != options_.exclude.end()) continue;
    Upstream up;
    if (parse_upstream(ns, options_.port, &up)) upstreams_.push_back(up);
  }
  return upstreams_;
}

Result<std::vector<uint8_t>> DnsForwarder::forward(std::span<const uint8_t> query, bool tcp) {
  if (query.size() < 12) return Error(ErrorCode::kInvalidArgument, "forward: query shorter than a DNS header");
  auto ups = upstreams();
  if (ups.empty())
    return Error(ErrorCode::kUnavailable, "forward: no upstream nameserver in " + options_.resolv_conf);
  std::vector<uint8_t> msg(query.begin(), query.end());
  std::string why;
  for (int round = 0; round < std::max(1, options_.attempts); ++round) {
    for (const auto& up : ups) {
      const auto deadline = Clock::now() + options_.timeout;
      auto r = tcp ? try_tcp(up, msg, deadline) : try_udp(up, msg, deadline);
      if (r.ok()) {
        (*r)[0] = query[0];
        (*r)[1] = query[1];
        return r;
      }
      if (!why.empty()) why += "; ";
      why += up.text + (tcp ? "/tcp: " : "/udp: ") + r.error().to_string();
    }
  }
  return Error(ErrorCode::kUnavailable, "forward: " + why);
}

}  // namespace kernlet::agent::dns
