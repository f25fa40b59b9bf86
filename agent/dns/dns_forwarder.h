// DnsForwarder: sends a query for a name outside the cluster to the node's resolvers (the
// nameservers of a resolv.conf, re-read when the file changes) and returns their answer.
// Each upstream is tried in order, `attempts` rounds, each try with its own socket and a
// fresh random id (an answer must come from the upstream's address and carry that id);
// the client's id is put back. UDP queries go over UDP (a truncated answer is passed on,
// and the client retries over TCP); TCP queries go over TCP. A nameserver that is one of
// our own listen addresses is skipped (a loop).
// Thread-safety: forward() runs concurrently (blocking; one call per thread).
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::agent::dns {

struct ForwarderOptions {
  std::string resolv_conf = "/etc/resolv.conf";
  std::chrono::milliseconds timeout{2000};  // per upstream and try
  int attempts = 1;
  std::vector<std::string> exclude;  // our own listen addresses
  uint16_t port = 53;                // the upstreams' port (tests use another)
};

struct Upstream {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "ip:port" for messages
};

class DnsForwarder {
 public:
  explicit DnsForwarder(ForwarderOptions options);

  // The upstreams' answer to `query` (its id restored). Errors: kUnavailable naming every
  // upstream tried and why (timeout, refused, none configured).
  Result<std::vector<uint8_t>> forward(std::span<const uint8_t> query, bool tcp);

  // The upstreams now (the file re-read if it changed).
  std::vector<Upstream> upstreams();

 private:
  ForwarderOptions options_;
  std::mutex mu_;
  std::vector<Upstream> upstreams_;  // guarded by mu_
  timespec mtime_{};                 // of the file last read
  std::chrono::steady_clock::time_point checked_{};
  bool loaded_ = false;
};

}  // namespace kernlet::agent::dns
