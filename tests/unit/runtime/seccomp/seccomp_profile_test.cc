#include "runtime/seccomp/seccomp_profile.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "runtime/seccomp/seccomp.h"

namespace kernlet::seccomp {
namespace {

std::string parse_error(std::string_view text) {
  Result<SeccompProfile> p = parse_seccomp_profile(text);
  if (p.ok()) return "(parsed)";
  return p.error().message();
}

TEST(SeccompProfileTest, ParsesTheDockerFormat) {
  Result<SeccompProfile> p = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
      {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
      {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
    ],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "io"},
      {"name": "personality", "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
       "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
      {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}
    ]
  })");
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->default_action, SeccompAction::kErrno);
  EXPECT_EQ(p->default_errno_ret, 1U);
  EXPECT_EQ(p->architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(p->filter_flags, static_cast<uint32_t>(SECCOMP_FILTER_FLAG_LOG));
  ASSERT_EQ(p->syscalls.size(), 5U);
  EXPECT_EQ(p->syscalls[0].names, (std::vector<std::string>{"read", "write"}));
  EXPECT_EQ(p->syscalls[1].names, (std::vector<std::string>{"personality"}));
  ASSERT_EQ(p->syscalls[1].args.size(), 1U);
  EXPECT_EQ(p->syscalls[1].args[0].value, 8U);
  EXPECT_EQ(p->syscalls[1].args[0].op, SeccompOp::kEqualTo);
  EXPECT_EQ(p->syscalls[2].includes.caps, (std::vector<std::string>{"CAP_SYS_ADMIN"}));
  EXPECT_EQ(p->syscalls[3].errno_ret, 38U);
  EXPECT_EQ(p->syscalls[3].excludes.arches, (std::vector<std::string>{"s390x"}));
  EXPECT_EQ(p->syscalls[4].includes.min_kernel, "4.8");
}

TEST(SeccompProfileTest, ParsesTheOciFormat) {
  Result<SeccompProfile> p = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
  })");
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(p->default_action, SeccompAction::kAllow);
  EXPECT_EQ(p->syscalls[0].errno_ret, 13U);
}

TEST(SeccompProfileTest, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* want;
  };
  const Case cases[] = {
      {R"({})", "defaultAction: required"},
      {R"([])", "seccomp profile: expected a JSON object, got array"},
      {R"({"defaultAction": 1})", "defaultAction: expected a string"},
      {R"({"defaultAction": "SCMP_ACT_DENY"})", "defaultAction: unknown action \"SCMP_ACT_DENY\""},
      {R"({"defaultAction": "SCMP_ACT_NOTIFY"})",
       "defaultAction: SCMP_ACT_NOTIFY is not supported (kernlet runs no seccomp agent)"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})",
       "defaultErrnoRet: expected a non-negative integer"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultEroRet": 1})", "defaultEroRet: unknown field"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]})",
       "architectures[0]: unknown architecture \"SCMP_ARCH_Z80\""},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}})", "syscalls: expected an array"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names: required (at least one syscall name)"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]})",
       "syscalls[0].action: required"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "nmes": 1}]})",
       "syscalls[0].nmes: unknown field"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ALLOW"}]})",
       "syscalls[0].names[1]: expected a string"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]})",
       "syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]})",
       "syscalls[0].errnoRet: 70000 is out of range (max 65535)"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args[0].index: 6 is out of range (max 5)"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1}]}]})",
       "syscalls[0].args[0].op: required"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQQ"}]}]})",
       "syscalls[1].args[0].op: unknown operator \"SCMP_CMP_EQQ\""},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]})",
       "syscalls[0].includes.minKernel: expected \"<major>.<minor>\", got \"four\""},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/agent.sock"})",
       "listenerPath: not supported (kernlet runs no seccomp agent)"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]})",
       "flags[0]: unsupported flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\""},
      {R"({"defaultAction": "SCMP_ACT_ERRNO",)", "invalid JSON at line 1, column 36: incomplete JSON"},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_error(c.json), c.want) << c.json;
}

TEST(SeccompProfileTest, RuntimeDefaultHasTheDocumentedShape) {
  SeccompProfile p = runtime_default_profile();
  EXPECT_EQ(p.default_action, SeccompAction::kErrno);
  EXPECT_EQ(p.default_errno_ret, static_cast<uint32_t>(EPERM));
  EXPECT_EQ(p.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  auto unconditional_allow = [&](const std::string& name) {
    for (const SeccompRule& r : p.syscalls) {
      if (r.action == SeccompAction::kAllow && r.args.empty() && r.includes.caps.empty() &&
          r.excludes.caps.empty() && std::find(r.names.begin(), r.names.end(), name) != r.names.end()) {
        return true;
      }
    }
    return false;
  };
  for (const char* ok : {"read", "write", "openat", "execve", "mkdir", "setresuid", "capset", "epoll_pwait2"}) {
    EXPECT_TRUE(unconditional_allow(ok)) << ok;
  }
  for (const char* denied : {"mount", "umount2", "unshare", "setns", "keyctl", "add_key", "bpf",
                             "io_uring_setup", "io_uring_enter", "kexec_load", "init_module", "socket",
                             "clone", "clone3", "personality", "chroot", "reboot", "swapon", "userfaultfd"}) {
    EXPECT_FALSE(unconditional_allow(denied)) << denied;
  }
}

TEST(SeccompProfileTest, LocalhostPathsStayUnderTheRoot) {
  EXPECT_EQ(load_localhost_profile("/var/lib/kernlet/seccomp", "/etc/x.json").error().message(),
            "seccompProfile.localhostProfile \"/etc/x.json\": must be relative to /var/lib/kernlet/seccomp");
  EXPECT_EQ(load_localhost_profile("/var/lib/kernlet/seccomp", "profiles/../../x.json").error().message(),
            "seccompProfile.localhostProfile \"profiles/../../x.json\": must not contain \"..\"");
  EXPECT_EQ(load_localhost_profile("/r", "").error().message(),
            "seccompProfile.localhostProfile: required for type Localhost");
}

TEST(SeccompProfileTest, LocalhostFileErrorsNameThePath) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kl-seccomp-unit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "profiles");
  struct Cleanup {
    std::filesystem::path d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};
  std::ofstream(dir / "profiles/bad.json") << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EPERM"}]})";
  std::ofstream(dir / "profiles/good.json") << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})";

  Result<SeccompProfile> bad = load_localhost_profile(dir.string(), "profiles/bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "seccomp profile " + dir.string() +
                                       "/profiles/bad.json: syscalls[0].action: unknown action \"SCMP_ACT_EPERM\"");
  Result<SeccompProfile> missing = load_localhost_profile(dir.string(), "profiles/none.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
  EXPECT_NE(missing.error().message().find("profiles/none.json"), std::string::npos);
  Result<SeccompProfile> good = load_localhost_profile(dir.string(), "profiles/good.json");
  ASSERT_TRUE(good.ok()) << good.error().to_string();
  EXPECT_EQ(good->syscalls.size(), 1U);
}

// --- compile --------------------------------------------------------------------------

TEST(SeccompCompileTest, RuntimeDefaultCompilesToAProgram) {
  Result<SeccompProgram> prog = compile(runtime_default_profile(), default_capabilities());
  ASSERT_TRUE(prog.ok()) << prog.error().to_string();
  EXPECT_GT(prog->instructions.size(), 100U);
  EXPECT_LE(prog->instructions.size(), 4096U);
  // The last instruction of a libseccomp program is a return.
  EXPECT_EQ(prog->instructions.back().code & 0x07, 0x06);  // BPF_RET
  EXPECT_EQ(prog->enosys_above, 449);  // futex_waitv, the newest call the profile names
}

TEST(SeccompCompileTest, CapabilitiesChangeTheProgram) {
  CapabilitySet with_admin = default_capabilities() | CapabilitySet::of({CAP_SYS_ADMIN});
  Result<SeccompProgram> plain = compile(runtime_default_profile(), default_capabilities());
  Result<SeccompProgram> admin = compile(runtime_default_profile(), with_admin);
  ASSERT_TRUE(plain.ok() && admin.ok());
  EXPECT_NE(plain->instructions.size(), admin->instructions.size());
}

TEST(SeccompCompileTest, UnknownSyscallNamesAreSkippedAndReported) {
  Result<SeccompProfile> p = parse_seccomp_profile(
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"}]})");
  ASSERT_TRUE(p.ok());
  Result<SeccompProgram> prog = compile(*p, CapabilitySet());
  ASSERT_TRUE(prog.ok()) << prog.error().to_string();
  EXPECT_EQ(prog->unknown_syscalls, (std::vector<std::string>{"no_such_call"}));
  EXPECT_EQ(prog->enosys_above, 0);  // read
}

TEST(SeccompCompileTest, UnknownCapabilityInAConditionIsAnError) {
  Result<SeccompProfile> p = parse_seccomp_profile(
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_FLY"]}}]})");
  ASSERT_TRUE(p.ok());
  Result<SeccompProgram> prog = compile(*p, CapabilitySet());
  ASSERT_FALSE(prog.ok());
  EXPECT_EQ(prog.error().message(), "syscalls[0].includes.caps: unknown capability \"CAP_FLY\"");
}

TEST(SeccompCompileTest, RepeatedArgumentIndexesBecomeSeparateRules) {
  Result<SeccompProfile> p = parse_seccomp_profile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})");
  ASSERT_TRUE(p.ok());
  Result<SeccompProgram> prog = compile(*p, CapabilitySet());
  ASSERT_TRUE(prog.ok()) << prog.error().to_string();
}

TEST(SeccompCompileTest, UnconfinedInstallIsANoOp) {
  EXPECT_EQ(install_in_child(SeccompProgram{}), 0);
}

}  // namespace
}  // namespace kernlet::seccomp

namespace kernlet::seccomp {
namespace {

TEST(SeccompCompileTest, MinKernelAndArchConditionsAreDecidedAtCompileTime) {
  auto size = [](const std::string& kernel, const std::string& arch) {
    CompileContext cc;
    cc.bounding = default_capabilities();
    cc.kernel_release = kernel;
    cc.go_arch = arch;
    Result<SeccompProgram> p = compile(runtime_default_profile(), cc);
    EXPECT_TRUE(p.ok());
    return p.ok() ? p->instructions.size() : 0;
  };
  // ptrace is allowed only from 4.8; arch_prctl/modify_ldt only on amd64.
  EXPECT_LT(size("4.4.0", "amd64"), size("6.18.44-fc", "amd64"));
  EXPECT_LT(size("6.18.44-fc", "arm64"), size("6.18.44-fc", "amd64"));
}

}  // namespace
}  // namespace kernlet::seccomp
