// End-to-end API server benchmark, with Debian's etcd-server side by side in the same run.
//
// kernlet-control is started on a fresh data directory (durable SQLite: WAL, group commit,
// each write acknowledged after the fdatasync of the WAL covering it; pipelined with 2
// sync threads by default, see --store-sync-threads) with --insecure-listen on a free 127.0.0.1 port (plain
// HTTP on loopback, so the figures are the server's and not TLS's). Measured:
//   - creates/s and p50/p99/max latency of ConfigMap creates with 1, 16 and 64 clients,
//     each a keep-alive HTTP/1.1 connection doing POST after POST (201 = acknowledged,
//     i.e. durable), closed loop: every client has exactly one request outstanding and
//     sends the next as soon as its response is in. Since 27 Nov one thread carries all
//     the connections with epoll (request bytes built in one piece and sent with one
//     send(), responses parsed for status and length only) instead of one blocking thread
//     per client: the benchmark shares the two cores with the server, and 64 client
//     threads took about twice the CPU per request (`--client threads` still runs the old
//     client for comparison). The server's and this process's CPU time per acknowledged
//     create are reported per case (server_cpu_ms_per_create, client_cpu_ms_per_create);
//   - one Pod create delivered to N concurrent watchers (default 1,000 HTTP watch
//     streams): the time from sending the create until the last watcher has the event;
//   - server RSS idle (after start-up) and holding 10,000 Pods (created through the API).
// The peer: /usr/bin/etcd (3.4) on 127.0.0.1 free ports with its own data directory doing
// the same creates through its gRPC-gateway JSON API (POST /v3/kv/txn, create-if-absent as
// the Kubernetes etcd3 storage does it) at 1/16/64 clients, and its RSS. Processes are
// started and killed by pid; directories are removed. Prints one JSON document.
//
// etcd's creates go through the same client.
//
//   kernlet-bench-api [--control PATH] [--etcd PATH] [--dir DIR] [--seconds S]
//                     [--watchers N] [--pods N] [--clients 1,16,64] [--client epoll|threads]
//                     [--creates-only]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/bench_process.h"

namespace {

using namespace kernlet::bench;
namespace fs = std::filesystem;

std::string b64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// ---- load ------------------------------------------------------------------------------------

struct CaseResult {
  int clients = 0;
  int64_t creates = 0;
  int64_t failures = 0;
  double seconds = 0, per_second = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  // The server's user+system CPU time over the case, per acknowledged create (ms); -1 when
  // not measured. On a shared machine this moves less than the latencies do.
  double server_cpu_ms_per_create = -1;
  // The same for this benchmark process (the load generator): what it takes from the
  // cores the server runs on.
  double client_cpu_ms_per_create = -1;
};

using MakeRequest = std::function<std::pair<std::string, std::string>(int, int64_t)>;
using Acked = std::function<bool(int, const std::string&)>;

// How the load is generated: one event loop for every connection (the default), or the
// older blocking client, one thread per connection (kept to compare the two).
enum class ClientKind { kEpoll, kThreads };

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void summarize(CaseResult& r, std::vector<int64_t>& all, double seconds) {
  r.seconds = seconds;
  std::sort(all.begin(), all.end());
  r.creates = static_cast<int64_t>(all.size());
  r.per_second = static_cast<double>(r.creates) / r.seconds;
  r.p50_ms = pct_ms(all, 0.50);
  r.p99_ms = pct_ms(all, 0.99);
  r.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
}

// The full bytes of one POST: built once per request, sent with one send().
std::string post_bytes(const std::string& path, const std::string& body) {
  std::string req;
  req.reserve(path.size() + body.size() + 128);
  req += "POST ";
  req += path;
  req += " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ";
  req += std::to_string(body.size());
  req += "\r\n\r\n";
  req += body;
  return req;
}

// One closed-loop connection of the event-loop client.
struct LoopConn {
  int fd = -1;
  int client = 0;
  int64_t seq = 0;
  std::string out;       // request bytes not yet sent
  size_t out_off = 0;
  std::string in;        // response bytes read so far
  Clock::time_point t0;  // when the outstanding request's first byte was sent
  bool busy = false;
};

// Parses one complete response at the front of `in`: status and body (Content-Length or
// chunked), erasing it. 0 = incomplete (read more), -1 = malformed.
int take_response(std::string& in, std::string* body) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) return -1;
  const int status = std::atoi(in.c_str() + 9);
  size_t len = 0;
  bool chunked = false, have_len = false;
  for (size_t p = in.find("\r\n") + 2; p < end;) {
    size_t e = in.find("\r\n", p);
    if (e == std::string::npos || e > end) e = end;
    std::string_view line(in.data() + p, e - p);
    auto starts = [&](std::string_view name) {
      if (line.size() < name.size()) return false;
      for (size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
      }
      return true;
    };
    if (starts("content-length:")) {
      len = std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
      have_len = true;
    } else if (starts("transfer-encoding:") && line.find("chunked") != std::string_view::npos) {
      chunked = true;
    }
    p = e + 2;
  }
  size_t pos = end + 4;
  body->clear();
  if (chunked) {
    for (;;) {
      size_t le = in.find("\r\n", pos);
      if (le == std::string::npos) return 0;
      size_t n = std::strtoul(in.c_str() + pos, nullptr, 16);
      if (in.size() < le + 2 + n + 2) return 0;
      body->append(in, le + 2, n);
      pos = le + 2 + n + 2;
      if (n == 0) break;
    }
  } else if (have_len) {
    if (in.size() < pos + len) return 0;
    body->assign(in, pos, len);
    pos += len;
  }
  in.erase(0, pos);
  return status;
}

// `clients` keep-alive connections in closed loop — each has exactly one request
// outstanding and sends the next as soon as the response is in, so `clients` requests are
// outstanding at all times — carried by one epoll loop on one thread. Each issues
// make_request(client, i) → (path, body) until `seconds` pass or `total` requests (0 = no
// count limit) are done; `acked` tells a success from the status and body. Latency is
// from the request's send() to its complete response.
CaseResult run_load_epoll(uint16_t port, int clients, double seconds, int64_t total, const MakeRequest& make_request,
                          const Acked& acked) {
  CaseResult r;
  r.clients = clients;
  std::vector<int64_t> all;
  all.reserve(1 << 16);
  int64_t issued = 0, failures = 0;
  std::vector<LoopConn> conns(static_cast<size_t>(clients));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto close_conn = [&](LoopConn& c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.busy = false;
  };
  // Sends what is pending; false on a transport error. Waits for EPOLLOUT if the socket
  // buffer is full.
  auto flush = [&](LoopConn& c, size_t idx) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        epoll_event e{};
        e.events = EPOLLIN | EPOLLOUT;
        e.data.u64 = idx;
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
        return true;
      }
      if (n <= 0) return false;
      c.out_off += static_cast<size_t>(n);
    }
    return true;
  };
  auto issue = [&](LoopConn& c, size_t idx) {
    if (Clock::now() >= deadline || (total > 0 && issued >= total)) {
      c.busy = false;
      return;
    }
    ++issued;
    auto [path, body] = make_request(c.client, c.seq++);
    c.out = post_bytes(path, body);
    c.out_off = 0;
    c.busy = true;
    c.t0 = Clock::now();
    if (!flush(c, idx)) {
      ++failures;
      close_conn(c);
    }
  };
  int busy = 0;
  for (int i = 0; i < clients; ++i) {
    auto& c = conns[static_cast<size_t>(i)];
    c.client = i;
    c.fd = connect_loopback(port);
    if (c.fd < 0) {
      ++failures;
      continue;
    }
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = static_cast<uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e);
  }
  for (size_t i = 0; i < conns.size(); ++i) {
    if (conns[i].fd >= 0) issue(conns[i], i);
  }
  for (auto& c : conns) busy += c.busy ? 1 : 0;
  std::vector<epoll_event> evs(static_cast<size_t>(std::max(1, clients)));
  std::string body;
  char tmp[65536];
  while (busy > 0) {
    int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 1000);
    for (int j = 0; j < k; ++j) {
      const size_t idx = evs[static_cast<size_t>(j)].data.u64;
      LoopConn& c = conns[idx];
      if (c.fd < 0) continue;
      if (evs[static_cast<size_t>(j)].events & EPOLLOUT) {
        if (!flush(c, idx)) {
          ++failures;
          close_conn(c);
          --busy;
          continue;
        }
        if (c.out_off == c.out.size()) {
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.u64 = idx;
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
        }
      }
      ssize_t n = ::recv(c.fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0) {
        if (c.busy) {
          ++failures;
          --busy;
        }
        close_conn(c);
        continue;
      }
      c.in.append(tmp, static_cast<size_t>(n));
      const int status = take_response(c.in, &body);
      if (status == 0) continue;
      const auto t1 = Clock::now();
      if (status > 0 && acked(status, body)) {
        all.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - c.t0).count());
      } else {
        ++failures;
        if (status < 0) {
          close_conn(c);
          --busy;
          continue;
        }
      }
      issue(c, idx);
      if (!c.busy) --busy;
    }
  }
  for (auto& c : conns) {
    if (c.fd >= 0) close(c.fd);
  }
  close(ep);
  r.failures = failures;
  summarize(r, all, std::chrono::duration<double>(Clock::now() - start).count());
  return r;
}

// The older client: one thread and one blocking connection per client (same closed-loop
// semantics); 64 threads of its own compete with the server for the cores.
CaseResult run_load_threads(uint16_t port, int clients, double seconds, int64_t total, const MakeRequest& make_request,
                            const Acked& acked) {
  std::vector<std::vector<int64_t>> lat(static_cast<size_t>(clients));
  std::atomic<int64_t> failures{0}, next{0};
  std::vector<std::thread> ts;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int c = 0; c < clients; ++c) {
    ts.emplace_back([&, c] {
      HttpConn conn(port);
      if (!conn.ok()) {
        ++failures;
        return;
      }
      std::string body;
      for (int64_t i = 0; Clock::now() < deadline; ++i) {
        if (total > 0 && next.fetch_add(1) >= total) break;
        auto [path, req] = make_request(c, i);
        auto t0 = Clock::now();
        int status = conn.request("POST", path, req, &body);
        auto t1 = Clock::now();
        if (!acked(status, body)) {
          ++failures;
          if (status == 0) return;
          continue;
        }
        lat[static_cast<size_t>(c)].push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      }
    });
  }
  for (auto& t : ts) t.join();
  CaseResult r;
  r.clients = clients;
  std::vector<int64_t> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  r.failures = failures.load();
  summarize(r, all, std::chrono::duration<double>(Clock::now() - start).count());
  return r;
}

ClientKind g_client = ClientKind::kEpoll;

// One create case with the chosen client; also measures this process's CPU per create.
CaseResult run_load(uint16_t port, int clients, double seconds, int64_t total, const MakeRequest& make_request,
                    const Acked& acked) {
  const double cpu0 = self_cpu_seconds();
  CaseResult r = g_client == ClientKind::kEpoll ? run_load_epoll(port, clients, seconds, total, make_request, acked)
                                                : run_load_threads(port, clients, seconds, total, make_request, acked);
  if (r.creates > 0) r.client_cpu_ms_per_create = (self_cpu_seconds() - cpu0) * 1000 / static_cast<double>(r.creates);
  return r;
}

std::string case_json(const CaseResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"clients\": %d, \"creates\": %lld, \"failures\": %lld, \"seconds\": %.2f, \"creates_per_s\": %.0f, "
                "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f",
                r.clients, static_cast<long long>(r.creates), static_cast<long long>(r.failures), r.seconds,
                r.per_second, r.p50_ms, r.p99_ms, r.max_ms);
  std::string out = buf;
  if (r.server_cpu_ms_per_create >= 0) {
    std::snprintf(buf, sizeof buf, ", \"server_cpu_ms_per_create\": %.3f", r.server_cpu_ms_per_create);
    out += buf;
  }
  if (r.client_cpu_ms_per_create >= 0) {
    std::snprintf(buf, sizeof buf, ", \"client_cpu_ms_per_create\": %.3f", r.client_cpu_ms_per_create);
    out += buf;
  }
  return out + "}";
}

std::string configmap(const std::string& name) {
  return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"v\":\"" + std::string(1024, 'x') + "\"}}";
}

std::string pod(const std::string& name) {
  return "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"app\":\"bench\",\"tier\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
         "\"image\":\"registry.example/app:1.0\",\"ports\":[{\"containerPort\":8080}],"
         "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}}]}}";
}

// Opens `n` watch streams on pods in `ns` from revision `rv`, then creates pods one at a
// time and measures, per trial, when every watcher has seen it. Returns the per-trial
// time-to-last (ms) and the median per-watcher delivery of the last trial.
struct WatchResult {
  int watchers = 0;
  int established = 0;
  std::vector<double> last_ms;
  double p50_ms = 0;
};

WatchResult run_watchers(uint16_t port, int n, const std::string& rv, int trials) {
  WatchResult res;
  res.watchers = n;
  std::vector<std::unique_ptr<HttpConn>> ws;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<HttpConn>(port);
    if (!c->ok()) break;
    if (c->start_stream("/api/v1/namespaces/bench/pods?watch=1&resourceVersion=" + rv + "&timeoutSeconds=600") != 200)
      break;
    ws.push_back(std::move(c));
  }
  res.established = static_cast<int>(ws.size());
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i < ws.size(); ++i) {
    fcntl(ws[i]->fd(), F_SETFL, fcntl(ws[i]->fd(), F_GETFL) | O_NONBLOCK);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, ws[i]->fd(), &e);
  }
  HttpConn writer(port);
  std::vector<epoll_event> evs(1024);
  for (int t = 0; t < trials; ++t) {
    const std::string name = "watched-" + std::to_string(t);
    const std::string needle = "\"" + name + "\"";
    std::vector<char> seen(ws.size(), 0);
    std::vector<double> when;
    size_t got = 0;
    for (auto& w : ws) w->buffer().clear();
    const auto t0 = Clock::now();
    if (writer.request("POST", "/api/v1/namespaces/bench/pods", pod(name), nullptr) != 201) break;
    const auto deadline = t0 + std::chrono::seconds(30);
    while (got < ws.size() && Clock::now() < deadline) {
      int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int j = 0; j < k; ++j) {
        size_t i = evs[static_cast<size_t>(j)].data.u64;
        char tmp[65536];
        ssize_t r;
        while ((r = ::recv(ws[i]->fd(), tmp, sizeof tmp, 0)) > 0) ws[i]->buffer().append(tmp, static_cast<size_t>(r));
        if (!seen[i] && ws[i]->buffer().find(needle) != std::string::npos) {
          seen[i] = 1;
          ++got;
          when.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      }
    }
    if (ws.empty()) break;
    if (got < ws.size()) {
      res.last_ms.push_back(-1);
      continue;
    }
    std::sort(when.begin(), when.end());
    res.last_ms.push_back(when.back());
    res.p50_ms = when[when.size() / 2];
  }
  close(ep);
  return res;
}

}  // namespace

constexpr const char* kUsage = R"(Usage: kernlet-bench-api [flags]

API server benchmark, kernlet-control and etcd side by side; prints one JSON document
(what is measured: the comment at the top of bench/api_server/api_server_bench.cc).

Flags:
  --control PATH   kernlet-control (default: next to this binary)
  --etcd PATH      the peer (default /usr/bin/etcd); a path that is not executable skips it
  --dir DIR        where the data directories are made and removed (default /var/tmp)
  --seconds S      length of each create case (default 3)
  --watchers N     concurrent watchers of the fan-out case (default 1000)
  --pods N         pods created for the RSS figure (default 10000)
  --clients LIST   client counts of the create cases, comma-separated (default 1,16,64)
  --client KIND    load generator: epoll (default; one thread carries every connection)
                   or threads (one blocking thread per connection, the older client)
  --creates-only   only the create cases (no watchers, pods, lists), for quick reruns
  -h, --help       show this help
)";

int main(int argc, char** argv) {
  std::string control = (fs::read_symlink("/proc/self/exe").parent_path() / "kernlet-control").string();
  std::string etcd = "/usr/bin/etcd";
  std::string dir = "/var/tmp";
  double seconds = 3;
  int watchers = 1000;
  int pods = 10000;
  bool creates_only = false;
  std::vector<int> client_counts = {1, 16, 64};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--creates-only") {
      creates_only = true;
      continue;
    }
    if (a != "--control" && a != "--etcd" && a != "--dir" && a != "--seconds" && a != "--watchers" && a != "--pods" &&
        a != "--clients" && a != "--client") {
      std::fprintf(stderr, "kernlet-bench-api: unknown flag %s\n\n%s", a.c_str(), kUsage);
      return 2;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "kernlet-bench-api: %s needs a value\n\n%s", a.c_str(), kUsage);
      return 2;
    }
    const std::string v = argv[++i];
    char* end = nullptr;
    const double n = std::strtod(v.c_str(), &end);
    const bool number = !v.empty() && *end == '\0' && n >= 0;
    if ((a == "--seconds" || a == "--watchers" || a == "--pods") && !number) {
      std::fprintf(stderr, "kernlet-bench-api: invalid %s %s, want a number\n", a.c_str(), v.c_str());
      return 2;
    }
    if (a == "--control") control = v;
    else if (a == "--etcd") etcd = v;
    else if (a == "--dir") dir = v;
    else if (a == "--seconds") seconds = n;
    else if (a == "--watchers") watchers = static_cast<int>(n);
    else if (a == "--pods") pods = static_cast<int>(n);
    else if (a == "--client") {
      if (v == "epoll") g_client = ClientKind::kEpoll;
      else if (v == "threads") g_client = ClientKind::kThreads;
      else {
        std::fprintf(stderr, "kernlet-bench-api: invalid --client %s, want epoll or threads\n", v.c_str());
        return 2;
      }
    } else if (a == "--clients") {
      client_counts.clear();
      for (size_t p = 0; p <= v.size();) {
        size_t q = v.find(',', p);
        if (q == std::string::npos) q = v.size();
        const std::string item = v.substr(p, q - p);
        char* e = nullptr;
        const long c = std::strtol(item.c_str(), &e, 10);
        if (item.empty() || *e != '\0' || c < 1 || c > 4096) {
          std::fprintf(stderr, "kernlet-bench-api: invalid --clients %s, want counts like 1,16,64\n", v.c_str());
          return 2;
        }
        client_counts.push_back(static_cast<int>(c));
        p = q + 1;
      }
    }
  }
  // 1,000 watch connections on each side: raise the descriptor limit (children inherit it).
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  std::string work = dir + "/kl-bench-api-XXXXXX";
  if (mkdtemp(work.data()) == nullptr) {
    std::fprintf(stderr, "kernlet-bench-api: mkdtemp in %s failed\n", dir.c_str());
    return 2;
  }
  std::string out = "{\n  \"machine\": " + machine_json() + ",\n";
  out += std::string("  \"load_generator\": \"") +
         (g_client == ClientKind::kEpoll ? "epoll: one thread carries every connection, closed loop"
                                         : "threads: one blocking thread per connection, closed loop") +
         "\",\n";

  // ---- kernlet-control ----
  const uint16_t port = free_port();
  pid_t cp = spawn({control, "--data-dir", work + "/control", "--insecure-listen", "127.0.0.1:" + std::to_string(port)},
                   work + "/control.log");
  if (!wait_ready(port, "/readyz", "GET", "", cp)) {
    std::fprintf(stderr, "kernlet-bench-api: kernlet-control did not start (log in %s/control.log)\n", work.c_str());
    stop(cp);
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_rss = rss_mb(cp);
  {
    HttpConn c(port);
    c.request("POST", "/api/v1/namespaces", "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench\"}}",
              nullptr);
  }
  auto created = [](int status, const std::string&) { return status == 201; };
  std::vector<CaseResult> kl;
  for (int clients : client_counts) {
    const double cpu0 = cpu_seconds(cp);
    kl.push_back(run_load(
        port, clients, seconds, 0,
        [clients](int c, int64_t i) {
          return std::make_pair(std::string("/api/v1/namespaces/bench/configmaps"),
                                configmap("c" + std::to_string(clients) + "-" + std::to_string(c) + "-" +
                                          std::to_string(i)));
        },
        created));
    if (kl.back().creates > 0) {
      kl.back().server_cpu_ms_per_create =
          (cpu_seconds(cp) - cpu0) * 1000 / static_cast<double>(kl.back().creates);
    }
  }
  WatchResult wr;
  CaseResult pod_load;
  double list_ms = 0, list_rv0_ms = 0;
  size_t list_bytes = 0;
  double watch_rss = 0;
  if (!creates_only) {
    std::string rv;
    {
      HttpConn c(port);
      std::string body;
      c.request("GET", "/api/v1/namespaces/bench/pods?limit=1", "", &body);
      auto p = body.find("\"resourceVersion\":\"");
      if (p != std::string::npos) rv = body.substr(p + 19, body.find('"', p + 19) - p - 19);
    }
    wr = run_watchers(port, watchers, rv, 5);
    watch_rss = rss_mb(cp);
    // 10,000 Pods, created through the API by 64 clients.
    pod_load = run_load(
        port, 64, 600, pods,
        [](int c, int64_t i) {
          return std::make_pair(std::string("/api/v1/namespaces/bench/pods"),
                                pod("p-" + std::to_string(c) + "-" + std::to_string(i)));
        },
        created);
    // A consistent list (waits for the watch cache to apply the last create), then the same
    // list again from the cache as it is (resourceVersion=0): the serving cost alone.
    {
      HttpConn c(port);
      std::string body;
      auto t0 = Clock::now();
      c.request("GET", "/api/v1/pods", "", &body);
      list_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      list_bytes = body.size();
      t0 = Clock::now();
      c.request("GET", "/api/v1/pods?resourceVersion=0", "", &body);
      list_rv0_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double pods_rss = rss_mb(cp);
  stop(cp);

  out += "  \"kernlet\": {\n    \"transport\": \"plain HTTP/1.1 keep-alive on 127.0.0.1 (--insecure-listen)\",\n";
  out += "    \"store\": \"SQLite WAL, group commit, acknowledged after fdatasync\",\n    \"creates\": [\n";
  for (size_t i = 0; i < kl.size(); ++i) out += "      " + case_json(kl[i]) + (i + 1 < kl.size() ? ",\n" : "\n");
  out += "    ],\n";
  char buf[1024];
  if (!creates_only) {
    std::string trials;
    for (size_t i = 0; i < wr.last_ms.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%s%.2f", i ? ", " : "", wr.last_ms[i]);
      trials += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "    \"watch_fanout\": {\"watchers\": %d, \"established\": %d, \"last_watcher_ms_per_trial\": [%s], "
                  "\"median_watcher_ms_last_trial\": %.2f},\n",
                  wr.watchers, wr.established, trials.c_str(), wr.p50_ms);
    out += buf;
    out += "    \"pods\": " + case_json(pod_load) + ",\n";
    std::snprintf(buf, sizeof buf,
                  "    \"list_all_pods\": {\"consistent_ms\": %.1f, \"rv0_ms\": %.1f, \"bytes\": %zu},\n"
                  "    \"rss_mb\": {\"idle\": %.1f, \"with_watchers\": %.1f, \"holding_pods\": %.1f, \"pods\": %lld}\n  },\n",
                  list_ms, list_rv0_ms, list_bytes, idle_rss, watch_rss, pods_rss, static_cast<long long>(pod_load.creates));
    out += buf;
  } else {
    std::snprintf(buf, sizeof buf, "    \"rss_mb\": {\"idle\": %.1f, \"after_creates\": %.1f}\n  },\n", idle_rss, pods_rss);
    out += buf;
  }

  // ---- etcd, side by side ----
  const uint16_t eport = free_port(), pport = free_port();
  const std::string curl = "http://127.0.0.1:" + std::to_string(eport);
  const std::string purl = "http://127.0.0.1:" + std::to_string(pport);
  pid_t ep = -1;
  if (access(etcd.c_str(), X_OK) == 0) {
    ep = spawn({etcd, "--name", "bench", "--data-dir", work + "/etcd", "--listen-client-urls", curl,
                "--advertise-client-urls", curl, "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                "--initial-cluster", "bench=" + purl},
               work + "/etcd.log");
  }
  if (ep > 0 && wait_ready(eport, "/v3/kv/range", "POST", "{\"key\":\"" + b64("x") + "\"}", ep)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double e_idle = rss_mb(ep);
    std::vector<CaseResult> er;
    auto txn_ok = [](int status, const std::string& body) {
      return status == 200 && body.find("\"succeeded\":true") != std::string::npos;
    };
    for (int clients : client_counts) {
      const double cpu0 = cpu_seconds(ep);
      er.push_back(run_load(
          eport, clients, seconds, 0,
          [clients](int c, int64_t i) {
            const std::string name = "c" + std::to_string(clients) + "-" + std::to_string(c) + "-" + std::to_string(i);
            const std::string key = b64("/registry/configmaps/bench/" + name);
            return std::make_pair(
                std::string("/v3/kv/txn"),
                "{\"compare\":[{\"key\":\"" + key +
                    "\",\"result\":\"EQUAL\",\"target\":\"MOD\",\"mod_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"" +
                    key + "\",\"value\":\"" + b64(configmap(name)) + "\"}}]}");
          },
          txn_ok));
      if (er.back().creates > 0) {
        er.back().server_cpu_ms_per_create = (cpu_seconds(ep) - cpu0) * 1000 / static_cast<double>(er.back().creates);
      }
    }
    const double e_after = rss_mb(ep);
    stop(ep);
    out += "  \"etcd\": {\n    \"version\": \"Debian etcd-server 3.4 (/usr/bin/etcd), gRPC-gateway JSON /v3/kv/txn\",\n";
    out += "    \"creates\": [\n";
    for (size_t i = 0; i < er.size(); ++i) out += "      " + case_json(er[i]) + (i + 1 < er.size() ? ",\n" : "\n");
    std::snprintf(buf, sizeof buf, "    ],\n    \"rss_mb\": {\"idle\": %.1f, \"after_creates\": %.1f}\n  }\n", e_idle,
                  e_after);
    out += buf;
  } else {
    stop(ep);
    out += "  \"etcd\": {\"skipped\": \"" + etcd + " not runnable (see etcd.log)\"}\n";
  }
  out += "}\n";
  std::fputs(out.c_str(), stdout);
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
