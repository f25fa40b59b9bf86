// kernlet-bench-burst-floor: the floor under "100 pods created at once" on this machine
// (root). Each "pod" here is only what any pod costs at the least: one process in the
// namespaces of a pod sandbox (pid, mount, uts, ipc, net) that execs a static busybox
// `true` — no API, no scheduler, no image, no overlay mount, no cgroup, no second process
// for the container, no status write. It is spawned as kernlet spawns (clone with
// CLONE_VM | CLONE_VFORK and the namespace flags, no copy of this process). Nothing a node
// agent does to start a pod can cost less, so when N of these at once take longer than a
// budget, no runtime meets that budget on this machine. The same without the namespaces
// separates what process creation costs from what the namespaces cost.
//
// Prints one JSON document: for each kind, the wall time until all N have run and been
// reaped when started at once, the time per process one after another, and the machine's
// CPU per process (all CPUs, from /proc/stat: run it on a quiet machine).
//
//   kernlet-bench-burst-floor [--count N] [--rounds R] [--busybox PATH]
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Spawn {
  const char* path;
  char* const* argv;
};

int child_main(void* arg) {
  const auto* s = static_cast<const Spawn*>(arg);
  char* const envp[] = {nullptr};
  ::execve(s->path, s->argv, envp);
  ::_exit(127);
}

// Busy time of all CPUs so far, in milliseconds (user+nice+system+irq+softirq+steal).
double busy_ms() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) * 1000.0 /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Round {
  double wall_ms = 0;
  double cpu_ms_per_process = 0;
};

// Starts `count` children (at once, or each reaped before the next) and reaps them all.
Round run(int flags, bool at_once, int count, const Spawn& spawn) {
  constexpr std::size_t kStack = 64 * 1024;
  std::vector<char> stack(kStack);
  std::vector<pid_t> pids;
  const double c0 = busy_ms();
  const auto t0 = std::chrono::steady_clock::now();
  auto reap = [](pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "kernlet-bench-burst-floor: a child failed (status %d)\n", status);
      std::exit(1);
    }
  };
  for (int i = 0; i < count; ++i) {
    // CLONE_VFORK: this thread waits until the child has exec'd, so one stack serves all.
    pid_t pid = ::clone(child_main, stack.data() + kStack, CLONE_VM | CLONE_VFORK | flags | SIGCHLD,
                        const_cast<Spawn*>(&spawn));
    if (pid < 0) {
      std::perror("kernlet-bench-burst-floor: clone");
      std::exit(1);
    }
    if (at_once) {
      pids.push_back(pid);
    } else {
      reap(pid);
    }
  }
  for (pid_t p : pids) reap(p);
  Round r;
  r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_ms_per_process = (busy_ms() - c0) / count;
  return r;
}

std::string rounds_json(const std::vector<Round>& rs) {
  std::ostringstream o;
  o << "[";
  for (std::size_t i = 0; i < rs.size(); ++i) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s{\"wall_ms\": %.1f, \"machine_cpu_ms_per_process\": %.2f}", i ? ", " : "",
                  rs[i].wall_ms, rs[i].cpu_ms_per_process);
    o << buf;
  }
  o << "]";
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  int count = 100;
  int rounds = 3;
  std::string busybox = "/bin/busybox";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--count" || a == "--rounds" || a == "--busybox") && i + 1 < argc) {
      std::string v = argv[++i];
      if (a == "--busybox") {
        busybox = v;
      } else {
        int n = std::atoi(v.c_str());
        if (n <= 0) {
          std::fprintf(stderr, "kernlet-bench-burst-floor: %s needs a positive number, got \"%s\"\n", a.c_str(),
                       v.c_str());
          return 2;
        }
        (a == "--count" ? count : rounds) = n;
      }
    } else {
      std::fprintf(stderr, "usage: kernlet-bench-burst-floor [--count N] [--rounds R] [--busybox PATH]\n");
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "kernlet-bench-burst-floor: needs root (new namespaces)\n");
    return 1;
  }
  if (::access(busybox.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "kernlet-bench-burst-floor: %s is not executable (scripts/setup installs busybox-static)\n",
                 busybox.c_str());
    return 1;
  }
  char arg0[] = "busybox";
  char arg1[] = "true";
  char* child_argv[] = {arg0, arg1, nullptr};
  const Spawn spawn{busybox.c_str(), child_argv};
  const int sandbox = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;

  struct Kind {
    const char* name;
    const char* what;
    int flags;
    std::vector<Round> at_once, serial;
  } kinds[] = {
      {"plain", "clone(CLONE_VM|CLONE_VFORK) + execve of a static busybox true", 0, {}, {}},
      {"sandboxed", "the same in new pid, mount, uts, ipc and net namespaces", sandbox, {}, {}},
  };
  for (int r = 0; r < rounds; ++r) {
    for (Kind& k : kinds) {
      k.at_once.push_back(run(k.flags, true, count, spawn));
      k.serial.push_back(run(k.flags, false, count, spawn));
    }
  }
  std::ifstream loadavg("/proc/loadavg");
  double l1 = 0;
  loadavg >> l1;
  std::printf("{\n  \"benchmark\": \"the floor under a burst of pod starts\",\n  \"count\": %d,\n", count);
  std::printf("  \"loadavg_1m_after\": %.2f,\n", l1);
  for (const Kind& k : kinds) {
    auto best = [](const std::vector<Round>& rs) {
      return std::min_element(rs.begin(), rs.end(), [](const Round& a, const Round& b) { return a.wall_ms < b.wall_ms; })
          ->wall_ms;
    };
    std::printf("  \"%s\": {\"what\": \"%s\", \"all_at_once\": %s, \"one_after_another\": %s, "
                "\"best_all_at_once_ms\": %.1f, \"best_ms_per_process_one_after_another\": %.2f},\n",
                k.name, k.what, rounds_json(k.at_once).c_str(), rounds_json(k.serial).c_str(), best(k.at_once),
                best(k.serial) / count);
  }
  std::printf("  \"budget_p99_ms_for_100_pods_at_once\": 200\n}\n");
  return 0;
}
