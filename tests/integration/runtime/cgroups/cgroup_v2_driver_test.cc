// CgroupV2Driver against the real kernel, root only. Everything lives below a cgroup this
// test creates on the cgroup2 mount (/sys/fs/cgroup on a pure v2 host,
// /sys/fs/cgroup/unified on a hybrid one — never a v1 hierarchy), named with the pid, and
// removed in TearDown even when a test fails; leftovers of crashed runs are swept first.
#include "runtime/cgroups/cgroup_v2_driver.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "runtime/cgroups/clone_into_cgroup.h"

namespace kernlet::cgroups {
namespace {

using namespace std::chrono_literals;

// Pipes the child uses to talk to the test, closed on scope exit.
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    close_r();
    close_w();
  }
  void close_r() {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_w() {
    if (w >= 0) ::close(w);
    w = -1;
  }
};

// Reads until `n` bytes or EOF/timeout.
std::string read_some(int fd, size_t n, int timeout_ms) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    char buf[256];
    ssize_t got = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

bool pid_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

class CgroupV2DriverIT : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    for (const char* m : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
      auto t = fs_.fs_type(m);
      if (t.ok() && *t == kCgroup2SuperMagic) {
        mount_ = m;
        break;
      }
    }
    if (mount_.empty()) GTEST_SKIP() << "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified";
    if (!*fs_.exists(mount_ + "/cgroup.kill") && !probe_kill())
      GTEST_SKIP() << "kernel without cgroup.kill (needs 5.14+)";
    sweep_leftovers();
    static std::atomic<int> seq{0};
    root_ = mount_ + "/kernlet-cgroups-it-" + std::to_string(::getpid()) + "-" + std::to_string(seq++);
    CgroupV2Options o;
    o.root = root_;
    o.memory_qos.node_allocatable_bytes = 1LL << 30;
    auto d = CgroupV2Driver::open(fs_, o);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    driver_.emplace(std::move(*d));
  }

  void TearDown() override {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    if (!root_.empty()) {
      auto r = remove_all(root_);
      EXPECT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_FALSE(*fs_.exists(root_)) << root_ << " left behind";
    }
  }

  // cgroup.kill exists only in non-root cgroups; probe with a scratch child.
  bool probe_kill() {
    std::string probe = mount_ + "/kernlet-cgroups-probe-" + std::to_string(::getpid());
    if (!fs_.mkdir(probe).ok()) return false;
    bool has = *fs_.exists(probe + "/cgroup.kill");
    (void)fs_.rmdir(probe);
    return has;
  }

  // Removes a test root (not under any driver's root) with the driver's own removal.
  Result<void> remove_all(const std::string& path) {
    CgroupV2Options o;
    o.root = mount_;
    o.controllers = {};  // a cleanup driver enables nothing
    KL_ASSIGN_OR_RETURN(auto cleaner, CgroupV2Driver::open(fs_, o));
    return cleaner.remove(path, 10s);
  }

  // Roots of earlier runs whose process is gone.
  void sweep_leftovers() {
    auto dirs = fs_.subdirs(mount_);
    if (!dirs.ok()) return;
    for (const auto& d : *dirs) {
      if (d.rfind("kernlet-cgroups-it-", 0) != 0) continue;
      pid_t owner = static_cast<pid_t>(std::atol(d.c_str() + std::strlen("kernlet-cgroups-it-")));
      if (owner > 0 && owner != ::getpid() && !pid_alive(owner)) (void)remove_all(mount_ + "/" + d);
    }
  }

  // Forks a child straight into the container leaf; the child runs `body` and exits.
  template <class F>
  pid_t spawn_in(const std::string& pod, const std::string& ctr, F body) {
    auto fd = driver_->open_leaf_fd(pod, ctr);
    EXPECT_TRUE(fd.ok()) << fd.error().to_string();
    if (!fd.ok()) return -1;
    auto c = clone_into_cgroup(fd->get());
    EXPECT_TRUE(c.ok()) << c.error().to_string();
    if (!c.ok()) return -1;
    if (c->pid == 0) {
      body();
      ::_exit(0);
    }
    children_.push_back(c->pid);
    return c->pid;
  }

  int reap(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::erase(children_, pid);
    return status;
  }

  std::string ctr(const std::string& pod, const std::string& c) {
    return *driver_->container_path(pod, c);
  }

  RealCgroupFs fs_;
  std::string mount_;
  std::string root_;
  std::optional<CgroupV2Driver> driver_;
  std::vector<pid_t> children_;
};

TEST_F(CgroupV2DriverIT, ChildClonedIntoLeafIsAMemberFromTheStart) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "c", Resources{}).ok());
  Pipe out, hold;
  pid_t pid = spawn_in("p", "c", [&] {
    hold.close_w();
    std::ifstream f("/proc/self/cgroup");
    std::string line, unified;
    while (std::getline(f, line))
      if (line.rfind("0::", 0) == 0) unified = line.substr(3);
    unified += "\n";
    (void)!::write(out.w, unified.data(), unified.size());
    char b;
    (void)!::read(hold.r, &b, 1);  // until the test lets go
  });
  ASSERT_GT(pid, 0);
  std::string want = ctr("p", "c").substr(mount_.size()) + "\n";
  std::string got = read_some(out.r, want.size(), 5000);
  EXPECT_EQ(got, want);
  auto procs = driver_->procs(ctr("p", "c"));
  ASSERT_TRUE(procs.ok()) << procs.error().to_string();
  EXPECT_EQ(*procs, std::vector<pid_t>{pid});
  EXPECT_TRUE(driver_->events(ctr("p", "c"))->populated);
  EXPECT_TRUE(driver_->events(*driver_->pod_path("p"))->populated);
  hold.close_w();
  EXPECT_TRUE(WIFEXITED(reap(pid)));
}

TEST_F(CgroupV2DriverIT, MoveProcessIntoALeaf) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "c", Resources{}).ok());
  pid_t pid = ::fork();  // born in the test's own cgroup
  if (pid == 0) {
    for (;;) ::pause();
  }
  ASSERT_GT(pid, 0);
  children_.push_back(pid);
  auto m = driver_->move_process(ctr("p", "c"), pid);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(*driver_->procs(ctr("p", "c")), std::vector<pid_t>{pid});
  std::ifstream f("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, unified;
  while (std::getline(f, line))
    if (line.rfind("0::", 0) == 0) unified = line.substr(3);
  EXPECT_EQ(unified, ctr("p", "c").substr(mount_.size()));
  ASSERT_TRUE(driver_->remove(*driver_->pod_path("p"), 10s).ok());
  int st = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

TEST_F(CgroupV2DriverIT, EventsFdWakesWhenLeafBecomesEmpty) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "c", Resources{}).ok());
  Pipe hold;
  pid_t pid = spawn_in("p", "c", [&] {
    hold.close_w();
    char b;
    (void)!::read(hold.r, &b, 1);
  });
  ASSERT_GT(pid, 0);
  auto w = driver_->watch(ctr("p", "c"));
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  ASSERT_TRUE(w->read()->populated);
  pollfd p{w->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "woke with nothing changed";
  hold.close_w();  // the child reads EOF and exits (not reaped yet: zombies do not count)
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no wake-up within 5 s";
  auto e = w->wait_for([](const CgroupEvents& ev) { return !ev.populated; }, 5s, "empty");
  ASSERT_TRUE(e.ok()) << e.error().to_string();
  EXPECT_TRUE(WIFEXITED(reap(pid)));
}

TEST_F(CgroupV2DriverIT, CgroupKillEndsEveryProcessOfThePodAtOnce) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // grandchildren come back to us
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "a", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "b", Resources{}).ok());
  Pipe out;
  std::vector<pid_t> all;
  for (const char* c : {"a", "b"}) {
    pid_t pid = spawn_in("p", c, [&] {
      for (int i = 0; i < 3; ++i) {
        pid_t g = ::fork();
        if (g == 0) {
          for (;;) ::pause();
        }
        (void)!::write(out.w, &g, sizeof g);
      }
      for (;;) ::pause();
    });
    ASSERT_GT(pid, 0);
    all.push_back(pid);
  }
  std::string gpids = read_some(out.r, 6 * sizeof(pid_t), 5000);
  ASSERT_EQ(gpids.size(), 6 * sizeof(pid_t));
  for (size_t i = 0; i < 6; ++i) {
    pid_t g;
    std::memcpy(&g, gpids.data() + i * sizeof g, sizeof g);
    all.push_back(g);
    children_.push_back(g);
  }
  EXPECT_EQ(driver_->procs(ctr("p", "a"))->size(), 4u);
  EXPECT_EQ(driver_->procs(ctr("p", "b"))->size(), 4u);

  std::string pod = *driver_->pod_path("p");
  ASSERT_TRUE(driver_->kill(pod).ok());
  auto empty = driver_->wait_empty(pod, 5s);
  ASSERT_TRUE(empty.ok()) << empty.error().to_string();
  for (pid_t p : all) {
    int st = reap(p);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "pid " << p << " status " << st;
  }
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

TEST_F(CgroupV2DriverIT, FreezeStopsTheLeafAndThawResumesIt) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "c", Resources{}).ok());
  Pipe ticks;
  ASSERT_EQ(::fcntl(ticks.r, F_SETFL, O_NONBLOCK), 0);
  pid_t pid = spawn_in("p", "c", [&] {
    for (;;) {
      (void)!::write(ticks.w, "t", 1);
      ::usleep(1000);
    }
  });
  ASSERT_GT(pid, 0);
  ASSERT_FALSE(read_some(ticks.r, 1, 5000).empty()) << "child never ticked";
  std::string c = ctr("p", "c");
  auto f = driver_->freeze(c, 5s);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_TRUE(driver_->events(c)->frozen);
  char buf[4096];
  while (::read(ticks.r, buf, sizeof buf) > 0) {
  }
  // Frozen means no tick at all, for as long as we care to look.
  pollfd p{ticks.r, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 300), 0) << "a frozen process ran";
  auto t = driver_->thaw(c, 5s);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_FALSE(read_some(ticks.r, 1, 5000).empty()) << "thawed child did not resume";
}

TEST_F(CgroupV2DriverIT, RemoveKillsWaitsAndRemovesThePod) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "a", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "b", Resources{}).ok());
  pid_t a = spawn_in("p", "a", [] {
    for (;;) ::pause();
  });
  pid_t b = spawn_in("p", "b", [] {
    for (;;) ::pause();
  });
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  std::string pod = *driver_->pod_path("p");
  auto r = driver_->remove(pod, 10s);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(*fs_.exists(pod));
  EXPECT_EQ(*driver_->list_pods(), std::vector<std::string>{});
  for (pid_t p : {a, b}) {
    int st = reap(p);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  }
  EXPECT_TRUE(driver_->remove(pod, 1s).ok());  // already gone
}

TEST_F(CgroupV2DriverIT, RemoveWinsAgainstForkChurnAndFrozenProcesses) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "churn", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "frozen", Resources{}).ok());
  // One leaf forks and reaps short-lived children without pause (at most two processes
  // alive at a time: no pids controller guards this host); forks racing cgroup.kill must
  // not leave survivors.
  pid_t churn = spawn_in("p", "churn", [] {
    for (;;) {
      pid_t c = ::fork();
      if (c == 0) ::_exit(0);
      if (c > 0) ::waitpid(c, nullptr, 0);
    }
  });
  pid_t still = spawn_in("p", "frozen", [] {
    for (;;) ::pause();
  });
  ASSERT_GT(churn, 0);
  ASSERT_GT(still, 0);
  ASSERT_TRUE(driver_->freeze(ctr("p", "frozen"), 5s).ok());
  std::string pod = *driver_->pod_path("p");
  auto r = driver_->remove(pod, 10s);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(*fs_.exists(pod));
  for (pid_t p : {churn, still}) {
    int st = reap(p);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "pid " << p << " status " << st;
  }
}

TEST_F(CgroupV2DriverIT, ReportsWhatThisHostCannotEnforce) {
  // What the kernel offers, read independently of the driver.
  auto offered = parse_controllers(*fs_.read(mount_ + "/cgroup.controllers"));
  const auto& rep = driver_->controllers();
  EXPECT_EQ(rep.mount, mount_);
  std::vector<std::string> want_missing;
  for (const char* c : {"cpu", "memory", "pids"})
    if (std::find(offered.begin(), offered.end(), c) == offered.end()) want_missing.push_back(c);
  std::vector<std::string> got_missing;
  for (const auto& m : rep.missing) got_missing.push_back(m.name);
  // Controllers offered by the mount but not delegated down to us would also be missing;
  // here every offered one must have been enabled.
  EXPECT_EQ(got_missing, want_missing) << rep.summary();
  std::cout << "controller report: " << rep.summary() << "\n";

  Resources r;
  r.cpu_request_milli = 100;
  r.cpu_limit_milli = 200;
  r.memory_limit_bytes = 64 << 20;
  r.pids_limit = 32;
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  auto rep2 = driver_->ensure_container("p", "c", r);
  ASSERT_TRUE(rep2.ok()) << rep2.error().to_string();
  std::cout << "apply report: " << rep2->summary() << "\n";
  for (const auto& s : rep2->not_enforced)
    EXPECT_FALSE(rep.has(s.controller)) << s.file;
  for (const auto& s : rep2->applied) {
    EXPECT_TRUE(rep.has(s.controller)) << s.file;
    // What was applied is what the kernel now holds.
    auto v = fs_.read(ctr("p", "c") + "/" + s.file);
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    EXPECT_EQ(*v, s.value + "\n") << s.file;
  }
  auto oom = driver_->oom_killed(ctr("p", "c"));
  ASSERT_TRUE(oom.ok()) << oom.error().to_string();
  EXPECT_EQ(oom->has_value(), rep.has("memory"));
}

TEST_F(CgroupV2DriverIT, CpuUsageIsAccountedWithoutTheCpuController) {
  ASSERT_TRUE(driver_->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(driver_->ensure_container("p", "c", Resources{}).ok());
  pid_t pid = spawn_in("p", "c", [] {
    // Burn 100 ms of CPU time.
    for (;;) {
      rusage ru{};
      ::getrusage(RUSAGE_SELF, &ru);
      if (ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec >= 100000) break;
    }
  });
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(WIFEXITED(reap(pid)));
  auto u = driver_->usage(ctr("p", "c"));
  ASSERT_TRUE(u.ok()) << u.error().to_string();
  EXPECT_GE(u->cpu.usage_usec, 100000u);
  EXPECT_GE(u->cpu.user_usec, 90000u);
  EXPECT_EQ(u->memory_current.has_value(), driver_->controllers().has("memory"));
}

}  // namespace
}  // namespace kernlet::cgroups
