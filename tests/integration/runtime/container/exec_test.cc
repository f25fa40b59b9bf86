// exec into a running container, with and without a TTY.
#include <poll.h>
#include <unistd.h>

#include <chrono>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class ExecTest : public RuntimeTest {
 protected:
  // A running container in a fresh pod.
  std::string start_sleeper(SandboxSpec pod = {}) {
    Sandbox* sb = make_sandbox(pod);
    if (sb == nullptr) return "";
    auto spec = spec_for(sb->id(), {"sleep", "1000"});
    auto c = rt_->create(spec);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
    auto s = rt_->start(spec.id);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return spec.id;
  }
};

TEST_F(ExecTest, RunsInTheContainersNamespacesWithItsOwnIdentity) {
  std::string id = start_sleeper();
  ASSERT_FALSE(id.empty());
  std::string out = root_ + "/exec.out";
  ExecSpec ex;
  ex.process.args = {"sh", "-c",
                     "hostname; id -u; pwd; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 7"};
  ex.process.uid = 1234;
  ex.process.cwd = "/tmp";
  ex.process.stdout_path = out;
  auto s = rt_->exec(id, ex);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  auto code = (*s)->wait(10000);
  ASSERT_TRUE(code.ok()) << code.error().to_string();
  EXPECT_EQ(*code, 7);
  // Same PID namespace as the container (sleep is PID 1), the pod's hostname.
  EXPECT_EQ(read_all(out), "web\n1234\n/tmp\nsleep 1000 \n");
}

// An exec "as the container" (CRI ExecSync: probes, hooks) gets the container's own
// identity, environment and working directory, also from a runtime that recovered it.
TEST_F(ExecTest, AsContainerRunsWithTheContainersIdentity) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sleep", "1000"});
  spec.process.uid = 1234;
  spec.process.gid = 2345;
  spec.process.supplemental_gids = {3456};
  spec.process.env = {"GREETING=hi there"};
  spec.process.cwd = "/tmp";
  spec.process.no_new_privileges = true;
  ASSERT_TRUE(rt_->create(spec).ok());
  ASSERT_TRUE(rt_->start(spec.id).ok());
  auto run_as_container = [&](const std::string& out) {
    ExecSpec ex;
    ex.as_container = true;
    ex.process.args = {"sh", "-c", "id -u; id -g; id -G; echo $GREETING; pwd; grep NoNewPrivs /proc/self/status"};
    ex.process.stdout_path = out;
    auto s = rt_->exec(spec.id, ex);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    auto code = (*s)->wait(10000);
    ASSERT_TRUE(code.ok()) << code.error().to_string();
    EXPECT_EQ(*code, 0);
    EXPECT_EQ(read_all(out), "1234\n2345\n2345 3456\nhi there\n/tmp\nNoNewPrivs:\t1\n");
  };
  run_as_container(root_ + "/exec1.out");
  // A restarted driver re-adopts the container and still knows what it runs as.
  rt_.reset();
  auto rt = ContainerRuntime::open(root_);
  ASSERT_TRUE(rt.ok()) << rt.error().to_string();
  rt_ = std::move(*rt);
  ASSERT_TRUE(rt_->recover().ok());
  run_as_container(root_ + "/exec2.out");
}

TEST_F(ExecTest, JoinsTheContainersCgroup) {
  std::string cg = make_cgroup();
  if (cg.empty()) GTEST_SKIP() << "cannot create a cgroup under /sys/fs/cgroup/unified";
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sleep", "1000"});
  spec.cgroup_path = cg;
  ASSERT_TRUE(rt_->create(spec).ok());
  ASSERT_TRUE(rt_->start(spec.id).ok());
  std::string out = root_ + "/exec.out";
  ExecSpec ex;
  ex.process.args = {"cat", "/proc/self/cgroup"};
  ex.process.stdout_path = out;
  auto s = rt_->exec(spec.id, ex);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  ASSERT_TRUE((*s)->wait(10000).ok());
  // In its cgroup namespace the container's cgroup is the root.
  EXPECT_NE(read_all(out).find("0::/\n"), std::string::npos) << read_all(out);
}

TEST_F(ExecTest, WithATtyFromTheContainersDevpts) {
  std::string id = start_sleeper();
  ASSERT_FALSE(id.empty());
  ExecSpec ex;
  ex.process.args = {"sh", "-c", "tty; stty size; exit 3"};
  ex.process.tty = true;
  auto s = rt_->exec(id, ex);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  int master = (*s)->tty_master();
  ASSERT_GE(master, 0);
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    struct pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      if (got.find("exit") != std::string::npos) break;
      continue;
    }
    char buf[256];
    ssize_t n = ::read(master, buf, sizeof(buf));
    if (n <= 0) break;  // EIO once the slave side is closed
    got.append(buf, static_cast<size_t>(n));
  }
  auto code = (*s)->wait(10000);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3);
  EXPECT_NE(got.find("/dev/pts/0"), std::string::npos) << got;
}

TEST_F(ExecTest, MissingCommandIsReported) {
  std::string id = start_sleeper();
  ASSERT_FALSE(id.empty());
  ExecSpec ex;
  ex.process.args = {"no-such-tool"};
  auto s = rt_->exec(id, ex);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().to_string().find("executable file not found in $PATH: no-such-tool"),
            std::string::npos) << s.error().to_string();
}

TEST_F(ExecTest, ExecIntoAStoppedContainerIsAConflict) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"true"});
  run(spec);
  ExecSpec ex;
  ex.process.args = {"true"};
  auto s = rt_->exec(spec.id, ex);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kConflict);
}

}  // namespace
}  // namespace kernlet::runtime::testing

namespace kernlet::runtime::testing {
namespace {

TEST_F(ExecTest, ContainerWithATty) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "tty; exit 2"});
  spec.process.tty = true;
  ASSERT_TRUE(rt_->create(spec).ok());
  int master = rt_->tty_master(spec.id);
  ASSERT_GE(master, 0);
  ASSERT_TRUE(rt_->start(spec.id).ok());
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.find("/dev/pts/0") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    struct pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(master, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  auto st = rt_->wait(spec.id, 10000);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->exit_code, 2);
  EXPECT_NE(got.find("/dev/pts/0"), std::string::npos) << got;
}

}  // namespace
}  // namespace kernlet::runtime::testing
