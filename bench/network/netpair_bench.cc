// kernlet-bench-netpair: TCP between two network namespaces, measured in-process.
//
//   kernlet-bench-netpair --client-netns PATH --server-netns PATH --server-ip IP
//                         [--seconds N] [--label NAME]
//
// A server thread enters --server-netns (setns on that thread only) and listens on
// --server-ip; a client thread enters --client-netns and connects. Two phases, each N s:
//   stream: the client writes 128 KiB buffers as fast as it can, the server reads and
//           counts; throughput = bytes the server read / time (Gbit/s);
//   rr:     1-byte request, 1-byte response, one at a time (TCP_NODELAY); the latency of
//           each round trip (p50, p99, mean in µs) and the rate.
// Prints one JSON object. Needs CAP_SYS_ADMIN for setns. Sends only to --server-ip from
// inside --client-netns: the caller chooses namespaces with no route out.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "api/unique_fd.h"

namespace {

using Clock = std::chrono::steady_clock;
using kernlet::UniqueFd;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "kernlet-bench-netpair: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

void enter_netns(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) die("open " + path);
  if (::setns(fd.get(), CLONE_NEWNET) != 0) die("setns " + path);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_exact(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

sockaddr_in address(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "kernlet-bench-netpair: --server-ip %s: not an IPv4 address\n", ip.c_str());
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  std::string client_ns, server_ns, server_ip, label = "netpair";
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--client-netns") client_ns = v;
    else if (f == "--server-netns") server_ns = v;
    else if (f == "--server-ip") server_ip = v;
    else if (f == "--seconds") seconds = std::stod(v);
    else if (f == "--label") label = v;
    else {
      std::fprintf(stderr, "kernlet-bench-netpair: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (client_ns.empty() || server_ns.empty() || server_ip.empty()) {
    std::fprintf(stderr, "usage: kernlet-bench-netpair --client-netns PATH --server-netns PATH --server-ip IP "
                         "[--seconds N] [--label NAME]\n");
    return 2;
  }
  const uint16_t port = 5201;
  const sockaddr_in addr = address(server_ip, port);
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

  // The server: accept the stream connection, count bytes; then the rr connection, echo.
  std::atomic<bool> listening{false};
  std::atomic<uint64_t> stream_bytes{0};
  std::atomic<int64_t> stream_ns{0};
  std::thread server([&] {
    enter_netns(server_ns);
    UniqueFd ls(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(ls.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(ls.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind " + server_ip);
    if (::listen(ls.get(), 4) != 0) die("listen");
    listening = true;
    {
      UniqueFd c(::accept4(ls.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c.get() < 0) die("accept (stream)");
      std::vector<char> buf(256 * 1024);
      uint64_t total = 0;
      auto start = Clock::now();
      for (;;) {
        ssize_t r = ::read(c.get(), buf.data(), buf.size());
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        total += static_cast<uint64_t>(r);
      }
      stream_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
      stream_bytes = total;
    }
    UniqueFd c(::accept4(ls.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (c.get() < 0) die("accept (rr)");
    ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b;
    while (read_exact(c.get(), &b, 1) && write_all(c.get(), &b, 1)) {
    }
  });

  kernlet::json::object out;
  std::thread client([&] {
    enter_netns(client_ns);
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!listening && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto connect_one = [&] {
      UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("connect " + server_ip);
      return s;
    };
    {
      UniqueFd s = connect_one();
      std::vector<char> buf(128 * 1024, 'x');
      auto end = Clock::now() + duration;
      while (Clock::now() < end)
        if (!write_all(s.get(), buf.data(), buf.size())) die("write (stream)");
    }
    UniqueFd s = connect_one();
    int one = 1;
    ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<double> rtt_us;
    rtt_us.reserve(200000);
    auto end = Clock::now() + duration;
    char b = 'r';
    while (Clock::now() < end) {
      auto t0 = Clock::now();
      if (!write_all(s.get(), &b, 1) || !read_exact(s.get(), &b, 1)) die("rr");
      rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(rtt_us.begin(), rtt_us.end());
    double sum = 0;
    for (double v : rtt_us) sum += v;
    auto pct = [&](double p) { return rtt_us[std::min(rtt_us.size() - 1, static_cast<size_t>(p * rtt_us.size()))]; };
    out["rr_round_trips"] = static_cast<int64_t>(rtt_us.size());
    out["rr_per_second"] = static_cast<double>(rtt_us.size()) / seconds;
    out["rr_p50_us"] = pct(0.50);
    out["rr_p99_us"] = pct(0.99);
    out["rr_mean_us"] = sum / static_cast<double>(rtt_us.size());
  });
  client.join();
  server.join();
  out["label"] = label;
  out["seconds_per_phase"] = seconds;
  out["stream_bytes"] = static_cast<int64_t>(stream_bytes.load());
  out["stream_gbit_per_s"] = static_cast<double>(stream_bytes.load()) * 8 / static_cast<double>(stream_ns.load());
  std::printf("%s\n", kernlet::json::dump(out).c_str());
  return 0;
}
