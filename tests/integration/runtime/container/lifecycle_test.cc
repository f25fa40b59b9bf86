#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class LifecycleTest : public RuntimeTest {};

TEST_F(LifecycleTest, RunsACommandAndReportsItsExitCode) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "echo hello from $(hostname); exit 3"});
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.state, ContainerState::kExited);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.reason, "Error");
  EXPECT_EQ(output(), "hello from web\n");
}

// The driver's blocked and ignored signals must not reach the container (they survive
// execve): a driver blocking SIGTERM would make containers ignore `kubectl delete`.
TEST_F(LifecycleTest, ContainersStartWithNoBlockedOrIgnoredSignals) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
  struct sigaction ign {}, old_int {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGINT, &ign, &old_int), 0);
  ContainerStatus st = run(spec_for(sb->id(), {"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}));
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_F(LifecycleTest, ZeroExitIsCompleted) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"true"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(st.reason, "Completed");
}

}  // namespace
}  // namespace kernlet::runtime::testing

namespace kernlet::runtime::testing {
namespace {

TEST_F(LifecycleTest, KilledBySignalIs128PlusSignal) {
  // Not PID 1 of its own namespace (which ignores its own SIGKILL): share the pod's.
  SandboxSpec pod;
  pod.share_process_namespace = true;
  Sandbox* sb = make_sandbox(pod);
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c", "kill -9 $$"}));
  EXPECT_EQ(st.exit_code, 137);
  EXPECT_EQ(st.signal, 9);
  EXPECT_EQ(st.reason, "Error");
}

TEST_F(LifecycleTest, StopSendsTermAndTheContainerCanExitOnIt) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(rt_->create(spec).ok());
  ASSERT_TRUE(rt_->start(spec.id).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (output().find("ready") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    ::usleep(2000);  // the trap must be installed before the signal
  auto st = rt_->stop(spec.id, 10000);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(st->exit_code, 42);
}

TEST_F(LifecycleTest, StopKillsAfterTheGracePeriodThroughCgroupKill) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string cg = make_cgroup();
  if (cg.empty()) GTEST_SKIP() << "cannot create a cgroup under /sys/fs/cgroup/unified";
  auto spec = spec_for(sb->id(), {"sh", "-c", "trap '' TERM; sleep 1000 & while :; do sleep 0.05; done"});
  spec.cgroup_path = cg;
  ASSERT_TRUE(rt_->create(spec).ok());
  ASSERT_TRUE(rt_->start(spec.id).ok());
  auto running = rt_->status(spec.id);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state, ContainerState::kRunning);
  std::string cgname = cg.substr(cg.rfind('/'));
  EXPECT_NE(read_all("/proc/" + std::to_string(running->pid) + "/cgroup").find("0::" + cgname),
            std::string::npos);
  auto t0 = std::chrono::steady_clock::now();
  auto st = rt_->stop(spec.id, 300);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
  EXPECT_EQ(st->exit_code, 137);
  // cgroup.kill took the background sleep too.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!read_all(cg + "/cgroup.procs").empty() && std::chrono::steady_clock::now() < deadline)
    ::usleep(1000);
  EXPECT_EQ(read_all(cg + "/cgroup.procs"), "");
}

TEST_F(LifecycleTest, MissingExecutableIsContainerCannotRun) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"no-such-binary"});
  auto c = rt_->create(spec);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().to_string().find("ContainerCannotRun: exec: executable file not found in $PATH: no-such-binary"),
            std::string::npos) << c.error().to_string();
  EXPECT_TRUE(rt_->list().empty());
}

TEST_F(LifecycleTest, ExecFailureAtStartIsReportedAsContainerCannotRun) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  // A script whose interpreter does not exist: found at create, fails at exec.
  auto spec = spec_for(sb->id(), {"/bad"});
  spec.lower_dirs.insert(spec.lower_dirs.begin(), make_layer({{}, {{"/bad", "#!/no/such/interpreter\n"}}}));
  ASSERT_TRUE(rt_->create(spec).ok());
  auto s = rt_->start(spec.id);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().to_string().find("ContainerCannotRun: exec /bad"), std::string::npos)
      << s.error().to_string();
  auto st = rt_->wait(spec.id, 10000);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(st->reason, "ContainerCannotRun");
}

TEST_F(LifecycleTest, RemoveRefusesARunningContainerAndCleansUpAnExitedOne) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sleep", "1000"});
  ASSERT_TRUE(rt_->create(spec).ok());
  ASSERT_TRUE(rt_->start(spec.id).ok());
  auto r = rt_->remove(spec.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(rt_->stop(spec.id, 0).ok());
  ASSERT_TRUE(rt_->remove(spec.id).ok());
  struct stat st{};
  EXPECT_NE(::stat((root_ + "/containers/" + spec.id).c_str(), &st), 0);
}

TEST_F(LifecycleTest, CreatedButNeverStartedContainerIsRemovable) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"true"});
  ASSERT_TRUE(rt_->create(spec).ok());
  auto st = rt_->status(spec.id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, ContainerState::kCreated);
  auto removed = rt_->remove(spec.id);
  ASSERT_TRUE(removed.ok()) << removed.error().to_string();
}

TEST_F(LifecycleTest, IdentityRlimitsNoNewPrivsAndDefaultCapabilities) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c",
      "id -u; id -g; id -G; ulimit -n; grep -E '^(NoNewPrivs|CapBnd|CapEff)' /proc/self/status"});
  spec.process.uid = 1000;
  spec.process.gid = 1001;
  spec.process.supplemental_gids = {2000, 2001};
  spec.process.rlimits = {{RLIMIT_NOFILE, 1234, 1234}};
  spec.process.no_new_privileges = true;
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0) << output();
  // containerd's default set: 0xa80425fb. A non-root user keeps it only in the bounding set.
  EXPECT_EQ(output(),
            "1000\n1001\n1001 2000 2001\n1234\nCapEff:\t0000000000000000\n"
            "CapBnd:\t00000000a80425fb\nNoNewPrivs:\t1\n");
}

// The seccomp program reaches the container's process intact (it travels to kernlet-init
// in the encoded plan): uname(2) fails with EPERM, everything else is allowed; with and
// without no_new_privs (the filter goes last, or first while CAP_SYS_ADMIN is still held).
TEST_F(LifecycleTest, SeccompFilterIsInstalled) {
#if defined(__x86_64__)
  for (bool nnp : {true, false}) {
    Sandbox* sb = make_sandbox();
    ASSERT_NE(sb, nullptr);
    auto spec = spec_for(sb->id(), {"sh", "-c", "grep '^Seccomp:' /proc/self/status; uname -s"});
    spec.process.no_new_privileges = nnp;
    spec.process.seccomp = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_uname, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    ContainerStatus st = run(spec);
    EXPECT_EQ(st.exit_code, 0) << output();
    EXPECT_EQ(output().substr(0, 11), "Seccomp:\t2\n") << output();
    EXPECT_EQ(output().find("Linux"), std::string::npos) << output();
  }
  // The control: without the filter, uname answers.
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c", "grep '^Seccomp:' /proc/self/status; uname -s"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "Seccomp:\t0\nLinux\n");
#else
  GTEST_SKIP() << "the test's filter uses x86_64 syscall numbers";
#endif
}

TEST_F(LifecycleTest, RootGetsExactlyTheDefaultCapabilities) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "CapEff:\t00000000a80425fb\nNoNewPrivs:\t0\n");
}

TEST_F(LifecycleTest, ReadOnlyRootFilesystem) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "touch /x 2>/dev/null && echo root-writable; touch /dev/shm/y && echo shm-writable"});
  spec.read_only_rootfs = true;
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(output(), "shm-writable\n");
}

TEST_F(LifecycleTest, WritesGoToThePerContainerUpperDir) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "echo data > /root/file"});
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(read_all(root_ + "/containers/" + spec.id + "/upper/root/file"), "data\n");
  struct stat s{};
  EXPECT_NE(::stat((lower_ + "/root/file").c_str(), &s), 0) << "the lower layer was written";
}

}  // namespace
}  // namespace kernlet::runtime::testing
