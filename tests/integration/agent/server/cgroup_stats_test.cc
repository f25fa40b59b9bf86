// CgroupStatsReader against real cgroups, root only: a pod and a container cgroup this test
// creates on the cgroup2 mount (/sys/fs/cgroup/unified on the hybrid host, never v1),
// with a child process that touches 32 MiB and spins in the container leaf. CPU must come
// from cpu.stat (present without the cpu controller) and grow; memory from memory.current
// with the memory controller, else from the resident set of the leaf's processes. Every
// cgroup and process is removed in TearDown, also when a check fails.
#include "agent/server/cgroup_stats.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;

class CgroupStatsIT : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    for (const char* m : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
      auto t = fs_.fs_type(m);
      if (t.ok() && *t == cgroups::kCgroup2SuperMagic) {
        mount_ = m;
        break;
      }
    }
    if (mount_.empty()) GTEST_SKIP() << "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified";
    static std::atomic<int> seq{0};
    root_ = mount_ + "/kernlet-stats-it-" + std::to_string(::getpid()) + "-" + std::to_string(seq++);
    cgroups::CgroupV2Options o;
    o.root = root_;
    auto d = cgroups::CgroupV2Driver::open(fs_, o);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    driver_.emplace(std::move(*d));
  }

  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    if (!root_.empty() && driver_) {
      cgroups::CgroupV2Options o;
      o.root = mount_;
      o.controllers = {};
      auto cleaner = cgroups::CgroupV2Driver::open(fs_, o);
      ASSERT_TRUE(cleaner.ok()) << cleaner.error().to_string();
      auto r = cleaner->remove(root_, 10s);
      EXPECT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_FALSE(*fs_.exists(root_)) << root_ << " left behind";
    }
  }

  // A child that touches 32 MiB, says so on a pipe, then spins until killed.
  void spawn_busy_child() {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(fds[0]);
      static char block[32 << 20];
      std::memset(block, 1, sizeof block);
      (void)!::write(fds[1], "r", 1);
      volatile unsigned long n = 0;
      for (;;) n = n + block[n % sizeof block];
    }
    ::close(fds[1]);
    pollfd p{fds[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "child did not start";
    char c;
    ASSERT_EQ(::read(fds[0], &c, 1), 1);
    ::close(fds[0]);
  }

  cgroups::RealCgroupFs fs_;
  std::string mount_, root_;
  std::optional<cgroups::CgroupV2Driver> driver_;
  pid_t child_ = -1;
};

TEST_F(CgroupStatsIT, ReadsCpuAndMemoryOfARealContainerCgroup) {
  ASSERT_TRUE(driver_->ensure_pod("pod1", {}).ok());
  auto leaf = driver_->ensure_container("pod1", "ctr1", {});
  ASSERT_TRUE(leaf.ok()) << leaf.error().to_string();
  auto pod_path = driver_->pod_path("pod1");
  ASSERT_TRUE(pod_path.ok());
  ASSERT_TRUE(fs_.exists(leaf->path + "/cpu.stat").value_or(false)) << "cpu.stat missing in " << leaf->path;

  CgroupStatsReader reader(*driver_, fs_);
  auto before = reader.read(leaf->path, {leaf->path});
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  EXPECT_EQ(before->cpu_usage_ns, 0u);
  ASSERT_TRUE(before->memory_usage);

  spawn_busy_child();
  ASSERT_TRUE(driver_->move_process(leaf->path, child_).ok());

  // Wait (bounded) until the leaf has been charged 200 ms of CPU.
  Result<UsageReading> now = before;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    now = reader.read(leaf->path, {leaf->path});
    ASSERT_TRUE(now.ok()) << now.error().to_string();
    if (now->cpu_usage_ns >= 200'000'000) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(now->cpu_usage_ns, 200'000'000u) << "cpu.stat usage_usec did not grow in " << leaf->path;
  ASSERT_TRUE(now->memory_usage && now->memory_working_set);
  EXPECT_GE(*now->memory_usage, 32u << 20) << "the child's 32 MiB are not counted";
  EXPECT_LE(*now->memory_working_set, *now->memory_usage);

  // The pod cgroup includes its container's CPU; its memory is its leaves'.
  auto pod = reader.read(*pod_path, {leaf->path});
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  EXPECT_GE(pod->cpu_usage_ns, now->cpu_usage_ns);
  EXPECT_GE(*pod->memory_usage, 32u << 20);

  auto node = reader.read_node("test-node");
  ASSERT_TRUE(node.ok()) << node.error().to_string();
  EXPECT_EQ(node->name, "test-node");
  EXPECT_GT(node->usage.cpu_usage_ns, pod->cpu_usage_ns);
  EXPECT_GT(*node->usage.memory_usage, 32u << 20);
  EXPECT_FALSE(node->start_time.empty());
}

TEST_F(CgroupStatsIT, ProcessesThatExitAreSkipped) {
  ASSERT_TRUE(driver_->ensure_pod("pod2", {}).ok());
  auto leaf = driver_->ensure_container("pod2", "ctr2", {});
  ASSERT_TRUE(leaf.ok()) << leaf.error().to_string();
  CgroupStatsReader reader(*driver_, fs_, "/nonexistent-proc");  // every statm read fails
  spawn_busy_child();
  ASSERT_TRUE(driver_->move_process(leaf->path, child_).ok());
  auto r = reader.read(leaf->path, {leaf->path});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  if (!driver_->controllers().has("memory")) {
    EXPECT_EQ(*r->memory_usage, 0u);
  }
}

}  // namespace
}  // namespace kernlet::agent
