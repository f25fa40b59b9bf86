// Pod sandboxes: shared namespaces, host namespaces, the holder's cost, driver restarts.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class SandboxTest : public RuntimeTest {
 protected:
  static std::string ns_of(pid_t pid, const char* ns) {
    char buf[128] = {};
    std::string link = "/proc/" + std::to_string(pid) + "/ns/" + ns;
    ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  pid_t start(const ContainerSpec& spec) {
    auto c = rt_->create(spec);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
    auto s = rt_->start(spec.id);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    auto st = rt_->status(spec.id);
    return st.ok() ? st->pid : 0;
  }
};

TEST_F(SandboxTest, ContainersShareThePodsNetIpcUtsButNotMountOrPid) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  pid_t a = start(spec_for(sb->id(), {"sleep", "1000"}));
  pid_t b = start(spec_for(sb->id(), {"sleep", "1000"}));
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  pid_t h = sb->holder_pid();
  for (const char* ns : {"net", "ipc", "uts"}) {
    EXPECT_EQ(ns_of(a, ns), ns_of(h, ns)) << ns;
    EXPECT_EQ(ns_of(b, ns), ns_of(h, ns)) << ns;
    EXPECT_NE(ns_of(a, ns), ns_of(::getpid(), ns)) << ns;
  }
  for (const char* ns : {"mnt", "pid", "cgroup"}) EXPECT_NE(ns_of(a, ns), ns_of(b, ns)) << ns;
  // No process that may go away is a container's parent: the holder is.
  EXPECT_EQ(proc_status_field(a, "PPid"), std::to_string(h));
  EXPECT_EQ(proc_status_field(b, "PPid"), std::to_string(h));
  EXPECT_EQ(sb->netns_path(), "/proc/" + std::to_string(h) + "/ns/net");
}

TEST_F(SandboxTest, ShareProcessNamespaceMakesTheHolderPid1) {
  SandboxSpec pod;
  pod.share_process_namespace = true;
  Sandbox* sb = make_sandbox(pod);
  ASSERT_NE(sb, nullptr);
  pid_t a = start(spec_for(sb->id(), {"sleep", "1000"}));
  ASSERT_GT(a, 0);
  auto spec = spec_for(sb->id(), {"sh", "-c",
                                  "cat /proc/1/comm; cat /proc/[0-9]*/comm | grep -c '^sleep$'; "
                                  "ls -l /proc/1/exe 2>&1 | grep -c 'Permission denied'"});
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.exit_code, 0);
  // The holder is PID 1 and the other container's sleep is visible (counting every
  // process raced the pipeline's own processes); the holder's exe (a host path) is not
  // reachable.
  EXPECT_EQ(output(), "kernlet-holder\n1\n1\n");
  EXPECT_EQ(ns_of(a, "pid"), ns_of(sb->holder_pid(), "pid"));
}

TEST_F(SandboxTest, HostNamespacesAreHonoured) {
  SandboxSpec pod;
  pod.host_network = true;
  pod.host_ipc = true;
  Sandbox* sb = make_sandbox(pod);
  ASSERT_NE(sb, nullptr);
  EXPECT_EQ(sb->netns_path(), "");
  pid_t a = start(spec_for(sb->id(), {"sleep", "1000"}));
  ASSERT_GT(a, 0);
  for (const char* ns : {"net", "ipc", "uts"}) EXPECT_EQ(ns_of(a, ns), ns_of(::getpid(), ns)) << ns;
  EXPECT_NE(ns_of(a, "pid"), ns_of(::getpid(), "pid"));
}

TEST_F(SandboxTest, HostPidContainerSeesHostProcessesAndItsExitCodeIsKnown) {
  SandboxSpec pod;
  pod.host_pid = true;
  Sandbox* sb = make_sandbox(pod);
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "test -d /proc/" + std::to_string(::getpid()) + " && exit 4"});
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.state, ContainerState::kExited);
  EXPECT_EQ(st.exit_code, 4) << "needs PIDFD_GET_INFO (Linux 6.15) for host-PID pods";
}

TEST_F(SandboxTest, HolderCostsLessThanOneMegabyte) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  std::string rss = proc_status_field(sb->holder_pid(), "VmRSS");
  ASSERT_FALSE(rss.empty());
  long kb = std::stol(rss);
  EXPECT_LT(kb, 1024) << rss;
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  // Without glibc (holder_libc.cc) the holder is a few pages: ~28 kB measured.
  EXPECT_LT(kb, 128) << rss;
#endif
  EXPECT_EQ(read_all("/proc/" + std::to_string(sb->holder_pid()) + "/comm"), "kernlet-holder\n");
}

// Reads from `fd` (blocking, polled) until `needle` shows up or 10 s pass; what was read.
std::string read_until(int fd, const std::string& needle) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST_F(SandboxTest, TheHolderKeepsFdsForTheDriver) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  ASSERT_TRUE(sb->keep_fd("one", w.get()).ok());
  w.reset();  // only the holder's copy is left: no EOF for the reader
  EXPECT_EQ(sb->kept_fd("nope").error().code(), ErrorCode::kNotFound);
  auto again = sb->kept_fd("one");
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  ASSERT_EQ(::write(again->get(), "x", 1), 1);
  again->reset();
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  auto twice = sb->kept_fd("one");  // taking a dup leaves it kept
  ASSERT_TRUE(twice.ok());
  twice->reset();
  ASSERT_TRUE(sb->drop_kept_fd("one").ok());
  EXPECT_EQ(::read(r.get(), &c, 1), 0) << "dropped: the last writer is gone";
}

// A tty container's terminal outlives its driver: the driver (a forked child) creates it
// and dies with SIGKILL, which closes its pty master; the holder's copy keeps the terminal
// from hanging up (SIGHUP to the container), and the next driver gets the master back.
TEST_F(SandboxTest, ATtyContainersTerminalOutlivesTheDriver) {
  std::string pod_id = unique_name("pod");
  std::string id = unique_name("ctr");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  rt_.reset();
  pid_t driver = ::fork();
  if (driver == 0) {
    ::close(ready[0]);
    auto rt = ContainerRuntime::open(root_);
    if (!rt.ok()) ::_exit(10);
    SandboxSpec pod;
    pod.id = pod_id;
    pod.name = "tty";
    if (!(*rt)->sandboxes().create(pod).ok()) ::_exit(11);
    ContainerSpec s;
    s.id = id;
    s.sandbox_id = pod_id;
    s.lower_dirs = {lower_};
    s.process.args = {"sh", "-c", "while read l; do echo got:$l; done"};
    s.process.tty = true;
    if (!(*rt)->create(s).ok() || !(*rt)->start(id).ok()) ::_exit(12);
    char one = 1;
    if (::write(ready[1], &one, 1) != 1) ::_exit(13);
    ::kill(::getpid(), SIGKILL);
  }
  ::close(ready[1]);
  char byte = 0;
  bool child_ready = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  int ws = 0;
  ::waitpid(driver, &ws, 0);
  auto rt = ContainerRuntime::open(root_);
  ASSERT_TRUE(rt.ok());
  rt_ = std::move(*rt);
  sandboxes_.push_back(pod_id);
  ASSERT_TRUE(child_ready) << "driver exit status " << ws;
  ASSERT_TRUE(rt_->recover().ok());
  int master = rt_->tty_master(id);
  ASSERT_GE(master, 0) << "the restarted driver has the container's pty master again";
  ASSERT_EQ(::write(master, "ping\n", 5), 5);
  EXPECT_NE(read_until(master, "got:ping").find("got:ping"), std::string::npos);
  auto st = rt_->status(id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, ContainerState::kRunning);
  ASSERT_TRUE(rt_->stop(id, 0).ok());
  ASSERT_TRUE(rt_->remove(id).ok());
}

TEST_F(SandboxTest, StoppingTheSandboxEndsItsContainers) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sleep", "1000"});
  pid_t a = start(spec);
  ASSERT_GT(a, 0);
  ASSERT_TRUE(rt_->sandboxes().stop(sb->id()).ok());
  auto st = rt_->wait(spec.id, 10000);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(st->state, ContainerState::kExited);
}

// The driver (a forked child here) creates a pod and two containers and dies. One container
// ends while no driver runs; a new driver re-adopts the running one and learns both exit codes.
TEST_F(SandboxTest, ContainersOutliveTheDriverAndARestartedDriverReadoptsThem) {
  std::string gate = root_ + "/gate";
  ASSERT_TRUE(make_dirs(gate).ok());
  std::string pod_id = unique_name("pod");
  std::string a_id = unique_name("ctr"), b_id = unique_name("ctr");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  rt_.reset();  // the child builds its own
  pid_t driver = ::fork();
  if (driver == 0) {
    ::close(ready[0]);
    auto rt = ContainerRuntime::open(root_);
    if (!rt.ok()) ::_exit(10);
    SandboxSpec pod;
    pod.id = pod_id;
    pod.name = "survivor";
    if (!(*rt)->sandboxes().create(pod).ok()) ::_exit(11);
    for (const auto& [id, script] : {std::pair{a_id, "while [ ! -e /gate/a ]; do sleep 0.02; done; exit 5"},
                                      std::pair{b_id, "while [ ! -e /gate/b ]; do sleep 0.02; done; exit 6"}}) {
      ContainerSpec s;
      s.id = id;
      s.sandbox_id = pod_id;
      s.lower_dirs = {lower_};
      s.process.args = {"sh", "-c", script};
      s.mounts = {{gate, "/gate", true, Propagation::kPrivate, true}};
      if (!(*rt)->create(s).ok() || !(*rt)->start(id).ok()) ::_exit(12);
    }
    char one = 1;
    if (::write(ready[1], &one, 1) != 1) ::_exit(13);
    ::kill(::getpid(), SIGKILL);  // die without any cleanup
  }
  ::close(ready[1]);
  char byte = 0;
  bool child_ready = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  int ws = 0;
  ::waitpid(driver, &ws, 0);
  auto rt = ContainerRuntime::open(root_);
  ASSERT_TRUE(rt.ok());
  rt_ = std::move(*rt);
  sandboxes_.push_back(pod_id);
  ASSERT_TRUE(child_ready) << "driver exit status " << ws;
  ASSERT_TRUE(WIFSIGNALED(ws));

  // Container a ends while no driver runs.
  ASSERT_TRUE(write_file_atomic(gate + "/a", "").ok());
  auto exit_a = root_ + "/containers/" + a_id + "/exit";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  struct stat st{};
  while (::stat(exit_a.c_str(), &st) != 0 && std::chrono::steady_clock::now() < deadline) ::usleep(1000);

  ASSERT_TRUE(rt_->recover().ok());
  Sandbox* sb = rt_->sandboxes().find(pod_id);
  ASSERT_NE(sb, nullptr);
  EXPECT_TRUE(sb->ready());
  auto a = rt_->status(a_id);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->state, ContainerState::kExited);
  EXPECT_EQ(a->exit_code, 5);
  auto b = rt_->status(b_id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->state, ContainerState::kRunning);
  EXPECT_EQ(proc_status_field(b->pid, "PPid"), std::to_string(sb->holder_pid()));
  // The adopted container is fully usable: exec into it.
  std::string out = root_ + "/exec.out";
  ExecSpec ex;
  ex.process.args = {"hostname"};
  ex.process.stdout_path = out;
  auto session = rt_->exec(b_id, ex);
  ASSERT_TRUE(session.ok()) << session.error().to_string();
  EXPECT_EQ(*(*session)->wait(10000), 0);
  EXPECT_EQ(read_all(out), "survivor\n");
  ASSERT_TRUE(write_file_atomic(gate + "/b", "").ok());
  auto wb = rt_->wait(b_id, 10000);
  ASSERT_TRUE(wb.ok()) << wb.error().to_string();
  EXPECT_EQ(wb->exit_code, 6);
  EXPECT_EQ(wb->reason, "Error");
}

}  // namespace
}  // namespace kernlet::runtime::testing
