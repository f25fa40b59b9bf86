#include "runtime/seccomp/seccomp.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <algorithm>
#include <memory>
#include <set>

#include "runtime/seccomp/raw_syscall.h"

namespace kernlet::seccomp {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

uint32_t to_scmp(SeccompAction a, std::optional<uint32_t> ret) {
  switch (a) {
    case SeccompAction::kKillThread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kKillProcess: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::kTrap: return SCMP_ACT_TRAP;
    case SeccompAction::kErrno: return SCMP_ACT_ERRNO(ret.value_or(EPERM));
    case SeccompAction::kTrace: return SCMP_ACT_TRACE(ret.value_or(EPERM));
    case SeccompAction::kAllow: return SCMP_ACT_ALLOW;
    case SeccompAction::kLog: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_scmp(SeccompOp op) {
  switch (op) {
    case SeccompOp::kNotEqual: return SCMP_CMP_NE;
    case SeccompOp::kLessThan: return SCMP_CMP_LT;
    case SeccompOp::kLessEqual: return SCMP_CMP_LE;
    case SeccompOp::kEqualTo: return SCMP_CMP_EQ;
    case SeccompOp::kGreaterEqual: return SCMP_CMP_GE;
    case SeccompOp::kGreaterThan: return SCMP_CMP_GT;
    case SeccompOp::kMaskedEq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

// The x86 architectures a filter on this host can serve; others in a profile (Docker's
// archMap lists every architecture) are irrelevant here and skipped.
uint32_t arch_token(const std::string& name) {
  if (name == "SCMP_ARCH_X86_64") return SCMP_ARCH_X86_64;
  if (name == "SCMP_ARCH_X86") return SCMP_ARCH_X86;
  if (name == "SCMP_ARCH_X32") return SCMP_ARCH_X32;
  return 0;
}

// "6.18.44-fc" → {6, 18}; a release that does not parse compares as 0.0.
std::pair<unsigned, unsigned> kernel_version(const std::string& release) {
  unsigned major = 0;
  unsigned minor = 0;
  if (std::sscanf(release.c_str(), "%u.%u", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const std::string& x : v) {
    if (x == s) return true;
  }
  return false;
}

// Whether a Docker-format condition holds; `includes` asks for all of it, `excludes`
// for any of it.
Result<bool> condition_holds(const SeccompCondition& c, const CompileContext& ctx,
                             const std::string& kernel, bool all, const std::string& path) {
  bool any = false;
  bool every = true;
  for (const std::string& name : c.caps) {
    KL_ASSIGN_OR_RETURN(int cap, parse_capability(name, path + ".caps"));
    bool has = ctx.bounding.has(cap);
    any = any || has;
    every = every && has;
  }
  if (!c.arches.empty()) {
    bool has = contains(c.arches, ctx.go_arch);
    any = any || has;
    every = every && has;
  }
  if (!c.min_kernel.empty()) {
    bool has = kernel_version(kernel) >= kernel_version(c.min_kernel);
    any = any || has;
    every = every && has;
  }
  return all ? every : any;
}

Result<void> add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const std::vector<SeccompArg>& args) {
  std::vector<scmp_arg_cmp> cmps;
  std::set<uint32_t> indexes;
  bool repeated = false;
  for (const SeccompArg& a : args) {
    scmp_arg_cmp c{};
    c.arg = a.index;
    c.op = to_scmp(a.op);
    c.datum_a = a.value;
    c.datum_b = a.value_two;
    cmps.push_back(c);
    repeated = repeated || !indexes.insert(a.index).second;
  }
  if (!repeated) {
    int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                    cmps.empty() ? nullptr : cmps.data());
    if (rc < 0) return Error("libseccomp refused the rule", -rc);
    return Ok();
  }
  // libseccomp cannot AND two comparisons of one argument; runc's reading of such a
  // profile is "any of them", one rule per comparison.
  for (const scmp_arg_cmp& c : cmps) {
    int rc = seccomp_rule_add_array(ctx, action, nr, 1, &c);
    if (rc < 0) return Error("libseccomp refused the rule", -rc);
  }
  return Ok();
}

Result<std::vector<sock_filter>> export_bpf(scmp_filter_ctx ctx) {
  int fd = ::memfd_create("kernlet-seccomp", MFD_CLOEXEC);
  if (fd < 0) return Error::from_errno("memfd_create for the seccomp program");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) return Error("seccomp_export_bpf", -rc);
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) return Error::from_errno("lseek seccomp program");
  if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return Error("seccomp_export_bpf wrote " + std::to_string(size) + " bytes, not whole instructions");
  }
  std::vector<sock_filter> prog(static_cast<std::size_t>(size) / sizeof(sock_filter));
  auto* out = reinterpret_cast<char*>(prog.data());
  off_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out + done, static_cast<std::size_t>(size - done), done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::from_errno("read back seccomp program");
    done += n;
  }
  return prog;
}

// runc's ENOSYS stub, as a prefix to libseccomp's program: an x86_64 call numbered above
// every syscall the profile names is newer than the profile, and gets ENOSYS instead of
// the default EPERM, so libc falls back to an older call (glibc tries fchmodat2, clone3,
// ... first and falls back only on ENOSYS). x32 and i386 calls go straight to the
// profile. Classic BPF jumps are relative, so the prefix falls through into the program.
std::vector<sock_filter> enosys_prefix(uint32_t last_known) {
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U /* __X32_SYSCALL_BIT */, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, last_known, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
  };
}

bool denies_by_default(SeccompAction a) {
  return a == SeccompAction::kErrno || a == SeccompAction::kKillThread || a == SeccompAction::kKillProcess ||
         a == SeccompAction::kTrap;
}

}  // namespace

Result<SeccompProgram> compile(const SeccompProfile& profile, const CompileContext& cc) {
  std::string kernel = cc.kernel_release;
  if (kernel.empty()) {
    struct utsname u {};
    if (::uname(&u) != 0) return Error::from_errno("uname");
    kernel = u.release;
  }

  uint32_t default_action = to_scmp(profile.default_action, profile.default_errno_ret);
  Ctx ctx(seccomp_init(default_action));
  if (!ctx) return Error("seccomp_init: libseccomp refused default action " + std::string(action_name(profile.default_action)));

  for (const std::string& arch : profile.architectures) {
    uint32_t token = arch_token(arch);
    if (token == 0) continue;
    int rc = seccomp_arch_add(ctx.get(), token);
    if (rc < 0 && rc != -EEXIST) return Error("seccomp_arch_add " + arch, -rc);
  }

  SeccompProgram out;
  out.flags = profile.filter_flags;
  std::set<std::string> unknown;
  int last_native = -1;
  for (std::size_t i = 0; i < profile.syscalls.size(); ++i) {
    const SeccompRule& rule = profile.syscalls[i];
    std::string path = "syscalls[" + std::to_string(i) + "]";
    KL_ASSIGN_OR_RETURN(bool included, condition_holds(rule.includes, cc, kernel, true, path + ".includes"));
    KL_ASSIGN_OR_RETURN(bool excluded, condition_holds(rule.excludes, cc, kernel, false, path + ".excludes"));
    bool has_excludes = !rule.excludes.caps.empty() || !rule.excludes.arches.empty() || !rule.excludes.min_kernel.empty();
    if (!included || (has_excludes && excluded)) continue;

    uint32_t action = to_scmp(rule.action, rule.errno_ret);
    for (const std::string& name : rule.names) {
      last_native = std::max(last_native, seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()));
    }
    if (action == default_action) continue;
    for (const std::string& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        unknown.insert(name);
        continue;
      }
      Result<void> r = add_rule(ctx.get(), action, nr, rule.args);
      if (!r.ok()) return std::move(r).error().context(path + " (" + name + ")");
    }
  }
  out.unknown_syscalls.assign(unknown.begin(), unknown.end());
  KL_ASSIGN_OR_RETURN(std::vector<sock_filter> body, export_bpf(ctx.get()));
  if (denies_by_default(profile.default_action) && last_native >= 0) {
    out.enosys_above = last_native;
    out.instructions = enosys_prefix(static_cast<uint32_t>(last_native));
  }
  out.instructions.insert(out.instructions.end(), body.begin(), body.end());
  if (out.instructions.size() > BPF_MAXINSNS) {
    return Error(ErrorCode::kInvalidArgument, "seccomp program has " + std::to_string(out.instructions.size()) +
                                                  " instructions; the kernel takes at most " +
                                                  std::to_string(BPF_MAXINSNS));
  }
  return out;
}

Result<SeccompProgram> compile(const SeccompProfile& profile, CapabilitySet bounding) {
  CompileContext cc;
  cc.bounding = bounding;
  return compile(profile, cc);
}

int install_in_child(const SeccompProgram& program) noexcept {
  if (program.instructions.empty()) return 0;
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(program.instructions.size());
  prog.filter = const_cast<sock_filter*>(program.instructions.data());
  long rc = raw::syscall6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags,
                          reinterpret_cast<long>(&prog));
  return static_cast<int>(rc);
}

}  // namespace kernlet::seccomp
