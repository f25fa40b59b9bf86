#include <gtest/gtest.h>
#include <linux/filter.h>
#include <sys/mount.h>

#include <cstring>
#include <functional>

#include "runtime/container/container_plan.h"
#include "runtime/container/container_runtime.h"
#include "runtime/container/container_spec.h"

namespace kernlet::runtime {
namespace {

ContainerSpec valid_spec() {
  ContainerSpec s;
  s.id = "c1";
  s.sandbox_id = "p1";
  s.lower_dirs = {"/layers/a", "/layers/b"};
  s.process.args = {"sh"};
  return s;
}

TEST(ContainerSpec, ValidationNamesTheField) {
  EXPECT_TRUE(validate_container_spec(valid_spec()).ok());
  struct Case {
    std::function<void(ContainerSpec&)> mutate;
    std::string expect;
  };
  std::vector<Case> cases = {
      {[](ContainerSpec& s) { s.id.clear(); }, "container id: empty"},
      {[](ContainerSpec& s) { s.sandbox_id.clear(); }, "no sandbox"},
      {[](ContainerSpec& s) { s.lower_dirs.clear(); }, "lower_dirs: empty"},
      {[](ContainerSpec& s) { s.lower_dirs[1] = "rel"; }, "lower_dirs[1]: \"rel\" is not an absolute path"},
      {[](ContainerSpec& s) { s.process.args.clear(); }, "process.args: empty command"},
      {[](ContainerSpec& s) { s.process.env = {"A=1", "B"}; }, "process.env[1]: \"B\" is not KEY=value"},
      {[](ContainerSpec& s) { s.process.cwd = "tmp"; }, "process.cwd: \"tmp\" is not an absolute path"},
      {[](ContainerSpec& s) { s.mounts = {{"/a", "data"}}; }, "mounts[0].destination: \"data\""},
      {[](ContainerSpec& s) { s.mounts = {{"/a", "/"}}; }, "mounts[0].destination: cannot mount over /"},
      {[](ContainerSpec& s) { s.mounts = {{"/a", "/b", false, Propagation::kBidirectional, true}}; },
       "mounts[0]: Bidirectional mount propagation is available only to privileged containers"},
  };
  for (const auto& c : cases) {
    ContainerSpec s = valid_spec();
    c.mutate(s);
    auto r = validate_container_spec(s);
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
  }
}

TEST(ContainerSpec, ExecCandidatesFollowPath) {
  EXPECT_EQ(exec_candidates("/bin/sh", {}), std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(exec_candidates("./run", {}), std::vector<std::string>{"./run"});
  EXPECT_EQ(exec_candidates("sh", {"PATH=/a::/b"}), (std::vector<std::string>{"/a/sh", "./sh", "/b/sh"}));
  EXPECT_EQ(exec_candidates("sh", {}).front(), "/usr/local/sbin/sh");
  EXPECT_EQ(exec_candidates("sh", {}).back(), "/bin/sh");
}

TEST(ContainerSpec, EnvironmentGetsPathAndHostname) {
  auto env = process_environment({"A=1"}, "web");
  EXPECT_EQ(env, (std::vector<std::string>{
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "HOSTNAME=web", "A=1"}));
  EXPECT_EQ(process_environment({"PATH=/x", "HOSTNAME=h"}, "web"),
            (std::vector<std::string>{"PATH=/x", "HOSTNAME=h"}));
}

TEST(Capabilities, ContainerdDefaultMask) {
  auto d = CapabilitySets::containerd_default();
  EXPECT_EQ(d.bounding, 0xa80425fbULL);
  EXPECT_EQ(d.effective, d.bounding);
  EXPECT_EQ(d.permitted, d.bounding);
  EXPECT_EQ(d.inheritable, 0u);
  EXPECT_EQ(d.ambient, 0u);
  EXPECT_EQ(CapabilitySets::all().bounding & d.bounding, d.bounding);
}

std::vector<std::string> dests(const MountPlan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.steps) out.emplace_back(s.dest);
  return out;
}

TEST(ContainerSpec, BidirectionalAllowedWhenPrivileged) {
  ContainerSpec s = valid_spec();
  s.mounts = {{"/a", "/b", false, Propagation::kBidirectional, true}};
  s.privileged = true;
  EXPECT_TRUE(validate_container_spec(s).ok());
}

TEST(ContainerSpec, ExecIdentityRoundTrips) {
  ProcessSpec p;
  p.args = {"not", "kept"};
  p.uid = 1000;
  p.gid = 1001;
  p.supplemental_gids = {5, 70000};
  p.env = {"A=1", "B=two words\nand a newline", "C="};
  p.cwd = "/srv/my app";
  p.no_new_privileges = true;
  p.capabilities = CapabilitySets{1, 2, 3, 4, 5};
  p.rlimits = {{7, 1024, 4096}};
  p.seccomp = {{0x20, 0, 0, 4}, {0x06, 0, 0, 0x7fff0000}};
  auto back = parse_exec_identity(format_exec_identity(p));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(back->args.empty());
  EXPECT_EQ(back->uid, 1000u);
  EXPECT_EQ(back->gid, 1001u);
  EXPECT_EQ(back->supplemental_gids, (std::vector<uint32_t>{5, 70000}));
  EXPECT_EQ(back->env, p.env);
  EXPECT_EQ(back->cwd, "/srv/my app");
  EXPECT_TRUE(back->no_new_privileges);
  ASSERT_TRUE(back->capabilities);
  EXPECT_EQ(back->capabilities->ambient, 5u);
  EXPECT_EQ(back->capabilities->bounding, 1u);
  ASSERT_EQ(back->rlimits.size(), 1u);
  EXPECT_EQ(back->rlimits[0].hard, 4096u);
  ASSERT_EQ(back->seccomp.size(), 2u);
  EXPECT_EQ(back->seccomp[1].k, 0x7fff0000u);
  // Unset capabilities stay unset (the runtime's default set applies).
  ProcessSpec plain;
  auto b2 = parse_exec_identity(format_exec_identity(plain));
  ASSERT_TRUE(b2.ok());
  EXPECT_FALSE(b2->capabilities);
  EXPECT_EQ(b2->cwd, "/");
  auto bad = parse_exec_identity("uid 1\nuid x\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("line 2"), std::string::npos) << bad.error().message();
}

TEST(MountPlan, SharingOfTheMountHoldingAPath) {
  const std::string info =
      "26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "40 26 0:37 / /srv rw,relatime - tmpfs t rw\n"
      "41 40 0:38 / /srv/vol\\040a rw,relatime shared:7 master:1 - tmpfs t rw\n"
      "42 40 0:39 / /srv/sl rw,relatime master:3 - tmpfs t rw\n"
      "43 40 0:40 / /srv/sl rw,relatime shared:9 - tmpfs t rw\n";
  EXPECT_EQ(mount_sharing_of(info, "/etc/x"), MountSharing::kShared);
  EXPECT_EQ(mount_sharing_of(info, "/"), MountSharing::kShared);
  EXPECT_EQ(mount_sharing_of(info, "/srv/volume"), MountSharing::kPrivate) << "not /srv/vol a";
  EXPECT_EQ(mount_sharing_of(info, "/srv/vol a/x"), MountSharing::kSharedAndSlave);
  EXPECT_EQ(mount_sharing_of(info, "/srv/sl/x"), MountSharing::kShared) << "the top of a stack";
  EXPECT_EQ(mount_sharing_of("", "/x"), MountSharing::kUnknown);
}

TEST(MountPlan, OrderAndFlags) {
  ContainerSpec s = valid_spec();
  s.mounts = {{"/host/data", "/data", true, Propagation::kHostToContainer, true},
              {"/host/conf", "/etc/conf", false, Propagation::kBidirectional, false}};
  MountPlan p = build_mount_steps(s, {"/pod/hosts", "/pod/hostname", "/pod/resolv"}, {false, true});
  std::vector<std::string> expect = {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                     "/sys/fs/cgroup", "/etc/hosts", "/etc/hostname",
                                     "/etc/resolv.conf", "/data", "/etc/conf"};
  for (const auto& m : default_masked_paths()) expect.push_back(m);
  for (const auto& m : default_readonly_paths()) expect.push_back(m);
  EXPECT_EQ(dests(p), expect);
  const MountStep& proc = p.steps[0];
  EXPECT_EQ(std::string(proc.fstype), "proc");
  EXPECT_TRUE(proc.no_symlinks);
  EXPECT_TRUE(p.steps[1].populate_dev);
  EXPECT_EQ(p.steps[5].attr & MOUNT_ATTR_RDONLY, MOUNT_ATTR_RDONLY) << "/sys read-only";
  EXPECT_EQ(p.steps[6].attr & MOUNT_ATTR_RDONLY, MOUNT_ATTR_RDONLY) << "cgroup read-only";
  const MountStep& data = p.steps[10];
  EXPECT_EQ(data.kind, StepKind::kBind);
  EXPECT_EQ(data.attr, MOUNT_ATTR_RDONLY);
  EXPECT_EQ(data.propagation, static_cast<uint64_t>(MS_SLAVE));
  EXPECT_TRUE(data.recursive);
  EXPECT_FALSE(data.dest_is_file);
  EXPECT_FALSE(data.no_symlinks) << "volume destinations may be symlinks (resolved in the root)";
  const MountStep& conf = p.steps[11];
  EXPECT_EQ(conf.propagation, static_cast<uint64_t>(MS_SHARED));
  EXPECT_TRUE(conf.dest_is_file);
  EXPECT_EQ(p.steps[7].attr, 0u) << "pod files writable unless the root is read-only";
  for (size_t i = 12; i < p.steps.size(); ++i) {
    EXPECT_TRUE(p.steps[i].optional);
    EXPECT_TRUE(p.steps[i].no_symlinks);
  }
}

TEST(MountPlan, PrivilegedHasNoMasksAndWritableSys) {
  ContainerSpec s = valid_spec();
  s.privileged = true;
  s.pod_etc_files = false;
  MountPlan p = build_mount_steps(s, {"/h", "/n", "/r"}, {});
  EXPECT_EQ(dests(p), (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm",
                                                "/dev/mqueue", "/sys", "/sys/fs/cgroup"}));
  EXPECT_EQ(p.steps[5].attr & MOUNT_ATTR_RDONLY, 0u);
}

TEST(MountPlan, ReadOnlyRootMakesPodFilesReadOnlyAndCustomMasks) {
  ContainerSpec s = valid_spec();
  s.read_only_rootfs = true;
  s.masked_paths = std::vector<std::string>{"/proc/x"};
  s.readonly_paths = std::vector<std::string>{};
  MountPlan p = build_mount_steps(s, {"/h", "", ""}, {});
  ASSERT_EQ(p.steps.size(), 9u);
  EXPECT_EQ(std::string(p.steps[7].dest), "/etc/hosts");
  EXPECT_EQ(p.steps[7].attr, MOUNT_ATTR_RDONLY);
  EXPECT_EQ(p.steps[8].kind, StepKind::kMask);
}

TEST(ProcessPlan, TrampolineArgvAndDefaultCapabilities) {
  ProcessSpec ps;
  ps.args = {"echo", "hi"};
  ps.uid = 5;
  ps.supplemental_gids = {7, 8};
  ProcessPlan plan;
  build_process_plan(ps, "web", false, plan);
  ASSERT_EQ(plan.tramp_argv.size(), 6u);
  EXPECT_STREQ(plan.tramp_argv[0], "kernlet-exec");
  EXPECT_STREQ(plan.tramp_argv[1], "3");
  EXPECT_EQ(plan.tramp_argv[2], nullptr);
  EXPECT_STREQ(plan.tramp_argv[3], "echo");
  EXPECT_STREQ(plan.tramp_argv[4], "hi");
  EXPECT_EQ(plan.tramp_argv[5], nullptr);
  EXPECT_EQ(plan.envp.back(), nullptr);
  EXPECT_EQ(plan.security.uid, 5u);
  EXPECT_EQ(plan.security.ngroups, 2u);
  EXPECT_EQ(plan.security.caps.bounding, CapabilitySets::containerd_default().bounding);
  EXPECT_EQ(plan.security.seccomp, nullptr);

  ProcessPlan priv;
  ps.seccomp = {BPF_STMT(BPF_RET | BPF_K, 0x7fff0000)};
  build_process_plan(ps, "web", true, priv);
  EXPECT_EQ(priv.security.caps.bounding, CapabilitySets::all().bounding);
  ASSERT_NE(priv.security.seccomp, nullptr);
  EXPECT_EQ(priv.security.seccomp->len, 1);
}

// A plan as ContainerRuntime::create builds it, encoded for kernlet-init and decoded back.
struct EncodedPlan {
  MountPlan mounts;
  ProcessPlan proc;
  ProcessView view;
  std::vector<const char*> lowers{"/layers/b", "/layers/a"};
  InitPlan plan;
  std::vector<char> buf;

  EncodedPlan() {
    ContainerSpec s = valid_spec();
    s.mounts = {{"/host/data", "/data", true}};
    s.read_only_rootfs = true;
    s.process.args = {"sh", "-c", "echo hi"};
    s.process.env = {"A=1"};
    s.process.cwd = "/work";
    s.process.supplemental_gids = {7, 8};
    s.process.rlimits = {{RLIMIT_NOFILE, 1024, 4096}};
    s.process.seccomp = {BPF_STMT(BPF_RET | BPF_K, 0x7fff0000), BPF_STMT(BPF_RET | BPF_K, 0)};
    mounts = build_mount_steps(s, {"/h", "/n", "/r"}, {false});
    build_process_plan(s.process, "web", false, proc);
    view = proc.view();
    plan.lowers = lowers.data();
    plan.nlowers = lowers.size();
    plan.lower_joined = "/layers/b:/layers/a";
    plan.upper = "/state/c1/upper";
    plan.work = "/state/c1/work";
    plan.rootfs = "/state/c1/rootfs";
    plan.steps = mounts.steps.data();
    plan.nsteps = mounts.steps.size();
    plan.read_only_root = true;
    plan.tty = true;
    plan.process = &view;
    plan.fds[0] = {12, false};  // driver-side only: not carried
    buf = encode_init_plan(plan);
  }
};

TEST(InitPlanWire, RoundTripsEveryField) {
  EncodedPlan e;
  std::vector<char> copy = e.buf;
  InitPlan* d = decode_init_plan(copy.data(), copy.size());
  ASSERT_NE(d, nullptr);
  auto inside = [&](const void* p) {
    return p >= static_cast<const void*>(copy.data()) && p < static_cast<const void*>(copy.data() + copy.size());
  };
  ASSERT_EQ(d->nlowers, 2u);
  EXPECT_STREQ(d->lowers[0], "/layers/b");
  EXPECT_STREQ(d->lowers[1], "/layers/a");
  EXPECT_TRUE(inside(d->lowers[0]));
  EXPECT_STREQ(d->lower_joined, "/layers/b:/layers/a");
  EXPECT_STREQ(d->upper, "/state/c1/upper");
  EXPECT_STREQ(d->work, "/state/c1/work");
  EXPECT_STREQ(d->rootfs, "/state/c1/rootfs");
  EXPECT_TRUE(d->read_only_root);
  EXPECT_TRUE(d->tty);
  EXPECT_EQ(d->fds[0].source, -1);
  ASSERT_EQ(d->nsteps, e.mounts.steps.size());
  for (size_t i = 0; i < d->nsteps; ++i) {
    const MountStep& a = e.mounts.steps[i];
    const MountStep& b = d->steps[i];
    EXPECT_TRUE(inside(&b));
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_STREQ(a.dest, b.dest);
    EXPECT_EQ(a.fstype == nullptr, b.fstype == nullptr);
    if (a.fstype != nullptr) {
      EXPECT_STREQ(a.fstype, b.fstype);
    }
    EXPECT_EQ(a.source == nullptr, b.source == nullptr);
    if (a.source != nullptr) {
      EXPECT_STREQ(a.source, b.source);
    }
    ASSERT_EQ(a.nparams, b.nparams);
    for (int k = 0; k < a.nparams; ++k) {
      EXPECT_STREQ(a.params[k].key, b.params[k].key);
      EXPECT_EQ(a.params[k].value == nullptr, b.params[k].value == nullptr);
      if (a.params[k].value != nullptr) {
        EXPECT_STREQ(a.params[k].value, b.params[k].value);
      }
    }
    EXPECT_EQ(a.attr, b.attr);
    EXPECT_EQ(a.propagation, b.propagation);
    EXPECT_EQ(a.dest_is_file, b.dest_is_file);
    EXPECT_EQ(a.no_symlinks, b.no_symlinks);
    EXPECT_EQ(b.early_src, -1);
  }
  const ProcessView& p = *d->process;
  ASSERT_EQ(p.ncandidates, e.view.ncandidates);
  for (size_t i = 0; i < p.ncandidates; ++i) EXPECT_STREQ(p.candidates[i], e.view.candidates[i]);
  ASSERT_EQ(p.ntramp_argv, 7u);
  EXPECT_STREQ(p.tramp_argv[0], "kernlet-exec");
  EXPECT_EQ(p.tramp_argv[2], nullptr);
  EXPECT_STREQ(p.tramp_argv[3], "sh");
  EXPECT_STREQ(p.tramp_argv[5], "echo hi");
  EXPECT_EQ(p.tramp_argv[6], nullptr);
  ASSERT_EQ(p.nenvp, e.view.nenvp);
  for (size_t i = 0; i + 1 < p.nenvp; ++i) EXPECT_STREQ(p.envp[i], e.view.envp[i]);
  EXPECT_EQ(p.envp[p.nenvp - 1], nullptr);
  EXPECT_STREQ(p.cwd, "/work");
  EXPECT_STREQ(p.arg0, "sh");
  ASSERT_EQ(p.nrlimits, 1u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  ASSERT_EQ(p.security.ngroups, 2u);
  EXPECT_EQ(p.security.groups[1], 8u);
  EXPECT_EQ(p.security.caps.bounding, CapabilitySets::containerd_default().bounding);
  ASSERT_NE(p.security.seccomp, nullptr);
  ASSERT_EQ(p.security.seccomp->len, 2);
  EXPECT_TRUE(inside(p.security.seccomp->filter));
  EXPECT_EQ(p.security.seccomp->filter[0].k, 0x7fff0000u);
}

TEST(InitPlanWire, RefusesWhatIsNotAPlan) {
  EncodedPlan e;
  {
    std::vector<char> b = e.buf;
    EXPECT_EQ(decode_init_plan(b.data(), b.size() - 8), nullptr) << "size disagrees with the header";
  }
  {
    std::vector<char> b = e.buf;
    b[0] ^= 1;
    EXPECT_EQ(decode_init_plan(b.data(), b.size()), nullptr) << "bad magic";
  }
  {
    std::vector<char> b = e.buf;
    InitPlanHeader h;
    std::memcpy(&h, b.data(), sizeof h);
    h.plan = b.size();  // the plan outside the buffer
    std::memcpy(b.data(), &h, sizeof h);
    EXPECT_EQ(decode_init_plan(b.data(), b.size()), nullptr);
  }
  {
    // A string offset pointing past the end: rewrite the plan's `upper` field.
    std::vector<char> b = e.buf;
    InitPlanHeader h;
    std::memcpy(&h, b.data(), sizeof h);
    InitPlan raw;
    std::memcpy(&raw, b.data() + h.plan, sizeof raw);
    raw.upper = reinterpret_cast<const char*>(static_cast<uintptr_t>(b.size() + 100));
    std::memcpy(b.data() + h.plan, &raw, sizeof raw);
    EXPECT_EQ(decode_init_plan(b.data(), b.size()), nullptr);
  }
  {
    // A string without its terminating NUL inside the buffer.
    std::vector<char> b = e.buf;
    b.back() = 'x';
    EXPECT_EQ(decode_init_plan(b.data(), b.size()), nullptr);
  }
  EXPECT_EQ(decode_init_plan(nullptr, 0), nullptr);
}

TEST(Status, ExitReasons) {
  EXPECT_EQ(exit_reason(0, false, false), "Completed");
  EXPECT_EQ(exit_reason(1, false, false), "Error");
  EXPECT_EQ(exit_reason(137, true, false), "OOMKilled");
  EXPECT_EQ(exit_reason(128, false, true), "ContainerCannotRun");
  EXPECT_EQ(exit_reason(-1, false, false), "Unknown");
}

}  // namespace
}  // namespace kernlet::runtime
