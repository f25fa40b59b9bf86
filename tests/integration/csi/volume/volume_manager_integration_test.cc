// Root-only: the volume manager with the real LinuxMounter. Every test runs in a private
// mount namespace of its own process (ctest runs one test per process), so nothing it
// mounts can leak to the host even if it crashes; it still unmounts and removes all it made.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "csi/volume/mounter.h"
#include "csi/volume/subpath.h"
#include "csi/volume/volume_manager.h"

namespace kernlet::csi {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> mounts_below(const std::string& dir) {
  std::stringstream ss;
  ss << std::ifstream("/proc/self/mountinfo").rdbuf();
  std::vector<std::string> out;
  for (const std::string& m : parse_mountinfo_mount_points(ss.str()))
    if (m == dir || m.starts_with(dir + "/")) out.push_back(m);
  return out;
}

json::object parse(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object();
}

class VolumeIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mount(2))";
    if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "unshare(CLONE_NEWNS) failed: " << std::strerror(errno);
    // Private from here on: our mounts do not propagate to the host's namespace.
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
    std::string tmpl = "/tmp/kl-csi-volume-itest.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root = tmpl;
    pods = root + "/pods";
    sources.secret = [](std::string_view, std::string_view name) -> Result<std::optional<json::object>> {
      if (name != "creds") return std::optional<json::object>();
      return std::optional<json::object>(parse(R"({"data":{"token":"dG9rZW4="}})"));
    };
    sources.config_map = [](std::string_view, std::string_view name) -> Result<std::optional<json::object>> {
      if (name != "cfg") return std::optional<json::object>();
      return std::optional<json::object>(parse(R"({"data":{"app.conf":"port=80"}})"));
    };
    sources.node_allocatable = {{"memory", *Quantity::parse("1Gi")}};
  }
  void TearDown() override {
    if (root.empty()) return;
    for (const std::string& m : mounts_below(root)) ::umount2(m.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  json::object pod(std::string_view volumes, std::string_view containers = R"([{"name":"app"}])") {
    return parse(std::string(R"({"metadata":{"name":"web","namespace":"default","uid":"uid-1"},)") +
                 R"("spec":{"volumes":)" + std::string(volumes) + R"(,"containers":)" + std::string(containers) + "}}");
  }
  std::string vol_dir(std::string_view plugin, std::string_view name) {
    return pods + "/uid-1/volumes/kubernetes.io~" + std::string(plugin) + "/" + std::string(name);
  }

  std::string root, pods;
  LinuxMounter mounter;
  VolumeSources sources;
};

TEST_F(VolumeIntegration, MemoryEmptyDirAndSecretAreSizedTmpfsAndTeardownLeavesNothing) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"mem","emptyDir":{"medium":"Memory","sizeLimit":"16Mi"}},
                          {"name":"s","secret":{"secretName":"creds"}},
                          {"name":"disk","emptyDir":{}}])");
  Result<PodVolumes> vols = vm.setup(p, sources);
  ASSERT_TRUE(vols.ok()) << vols.error().to_string();
  struct statfs sf {};
  ASSERT_EQ(::statfs(vol_dir("empty-dir", "mem").c_str(), &sf), 0);
  EXPECT_EQ(sf.f_type, static_cast<decltype(sf.f_type)>(TMPFS_MAGIC));
  EXPECT_EQ(static_cast<uint64_t>(sf.f_blocks) * static_cast<uint64_t>(sf.f_bsize), 16u << 20);
  ASSERT_EQ(::statfs(vol_dir("secret", "s").c_str(), &sf), 0);
  EXPECT_EQ(sf.f_type, static_cast<decltype(sf.f_type)>(TMPFS_MAGIC));
  EXPECT_EQ(read_all(vol_dir("secret", "s") + "/token"), "token");
  EXPECT_EQ(*mounter.is_mount_point(vol_dir("secret", "s")), true);
  EXPECT_EQ(*mounter.is_mount_point(vol_dir("empty-dir", "disk")), false);
  EXPECT_EQ(mounts_below(pods).size(), 2u);

  // Idempotent: a second setup mounts nothing more.
  ASSERT_TRUE(vm.setup(p, sources).ok());
  EXPECT_EQ(mounts_below(pods).size(), 2u);

  ASSERT_TRUE(vm.teardown("uid-1").ok());
  EXPECT_TRUE(mounts_below(root).empty());
  EXPECT_FALSE(fs::exists(pods + "/uid-1"));
  EXPECT_TRUE(vm.teardown("uid-1").ok());
}

TEST_F(VolumeIntegration, SecretUpdateOnTmpfsIsSwappedIn) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"s","secret":{"secretName":"creds"}}])");
  ASSERT_TRUE(vm.setup(p, sources).ok());
  std::string dir = vol_dir("secret", "s");
  std::string old_ts = fs::read_symlink(dir + "/..data").string();
  sources.secret = [](std::string_view, std::string_view) -> Result<std::optional<json::object>> {
    return std::optional<json::object>(parse(R"({"data":{"token":"bmV3"}})"));
  };
  ASSERT_TRUE(vm.refresh(p, sources).ok());
  EXPECT_EQ(read_all(dir + "/token"), "new");
  EXPECT_NE(fs::read_symlink(dir + "/..data").string(), old_ts);
  EXPECT_FALSE(fs::exists(dir + "/" + old_ts));
  EXPECT_EQ(mounts_below(pods).size(), 1u);  // still the one tmpfs
  ASSERT_TRUE(vm.teardown("uid-1").ok());
  EXPECT_TRUE(mounts_below(root).empty());
}

TEST_F(VolumeIntegration, FailedSecretSetupUnmountsItsTmpfs) {
  VolumeManager vm(pods, mounter);
  Result<PodVolumes> vols =
      vm.setup(pod(R"([{"name":"s","secret":{"secretName":"creds","items":[{"key":"token","path":"../t"}]}}])"), sources);
  ASSERT_FALSE(vols.ok());
  EXPECT_TRUE(mounts_below(root).empty());
  EXPECT_FALSE(fs::exists(vol_dir("secret", "s")));
}

TEST_F(VolumeIntegration, SubPathBindsArePinnedAndReused) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"d","emptyDir":{}},{"name":"c","configMap":{"name":"cfg"}}])",
                       R"([{"name":"app","volumeMounts":[{"name":"d","mountPath":"/data","subPath":"sub"},
                                                         {"name":"c","mountPath":"/etc/app.conf","subPath":"app.conf"}]}])");
  Result<PodVolumes> vols = vm.setup(p, sources);
  ASSERT_TRUE(vols.ok()) << vols.error().to_string();
  api::ContainerView app = api::PodView(p).spec().containers()[0];
  Result<std::vector<VolumeMount>> m = vm.container_mounts(p, app, *vols);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  std::string sub = vol_dir("empty-dir", "d") + "/sub";
  std::ofstream(sub + "/f") << "mine";
  EXPECT_EQ(read_all((*m)[0].host_path + "/f"), "mine");
  EXPECT_EQ(read_all((*m)[1].host_path), "port=80");
  EXPECT_EQ(mounts_below(pods).size(), 2u);

  // A container restart: the same binds are reused, none stacked.
  Result<std::vector<VolumeMount>> again = vm.container_mounts(p, app, *vols);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(mounts_below(pods).size(), 2u);

  // The pod swaps its subPath for a symlink to /: the existing bind still shows the
  // directory it was made from, and a new resolution is refused.
  ASSERT_EQ(::rename(sub.c_str(), (sub + ".old").c_str()), 0);
  ASSERT_EQ(::symlink("/", sub.c_str()), 0);
  EXPECT_EQ(read_all((*m)[0].host_path + "/f"), "mine");
  EXPECT_FALSE(fs::exists((*m)[0].host_path + "/etc"));
  Result<std::vector<VolumeMount>> swapped = vm.container_mounts(p, app, *vols);
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.error().message().find("not within volume path"), std::string::npos) << swapped.error().message();

  ASSERT_TRUE(vm.teardown("uid-1").ok());
  EXPECT_TRUE(mounts_below(root).empty());
  EXPECT_FALSE(fs::exists(pods + "/uid-1"));
}

// The fd is taken first, then the path is swapped for a symlink to / before the bind: the
// bind shows the inode the fd holds, never what the path names by then.
TEST_F(VolumeIntegration, SymlinkSwappedAfterValidationIsNotFollowed) {
  std::string vol = root + "/vol", target = root + "/target";
  ASSERT_EQ(::mkdir(vol.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((vol + "/d").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  std::ofstream(vol + "/d/marker") << "inside";
  Result<UniqueFd> fd = open_sub_path(vol, "d");
  ASSERT_TRUE(fd.ok()) << fd.error().to_string();
  ASSERT_EQ(::rename((vol + "/d").c_str(), (vol + "/d.moved").c_str()), 0);
  ASSERT_EQ(::symlink("/", (vol + "/d").c_str()), 0);
  ASSERT_TRUE(mounter.bind_mount_fd(fd->get(), target).ok());
  EXPECT_EQ(read_all(target + "/marker"), "inside");
  struct stat t {}, slash {};
  ASSERT_EQ(::stat(target.c_str(), &t), 0);
  ASSERT_EQ(::stat("/", &slash), 0);
  EXPECT_FALSE(t.st_dev == slash.st_dev && t.st_ino == slash.st_ino);
  ASSERT_TRUE(mounter.unmount(target).ok());
  EXPECT_TRUE(mounts_below(root).empty());
}

TEST_F(VolumeIntegration, EscapingSubPathsAreRefusedAndMountNothing) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"d","emptyDir":{}}])");
  Result<PodVolumes> vols = vm.setup(p, sources);
  ASSERT_TRUE(vols.ok());
  std::string d = vol_dir("empty-dir", "d");
  ASSERT_EQ(::symlink("/", (d + "/root").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../..", (d + "/up").c_str()), 0);
  for (const char* sub : {"root", "root/etc", "up", "../../etc", "a/../../x"}) {
    json::object q = pod(R"([{"name":"d","emptyDir":{}}])",
                         std::string(R"([{"name":"app","volumeMounts":[{"name":"d","mountPath":"/x","subPath":")") + sub + R"("}]}])");
    Result<std::vector<VolumeMount>> m = vm.container_mounts(q, api::PodView(q).spec().containers()[0], *vols);
    EXPECT_FALSE(m.ok()) << sub;
  }
  EXPECT_TRUE(mounts_below(root).empty());
  ASSERT_TRUE(vm.teardown("uid-1").ok());
}

// A Mounter that cannot see mounts: teardown must still not delete through one it missed.
class BlindMounter final : public Mounter {
 public:
  explicit BlindMounter(Mounter& real) : real_(real) {}
  Result<void> mount_tmpfs(const std::string& t, std::optional<uint64_t> s) override { return real_.mount_tmpfs(t, s); }
  Result<void> bind_mount_fd(int fd, const std::string& t) override { return real_.bind_mount_fd(fd, t); }
  Result<void> unmount(const std::string& t) override { return real_.unmount(t); }
  Result<bool> is_mount_point(const std::string& p) override { return real_.is_mount_point(p); }
  Result<std::vector<std::string>> mounts_under(const std::string&) override { return std::vector<std::string>(); }

 private:
  Mounter& real_;
};

TEST_F(VolumeIntegration, TeardownNeverDeletesThroughAMissedSameFilesystemBind) {
  std::string host = root + "/host";
  ASSERT_EQ(::mkdir(host.c_str(), 0755), 0);
  std::ofstream(host + "/precious") << "keep";
  BlindMounter blind(mounter);
  VolumeManager vm(pods, blind);
  json::object p = pod(R"([{"name":"h","hostPath":{"path":")" + host + R"("}}])",
                       R"([{"name":"app","volumeMounts":[{"name":"h","mountPath":"/h","subPath":"."}]}])");
  Result<PodVolumes> vols = vm.setup(p, sources);
  ASSERT_TRUE(vols.ok()) << vols.error().to_string();
  Result<std::vector<VolumeMount>> m = vm.container_mounts(p, api::PodView(p).spec().containers()[0], *vols);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  ASSERT_EQ(read_all((*m)[0].host_path + "/precious"), "keep");
  Result<void> r = vm.teardown("uid-1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("a mount is still there"), std::string::npos) << r.error().message();
  EXPECT_EQ(read_all(host + "/precious"), "keep");
  // With eyes open the same teardown succeeds.
  VolumeManager seeing(pods, mounter);
  ASSERT_TRUE(seeing.teardown("uid-1").ok());
  EXPECT_TRUE(mounts_below(root).empty());
  EXPECT_EQ(read_all(host + "/precious"), "keep");
}

TEST_F(VolumeIntegration, MounterBasics) {
  std::string dir = root + "/m";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  EXPECT_FALSE(*mounter.is_mount_point(dir));
  EXPECT_FALSE(*mounter.is_mount_point(root + "/missing"));
  EXPECT_TRUE(mounter.unmount(dir).ok());  // not mounted: fine
  ASSERT_TRUE(mounter.mount_tmpfs(dir, 1 << 20).ok());
  ASSERT_EQ(::mkdir((dir + "/inner").c_str(), 0755), 0);
  ASSERT_TRUE(mounter.mount_tmpfs(dir + "/inner", std::nullopt).ok());
  EXPECT_TRUE(*mounter.is_mount_point(dir));
  Result<std::vector<std::string>> under = mounter.mounts_under(root);
  ASSERT_TRUE(under.ok());
  EXPECT_EQ(*under, (std::vector<std::string>{dir + "/inner", dir}));
  for (const std::string& m : *under) ASSERT_TRUE(mounter.unmount(m).ok());
  EXPECT_TRUE(mounts_below(root).empty());
}

}  // namespace
}  // namespace kernlet::csi
