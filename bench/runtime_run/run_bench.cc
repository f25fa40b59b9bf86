// kernlet-bench-run: `runc run` of /bin/true against kernlet's create-start-wait-delete of
// the same, on the same busybox rootfs, in one run; plus sandbox + one container start
// (p50/p99) and the RSS each running pod adds. Prints one JSON document. Needs root.
//
//   kernlet-bench-run [--runs N] [--runc PATH]
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/container/container_runtime.h"

extern char** environ;

namespace kr = kernlet::runtime;

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double mean = 0, p50 = 0, p99 = 0;
  size_t n = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  return s;
}

std::string json(const Stats& s) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "{\"n\": %zu, \"mean_ms\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}",
                s.n, s.mean, s.p50, s.p99);
  return buf;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::printf("{\"error\": \"%s\"}\n", what.c_str());
  std::exit(1);
}

void check(const kernlet::Result<void>& r, const char* what) {
  if (!r.ok()) die(std::string(what) + ": " + r.error().to_string());
}

std::string make_rootfs(const std::string& dir) {
  for (const char* d : {"", "/bin", "/etc", "/proc", "/sys", "/dev", "/tmp", "/root"})
    ::mkdir((dir + d).c_str(), 0755);
  if (std::system(("cp /bin/busybox " + dir + "/bin/busybox").c_str()) != 0) die("copy busybox");
  FILE* list = ::popen("/bin/busybox --list", "r");
  char applet[128];
  while (list != nullptr && std::fgets(applet, sizeof(applet), list) != nullptr) {
    std::string name(applet);
    while (!name.empty() && name.back() == '\n') name.pop_back();
    if (!name.empty() && name != "busybox") (void)::symlink("busybox", (dir + "/bin/" + name).c_str());
  }
  if (list != nullptr) ::pclose(list);
  return dir;
}

// The OCI config runc runs: the same namespaces kernlet gives a pod and its container
// (pid, net, ipc, uts, mount, cgroup), the same /proc, /dev, /sys mounts, masked paths,
// default capabilities and no_new_privs. cgroupsPath is relative: runc puts it under its
// own cgroup in each hierarchy and removes it on exit.
std::string runc_config(const std::string& rootfs, const std::string& cgroup) {
  const char* caps =
      "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\","
      "\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","
      "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]";
  std::string c = R"({"ociVersion": "1.0.2",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
   "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
   "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS},
   "noNewPrivileges": true},
 "root": {"path": "ROOTFS", "readonly": true},
 "hostname": "runc",
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]}],
 "linux": {"cgroupsPath": "CGROUP",
   "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
   "maskedPaths": ["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware","/sys/devices/virtual/powercap"],
   "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}})";
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t at = c.find(from); at != std::string::npos; at = c.find(from, at + to.size()))
      c.replace(at, from.size(), to);
  };
  replace_all("CAPS", caps);
  replace_all("ROOTFS", rootfs);
  replace_all("CGROUP", cgroup);
  return c;
}

int run_process(const std::vector<std::string>& argv) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&fa);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

long smaps_kb(pid_t pid, const char* key) {
  auto text = kr::read_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
  if (!text.ok()) return -1;
  size_t at = text->find(std::string("\n") + key + ":");
  if (at == std::string::npos) return -1;
  return std::strtol(text->c_str() + at + std::strlen(key) + 2, nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 100;
  std::string runc = "/usr/sbin/runc";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--runc" && i + 1 < argc) {
      runc = argv[++i];
    } else {
      std::fprintf(stderr, "usage: kernlet-bench-run [--runs N] [--runc PATH]\n");
      return 2;
    }
  }
  if (::geteuid() != 0) die("needs root");
  auto load_start = kr::read_file("/proc/loadavg");
  std::string base = "/tmp/kl-bench-run-" + std::to_string(::getpid());
  std::string rootfs = make_rootfs(base + "-rootfs");
  std::string bundle = base + "-bundle";
  ::mkdir(bundle.c_str(), 0755);
  std::string cg_rel = "kl-bench-runc-" + std::to_string(::getpid());
  check(kr::write_file_atomic(bundle + "/config.json", runc_config(rootfs, cg_rel)), "write config.json");
  std::string runc_root = base + "-runc-state";

  auto rt_or = kr::ContainerRuntime::open(base + "-state");
  if (!rt_or.ok()) die(rt_or.error().to_string());
  auto& rt = **rt_or;

  kr::ContainerSpec proto;
  proto.lower_dirs = {rootfs};
  proto.process.args = {"/bin/true"};
  proto.process.no_new_privileges = true;
  proto.pod_etc_files = false;
  int seq = 0;
  auto run_container = [&](const std::string& pod) {
    kr::ContainerSpec s = proto;
    s.id = "c" + std::to_string(seq++);
    s.sandbox_id = pod;
    check(rt.create(s), "create");
    check(rt.start(s.id), "start");
    auto w = rt.wait(s.id, 10000);
    if (!w.ok() || w->exit_code != 0) die("container did not exit 0");
    check(rt.remove(s.id), "remove");
  };
  auto new_pod = [&]() {
    kr::SandboxSpec p;
    p.id = "p" + std::to_string(seq++);
    p.name = "bench";
    p.dns.servers = {"127.0.0.1"};
    auto sb = rt.sandboxes().create(p);
    if (!sb.ok()) die(sb.error().to_string());
    return p.id;
  };

  // Warm up both (page cache, the holder memfd).
  if (run_process({runc, "--root", runc_root, "--systemd-cgroup=false", "run", "--bundle", bundle, "warm-" + cg_rel}) != 0)
    die("runc run failed");
  std::string warm_pod = new_pod();
  run_container(warm_pod);

  std::vector<double> t_runc, t_full, t_ctr, t_start;
  std::string long_pod = new_pod();
  for (int i = 0; i < runs; ++i) {
    // Interleaved so both see the same machine state.
    auto t0 = Clock::now();
    int rc = run_process({runc, "--root", runc_root, "--systemd-cgroup=false", "run", "--bundle",
                          bundle, "kl-" + std::to_string(::getpid()) + "-" + std::to_string(i)});
    t_runc.push_back(ms_since(t0));
    if (rc != 0) die("runc run failed");

    t0 = Clock::now();
    std::string pod = new_pod();
    kr::ContainerSpec s = proto;
    s.id = "c" + std::to_string(seq++);
    s.sandbox_id = pod;
    check(rt.create(s), "create");
    check(rt.start(s.id), "start");
    t_start.push_back(ms_since(t0));
    auto w = rt.wait(s.id, 10000);
    if (!w.ok() || w->exit_code != 0) die("container did not exit 0");
    check(rt.remove(s.id), "remove");
    check(rt.sandboxes().remove(pod), "remove sandbox");
    t_full.push_back(ms_since(t0));

    t0 = Clock::now();
    run_container(long_pod);
    t_ctr.push_back(ms_since(t0));
  }

  // RSS added per running pod: the holders of 20 idle pods.
  std::vector<std::string> pods;
  long rss = 0, pss = 0;
  const int kPods = 20;
  for (int i = 0; i < kPods; ++i) pods.push_back(new_pod());
  for (const auto& p : pods) {
    pid_t h = rt.sandboxes().find(p)->holder_pid();
    rss += smaps_kb(h, "Rss");
    pss += smaps_kb(h, "Pss");
  }
  for (const auto& p : pods) check(rt.sandboxes().remove(p), "remove sandbox");
  check(rt.sandboxes().remove(long_pod), "remove sandbox");
  check(rt.sandboxes().remove(warm_pod), "remove sandbox");
  rt_or->reset();
  (void)kr::remove_tree(base + "-state");
  (void)kr::remove_tree(bundle);
  (void)kr::remove_tree(rootfs);
  (void)kr::remove_tree(runc_root);

  Stats runc_s = stats(t_runc), full_s = stats(t_full), ctr_s = stats(t_ctr), start_s = stats(t_start);
  auto load_end = kr::read_file("/proc/loadavg");
  auto first_field = [](const kernlet::Result<std::string>& r) {
    return r.ok() ? r->substr(0, r->find(' ')) : std::string("?");
  };
  std::printf("{\n  \"runs\": %d,\n", runs);
  std::printf("  \"loadavg_1m_start\": \"%s\",\n  \"loadavg_1m_end\": \"%s\",\n",
              first_field(load_start).c_str(), first_field(load_end).c_str());
  std::printf("  \"runc_run_true\": %s,\n", json(runc_s).c_str());
  std::printf("  \"kernlet_pod_and_container_true\": %s,\n", json(full_s).c_str());
  std::printf("  \"kernlet_container_in_running_pod_true\": %s,\n", json(ctr_s).c_str());
  std::printf("  \"ratio_pod_and_container_vs_runc_mean\": %.3f,\n", full_s.mean / runc_s.mean);
  std::printf("  \"ratio_container_in_pod_vs_runc_mean\": %.3f,\n", ctr_s.mean / runc_s.mean);
  std::printf("  \"sandbox_plus_one_container_start\": %s,\n", json(start_s).c_str());
  std::printf("  \"rss_per_pod_kb\": %.1f,\n  \"pss_per_pod_kb\": %.1f\n}\n",
              static_cast<double>(rss) / kPods, static_cast<double>(pss) / kPods);
  return 0;
}
