// Scheduler throughput end to end: kernlet-control (API server, durable SQLite store,
// scheduler, controllers) started on a fresh data directory, N simulated nodes, P pods
// created through the API, pods bound per second as a watcher sees the bindings.
//
// Simulated nodes are what an agent would leave in the API: a Node with capacity,
// allocatable and a Ready condition, and a Lease in kube-node-lease. No agent runs, so
// kernlet-control gets --node-monitor-grace-period 1h: the node lifecycle controller must
// not mark them Unknown while the run lasts (checked at the end: no node may carry a taint).
// The cluster CIDR is a /8 so that node IPAM can give each of 5,000 nodes a /24; the run
// waits for IPAM to finish before the measured phase.
//
// The measured phase creates the pods with C keep-alive clients (as scheduler_perf's
// createPods does with a high-QPS client) while the scheduler runs; a watch on the pods
// (one more HTTP stream) timestamps each first binding. Reported: pods bound / (last
// binding - first create), the create rate, scheduler_perf-style per-second samples of
// bindings, kernlet-control's CPU time per pod and its RSS at the end.
#include "bench/scheduler/scheduler_api_bench.h"

#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench/common/bench_process.h"

namespace kernlet::bench {
namespace {

namespace fs = std::filesystem;

std::string now_rfc3339(bool micro) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::string s = buf;
  if (micro) {
    std::snprintf(buf, sizeof buf, ".%06ld", ts.tv_nsec / 1000);
    s += buf;
  }
  return s + "Z";
}

std::string node_json(int i, const std::string& now) {
  const std::string name = "node-" + std::to_string(i);
  // scheduler_perf's node-default.yaml: 4 CPUs, 32 GiB, 110 pods.
  const std::string res = R"({"cpu":"4","memory":"32Gi","pods":"110"})";
  return R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
         R"(","labels":{"kubernetes.io/hostname":")" + name +
         R"(","kubernetes.io/os":"linux","topology.kubernetes.io/zone":"zone-)" + std::to_string(i % 3) +
         R"("}},"status":{"capacity":)" + res + R"(,"allocatable":)" + res +
         R"(,"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"simulated",)"
         R"("lastHeartbeatTime":")" +
         now + R"(","lastTransitionTime":")" + now + R"("}]}})";
}

std::string lease_json(int i, const std::string& now_micro) {
  const std::string name = "node-" + std::to_string(i);
  return R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":")" + name +
         R"(","namespace":"kube-node-lease"},"spec":{"holderIdentity":")" + name +
         R"(","leaseDurationSeconds":40,"renewTime":")" + now_micro + R"("}})";
}

// scheduler_perf's pod-default.yaml: one container requesting 100m CPU and 500Mi.
// Names start with "bp-" so the watcher finds metadata.name by a plain search.
std::string pod_json(int i) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"bp-)" + std::to_string(i) +
         R"(","labels":{"app":"bench"}},"spec":{"containers":[{"name":"pause","image":"registry.k8s.io/pause:3.9",)"
         R"("resources":{"requests":{"cpu":"100m","memory":"500Mi"},"limits":{"cpu":"100m","memory":"500Mi"}}}]}})";
}

struct Load {
  int64_t ok = 0, failed = 0;
  double seconds = 0;
  std::string first_error;
};

// POSTs make(i) to path(i) for i in [0, total) from `clients` connections.
Load post_all(uint16_t port, int clients, int total, const std::function<std::string(int)>& path,
              const std::function<std::string(int)>& make) {
  std::atomic<int> next{0};
  std::atomic<int64_t> ok{0}, failed{0};
  std::mutex err_mu;
  std::string first_error;
  const auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int c = 0; c < clients; ++c) {
    ts.emplace_back([&] {
      HttpConn conn(port);
      std::string body;
      for (int i; (i = next.fetch_add(1)) < total;) {
        int status = conn.ok() ? conn.request("POST", path(i), make(i), &body) : 0;
        if (status == 201) {
          ++ok;
          continue;
        }
        ++failed;
        std::lock_guard lk(err_mu);
        if (first_error.empty()) first_error = std::to_string(status) + " " + body.substr(0, 300);
      }
    });
  }
  for (auto& t : ts) t.join();
  return {ok.load(), failed.load(), std::chrono::duration<double>(Clock::now() - t0).count(), first_error};
}

// The same load carried by one thread: `clients` non-blocking keep-alive connections in
// closed loop (each sends its next POST as soon as its response is complete) on one epoll
// loop, as kernlet-bench-api's --client epoll. 64 blocking client threads took about
// twice the CPU per request, CPU the two cores of this machine then lack for the
// control plane; client-go's createPods in scheduler_perf is an event-driven client too.
Load post_all_epoll(uint16_t port, int clients, int total, const std::function<std::string(int)>& path,
                    const std::function<std::string(int)>& make) {
  struct Conn {
    int fd = -1;
    std::string out;  // request bytes not yet sent
    size_t off = 0;
    std::string in;  // response bytes so far
    bool busy = false;
  };
  int64_t ok = 0, failed = 0;
  std::string first_error;
  int next = 0;
  const auto t0 = Clock::now();
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(static_cast<size_t>(clients));
  auto want = [&](size_t i, uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &e);
  };
  // Sends what is pending; false on a transport error (EAGAIN waits for EPOLLOUT).
  auto flush = [&](size_t i) {
    Conn& c = conns[i];
    while (c.off < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.off, c.out.size() - c.off, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        want(i, EPOLLIN | EPOLLOUT);
        return true;
      }
      if (n <= 0) return false;
      c.off += static_cast<size_t>(n);
    }
    return true;
  };
  auto fail = [&](size_t i, const std::string& why) {
    Conn& c = conns[i];
    ++failed;
    if (first_error.empty()) first_error = why;
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.busy = false;
  };
  auto issue = [&](size_t i) {
    Conn& c = conns[i];
    c.busy = next < total;
    if (!c.busy) return;
    const int k = next++;
    const std::string body = make(k);
    c.out = "POST " + path(k) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    c.off = 0;
    if (!flush(i)) fail(i, "send failed");
  };
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_loopback(port);
    if (conns[i].fd < 0) {
      ++failed;
      continue;
    }
    fcntl(conns[i].fd, F_SETFL, fcntl(conns[i].fd, F_GETFL) | O_NONBLOCK);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
    issue(i);
  }
  auto busy = [&] { return std::any_of(conns.begin(), conns.end(), [](const Conn& c) { return c.busy; }); };
  std::vector<epoll_event> evs(conns.size());
  char buf[65536];
  while (busy()) {
    const int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 1000);
    for (int j = 0; j < k; ++j) {
      const size_t i = evs[static_cast<size_t>(j)].data.u64;
      Conn& c = conns[i];
      if (c.fd < 0) continue;
      if (evs[static_cast<size_t>(j)].events & EPOLLOUT) {
        if (!flush(i)) {
          fail(i, "send failed");
          continue;
        }
        if (c.off == c.out.size()) want(i, EPOLLIN);
      }
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0) {
        fail(i, "connection closed");
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      // One complete response (the server answers creates with a Content-Length body)?
      const size_t head_end = c.in.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      std::string head = c.in.substr(0, head_end);
      std::transform(head.begin(), head.end(), head.begin(), [](unsigned char ch) { return std::tolower(ch); });
      const size_t cl = head.find("content-length:");
      if (cl == std::string::npos) {
        fail(i, "response without Content-Length: " + head.substr(0, 200));
        continue;
      }
      const size_t len = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
      if (c.in.size() < head_end + 4 + len) continue;
      const int status = std::atoi(c.in.c_str() + 9);
      if (status == 201) {
        ++ok;
      } else {
        ++failed;
        if (first_error.empty()) first_error = std::to_string(status) + " " + c.in.substr(head_end + 4, 300);
      }
      c.in.erase(0, head_end + 4 + len);
      issue(i);
    }
  }
  for (auto& c : conns) {
    if (c.fd >= 0) close(c.fd);
  }
  close(ep);
  return {ok, failed, std::chrono::duration<double>(Clock::now() - t0).count(), first_error};
}

// Counts occurrences of `needle` in `hay`.
size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

std::string list_rv(const std::string& body) {
  auto p = body.find("\"resourceVersion\":\"");
  if (p == std::string::npos) return "";
  return body.substr(p + 19, body.find('"', p + 19) - p - 19);
}

// Follows a watch stream on the bench namespace's pods and timestamps the first time each
// pod is seen with a spec.nodeName.
class BindingWatcher {
 public:
  BindingWatcher(uint16_t port, const std::string& rv, int expected) : conn_(port), expected_(expected) {
    ok_ = conn_.ok() &&
          conn_.start_stream("/api/v1/namespaces/bench/pods?watch=1&resourceVersion=" + rv + "&timeoutSeconds=3600") ==
              200;
    if (ok_) thread_ = std::thread([this] { run(); });
  }
  ~BindingWatcher() {
    if (thread_.joinable()) {
      shutdown(conn_.fd(), SHUT_RDWR);
      thread_.join();
    }
  }
  bool ok() const { return ok_; }
  // Waits until every expected pod is bound or the deadline passes; the bind times.
  std::vector<Clock::time_point> wait(Clock::time_point deadline) {
    std::unique_lock lk(mu_);
    cv_.wait_until(lk, deadline, [&] { return static_cast<int>(times_.size()) >= expected_ || ended_; });
    return times_;
  }
  int bound() {
    std::lock_guard lk(mu_);
    return static_cast<int>(times_.size());
  }

 private:
  void run() {
    std::string payload;  // de-chunked stream: one JSON event per line
    std::unordered_set<std::string> seen;
    for (;;) {
      std::string& buf = conn_.buffer();
      // De-chunk what has arrived.
      for (;;) {
        size_t le = buf.find("\r\n");
        if (le == std::string::npos) break;
        size_t len = std::strtoul(buf.c_str(), nullptr, 16);
        if (buf.size() < le + 2 + len + 2) break;
        payload.append(buf, le + 2, len);
        buf.erase(0, le + 2 + len + 2);
        if (len == 0) {
          finish();
          return;
        }
      }
      size_t start = 0;
      for (size_t nl; (nl = payload.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(payload.data() + start, nl - start);
        size_t node = line.find("\"nodeName\":\"");
        size_t name = line.find("\"name\":\"bp-");
        if (node == std::string_view::npos || name == std::string_view::npos) continue;
        if (line.substr(node + 12, 1) == "\"") continue;
        size_t name_end = line.find('"', name + 8);
        std::string pod(line.substr(name + 8, name_end - name - 8));
        if (!seen.insert(pod).second) continue;
        const auto now = Clock::now();
        std::lock_guard lk(mu_);
        times_.push_back(now);
        if (static_cast<int>(times_.size()) >= expected_) cv_.notify_all();
      }
      payload.erase(0, start);
      if (!conn_.fill()) {
        finish();
        return;
      }
    }
  }
  void finish() {
    std::lock_guard lk(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  HttpConn conn_;
  int expected_;
  bool ok_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Clock::time_point> times_;
  bool ended_ = false;
  std::thread thread_;
};

// `v` with `decimals` digits after the point.
std::string fmt(int decimals, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string run_scheduler_api_bench(const ApiBenchOptions& o) {
  std::string work = o.dir + "/kl-bench-sched-XXXXXX";
  if (mkdtemp(work.data()) == nullptr) return "{\"error\": \"mkdtemp in " + o.dir + " failed\"}";
  struct Cleanup {
    std::string dir;
    pid_t pid = -1;
    ~Cleanup() {
      stop(pid);
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  // Enough descriptors for the clients on both ends (children inherit the limit).
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  const uint16_t port = free_port();
  const std::string log = work + "/control.log";
  pid_t cp = spawn({o.control, "--data-dir", work + "/control", "--insecure-listen", "127.0.0.1:" + std::to_string(port),
                    "--node-monitor-grace-period", "1h", "--cluster-cidr", "10.0.0.0/8", "--node-cidr-mask-size", "24",
                    "--scheduler-client", o.scheduler_client, "--controllers-client", o.scheduler_client},
                   log);
  cleanup.pid = cp;
  if (!wait_ready(port, "/readyz", "GET", "", cp)) {
    return "{\"error\": \"kernlet-control did not start\"}";
  }
  // The components sync their informers after /readyz: give them a moment.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_rss = rss_mb(cp);
  {
    HttpConn c(port);
    c.request("POST", "/api/v1/namespaces",
              R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}})", nullptr);
  }

  // ---- the cluster: nodes, leases, node IPAM settled ----
  const std::string now = now_rfc3339(false), now_micro = now_rfc3339(true);
  Load nodes = post_all(
      port, o.clients, o.nodes, [](int) { return std::string("/api/v1/nodes"); },
      [&](int i) { return node_json(i, now); });
  Load leases = post_all(
      port, o.clients, o.nodes,
      [](int) { return std::string("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"); },
      [&](int i) { return lease_json(i, now_micro); });
  int with_cidr = 0;
  {
    HttpConn c(port);
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    std::string body;
    while (Clock::now() < deadline) {
      c.request("GET", "/api/v1/nodes?resourceVersion=0", "", &body);
      with_cidr = static_cast<int>(count_of(body, "\"podCIDR\":"));
      if (with_cidr >= o.nodes) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double cluster_rss = rss_mb(cp);

  // ---- measured: pods created and bound ----
  std::string rv;
  {
    HttpConn c(port);
    std::string body;
    c.request("GET", "/api/v1/namespaces/bench/pods?limit=1", "", &body);
    rv = list_rv(body);
  }
  BindingWatcher watcher(port, rv, o.pods);
  if (!watcher.ok()) return "{\"error\": \"pod watch did not start\"}";
  // Optionally a profile of kernlet-control over the measured phase alone.
  pid_t perf = -1;
  if (!o.perf_out.empty()) {
    perf = spawn({"/usr/bin/perf", "record", "--call-graph", "dwarf,32768", "-F", "499", "-p", std::to_string(cp),
                  "-o", o.perf_out},
                 work + "/perf.log");
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  const double load_before = loadavg_1m();
  const double cpu0 = cpu_seconds(cp);
  // This process's CPU while it creates the pods: the load generator's share of the cores
  // (the binding watcher's thread is in it too).
  auto self_cpu = [] {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  };
  const double self0 = self_cpu();
  const auto t0 = Clock::now();
  Load pods = (o.client == "epoll" ? post_all_epoll : post_all)(
      port, o.clients, o.pods, [](int) { return std::string("/api/v1/namespaces/bench/pods"); },
      [](int i) { return pod_json(i); });
  const auto created = Clock::now();
  const double self1 = self_cpu();
  const int bound_at_created = watcher.bound();
  std::vector<Clock::time_point> times = watcher.wait(Clock::now() + std::chrono::seconds(o.timeout_seconds));
  const auto t_end = times.empty() ? created : times.back();
  const double cpu1 = cpu_seconds(cp);
  if (perf > 0) {
    kill(perf, SIGINT);
    waitpid(perf, nullptr, 0);
  }
  const double load_after = loadavg_1m();
  const double seconds = std::chrono::duration<double>(t_end - t0).count();
  const double create_seconds = std::chrono::duration<double>(created - t0).count();
  // scheduler_perf's SchedulingThroughput: bindings counted per 1 s interval.
  std::vector<int> per_second;
  for (const auto& t : times) {
    size_t s = static_cast<size_t>(std::chrono::duration<double>(t - t0).count());
    if (per_second.size() <= s) per_second.resize(s + 1, 0);
    ++per_second[s];
  }

  // ---- checks after the run ----
  int tainted = 0, bound_listed = 0, failed_scheduling = 0, scheduled_events = 0;
  {
    HttpConn c(port);
    std::string body;
    c.request("GET", "/api/v1/nodes?resourceVersion=0", "", &body);
    tainted = static_cast<int>(count_of(body, "\"taints\":[{"));
    c.request("GET", "/api/v1/namespaces/bench/pods?resourceVersion=0", "", &body);
    bound_listed = static_cast<int>(count_of(body, "\"nodeName\":\"node-"));
    c.request("GET", "/api/v1/namespaces/bench/events?resourceVersion=0", "", &body);
    failed_scheduling = static_cast<int>(count_of(body, "\"reason\":\"FailedScheduling\""));
    scheduled_events = static_cast<int>(count_of(body, "\"reason\":\"Scheduled\""));
  }
  // The Scheduled Events are written after the bindings (the scheduler puts bindings
  // first): wait up to 60 s for them, so the CPU figure can include them too.
  const auto events_deadline = Clock::now() + std::chrono::seconds(60);
  while (scheduled_events < o.pods && Clock::now() < events_deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    HttpConn c(port);
    std::string body;
    c.request("GET", "/api/v1/namespaces/bench/events?resourceVersion=0", "", &body);
    scheduled_events = static_cast<int>(count_of(body, "\"reason\":\"Scheduled\""));
  }
  const double events_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu2 = cpu_seconds(cp);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double end_rss = rss_mb(cp);

  std::string out = "{\n    \"transport\": \"plain HTTP/1.1 on 127.0.0.1 (--insecure-listen); durable SQLite store\",\n";
  out += "    \"scheduler_client\": \"" + o.scheduler_client + "\", \"pod_create_client\": \"" + o.client + "\",\n";
  out += "    \"nodes\": " + std::to_string(o.nodes) + ", \"pods\": " + std::to_string(o.pods) +
         ", \"clients\": " + std::to_string(o.clients) + ",\n";
  out += "    \"setup\": {\"nodes_created\": " + std::to_string(nodes.ok) + ", \"node_seconds\": " +
         fmt(2, nodes.seconds) + ", \"leases_created\": " + std::to_string(leases.ok) +
         ", \"lease_seconds\": " + fmt(2, leases.seconds) + ", \"nodes_with_pod_cidr\": " +
         std::to_string(with_cidr) + "},\n";
  if (!nodes.first_error.empty() || !leases.first_error.empty() || !pods.first_error.empty()) {
    std::string e = nodes.first_error + leases.first_error + pods.first_error;
    for (char& ch : e) {
      if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) ch = '\'';
    }
    out += "    \"first_error\": \"" + e + "\",\n";
  }
  out += "    \"pods_created\": " + std::to_string(pods.ok) + ", \"create_failures\": " + std::to_string(pods.failed) +
         ", \"create_seconds\": " + fmt(2, create_seconds) +
         ", \"creates_per_s\": " + fmt(0, static_cast<double>(pods.ok) / create_seconds) + ",\n";
  out += "    \"bound_when_creates_done\": " + std::to_string(bound_at_created) + ",\n";
  out += "    \"pods_bound\": " + std::to_string(times.size()) + ", \"seconds_first_create_to_last_bind\": " +
         fmt(2, seconds) + ",\n";
  out += "    \"pods_bound_per_s\": " + fmt(0, static_cast<double>(times.size()) / seconds) + ",\n";
  std::string samples;
  for (size_t i = 0; i < per_second.size(); ++i) samples += (i ? ", " : "") + std::to_string(per_second[i]);
  out += "    \"bound_per_1s_interval\": [" + samples + "],\n";
  out += "    \"control_cpu_seconds\": " + fmt(2, cpu1 - cpu0) + ", \"control_cpu_ms_per_pod\": " +
         fmt(3, (cpu1 - cpu0) * 1000 / std::max<double>(1, static_cast<double>(times.size()))) + ",\n";
  out += "    \"bench_cpu_ms_per_pod_created\": " +
         fmt(3, (self1 - self0) * 1000 / std::max<double>(1, static_cast<double>(pods.ok))) + ",\n";
  out += "    \"scheduled_events_written\": " + std::to_string(scheduled_events) +
         ", \"seconds_first_create_to_events_written\": " + fmt(2, events_seconds) +
         ", \"control_cpu_ms_per_pod_with_events\": " +
         fmt(3, (cpu2 - cpu0) * 1000 / std::max<double>(1, static_cast<double>(times.size()))) + ",\n";
  out += "    \"loadavg_1m_before_after\": [" + fmt(1, load_before) + ", " + fmt(1, load_after) + "],\n";
  out += "    \"after\": {\"pods_bound_listed\": " + std::to_string(bound_listed) + ", \"nodes_tainted\": " +
         std::to_string(tainted) + ", \"failed_scheduling_events\": " + std::to_string(failed_scheduling) +
         ", \"scheduled_events\": " + std::to_string(scheduled_events) + "},\n";
  out += "    \"control_rss_mb\": {\"idle\": " + fmt(1, idle_rss) + ", \"with_nodes\": " + fmt(1, cluster_rss) +
         ", \"end\": " + fmt(1, end_rss) + "}\n  }";
  return out;
}

}  // namespace kernlet::bench
