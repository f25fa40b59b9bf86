// Root integration tests: a forked child applies a prepared ProcessSecurity exactly as a
// container's first process does, then either probes syscalls or execs /bin/cat on its
// own /proc/self/status. Every probe is also run without the defence under test, so each
// test fails if that defence is removed.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "runtime/seccomp/process_security.h"

namespace kernlet::seccomp {
namespace {

struct ChildResult {
  std::string output;
  int status = -1;
};

// Forks; the child applies `sec` (reporting a failure as "apply-failed <step> <errno>"),
// then runs `body` with its stdout already pointing at the pipe the parent reads.
ChildResult run_child(const ProcessSecurity& sec, const std::function<void()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {"pipe failed", -1};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears CLOEXEC on the new fd
    ApplyStep step = ApplyStep::kNone;
    int rc = apply_process_security(sec, &step);
    if (rc < 0) {
      std::string msg = "apply-failed " + std::string(apply_step_name(step)) + " " + std::to_string(-rc) + "\n";
      (void)!::write(STDOUT_FILENO, msg.data(), msg.size());
      ::_exit(111);
    }
    body();
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ::kill(pid, SIGKILL);
      r.output += "\n(timed out)";
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    r.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  ::waitpid(pid, &r.status, 0);
  return r;
}

// Child-side: prints "<name> <result> <errno>\n" for one raw syscall.
void probe(const char* name, long rc) {
  int e = rc < 0 ? errno : 0;
  std::string line = std::string(name) + " " + std::to_string(rc < 0 ? -1 : 0) + " " + std::to_string(e) + "\n";
  (void)!::write(STDOUT_FILENO, line.data(), line.size());
}

// Parses "name rc errno" lines into name → errno (0 when the call succeeded).
std::map<std::string, int> parse_probes(const std::string& out) {
  std::map<std::string, int> m;
  std::istringstream in(out);
  std::string name;
  int rc = 0;
  int e = 0;
  while (in >> name >> rc >> e) m[name] = e;
  return m;
}

// Parses /proc/<pid>/status text into key → value.
std::map<std::string, std::string> parse_status(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    m[line.substr(0, colon)] = v;
  }
  return m;
}

void exec_cat_status() {
  const char* argv[] = {"cat", "/proc/self/status", nullptr};
  ::execv("/bin/cat", const_cast<char* const*>(argv));
  ::_exit(127);
}

class ProcessSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (capabilities, setuid, seccomp without no_new_privs)";
    CapabilitySet host = host_capabilities();
    if (!(default_capabilities() - host).empty() || !host.has(CAP_SYS_ADMIN)) {
      GTEST_SKIP() << "this process lacks capabilities the tests grant: " << host.to_hex();
    }
  }

  static ProcessSecurity prepare(ProcessSecurityRequest req) {
    Result<ProcessSecurity> s = prepare_process_security(req);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return s.ok() ? *s : ProcessSecurity{};
  }
};

// Syscalls whose refusal by RuntimeDefault the issue names, each called so that the
// kernel itself would answer something other than EPERM: the difference is the filter.
void dangerous_probes() {
  probe("mount", ::syscall(SYS_mount, nullptr, nullptr, nullptr, 0, nullptr));  // kernel: EFAULT
  probe("unshare", ::syscall(SYS_unshare, 0x1));                               // kernel: EINVAL
  probe("keyctl", ::syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -3 /*SESSION*/, 0));  // kernel: ok
  probe("bpf", ::syscall(SYS_bpf, 9999, nullptr, 0));                          // kernel: EINVAL
  probe("clone3", ::syscall(SYS_clone3, nullptr, 0));                          // kernel: EINVAL
  int vsock = ::socket(40 /*AF_VSOCK*/, SOCK_STREAM, 0);                       // kernel: ok or EAFNOSUPPORT
  probe("socket_vsock", vsock);
  probe("personality_bsd", ::syscall(SYS_personality, 0x0006 /*PER_BSD*/));
  // Ordinary calls keep working.
  probe("getpid", ::syscall(SYS_getpid) > 0 ? 0 : -1);
  int inet = ::socket(AF_INET, SOCK_DGRAM, 0);
  probe("socket_inet", inet);
  probe("open_proc", ::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  probe("personality_query", ::syscall(SYS_personality, 0xffffffff));
}

TEST_F(ProcessSecurityTest, RuntimeDefaultRefusesMountUnshareKeyctlBpf) {
  ProcessSecurityRequest req;
  req.seccomp = SeccompProfileType::kRuntimeDefault;
  ChildResult confined = run_child(prepare(req), dangerous_probes);
  req.seccomp = SeccompProfileType::kUnconfined;
  ChildResult unconfined = run_child(prepare(req), dangerous_probes);
  ASSERT_EQ(confined.status, 0) << confined.output;
  ASSERT_EQ(unconfined.status, 0) << unconfined.output;

  auto with = parse_probes(confined.output);
  auto without = parse_probes(unconfined.output);
  for (const char* name : {"mount", "unshare", "keyctl", "bpf", "socket_vsock", "personality_bsd"}) {
    EXPECT_EQ(with[name], EPERM) << name << "\n" << confined.output;
    EXPECT_NE(without[name], EPERM) << name << " is refused even without seccomp:\n" << unconfined.output;
  }
  EXPECT_EQ(with["clone3"], ENOSYS) << confined.output;  // so glibc falls back to clone
  EXPECT_NE(without["clone3"], ENOSYS) << unconfined.output;
  for (const char* name : {"getpid", "socket_inet", "open_proc", "personality_query"}) {
    EXPECT_EQ(with[name], 0) << name << "\n" << confined.output;
  }
}

TEST_F(ProcessSecurityTest, RuntimeDefaultWithSysAdminAllowsMount) {
  // The capability-gated rules follow the bounding set: with CAP_SYS_ADMIN the filter
  // lets mount through and the kernel answers (EFAULT for the NULL target).
  ProcessSecurityRequest req;
  req.capabilities.add = {"SYS_ADMIN"};
  ChildResult r = run_child(prepare(req), [] {
    probe("mount", ::syscall(SYS_mount, nullptr, nullptr, nullptr, 0, nullptr));
    probe("unshare", ::syscall(SYS_unshare, 0x1));
  });
  ASSERT_EQ(r.status, 0) << r.output;
  auto got = parse_probes(r.output);
  EXPECT_EQ(got["mount"], EFAULT) << r.output;
  EXPECT_EQ(got["unshare"], EINVAL) << r.output;
}

TEST_F(ProcessSecurityTest, LocalhostProfileDenyingMkdir) {
  Result<SeccompProfile> profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
  })");
  ASSERT_TRUE(profile.ok()) << profile.error().to_string();
  std::string dir = "/tmp/kl-seccomp-mkdir-" + std::to_string(::getpid());
  auto body = [&] { probe("mkdir", ::mkdir(dir.c_str(), 0700)); };

  ProcessSecurityRequest req;
  req.seccomp = SeccompProfileType::kLocalhost;
  req.localhost_profile = *profile;
  ChildResult denied = run_child(prepare(req), body);
  req.seccomp = SeccompProfileType::kUnconfined;
  ChildResult allowed = run_child(prepare(req), body);
  ::rmdir(dir.c_str());
  ASSERT_EQ(denied.status, 0) << denied.output;
  EXPECT_EQ(parse_probes(denied.output)["mkdir"], EACCES) << denied.output;
  EXPECT_EQ(parse_probes(allowed.output)["mkdir"], 0) << allowed.output;
}

TEST_F(ProcessSecurityTest, NoNewPrivsIsSetAfterExec) {
  ProcessSecurityRequest req;
  req.no_new_privs = true;
  ChildResult with = run_child(prepare(req), exec_cat_status);
  req.no_new_privs = false;
  ChildResult without = run_child(prepare(req), exec_cat_status);
  ASSERT_EQ(with.status, 0) << with.output;
  ASSERT_EQ(without.status, 0) << without.output;
  EXPECT_EQ(parse_status(with.output)["NoNewPrivs"], "1");
  EXPECT_EQ(parse_status(without.output)["NoNewPrivs"], "0");
  // Either way the filter is on (mode 2) and survived execve.
  EXPECT_EQ(parse_status(with.output)["Seccomp"], "2");
  EXPECT_EQ(parse_status(without.output)["Seccomp"], "2");
}

TEST_F(ProcessSecurityTest, RootContainerHasExactlyTheDefaultCapabilities) {
  ChildResult r = run_child(prepare({}), exec_cat_status);
  ASSERT_EQ(r.status, 0) << r.output;
  auto st = parse_status(r.output);
  EXPECT_EQ(st["CapBnd"], "00000000a80425fb");
  EXPECT_EQ(st["CapEff"], "00000000a80425fb");
  EXPECT_EQ(st["CapPrm"], "00000000a80425fb");
  EXPECT_EQ(st["CapInh"], "0000000000000000");
  EXPECT_EQ(st["CapAmb"], "0000000000000000");
  // And the test process itself has more, so the child's sets are our doing.
  EXPECT_NE(host_capabilities(), default_capabilities());
}

TEST_F(ProcessSecurityTest, NonRootContainerHasNoEffectiveCapabilities) {
  ProcessSecurityRequest req;
  req.identity = ProcessIdentity{65534, 65534, {65534}};
  ChildResult r = run_child(prepare(req), exec_cat_status);
  ASSERT_EQ(r.status, 0) << r.output;
  auto st = parse_status(r.output);
  EXPECT_EQ(st["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(st["Gid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(st["Groups"], "65534 ");  // the kernel ends the list with a space
  EXPECT_EQ(st["CapBnd"], "00000000a80425fb");
  EXPECT_EQ(st["CapEff"], "0000000000000000");
  EXPECT_EQ(st["CapPrm"], "0000000000000000");
  EXPECT_EQ(st["CapInh"], "0000000000000000");
  EXPECT_EQ(st["CapAmb"], "0000000000000000");
}

TEST_F(ProcessSecurityTest, DropAllAddNetBindServiceAndAmbientForNonRoot) {
  ProcessSecurityRequest req;
  req.identity = ProcessIdentity{1000, 1000, {}};
  req.capabilities.drop = {"ALL"};
  req.capabilities.add = {"NET_BIND_SERVICE"};
  req.capabilities.ambient = {"NET_BIND_SERVICE"};
  ChildResult r = run_child(prepare(req), exec_cat_status);
  ASSERT_EQ(r.status, 0) << r.output;
  auto st = parse_status(r.output);
  EXPECT_EQ(st["CapBnd"], "0000000000000400");
  EXPECT_EQ(st["CapEff"], "0000000000000400");
  EXPECT_EQ(st["CapPrm"], "0000000000000400");
  EXPECT_EQ(st["CapInh"], "0000000000000400");
  EXPECT_EQ(st["CapAmb"], "0000000000000400");
}

TEST_F(ProcessSecurityTest, PrivilegedKeepsEverythingAndIsUnconfined) {
  ProcessSecurityRequest req;
  req.capabilities.privileged = true;
  ChildResult r = run_child(prepare(req), exec_cat_status);
  ASSERT_EQ(r.status, 0) << r.output;
  auto st = parse_status(r.output);
  EXPECT_EQ(st["CapBnd"], host_capabilities().to_hex());
  EXPECT_EQ(st["CapEff"], host_capabilities().to_hex());
  EXPECT_EQ(st["Seccomp"], "0");
}

}  // namespace
}  // namespace kernlet::seccomp
