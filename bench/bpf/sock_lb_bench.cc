// kernlet-bench-sock-lb: what a Service VIP costs a TCP connect().
//
// In a network namespace it creates (only `lo`, no route out; 10.96.0.0/12 and 10.112.0.0/12
// routed to lo so the iptables VIPs are reachable), with three backends on 127.0.0.2-4:8080:
//   - direct:   connect() to 127.0.0.2:8080;
//   - ebpf:     connect() to one of N VIPs 10.96.x.y:80 through kernlet's socket LB, attached
//               to a cgroup it creates under /sys/fs/cgroup/unified (the client is a forked
//               process in that cgroup);
//   - iptables: connect() to one of N VIPs 10.112.x.y:80 through a ruleset shaped as
//               kube-proxy's iptables mode writes it (nat OUTPUT -> KUBE-SERVICES -> KUBE-SVC-*
//               -> KUBE-SEP-* with `statistic --mode random`), loaded with iptables-restore;
//               the client is outside the LB cgroup.
// For N in 100, 1,000, 10,000 it also times programming all N services and one update,
// for both: eBPF through SockLb::upsert_many (the agent's full-sync path, batched map
// writes) and, for comparison, one upsert() per service; each with the programming
// thread's CPU time (user + system, CLOCK_THREAD_CPUTIME_ID), which the machine's load does
// not inflate. `kernlet-bench-sock-lb [connects] [ebpf-only]` skips iptables.
// Prints one JSON object. Everything it made is removed on exit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/unique_fd.h"
#include "bpf/loader/sock_lb.h"

using namespace kernlet;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::string vip(int base, int i) {  // base 96 or 112: 10.<base + i/65536>.x.y, never .0/.255
  int n = i + 1;
  return "10." + std::to_string(base + n / 62500) + "." + std::to_string((n / 250) % 250) + "." +
         std::to_string(n % 250 + 1);
}

// Connect latencies (µs) to `k` random VIPs among `n` (or to the backend when n == 0).
std::vector<double> measure(int base, int n, int k) {
  std::mt19937 rng(42);
  std::vector<double> out;
  for (int j = 0; j < k; ++j) {
    std::string addr = n == 0 ? "127.0.0.2" : vip(base, static_cast<int>(rng() % n));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(n == 0 ? 8080 : 80);
    ::inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    linger l{1, 0};  // RST on close: no TIME_WAIT pile-up across thousands of connects
    ::setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    auto t0 = Clock::now();
    int r = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    double us = us_since(t0);
    ::close(s);
    if (r != 0) return {};
    out.push_back(us);
  }
  return out;
}

// Runs fn in a forked child (optionally in `cgroup`) inside netns; returns its stdout line.
std::string in_child(int ns_fd, const std::string& cgroup, const std::function<std::string()>& fn) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    if (!cgroup.empty()) {
      std::ofstream(cgroup + "/cgroup.procs") << ::getpid() << std::flush;
    }
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(1);
    std::string s = fn();
    (void)!::write(p[1], s.data(), s.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char b[4096];
  ssize_t n;
  while ((n = ::read(p[0], b, sizeof b)) > 0) out.append(b, n);
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  return out;
}

std::string stats(std::vector<double> v) {
  if (v.empty()) return "null";
  std::sort(v.begin(), v.end());
  auto pct = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]; };
  char b[128];
  std::snprintf(b, sizeof b, "{\"p50_us\": %.1f, \"p99_us\": %.1f}", pct(0.5), pct(0.99));
  return b;
}

double p50(const std::string& json) {  // the p50 back out of stats()
  auto at = json.find("\"p50_us\": ");
  return at == std::string::npos ? 0 : std::atof(json.c_str() + at + 10);
}

int run_in_netns_shell(int ns_fd, const std::string& cmd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(127);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

std::string iptables_rules(int n, int changed = -1) {
  std::string r = "*nat\n:KUBE-SERVICES - [0:0]\n";
  std::string chains, rules;
  for (int i = 0; i < n; ++i) {
    std::string svc = "KUBE-SVC-" + std::to_string(i);
    chains += ":" + svc + " - [0:0]\n";
    rules += "-A KUBE-SERVICES -d " + vip(112, i) + "/32 -p tcp -m tcp --dport 80 -j " + svc + "\n";
    int backends = i == changed ? 2 : 3;
    for (int b = 0; b < backends; ++b) {
      std::string sep = "KUBE-SEP-" + std::to_string(i) + "-" + std::to_string(b);
      chains += ":" + sep + " - [0:0]\n";
      if (b < backends - 1) {
        char prob[32];
        std::snprintf(prob, sizeof prob, "%.11f", 1.0 / (backends - b));
        rules += "-A " + svc + " -m statistic --mode random --probability " + prob + " -j " + sep + "\n";
      } else {
        rules += "-A " + svc + " -j " + sep + "\n";
      }
      rules += "-A " + sep + " -p tcp -m tcp -j DNAT --to-destination 127.0.0." + std::to_string(2 + b) + ":8080\n";
    }
  }
  return r + chains + "-A OUTPUT -j KUBE-SERVICES\n" + rules + "COMMIT\n";
}

}  // namespace

int main(int argc, char** argv) {
  int connects = argc > 1 ? std::atoi(argv[1]) : 2000;
  bool with_iptables = !(argc > 2 && std::string(argv[2]) == "ebpf-only");
  if (::geteuid() != 0) {
    std::fprintf(stderr, "kernlet-bench-sock-lb: needs root\n");
    return 77;
  }
  std::string cgroup = "/sys/fs/cgroup/unified/kernlet-bench-sock-lb-" + std::to_string(::getpid());
  if (::mkdir(cgroup.c_str(), 0755) != 0) {
    std::perror(cgroup.c_str());
    return 1;
  }
  UniqueFd ns;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) return;
    ns = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
  std::atomic<bool> stop{false};
  std::thread server;
  std::vector<UniqueFd> listeners;
  std::unique_ptr<bpf::SockLb> lb;
  auto body = [&]() -> int {
    if (!ns || run_in_netns_shell(ns.get(), "ip link set lo up && ip route add 10.96.0.0/12 dev lo && "
                                            "ip route add 10.112.0.0/12 dev lo") != 0) {
      std::fprintf(stderr, "netns setup failed\n");
      return 1;
    }
    std::thread([&] {
      if (::setns(ns.get(), CLONE_NEWNET) != 0) return;
      for (int i = 2; i <= 4; ++i) {
        UniqueFd t(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(8080);
        a.sin_addr.s_addr = htonl(0x7f000000 | i);
        if (::bind(t.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(t.get(), 4096) == 0)
          listeners.push_back(std::move(t));
      }
    }).join();
    server = std::thread([&] {
      while (!stop) {
        std::vector<pollfd> p;
        for (auto& l : listeners) p.push_back({l.get(), POLLIN, 0});
        if (::poll(p.data(), p.size(), 20) <= 0) continue;
        for (auto& l : listeners)
          for (int c; (c = ::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) ::close(c);
      }
    });
    auto attached = bpf::SockLb::attach({.cgroup_path = cgroup, .pin_dir = ""});
    if (!attached.ok()) {
      std::fprintf(stderr, "%s\n", attached.error().to_string().c_str());
      return 1;
    }
    lb = std::move(*attached);
    std::vector<bpf::Backend> bes;
    for (int i = 2; i <= 4; ++i) bes.push_back({*bpf::IpAddr::parse("127.0.0." + std::to_string(i)), 8080});

    std::printf("{\"bench\": \"sock_lb\", \"connects_per_case\": %d, \"sizes\": [", connects);
    bool first = true;
    for (int n : {100, 1000, 10000}) {
      for (const auto& k : lb->services()) (void)lb->remove(k);  // each size from empty
      // eBPF: program all n services, timed: first one upsert() each, then (from empty
      // again) all of them in one upsert_many(), the path the agent's full sync takes.
      std::vector<bpf::ServiceSpec> specs(n);
      for (int i = 0; i < n; ++i) {
        specs[i].key = {*bpf::IpAddr::parse(vip(96, i)), 80, bpf::Protocol::kTcp};
        specs[i].backends = bes;
      }
      double cpu0 = thread_cpu_ms();
      auto t0 = Clock::now();
      for (const auto& s : specs) {
        if (auto r = lb->upsert(s); !r.ok()) {
          std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
          return 1;
        }
      }
      double single_us = us_since(t0);
      double single_cpu_ms = thread_cpu_ms() - cpu0;
      for (const auto& k : lb->services()) (void)lb->remove(k);
      cpu0 = thread_cpu_ms();
      t0 = Clock::now();
      for (auto& r : lb->upsert_many(specs)) {
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
          return 1;
        }
      }
      double add_us = us_since(t0);
      double add_cpu_ms = thread_cpu_ms() - cpu0;
      bpf::ServiceSpec one;
      one.key = {*bpf::IpAddr::parse(vip(96, n / 2)), 80, bpf::Protocol::kTcp};
      one.backends = bes;
      one.backends.push_back({*bpf::IpAddr::parse("127.0.0.5"), 8080});
      t0 = Clock::now();
      (void)lb->upsert(one);
      double update_us = us_since(t0);
      one.backends = bes;
      (void)lb->upsert(one);

      // iptables: the whole ruleset with iptables-restore, then one service changed.
      int ipt = 0;
      double ipt_us = 0, ipt_update_us = 0;
      if (with_iptables) {
        std::string path = "/tmp/kernlet-bench-sock-lb-" + std::to_string(::getpid()) + ".rules";
        std::ofstream(path) << iptables_rules(n);
        t0 = Clock::now();
        ipt = run_in_netns_shell(ns.get(), "iptables-restore < " + path);
        ipt_us = us_since(t0);
        std::ofstream(path) << iptables_rules(n, n / 2);
        t0 = Clock::now();
        ipt |= run_in_netns_shell(ns.get(), "iptables-restore < " + path);
        ipt_update_us = us_since(t0);
        std::remove(path.c_str());
      }

      std::string direct = in_child(ns.get(), cgroup, [&] { return stats(measure(0, 0, connects)); });
      std::string ebpf = in_child(ns.get(), cgroup, [&] { return stats(measure(96, n, connects)); });
      std::string iptables =
          with_iptables ? in_child(ns.get(), "", [&] { return stats(measure(112, n, connects)); }) : "null";
      std::printf(
          "%s\n  {\"services\": %d, \"connect_direct\": %s, \"connect_ebpf\": %s, \"connect_iptables\": %s, "
          "\"ebpf_over_direct_p50\": %.3f, \"iptables_over_direct_p50\": %.3f, "
          "\"program_all_ebpf_ms\": %.1f, \"program_all_ebpf_cpu_ms\": %.1f, \"program_all_ebpf_per_service_ms\": %.1f, "
          "\"program_all_ebpf_per_service_cpu_ms\": %.1f, \"program_all_iptables_ms\": %.1f, \"update_one_ebpf_us\": %.1f, "
          "\"update_one_iptables_us\": %.1f, \"iptables_ok\": %s}",
          first ? "" : ",", n, direct.c_str(), ebpf.c_str(), iptables.c_str(), p50(ebpf) / std::max(0.001, p50(direct)),
          p50(iptables) / std::max(0.001, p50(direct)), add_us / 1000, add_cpu_ms, single_us / 1000, single_cpu_ms, ipt_us / 1000, update_us, ipt_update_us,
          !with_iptables ? "null" : ipt == 0 ? "true" : "false");
      std::fflush(stdout);
      first = false;
    }
    std::printf("\n]}\n");
    return 0;
  };
  int rc = body();
  lb.reset();
  stop = true;
  if (server.joinable()) server.join();
  listeners.clear();
  ns.reset();
  for (int i = 0; i < 500 && ::rmdir(cgroup.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
  return rc;
}
