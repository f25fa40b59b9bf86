// kernlet-bench-agent: pod create (through the API) -> Running seen by a watch, on the
// single-node cluster `scripts/up` starts, with a local busybox image.
//
//   kernlet-bench-agent [--pods 100] [--dir /var/tmp] [--bin DIR] [--repo DIR]
//
// Phases: 100 pods created one after another (each waits for its Running), then 100 created
// at once (from 10 threads). A pod's latency runs from just before its POST to the moment the
// watch stream delivers it with status.phase Running. Also the agent's RSS idle (node Ready,
// no pods) and with the 100 pods running, and the CPU time each phase cost per pod: the
// control plane, the agent, the pods' cgroups and the whole machine. Prints one JSON
// document. Needs root.
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/magic.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client/config.h"
#include "api/client/rest_client.h"
#include "api/json.h"
#include "bench/common/bench_process.h"

namespace {

namespace fs = std::filesystem;
using namespace kernlet;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "kernlet-bench-agent: %s\n", msg.c_str());
  std::exit(1);
}

uint16_t free_port() {
  // Binds port 0 on loopback and returns what the kernel chose.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    die("cannot pick a free port");
  }
  uint16_t port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// VmRSS of a process in bytes (0 when it is gone).
int64_t rss_bytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}

// CPU time (user + system) a process has used so far, in ms; its waited-for children too.
double process_cpu_ms(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<long long> f;  // fields from 3 (state) on; utime is the 14th field overall
  size_t i = close + 2;
  while (i < stat.size() && f.size() < 15) {
    size_t j = stat.find(' ', i);
    f.push_back(std::atoll(stat.c_str() + i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  if (f.size() < 15) return 0;
  return static_cast<double>(f[11] + f[12] + f[13] + f[14]) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU time used in a cgroup v2 subtree (cpu.stat usage_usec, kept without the cpu controller), ms.
double cgroup_cpu_ms(const fs::path& dir) {
  std::string s = read_text(dir / "cpu.stat");
  size_t at = s.find("usage_usec ");
  return at == std::string::npos ? 0 : static_cast<double>(std::atoll(s.c_str() + at + 11)) / 1000.0;
}

// Busy CPU time of the whole machine (every process, not only ours), ms.
double machine_busy_ms() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The direct children of a process (scripts/up's: kernlet-control, kernlet-csi-local, kernlet-agent).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  for (pid_t c; f >> c;) out.push_back(c);
  return out;
}

std::string comm_of(pid_t pid) {
  std::string c = read_text("/proc/" + std::to_string(pid) + "/comm");
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

// CPU used while a phase ran: the control plane, the agent, the pods' cgroups (containers,
// also their setup before exec; the holders when they are placed in a pod cgroup) and the
// whole machine (which includes other users of a shared machine).
struct CpuSample {
  double control = 0, agent = 0, pods = 0, machine = 0;
};

CpuSample cpu_sample(pid_t control, pid_t agent, const fs::path& cgroup_root) {
  return CpuSample{process_cpu_ms(control), process_cpu_ms(agent), cgroup_cpu_ms(cgroup_root), machine_busy_ms()};
}

std::string cpu_json(const CpuSample& a, const CpuSample& b, int pods) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "{\"control\": %.1f, \"agent\": %.1f, \"pod_cgroups\": %.1f, \"machine\": %.1f}",
                (b.control - a.control) / pods, (b.agent - a.agent) / pods, (b.pods - a.pods) / pods,
                (b.machine - a.machine) / pods);
  return buf;
}

std::string cgroup2_mount() {
  struct statfs st {};
  if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return "/sys/fs/cgroup";
  return "/sys/fs/cgroup/unified";
}

// Kills what is left in a cgroup subtree the benchmark created and removes it.
void remove_cgroup(const fs::path& dir) {
  if (!fs::exists(dir)) return;
  std::ofstream(dir / "cgroup.kill") << "1";
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline && read_text(dir / "cgroup.events").find("populated 0") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory()) dirs.push_back(it->path());
  }
  std::sort(dirs.rbegin(), dirs.rend());
  for (const auto& d : dirs) ::rmdir(d.c_str());
  ::rmdir(dir.c_str());
}

json::object pod_manifest(const std::string& name, const std::string& image) {
  json::object c{{"name", "main"},
                 {"image", image},
                 {"imagePullPolicy", "IfNotPresent"},
                 {"command", json::array{"sleep", "3600"}}};
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", json::object{{"name", name}, {"labels", json::object{{"bench", "agent"}}}}},
                      {"spec", json::object{{"terminationGracePeriodSeconds", 1},
                                            {"containers", json::array{c}}}}};
}

// Follows the pods of the namespace and records when each is first seen Running.
class RunningWatch {
 public:
  RunningWatch(std::shared_ptr<client::RestClient> rc, std::string ns) : rc_(std::move(rc)), ns_(std::move(ns)) {
    auto list = rc_->list(client::ResourceRef("", "v1", "pods", ns_));
    if (!list.ok()) die("list pods: " + list.error().to_string());
    client::WatchOptions o;
    o.resource_version = list->resource_version;
    auto w = rc_->watch(client::ResourceRef("", "v1", "pods", ns_), o);
    if (!w.ok()) die("watch pods: " + w.error().to_string());
    stream_ = std::move(*w);
    thread_ = std::thread([this] { run(); });
  }
  ~RunningWatch() {
    stream_->cancel();
    thread_.join();
  }
  // Waits until `name` was seen Running; the time it was seen.
  Clock::time_point wait_running(const std::string& name, std::chrono::seconds timeout) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return running_.count(name) > 0; })) {
      die("pod " + name + " not Running after " + std::to_string(timeout.count()) + " s");
    }
    return running_[name];
  }

 private:
  void run() {
    for (;;) {
      auto ev = stream_->next();
      if (!ev.ok() || !ev->has_value()) return;
      const auto& obj = *(*ev)->object;
      const auto* meta = obj.if_contains("metadata");
      const auto* status = obj.if_contains("status");
      if (meta == nullptr || status == nullptr || !status->is_object()) continue;
      const auto* phase = status->as_object().if_contains("phase");
      if (phase == nullptr || !phase->is_string() || phase->as_string() != "Running") continue;
      std::string name(meta->as_object().at("name").as_string());
      const auto now = Clock::now();
      std::lock_guard lk(mu_);
      running_.emplace(name, now);
      cv_.notify_all();
    }
  }
  std::shared_ptr<client::RestClient> rc_;
  std::string ns_;
  std::unique_ptr<client::WatchStream> stream_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> running_;
};

struct Stats {
  double p50_ms = 0, p99_ms = 0, max_ms = 0, total_s = 0;
};

Stats stats(std::vector<double> ms, double total_s) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  return Stats{at(0.50), at(0.99), ms.back(), total_s};
}

std::string stats_json(const Stats& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "{\"p50_ms\": %.1f, \"p99_ms\": %.1f, \"max_ms\": %.1f, \"total_s\": %.2f}", s.p50_ms,
                s.p99_ms, s.max_ms, s.total_s);
  return buf;
}


}  // namespace

int main(int argc, char** argv) {
  fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  fs::path repo = KERNLET_SOURCE_DIR;
  std::string dir = "/var/tmp";
  int pods = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--bin") bin = argv[i + 1];
    else if (a == "--repo") repo = argv[i + 1];
    else die("unknown flag " + a + " (flags: --pods N --dir DIR --bin DIR --repo DIR)");
  }
  if (::geteuid() != 0) die("needs root (it runs a node agent)");
  if (pods < 1) die("--pods must be at least 1");

  char tmpl[256];
  std::snprintf(tmpl, sizeof tmpl, "%s/kl-bench-agent-XXXXXX", dir.c_str());
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp in " + dir);
  const fs::path data = tmpl;
  const fs::path cgroup_root = cgroup2_mount() + "/kernlet-bench-" + std::to_string(::getpid());
  const uint16_t port = free_port(), agent_port = free_port();
  const std::string node = "bench-" + std::to_string(::getpid());
  const std::string machine_json = kernlet::bench::machine_json();

  // scripts/up, as a user runs it, from the built binaries.
  const fs::path up_log = data / "up.log";
  pid_t up = ::fork();
  if (up == 0) {
    ::setpgid(0, 0);
    FILE* out = std::freopen(up_log.c_str(), "w", stdout);
    (void)out;
    ::dup2(1, 2);
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    const std::string up_script = (repo / "scripts/up").string();
    ::execl(up_script.c_str(), up_script.c_str(), "--bin", bin.c_str(), "--data-dir", (data / "up").c_str(),
            "--listen", listen.c_str(), "--node-name", node.c_str(), "--agent-port",
            std::to_string(agent_port).c_str(), "--cgroup-root", cgroup_root.c_str(), "--pod-logs-dir",
            (data / "logs").c_str(), "--network", "none", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  auto stop_cluster = [&] {
    ::kill(up, SIGTERM);
    int st = 0;
    ::waitpid(up, &st, 0);
    remove_cgroup(cgroup_root);
    // Overlay and volume mounts live in the pods' mount namespaces, which died with them;
    // the agent's rshared bind of its pods dir is on the host.
    ::umount2((data / "up/agent/pods").c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(data, ec);
  };
  const auto up_deadline = Clock::now() + std::chrono::seconds(120);
  while (read_text(up_log).find("is Ready") == std::string::npos) {
    int st = 0;
    if (::waitpid(up, &st, WNOHANG) == up || Clock::now() > up_deadline) {
      std::string log = read_text(up_log);
      stop_cluster();
      die("scripts/up did not bring the node up:\n" + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const pid_t agent = std::atoi(read_text(data / "up/agent.pid").c_str());
  pid_t control = 0;
  for (pid_t c : children_of(up)) {
    if (comm_of(c) == "kernlet-control") control = c;
  }
  const std::string image = [] {
    // The tag scripts/up imported: busybox's version.
    FILE* p = ::popen("/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\\([0-9]*\\.[0-9]*\\).*/\\1/p'", "r");
    char buf[64] = {0};
    if (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) {
      std::string v(buf);
      while (!v.empty() && v.back() == '\n') v.pop_back();
      ::pclose(p);
      return "busybox:" + v;
    }
    if (p != nullptr) ::pclose(p);
    return std::string("busybox:local");
  }();

  auto cfg = client::load_kubeconfig(data / "up/control/admin.kubeconfig");
  if (!cfg.ok()) {
    stop_cluster();
    die(cfg.error().to_string());
  }
  auto rc = client::RestClient::create(*cfg);
  if (!rc.ok()) {
    stop_cluster();
    die(rc.error().to_string());
  }
  const client::ResourceRef pods_ref("", "v1", "pods", "default");

  // Idle: the node is Ready and runs no pods.
  const int64_t rss_idle = rss_bytes(agent);

  std::vector<double> seq_ms;
  Stats seq{}, burst{};
  CpuSample seq0{}, seq1{}, burst0{}, burst1{};
  int64_t rss_loaded = 0;
  {
    RunningWatch watch(*rc, "default");
    const auto t0 = Clock::now();
    seq0 = cpu_sample(control, agent, cgroup_root);
    for (int i = 0; i < pods; ++i) {
      const std::string name = "seq-" + std::to_string(i);
      const auto start = Clock::now();
      auto r = (*rc)->create(pods_ref, pod_manifest(name, image));
      if (!r.ok()) {
        stop_cluster();
        die("create " + name + ": " + r.error().to_string());
      }
      const auto seen = watch.wait_running(name, std::chrono::seconds(60));
      seq_ms.push_back(std::chrono::duration<double, std::milli>(seen - start).count());
    }
    seq = stats(seq_ms, std::chrono::duration<double>(Clock::now() - t0).count());
    seq1 = cpu_sample(control, agent, cgroup_root);
    rss_loaded = rss_bytes(agent);

    // Delete them, then the burst: `pods` creates from 10 threads at once.
    (void)(*rc)->request("DELETE", "/api/v1/namespaces/default/pods?labelSelector=bench%3Dagent");
    const auto gone_deadline = Clock::now() + std::chrono::seconds(120);
    for (;;) {
      auto l = (*rc)->list(pods_ref);
      if (l.ok() && l->items.empty()) break;
      if (Clock::now() > gone_deadline) {
        stop_cluster();
        die("the sequential pods were not deleted within 120 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }

    std::vector<Clock::time_point> started(pods);
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    const auto b0 = Clock::now();
    burst0 = cpu_sample(control, agent, cgroup_root);
    std::vector<std::thread> ts;
    for (int t = 0; t < 10; ++t) {
      ts.emplace_back([&] {
        for (int i; (i = next++) < pods;) {
          started[i] = Clock::now();
          if (!(*rc)->create(pods_ref, pod_manifest("burst-" + std::to_string(i), image)).ok()) failed = true;
        }
      });
    }
    for (auto& t : ts) t.join();
    if (failed) {
      stop_cluster();
      die("a burst create failed");
    }
    std::vector<double> burst_ms;
    Clock::time_point last = b0;
    for (int i = 0; i < pods; ++i) {
      const auto seen = watch.wait_running("burst-" + std::to_string(i), std::chrono::seconds(120));
      burst_ms.push_back(std::chrono::duration<double, std::milli>(seen - started[i]).count());
      last = std::max(last, seen);
    }
    burst = stats(burst_ms, std::chrono::duration<double>(last - b0).count());
    burst1 = cpu_sample(control, agent, cgroup_root);
    rss_loaded = std::max(rss_loaded, rss_bytes(agent));
    (void)(*rc)->request("DELETE", "/api/v1/namespaces/default/pods?labelSelector=bench%3Dagent");
  }
  const auto gone_deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < gone_deadline) {
    auto l = (*rc)->list(pods_ref);
    if (l.ok() && l->items.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop_cluster();

  std::printf(
      "{\"benchmark\": \"pod create -> Running seen by a watch (kernlet-control + kernlet-agent, scripts/up, "
      "network none, local busybox image)\",\n"
      " \"machine\": %s,\n \"pods\": %d,\n"
      " \"one_after_another\": %s,\n \"all_at_once\": %s,\n"
      " \"cpu_ms_per_pod\": {\"one_after_another\": %s, \"all_at_once\": %s},\n"
      " \"agent_rss_mb\": {\"idle\": %.1f, \"with_pods\": %.1f, \"per_pod\": %.3f},\n"
      " \"budget\": {\"p50_ms\": 50, \"p99_ms\": 200, \"agent_rss_idle_mb\": 25},\n"
      " \"peer\": \"kubelet's published SLO: pod startup p99 <= 5 s (no kubelet on this machine to run side by "
      "side)\"}\n",
      machine_json.c_str(), pods, stats_json(seq).c_str(), stats_json(burst).c_str(),
      cpu_json(seq0, seq1, pods).c_str(), cpu_json(burst0, burst1, pods).c_str(), rss_idle / 1048576.0,
      rss_loaded / 1048576.0, (rss_loaded - rss_idle) / 1048576.0 / pods);
  return 0;
}
