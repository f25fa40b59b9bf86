#include <gtest/gtest.h>
#include <linux/filter.h>
#include <sys/mount.h>

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

TEST(Status, ExitReasons) {
  EXPECT_EQ(exit_reason(0, false, false), "Completed");
  EXPECT_EQ(exit_reason(1, false, false), "Error");
  EXPECT_EQ(exit_reason(137, true, false), "OOMKilled");
  EXPECT_EQ(exit_reason(128, false, true), "ContainerCannotRun");
  EXPECT_EQ(exit_reason(-1, false, false), "Unknown");
}

}  // namespace
}  // namespace kernlet::runtime
