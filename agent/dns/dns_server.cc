#include "agent/dns/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "agent/dns/dns_message.h"

namespace kernlet::agent::dns {

namespace {

using Clock = std::chrono::steady_clock;

Result<std::pair<sockaddr_storage, socklen_t>> listen_addr(const std::string& ip, uint16_t port) {
  sockaddr_storage ss{};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, ip.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    return std::pair{ss, static_cast<socklen_t>(sizeof(sockaddr_in))};
  }
  if (::inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    return std::pair{ss, static_cast<socklen_t>(sizeof(sockaddr_in6))};
  }
  return Error(ErrorCode::kInvalidArgument, "cluster dns: listen address \"" + ip + "\" is not an IP address");
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Polls fd and the stop eventfd. 1: fd ready, 0: timeout, -1: stop.
int wait_ready(int fd, int stop_fd, int timeout_ms) {
  pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  while (true) {
    int n = ::poll(p, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (p[1].revents & POLLIN)) return -1;
    return n == 0 ? 0 : 1;
  }
}

// Reads exactly n bytes of a TCP message: false on EOF, error, stop or after `deadline`.
bool read_exact(int fd, int stop_fd, uint8_t* p, size_t n, Clock::time_point deadline) {
  while (n > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || wait_ready(fd, stop_fd, static_cast<int>(left)) != 1) return false;
    ssize_t r = ::recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_exact(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<DnsServer>> DnsServer::start(DnsServerOptions options, RecordsFn records,
                                                    DnsForwarder* forwarder) {
  std::unique_ptr<DnsServer> s(new DnsServer());
  s->options_ = std::move(options);
  s->records_ = std::move(records);
  s->forwarder_ = forwarder;
  const std::string where = "cluster dns on " + s->options_.address + ":" + std::to_string(s->options_.port);
  KL_ASSIGN_OR_RETURN(auto addr, listen_addr(s->options_.address, s->options_.port));
  const int family = addr.first.ss_family;
  s->udp_.reset(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  s->tcp_.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  s->stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->udp_ || !s->tcp_ || !s->stop_fd_) return Error::from_errno(where + ": socket");
  int one = 1;
  ::setsockopt(s->tcp_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s->udp_.get(), reinterpret_cast<const sockaddr*>(&addr.first), addr.second) != 0)
    return Error::from_errno(where + ": bind udp");
  s->udp_port_ = bound_port(s->udp_.get());
  if (s->options_.port == 0) reinterpret_cast<sockaddr_in*>(&addr.first)->sin_port = htons(s->udp_port_);
  if (::bind(s->tcp_.get(), reinterpret_cast<const sockaddr*>(&addr.first), addr.second) != 0)
    return Error::from_errno(where + ": bind tcp");
  if (::listen(s->tcp_.get(), 128) != 0) return Error::from_errno(where + ": listen");
  s->tcp_port_ = bound_port(s->tcp_.get());
  DnsServer* self = s.get();
  s->udp_thread_ = std::thread([self] { self->udp_loop(); });
  s->tcp_thread_ = std::thread([self] { self->tcp_loop(); });
  for (int i = 0; i < std::max(1, s->options_.forward_workers); ++i)
    s->workers_.emplace_back([self] { self->forward_loop(); });
  return s;
}

DnsServer::~DnsServer() { stop(); }

void DnsServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  if (stop_fd_) (void)!::write(stop_fd_.get(), &one, sizeof one);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (udp_thread_.joinable()) udp_thread_.join();
  if (tcp_thread_.joinable()) tcp_thread_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  for (auto& c : conns_)
    if (c->thread.joinable()) c->thread.join();
  conns_.clear();
}

void DnsServer::udp_loop() {
  std::vector<uint8_t> buf(65535);
  while (true) {
    if (wait_ready(udp_.get(), stop_fd_.get(), -1) < 0) return;
    while (true) {
      Forward f;
      f.client_len = sizeof f.client;
      ssize_t n = ::recvfrom(udp_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&f.client),
                             &f.client_len);
      if (n < 0) break;  // EAGAIN: drained
      std::span<const uint8_t> q(buf.data(), static_cast<size_t>(n));
      auto snapshot = records_();
      QueryOutcome out = answer_query(q, snapshot.get(), options_.domain, false);
      if (out.action == QueryAction::kReply) {
        (void)::sendto(udp_.get(), out.reply.data(), out.reply.size(), 0, reinterpret_cast<sockaddr*>(&f.client),
                       f.client_len);
      } else if (out.action == QueryAction::kForward) {
        f.query.assign(q.begin(), q.end());
        std::lock_guard lock(mu_);
        if (queue_.size() < options_.forward_queue) {
          queue_.push_back(std::move(f));
          cv_.notify_one();
        }
      }
    }
  }
}

void DnsServer::forward_loop() {
  while (true) {
    Forward f;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      f = std::move(queue_.front());
      queue_.pop_front();
    }
    auto r = forwarder_->forward(f.query, false);
    std::vector<uint8_t> reply;
    if (r.ok()) {
      reply = std::move(*r);
    } else {
      log_forward_error(r.error());
      reply = error_reply(f.query, kServFail);
    }
    if (!reply.empty())
      (void)::sendto(udp_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&f.client), f.client_len);
  }
}

void DnsServer::tcp_loop() {
  while (true) {
    int ready = wait_ready(tcp_.get(), stop_fd_.get(), 1000);
    if (ready < 0) return;
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
    if (ready == 0) continue;
    UniqueFd fd(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) continue;
    if (conns_.size() >= options_.max_tcp_connections) continue;  // closed: the client tries again
    auto c = std::make_unique<Conn>();
    c->fd = std::move(fd);
    Conn* raw = c.get();
    c->thread = std::thread([this, raw] { serve_tcp(raw); });
    conns_.push_back(std::move(c));
  }
}

void DnsServer::serve_tcp(Conn* c) {
  const int fd = c->fd.get();
  while (true) {
    if (wait_ready(fd, stop_fd_.get(), static_cast<int>(options_.tcp_idle.count())) != 1) break;
    // A message, once begun, must arrive within 5 s (a stalled client frees its slot).
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    uint8_t len[2];
    if (!read_exact(fd, stop_fd_.get(), len, 2, deadline)) break;
    std::vector<uint8_t> q(static_cast<size_t>(len[0]) << 8 | len[1]);
    if (q.empty() || !read_exact(fd, stop_fd_.get(), q.data(), q.size(), deadline)) break;
    std::vector<uint8_t> reply = answer_tcp(q);
    if (reply.empty()) break;
    uint8_t out_len[2] = {static_cast<uint8_t>(reply.size() >> 8), static_cast<uint8_t>(reply.size())};
    if (!write_exact(fd, out_len, 2) || !write_exact(fd, reply.data(), reply.size())) break;
  }
  c->fd.reset();
  c->done = true;
}

std::vector<uint8_t> DnsServer::answer_tcp(const std::vector<uint8_t>& query) {
  auto snapshot = records_();
  QueryOutcome out = answer_query(query, snapshot.get(), options_.domain, true);
  if (out.action != QueryAction::kForward) return out.reply;
  auto r = forwarder_->forward(query, true);
  if (r.ok()) return std::move(*r);
  log_forward_error(r.error());
  return error_reply(query, kServFail);
}

// At most one line per 10 s: an unreachable upstream must not flood the agent's log.
void DnsServer::log_forward_error(const Error& e) {
  std::lock_guard lock(log_mu_);
  auto now = Clock::now();
  if (now - last_log_ < std::chrono::seconds(10)) return;
  last_log_ = now;
  std::fprintf(stderr, "W cluster dns: %s\n", e.to_string().c_str());
}

}  // namespace kernlet::agent::dns
