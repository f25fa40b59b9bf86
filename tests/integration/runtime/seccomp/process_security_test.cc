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

// The i386 entry point (int 0x80) from a 64-bit process, with i386 syscall numbers.
long int80(long nr, long a1 = 0, long a2 = 0, long a3 = 0) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a1), "c"(a2), "d"(a3) : "memory");
  return ret;
}
constexpr long kI386Getpid = 20;
constexpr long kI386Keyctl = 288;
constexpr long kI386Unshare = 310;
// x32 calls are x86_64 syscall instructions with bit 30 set; the filter sees them before
// the kernel decides whether it supports x32 at all.
constexpr long kX32Bit = 0x40000000;

// Whether this kernel has the i386 entry (a kernel without IA32 emulation faults on
// int 0x80). Probed in a throw-away child.
bool i386_entry_available() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(int80(kI386Getpid) > 0 ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void record(const char* name, long raw) {  // raw: the kernel's -errno convention
  if (raw < 0) errno = static_cast<int>(-raw);
  probe(name, raw < 0 ? -1 : 0);
}

void x32_probes() {
  probe("x32_keyctl", ::syscall(kX32Bit | SYS_keyctl, 0, -3, 0));
  probe("x32_unshare", ::syscall(kX32Bit | SYS_unshare, 0x1));
}

void i386_probes() {
  record("i386_getpid", int80(kI386Getpid));
  record("i386_keyctl", int80(kI386Keyctl, 0, -3, 0));
  record("i386_unshare", int80(kI386Unshare, 0x1));
}

TEST_F(ProcessSecurityTest, RuntimeDefaultCoversTheX32Entry) {
  ProcessSecurityRequest req;
  req.seccomp = SeccompProfileType::kUnconfined;
  ChildResult unconfined = run_child(prepare(req), x32_probes);
  req.seccomp = SeccompProfileType::kRuntimeDefault;
  ChildResult confined = run_child(prepare(req), x32_probes);
  ASSERT_EQ(unconfined.status, 0) << unconfined.output;
  ASSERT_EQ(confined.status, 0) << confined.output;
  // Refused by the filter whether or not the kernel has x32 (ENOSYS without it).
  EXPECT_EQ(parse_probes(confined.output)["x32_keyctl"], EPERM) << confined.output;
  EXPECT_EQ(parse_probes(confined.output)["x32_unshare"], EPERM) << confined.output;
  EXPECT_NE(parse_probes(unconfined.output)["x32_keyctl"], EPERM) << unconfined.output;
}

TEST_F(ProcessSecurityTest, RuntimeDefaultCoversTheI386Entry) {
  if (!i386_entry_available()) GTEST_SKIP() << "this kernel has no i386 entry (int 0x80 faults): nothing to filter";
  ProcessSecurityRequest req;
  req.seccomp = SeccompProfileType::kUnconfined;
  ChildResult unconfined = run_child(prepare(req), i386_probes);
  req.seccomp = SeccompProfileType::kRuntimeDefault;
  ChildResult confined = run_child(prepare(req), i386_probes);
  ASSERT_EQ(unconfined.status, 0) << unconfined.output;
  ASSERT_EQ(confined.status, 0) << confined.output;
  auto with = parse_probes(confined.output);
  EXPECT_EQ(with["i386_getpid"], 0) << confined.output;
  EXPECT_EQ(with["i386_keyctl"], EPERM) << confined.output;
  EXPECT_EQ(with["i386_unshare"], EPERM) << confined.output;
  EXPECT_EQ(parse_probes(unconfined.output)["i386_unshare"], EINVAL) << unconfined.output;
}

TEST_F(ProcessSecurityTest, AnAbiOutsideTheProfileIsKilled) {
  // A profile for x86_64 only: an x32 call must not slip past its rules, so the filter
  // kills the process (libseccomp's bad-architecture action) instead of judging it.
  Result<SeccompProfile> profile = parse_seccomp_profile(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
          "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]})");
  ASSERT_TRUE(profile.ok());
  ProcessSecurityRequest req;
  req.seccomp = SeccompProfileType::kLocalhost;
  req.localhost_profile = *profile;
  ChildResult r = run_child(prepare(req), [] {
    probe("x86_64_getpid", ::syscall(SYS_getpid) > 0 ? 0 : -1);
    ::syscall(kX32Bit | SYS_getpid);
    probe("survived", 0);
  });
  ASSERT_TRUE(WIFSIGNALED(r.status)) << r.output;
  EXPECT_EQ(WTERMSIG(r.status), SIGSYS);
  EXPECT_EQ(parse_probes(r.output).count("x86_64_getpid"), 1U) << r.output;
  EXPECT_EQ(parse_probes(r.output).count("survived"), 0U) << r.output;
}

TEST_F(ProcessSecurityTest, CallsNewerThanTheProfileGetEnosys) {
  // fchmodat2 (Linux 6.6, x86_64 452) is newer than every call RuntimeDefault names, so
  // it gets ENOSYS and glibc falls back to fchmodat; an old call the profile leaves out
  // (keyctl, 250) still gets EPERM.
  auto body = [] {
    probe("fchmodat2", ::syscall(452, -1, "", 0, 0));
    probe("keyctl", ::syscall(SYS_keyctl, 0, -3, 0));
  };
  ProcessSecurityRequest req;
  ChildResult confined = run_child(prepare(req), body);
  req.seccomp = SeccompProfileType::kUnconfined;
  ChildResult unconfined = run_child(prepare(req), body);
  ASSERT_EQ(confined.status, 0) << confined.output;
  EXPECT_EQ(parse_probes(confined.output)["fchmodat2"], ENOSYS) << confined.output;
  EXPECT_EQ(parse_probes(confined.output)["keyctl"], EPERM) << confined.output;
  int kernel = parse_probes(unconfined.output)["fchmodat2"];
  if (kernel == ENOSYS) GTEST_SKIP() << "this kernel has no fchmodat2 either";
  EXPECT_EQ(kernel, ENOENT) << unconfined.output;  // the kernel's own answer: empty path
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
