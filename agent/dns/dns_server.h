// DnsServer: the cluster DNS server on one address, UDP and TCP (RFC 1035 4.2, RFC 7766).
// Cluster names are answered from the newest DnsRecords snapshot on the receiving thread
// (never a call to the API server); other names are forwarded upstream by DnsForwarder on
// a small pool of workers, so a slow upstream never delays a cluster answer. TCP
// connections each get a thread (at most max_tcp_connections; more are closed at once),
// may carry several queries and close after tcp_idle without one.
// Thread-safety: start/stop from one thread; the records function is called from the
// server's threads and must be thread-safe.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/dns/dns_forwarder.h"
#include "agent/dns/dns_records.h"
#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::agent::dns {

struct DnsServerOptions {
  std::string address;  // an IPv4 or IPv6 literal that is on this host
  uint16_t port = 53;   // 0: any free port (the same for UDP and TCP is not guaranteed then)
  std::string domain = "cluster.local";
  int forward_workers = 4;
  size_t forward_queue = 1024;  // UDP queries waiting for a worker; more are dropped (the client retries)
  size_t max_tcp_connections = 64;
  std::chrono::milliseconds tcp_idle{10'000};
};

class DnsServer {
 public:
  using RecordsFn = std::function<std::shared_ptr<const DnsRecords>()>;

  // Binds UDP and TCP on address:port and starts serving. `forwarder` must outlive the
  // server. Errors name the address (bind: EADDRNOTAVAIL when it is not on the host).
  static Result<std::unique_ptr<DnsServer>> start(DnsServerOptions options, RecordsFn records, DnsForwarder* forwarder);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Stops every thread and closes the sockets. Idempotent.
  void stop();
  uint16_t udp_port() const { return udp_port_; }
  uint16_t tcp_port() const { return tcp_port_; }

 private:
  struct Forward {
    std::vector<uint8_t> query;
    sockaddr_storage client{};
    socklen_t client_len = 0;
  };
  struct Conn {
    UniqueFd fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  DnsServer() = default;
  void udp_loop();
  void tcp_loop();
  void serve_tcp(Conn* c);
  void forward_loop();
  // The reply to a query over TCP (forwarded inline on the connection's thread).
  std::vector<uint8_t> answer_tcp(const std::vector<uint8_t>& query);
  void log_forward_error(const Error& e);

  DnsServerOptions options_;
  RecordsFn records_;
  DnsForwarder* forwarder_ = nullptr;
  UniqueFd udp_, tcp_, stop_fd_;
  uint16_t udp_port_ = 0, tcp_port_ = 0;
  std::thread udp_thread_, tcp_thread_;
  std::vector<std::thread> workers_;
  std::mutex mu_;  // the forward queue
  std::condition_variable cv_;
  std::deque<Forward> queue_;
  bool stopping_ = false;
  std::list<std::unique_ptr<Conn>> conns_;  // tcp thread only (and stop after it ended)
  std::mutex log_mu_;
  std::chrono::steady_clock::time_point last_log_{};
  bool stopped_ = false;
};

}  // namespace kernlet::agent::dns
