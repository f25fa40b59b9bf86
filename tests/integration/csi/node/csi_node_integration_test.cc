// Root-only: a claim volume staged and published by CsiNodeVolumes through the built
// kernlet-csi-local (real ext4 image on a real loop device), bound into nothing but the
// pod's volume directory, then released by the VolumeManager's teardown: unpublished,
// unstaged, no loop device left. Also: a second instance (an agent restart) mounts nothing
// twice, and fsGroup lands on the real filesystem.
//
// The test runs in a private mount namespace of its own process (ctest runs one test per
// process) and starts the driver inside it; TearDown unmounts whatever is left under its
// temporary directory, stops the driver by pid and detaches loop devices of its images.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "csi/driver/loop_device.h"
#include "csi/driver/mount_info.h"
#include "csi/node/csi_node_volumes.h"
#include "csi/volume/mounter.h"
#include "csi/volume/volume_manager.h"

namespace kernlet::csi {
namespace {

namespace fs = std::filesystem;

std::string driver_binary() {
  if (const char* bin = std::getenv("KERNLET_BIN")) return std::string(bin) + "/kernlet-csi-local";
  return KERNLET_CSI_LOCAL_BIN;
}

json::object parse(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object();
}

std::vector<local::MountEntry> my_mounts(const std::string& under) {
  std::ifstream in("/proc/self/mountinfo");
  auto all = local::parse_mountinfo(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
  std::vector<local::MountEntry> out;
  for (const auto& m : all)
    if (m.mount_point.starts_with(under + "/")) out.push_back(m);
  return out;
}

class CsiNodeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (loop devices, mount(2))";
    if (::access("/dev/loop-control", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/loop-control";
    if (::access("/sbin/mkfs.ext4", X_OK) != 0 && ::access("/usr/sbin/mkfs.ext4", X_OK) != 0)
      GTEST_SKIP() << "mkfs.ext4 missing";
    if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "unshare(CLONE_NEWNS): " << std::strerror(errno);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
    std::string tmpl = "/tmp/kl-csi-node-itest.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    ASSERT_TRUE(fs::create_directories(root_ + "/pods"));
    start_driver();
    auto c = CsiClient::connect("unix://" + dir_ + "/csi.sock", std::chrono::seconds(60));
    ASSERT_TRUE(c.ok());
    client_ = std::shared_ptr<CsiClient>(std::move(*c));
    CreateVolumeParams p;
    p.name = "pvc-c-1";
    p.required_bytes = 32 << 20;
    VolumeCapability cap;
    cap.fs_type = "ext4";
    p.capabilities = {cap};
    auto v = client_->create_volume(p);
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    handle_ = v->volume_id;
    claim_ = parse(R"({"metadata":{"name":"data","namespace":"default","uid":"c-1"},
      "spec":{"volumeName":"pvc-c-1"},"status":{"phase":"Bound"}})");
    pv_ = parse(R"({"metadata":{"name":"pvc-c-1"},"spec":{"accessModes":["ReadWriteOnce"],
      "claimRef":{"uid":"c-1"},"csi":{"driver":"local.csi.kernlet.io","volumeHandle":")" + handle_ +
                R"(","fsType":"ext4"}}})");
  }

  void TearDown() override {
    client_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (dir_.empty()) return;
    auto mine = my_mounts(dir_);
    std::reverse(mine.begin(), mine.end());
    for (const auto& m : mine) ::umount2(m.mount_point.c_str(), MNT_DETACH);
    std::error_code ec;
    if (fs::is_directory(dir_ + "/data/images", ec))
      for (const auto& e : fs::directory_iterator(dir_ + "/data/images", ec))
        (void)local::detach_all_backed_by(e.path().string(), std::chrono::seconds(5));
    fs::remove_all(dir_, ec);
  }

  void start_driver() {
    std::vector<std::string> args = {driver_binary(), "--endpoint", "unix://" + dir_ + "/csi.sock", "--node-id",
                                     "node-a", "--data-dir", dir_ + "/data"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = dir_ + "/driver.log";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) ::dup2(fd, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto probe = CsiClient::connect("unix://" + dir_ + "/csi.sock", std::chrono::seconds(1));
    ASSERT_TRUE(probe.ok());
    for (;;) {
      auto r = (*probe)->probe();
      if (r.ok() && *r) return;
      int status = 0;
      ASSERT_EQ(::waitpid(pid_, &status, WNOHANG), 0) << "driver exited early; see " << log;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "driver not ready: " << r.error().to_string();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  CsiNodeDeps deps() {
    CsiNodeDeps d;
    d.claim = [this](std::string_view, std::string_view) -> Result<std::optional<json::object>> { return claim_; };
    d.volume = [this](std::string_view) -> Result<std::optional<json::object>> { return pv_; };
    d.csi_driver = [](std::string_view) -> Result<std::optional<json::object>> { return std::optional<json::object>(); };
    d.driver = [this](std::string_view) -> Result<std::shared_ptr<NodeDriver>> { return node_driver_of(client_); };
    return d;
  }

  json::object pod(std::string_view uid) {
    return parse(std::string(R"({"metadata":{"name":"p","namespace":"default","uid":")") + std::string(uid) +
                 R"("},"spec":{"securityContext":{"fsGroup":2000},
                 "volumes":[{"name":"vol","persistentVolumeClaim":{"claimName":"data"}}],
                 "containers":[{"name":"c"}]}})");
  }

  std::string dir_, root_, handle_;
  pid_t pid_ = -1;
  std::shared_ptr<CsiClient> client_;
  std::optional<json::object> claim_, pv_;
};

TEST_F(CsiNodeIntegrationTest, PublishesIntoThePodAndReleasesEverything) {
  LinuxMounter mounter;
  CsiNodeVolumes csi(root_, root_ + "/pods", mounter, deps());
  VolumeManager vm(root_ + "/pods", mounter);
  vm.set_persistent_volume_plugin(&csi);
  auto vols = vm.setup(pod("u1"), VolumeSources{});
  ASSERT_TRUE(vols.ok()) << vols.error().to_string();
  const VolumeInfo& info = vols->volumes.at("vol");
  std::string target = root_ + "/pods/u1/volumes/kubernetes.io~csi/pvc-c-1/mount";
  EXPECT_EQ(info.host_path, target);
  std::string staging = csi.global_dir("local.csi.kernlet.io", handle_) + "/globalmount";
  std::string image = dir_ + "/data/images/" + handle_ + ".img";
  auto mounts = my_mounts(dir_);
  ASSERT_EQ(mounts.size(), 2u);  // the staging mount and the publish bind, nothing else
  std::vector<std::string> points{mounts[0].mount_point, mounts[1].mount_point};
  std::sort(points.begin(), points.end());
  std::vector<std::string> want{staging, target};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(points, want);
  EXPECT_EQ(local::loop_devices_backed_by(image).size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 2000u);  // fsGroup (ReadWriteOnceWithFSType: ext4 + RWO)
  EXPECT_EQ(st.st_mode & 02070, 02070u);
  { std::ofstream(target + "/file") << "kept"; }

  // An agent restart: the same pod set up by a new instance mounts nothing again.
  CsiNodeVolumes again(root_, root_ + "/pods", mounter, deps());
  VolumeManager vm2(root_ + "/pods", mounter);
  vm2.set_persistent_volume_plugin(&again);
  ASSERT_TRUE(vm2.setup(pod("u1"), VolumeSources{}).ok());
  EXPECT_EQ(my_mounts(dir_).size(), 2u);

  // A second pod: one more bind, no second staging.
  ASSERT_TRUE(vm2.setup(pod("u2"), VolumeSources{}).ok());
  EXPECT_EQ(my_mounts(dir_).size(), 3u);
  ASSERT_TRUE(vm2.teardown("u1").ok());
  EXPECT_EQ(my_mounts(dir_).size(), 2u);  // still staged for u2
  std::ifstream in(root_ + "/pods/u2/volumes/kubernetes.io~csi/pvc-c-1/mount/file");
  std::string word;
  in >> word;
  EXPECT_EQ(word, "kept");
  in.close();
  ASSERT_TRUE(vm2.teardown("u2").ok());
  EXPECT_TRUE(my_mounts(dir_).empty());
  EXPECT_FALSE(fs::exists(root_ + "/pods/u2"));
  EXPECT_FALSE(fs::exists(csi.global_dir("local.csi.kernlet.io", handle_)));
  // The loop device detaches with its last mount (autoclear); allow the kernel a moment.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!local::loop_devices_backed_by(image).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(local::loop_devices_backed_by(image).empty());
  EXPECT_TRUE(client_->delete_volume(handle_).ok());
  EXPECT_FALSE(fs::exists(image));
}

}  // namespace
}  // namespace kernlet::csi
