// Runs inside the qemu guest (tests/vm), on a pure cgroup2 mount with every controller:
// shows with CgroupV2Driver that the limits it writes are enforced by the kernel.
// Prints one machine-readable line per case to the console:
//   KLVM case=<name> result=pass|fail <key>=<value>... detail="<text>"
// The host (tests/vm/lib/check_case.sh) asserts each line as its own ctest test.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_v2_driver.h"
#include "runtime/cgroups/clone_into_cgroup.h"

namespace kernlet::cgroups {
namespace {

using namespace std::chrono_literals;
constexpr int64_t kMi = 1024 * 1024;

void report(const std::string& name, bool ok, const std::string& kv, const std::string& detail) {
  std::printf("KLVM case=%s result=%s %s detail=\"%s\"\n", name.c_str(), ok ? "pass" : "fail",
              kv.c_str(), detail.c_str());
  std::fflush(stdout);
}

int64_t node_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  while (f >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    f.ignore(1 << 10, '\n');
  }
  return 0;
}

// Forks a child into the container leaf running `body`; -1 (and a report) on failure.
template <class F>
pid_t spawn_in(CgroupV2Driver& d, const std::string& pod, const std::string& ctr, F body) {
  auto fd = d.open_leaf_fd(pod, ctr);
  if (!fd.ok()) {
    std::printf("KLVM error open leaf: %s\n", fd.error().to_string().c_str());
    return -1;
  }
  auto c = clone_into_cgroup(fd->get());
  if (!c.ok()) {
    std::printf("KLVM error clone3: %s\n", c.error().to_string().c_str());
    return -1;
  }
  if (c->pid == 0) {
    body();
    ::_exit(0);
  }
  return c->pid;
}

std::string status_text(int st) {
  if (WIFEXITED(st)) return "exit" + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("signal") + ::sigabbrev_np(WTERMSIG(st));
  return "status" + std::to_string(st);
}

std::string read_file(RealCgroupFs& fs, const std::string& path) {
  auto r = fs.read(path);
  if (!r.ok()) return "<" + r.error().to_string() + ">";
  std::string s = *r;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  for (auto& c : s)
    if (c == '\n') c = ',';
  return s;
}

// Reaps every child that has exited (subreaper: orphaned grandchildren come here too).
void reap_all() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

void case_controllers(CgroupV2Driver& d) {
  const auto& r = d.controllers();
  std::string enabled;
  for (const auto& c : r.enabled) enabled += (enabled.empty() ? "" : ",") + c;
  report("controllers", r.fully_enforced() && r.has("cpu") && r.has("memory") && r.has("pids"),
         "enabled=" + enabled + " mount=" + r.mount, r.summary());
}

void case_settings_applied(CgroupV2Driver& d, RealCgroupFs& fs) {
  Resources r;
  r.cpu_request_milli = 250;
  r.cpu_limit_milli = 500;
  r.memory_request_bytes = 32 * kMi;
  r.memory_limit_bytes = 64 * kMi;
  r.pids_limit = 100;
  bool ok = d.ensure_pod("settings", r).ok();
  auto rep = d.ensure_container("settings", "c", r);
  if (!ok || !rep.ok()) {
    report("settings_applied", false, "", rep.ok() ? "ensure_pod failed" : rep.error().to_string());
    return;
  }
  // Every setting was written, and the kernel holds exactly that value.
  std::string mismatches;
  for (const auto& s : rep->applied) {
    std::string got = read_file(fs, rep->path + "/" + s.file);
    if (got != s.value) mismatches += s.file + "=" + got + "(want " + s.value + ") ";
  }
  report("settings_applied", rep->fully_enforced() && mismatches.empty() && rep->applied.size() == 7,
         "applied=" + std::to_string(rep->applied.size()) +
             " not_enforced=" + std::to_string(rep->not_enforced.size()),
         mismatches.empty() ? rep->summary() : mismatches);
  (void)d.remove(*d.pod_path("settings"), 10s);
}

void case_memory_oom(CgroupV2Driver& d, RealCgroupFs& fs) {
  Resources r;
  r.memory_request_bytes = 32 * kMi;  // Guaranteed: no memory.high throttling on the way up
  r.memory_limit_bytes = 32 * kMi;
  if (!d.ensure_pod("oom", r).ok() || !d.ensure_container("oom", "hog", r).ok()) {
    report("memory_oom", false, "", "ensure failed");
    return;
  }
  std::string leaf = *d.container_path("oom", "hog");
  pid_t pid = spawn_in(d, "oom", "hog", [] {
    // Touch 256 MiB, far past memory.max; there is no swap in the guest.
    for (int i = 0; i < 256; ++i) {
      char* p = static_cast<char*>(std::malloc(kMi));
      if (p == nullptr) ::_exit(3);
      std::memset(p, 0x5a, kMi);
    }
    ::_exit(0);
  });
  if (pid < 0) {
    report("memory_oom", false, "", "spawn failed");
    return;
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  auto oom = d.oom_killed(leaf);
  bool killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
  bool oom_known = oom.ok() && oom->has_value() && **oom;
  std::string reason = killed && oom_known ? "OOMKilled" : (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "Completed" : "Error");
  report("memory_oom", killed && oom_known && reason == "OOMKilled",
         "status=" + status_text(st) + " reason=" + reason +
             " memory.max=" + read_file(fs, leaf + "/memory.max"),
         "memory.events: " + read_file(fs, leaf + "/memory.events"));
  (void)d.remove(*d.pod_path("oom"), 10s);
}

void case_cpu_throttle(CgroupV2Driver& d, RealCgroupFs& fs) {
  Resources r;
  r.cpu_request_milli = 100;
  r.cpu_limit_milli = 100;  // cpu.max "10000 100000": 10% of one CPU
  if (!d.ensure_pod("cpu", r).ok() || !d.ensure_container("cpu", "spin", r).ok()) {
    report("cpu_throttle", false, "", "ensure failed");
    return;
  }
  std::string leaf = *d.container_path("cpu", "spin");
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = spawn_in(d, "cpu", "spin", [] {
    auto end = std::chrono::steady_clock::now() + 1s;
    volatile uint64_t x = 0;
    while (std::chrono::steady_clock::now() < end) x = x + 1;
  });
  if (pid < 0) {
    report("cpu_throttle", false, "", "spawn failed");
    return;
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
  auto u = d.usage(leaf);
  if (!u.ok()) {
    report("cpu_throttle", false, "", u.error().to_string());
    return;
  }
  uint64_t throttled = u->cpu.nr_throttled.value_or(0);
  double share = static_cast<double>(u->cpu.usage_usec) / static_cast<double>(wall_us);
  char share_text[32];
  std::snprintf(share_text, sizeof share_text, "%.3f", share);
  // 10% of the CPU over about a second: several throttled periods, and far less than the
  // whole CPU used (generous bound; TCG timing is coarse).
  report("cpu_throttle", throttled >= 3 && share < 0.5 && u->cpu.throttled_usec.value_or(0) > 0,
         "nr_throttled=" + std::to_string(throttled) +
             " nr_periods=" + std::to_string(u->cpu.nr_periods.value_or(0)) +
             " usage_usec=" + std::to_string(u->cpu.usage_usec) +
             " wall_usec=" + std::to_string(wall_us) + " cpu_share=" + share_text +
             " cpu.max=" + read_file(fs, leaf + "/cpu.max"),
         "cpu.stat: " + read_file(fs, leaf + "/cpu.stat"));
  (void)d.remove(*d.pod_path("cpu"), 10s);
}

void case_pids_forkbomb(CgroupV2Driver& d, RealCgroupFs& fs) {
  Resources r;
  r.pids_limit = 16;
  if (!d.ensure_pod("pids", Resources{}).ok() || !d.ensure_container("pids", "bomb", r).ok()) {
    report("pids_forkbomb", false, "", "ensure failed");
    return;
  }
  std::string leaf = *d.container_path("pids", "bomb");
  int fds[2];
  if (::pipe(fds) != 0) return;
  pid_t pid = spawn_in(d, "pids", "bomb", [&] {
    ::close(fds[0]);
    int forked = 0, err = 0;
    for (int i = 0; i < 10000; ++i) {
      pid_t c = ::fork();
      if (c == 0) {
        for (;;) ::pause();
      }
      if (c < 0) {
        err = errno;
        break;
      }
      ++forked;
    }
    int msg[2] = {forked, err};
    (void)!::write(fds[1], msg, sizeof msg);
    for (;;) ::pause();
  });
  ::close(fds[1]);
  int msg[2] = {-1, 0};
  bool got = pid > 0 && ::read(fds[0], msg, sizeof msg) == static_cast<ssize_t>(sizeof msg);
  ::close(fds[0]);
  std::string current = read_file(fs, leaf + "/pids.current");
  std::string events = read_file(fs, leaf + "/pids.events");
  auto procs = d.procs(leaf);
  size_t nprocs = procs.ok() ? procs->size() : 0;
  (void)d.kill(*d.pod_path("pids"));
  (void)d.wait_empty(*d.pod_path("pids"), 10s);
  reap_all();
  bool ok = got && msg[1] == EAGAIN && msg[0] == 15 && nprocs <= 16 && current == "16";
  report("pids_forkbomb", ok,
         "forked=" + std::to_string(msg[0]) + " fork_errno=" +
             (msg[1] ? ::strerrorname_np(msg[1]) : "none") + " procs=" + std::to_string(nprocs) +
             " pids.current=" + current + " pids.max=" + read_file(fs, leaf + "/pids.max"),
         "pids.events: " + events);
  (void)d.remove(*d.pod_path("pids"), 10s);
}

void case_cgroup_kill(CgroupV2Driver& d) {
  if (!d.ensure_pod("kill", Resources{}).ok() || !d.ensure_container("kill", "a", Resources{}).ok() ||
      !d.ensure_container("kill", "b", Resources{}).ok()) {
    report("cgroup_kill", false, "", "ensure failed");
    return;
  }
  int fds[2];
  if (::pipe(fds) != 0) return;
  std::vector<pid_t> direct;
  for (const char* c : {"a", "b"}) {
    pid_t pid = spawn_in(d, "kill", c, [&] {
      for (int i = 0; i < 3; ++i)
        if (::fork() == 0) {
          for (;;) ::pause();
        }
      (void)!::write(fds[1], "r", 1);
      for (;;) ::pause();
    });
    if (pid > 0) direct.push_back(pid);
  }
  ::close(fds[1]);
  char buf[2];
  size_t ready = 0;
  while (ready < direct.size() && ::read(fds[0], buf, 1) == 1) ++ready;
  ::close(fds[0]);
  std::string pod = *d.pod_path("kill");
  size_t before = d.procs(*d.container_path("kill", "a"))->size() +
                  d.procs(*d.container_path("kill", "b"))->size();
  auto t0 = std::chrono::steady_clock::now();
  auto k = d.kill(pod);
  auto w = d.wait_empty(pod, 10s);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  bool all_sigkill = direct.size() == 2;
  for (pid_t p : direct) {
    int st = 0;
    ::waitpid(p, &st, 0);
    all_sigkill = all_sigkill && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
  }
  reap_all();
  report("cgroup_kill", k.ok() && w.ok() && before == 8 && all_sigkill,
         "procs_before=" + std::to_string(before) + " empty_after_ms=" + std::to_string(ms) +
             " all_sigkill=" + (all_sigkill ? "1" : "0"),
         w.ok() ? "pod emptied by one write to cgroup.kill" : w.error().to_string());
  auto rm = d.remove(pod, 10s);
  (void)rm;
}

// Why pods are interior nodes: with domain controllers enabled below it, the kernel refuses
// to put a process into the pod cgroup itself (no-internal-processes rule).
void case_pod_is_interior(CgroupV2Driver& d, RealCgroupFs& fs) {
  if (!d.ensure_pod("interior", Resources{}).ok() ||
      !d.ensure_container("interior", "c", Resources{}).ok()) {
    report("pod_is_interior", false, "", "ensure failed");
    return;
  }
  std::string pod = *d.pod_path("interior");
  auto fd = fs.open_dir(pod);
  int err = 0;
  if (fd.ok()) {
    auto c = clone_into_cgroup(fd->get());
    if (c.ok() && c->pid == 0) ::_exit(0);
    if (c.ok()) {
      ::waitpid(c->pid, nullptr, 0);
    } else {
      err = c.error().sys_errno();
    }
  }
  report("pod_is_interior", err == EBUSY,
         std::string("clone_into_pod_errno=") + (err ? ::strerrorname_np(err) : "none") +
             " pod.subtree_control=" + read_file(fs, pod + "/cgroup.subtree_control"),
         "containers get leaves; the pod cgroup only distributes resources");
  (void)d.remove(pod, 10s);
}

void case_remove(CgroupV2Driver& d) {
  auto pods = d.list_pods();
  report("remove", pods.ok() && pods->empty(),
         "pods_left=" + std::to_string(pods.ok() ? pods->size() : 999),
         "every case's pod was removed with CgroupV2Driver::remove");
}

int run() {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  RealCgroupFs fs;
  CgroupV2Options o;
  o.root = "/sys/fs/cgroup/kernlet";
  o.memory_qos.node_allocatable_bytes = node_memory_bytes();
  auto d = CgroupV2Driver::open(fs, o);
  if (!d.ok()) {
    report("controllers", false, "", d.error().to_string());
    return 1;
  }
  case_controllers(*d);
  case_settings_applied(*d, fs);
  case_memory_oom(*d, fs);
  case_cpu_throttle(*d, fs);
  case_pids_forkbomb(*d, fs);
  case_cgroup_kill(*d);
  case_pod_is_interior(*d, fs);
  case_remove(*d);
  return 0;
}

}  // namespace
}  // namespace kernlet::cgroups

int main() { return kernlet::cgroups::run(); }
