// Root-only: kernlet-csi-local (the built binary) driven through its unix socket by
// kernlet's CsiClient. Volumes are real ext4 images on real loop devices, so capacity is
// checked by writing past it (ENOSPC).
//
// Each test runs in a private mount namespace of its own process (ctest runs one test per
// process) and starts the driver inside it, so no mount can reach the host even on a crash;
// TearDown still unmounts everything under the test's temporary directory, stops the driver
// (by its pid) and detaches every loop device backed by an image of the test.
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

#include "csi/client/csi_client.h"
#include "csi/client/plugin_registry.h"
#include "csi/client/rpc_error.h"
#include "csi/driver/loop_device.h"
#include "csi/driver/mount_info.h"

namespace kernlet::csi {
namespace {

namespace fs = std::filesystem;
using local::loop_devices_backed_by;
using local::mount_at;

constexpr int64_t kMiB = int64_t{1} << 20;

bool have_binary(const char* name) {
  for (const char* dir : {"/sbin", "/usr/sbin", "/bin", "/usr/bin"})
    if (::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

std::string driver_binary() {
  if (const char* bin = std::getenv("KERNLET_BIN")) return std::string(bin) + "/kernlet-csi-local";
  return KERNLET_CSI_LOCAL_BIN;
}

// Writes 1 MiB blocks to `path` until `max_bytes` or an error; returns the errno that ended
// it (0: all written) and how much was written.
std::pair<int, int64_t> fill(const std::string& path, int64_t max_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return {errno, 0};
  std::string block(kMiB, 'x');
  int64_t written = 0;
  int err = 0;
  while (written < max_bytes) {
    ssize_t n = ::write(fd, block.data(), block.size());
    if (n < 0) {
      err = errno;
      break;
    }
    written += n;
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  return {err, written};
}

// The first word of the file (the stream is closed again, so it pins no mount).
std::string read_word(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  in >> word;
  return word;
}

// Whether this process has CAP_SYS_RESOURCE, which ext4's online resize ioctl needs.
bool have_cap_sys_resource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("CapEff:")) return (std::stoull(line.substr(7), nullptr, 16) >> 24) & 1;
  return false;
}

bool is_mounted(const std::string& path) {
  auto m = mount_at(path);
  return m.ok() && m->has_value();
}

class LocalDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (loop devices, mount(2))";
    if (::access("/dev/loop-control", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/loop-control";
    if (!have_binary("mkfs.ext4") || !have_binary("resize2fs")) GTEST_SKIP() << "e2fsprogs missing";
    if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "unshare(CLONE_NEWNS): " << std::strerror(errno);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
    std::string tmpl = "/tmp/kl-csi-local-itest.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    data_ = dir_ + "/data";
    socket_ = dir_ + "/csi.sock";
    staging_ = dir_ + "/staging";
    pods_ = dir_ + "/pods";
    ASSERT_TRUE(fs::create_directories(staging_));
    ASSERT_TRUE(fs::create_directories(pods_));
    start_driver();
    auto c = CsiClient::connect("unix://" + socket_, std::chrono::seconds(60));
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
  }

  void TearDown() override {
    client_.reset();
    stop_driver(SIGTERM);
    if (dir_.empty()) return;
    // Whatever a failed test left: unmount (deepest first) and detach, then remove.
    auto all = local::parse_mountinfo([] {
      std::ifstream in("/proc/self/mountinfo");
      return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }());
    std::vector<std::string> mine;
    for (const auto& m : all)
      if (m.mount_point.starts_with(dir_ + "/")) mine.push_back(m.mount_point);
    std::reverse(mine.begin(), mine.end());
    for (const auto& p : mine) ::umount2(p.c_str(), MNT_DETACH);
    std::error_code ec;
    if (fs::is_directory(data_ + "/images", ec))
      for (const auto& e : fs::directory_iterator(data_ + "/images", ec)) {
        auto r = local::detach_all_backed_by(e.path().string(), std::chrono::seconds(5));
        EXPECT_TRUE(r.ok()) << r.error().to_string();
      }
    fs::remove_all(dir_, ec);
  }

  void start_driver(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {driver_binary(), "--endpoint", "unix://" + socket_, "--node-id", "node-a",
                                     "--data-dir", data_};
    args.insert(args.end(), extra.begin(), extra.end());
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
    // Ready when the socket answers Probe (the deadline bounds the wait).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto probe = CsiClient::connect("unix://" + socket_, std::chrono::seconds(1));
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

  void stop_driver(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

  static VolumeCapability rwo() {
    VolumeCapability c;
    c.fs_type = "ext4";
    c.access_mode = AccessMode::kSingleNodeWriter;
    return c;
  }

  Volume create(const std::string& name, int64_t bytes) {
    CreateVolumeParams p;
    p.name = name;
    p.required_bytes = bytes;
    p.capabilities = {rwo()};
    auto v = client_->create_volume(p);
    EXPECT_TRUE(v.ok()) << v.error().to_string();
    return v.ok() ? *v : Volume{};
  }

  Result<void> stage(const std::string& id) {
    fs::create_directories(staging_ + "/" + id);
    return client_->node_stage_volume({id, {}, staging_ + "/" + id, rwo(), {}, {}});
  }
  Result<void> publish(const std::string& id, const std::string& pod, bool readonly = false) {
    fs::create_directories(pods_ + "/" + pod);
    return client_->node_publish_volume({id, {}, staging_ + "/" + id, target(id, pod), rwo(), readonly, {}, {}});
  }
  std::string target(const std::string& id, const std::string& pod) const { return pods_ + "/" + pod + "/" + id; }
  std::string image(const std::string& id) const { return data_ + "/images/" + id + ".img"; }

  std::string dir_, data_, socket_, staging_, pods_;
  pid_t pid_ = -1;
  std::unique_ptr<CsiClient> client_;
};

TEST_F(LocalDriverTest, IdentityAndCapabilities) {
  auto info = client_->get_plugin_info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "local.csi.kernlet.io");
  auto pcaps = client_->get_plugin_capabilities();
  ASSERT_TRUE(pcaps.ok());
  EXPECT_TRUE(pcaps->controller_service);
  EXPECT_TRUE(pcaps->volume_accessibility_constraints);
  EXPECT_TRUE(pcaps->online_expansion);
  auto ccaps = client_->controller_get_capabilities();
  ASSERT_TRUE(ccaps.ok());
  EXPECT_TRUE(ccaps->create_delete_volume);
  EXPECT_TRUE(ccaps->expand_volume);
  EXPECT_FALSE(ccaps->publish_unpublish_volume);
  auto ncaps = client_->node_get_capabilities();
  ASSERT_TRUE(ncaps.ok());
  EXPECT_TRUE(ncaps->stage_unstage_volume);
  EXPECT_TRUE(ncaps->get_volume_stats);
  EXPECT_TRUE(ncaps->expand_volume);
  auto node = client_->node_get_info();
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->node_id, "node-a");
  ASSERT_TRUE(node->accessible_topology);
  EXPECT_EQ(node->accessible_topology->at("topology.kernlet.io/node"), "node-a");
  // The driver does not attach: ControllerPublish is not offered.
  auto cp = client_->controller_publish_volume("x", "node-a", rwo(), false);
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.error().code(), ErrorCode::kUnimplemented);
}

TEST_F(LocalDriverTest, LifecycleEnforcesCapacityAndCleansUp) {
  Volume v = create("pvc-life", 32 * kMiB);
  ASSERT_EQ(v.volume_id, "pvc-life");
  EXPECT_EQ(v.capacity_bytes, 32 * kMiB);
  ASSERT_EQ(v.accessible_topology.size(), 1u);
  EXPECT_EQ(v.accessible_topology[0].at("topology.kernlet.io/node"), "node-a");
  struct stat st {};
  ASSERT_EQ(::stat(image(v.volume_id).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 32 * kMiB);
  EXPECT_LT(st.st_blocks * 512, 32 * kMiB) << "the image should be sparse";

  auto s = stage(v.volume_id);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  ASSERT_EQ(loop_devices_backed_by(image(v.volume_id)).size(), 1u);
  auto p = publish(v.volume_id, "pod1");
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  const std::string t = target(v.volume_id, "pod1");
  ASSERT_TRUE(is_mounted(t));

  std::ofstream(t + "/hello") << "kernlet";
  EXPECT_EQ(read_word(staging_ + "/" + v.volume_id + "/hello"), "kernlet");  // same filesystem behind both

  auto [err, written] = fill(t + "/big", 64 * kMiB);
  EXPECT_EQ(err, ENOSPC) << "wrote " << written << " bytes into a 32 MiB volume";
  EXPECT_LT(written, 32 * kMiB);

  auto stats = client_->node_get_volume_stats(v.volume_id, t);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_GT(stats->bytes_total, 24 * kMiB);
  EXPECT_LE(stats->bytes_total, 32 * kMiB);
  EXPECT_GT(stats->bytes_used, 20 * kMiB);
  EXPECT_LT(stats->bytes_available, kMiB);
  EXPECT_TRUE(stats->has_inodes);
  EXPECT_GT(stats->inodes_total, 0);
  EXPECT_GE(stats->inodes_used, 2);

  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, t).ok());
  EXPECT_FALSE(is_mounted(t));
  EXPECT_FALSE(fs::exists(t)) << "the driver removes the target it made";
  auto u = client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id);
  ASSERT_TRUE(u.ok()) << u.error().to_string();
  EXPECT_FALSE(is_mounted(staging_ + "/" + v.volume_id));
  EXPECT_TRUE(loop_devices_backed_by(image(v.volume_id)).empty());

  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
  EXPECT_FALSE(fs::exists(image(v.volume_id)));
  EXPECT_FALSE(fs::exists(data_ + "/volumes/" + v.volume_id + ".json"));
}

TEST_F(LocalDriverTest, EveryCallIsIdempotent) {
  Volume v = create("pvc-idem", 16 * kMiB);
  Volume again = create("pvc-idem", 16 * kMiB);
  EXPECT_EQ(again.volume_id, v.volume_id);
  EXPECT_EQ(again.capacity_bytes, v.capacity_bytes);
  // Same name, a size the existing volume cannot satisfy.
  CreateVolumeParams bigger{"pvc-idem", 64 * kMiB, 0, {rwo()}, {}, {}, {}, {}};
  auto conflict = client_->create_volume(bigger);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kAlreadyExists);

  ASSERT_TRUE(stage(v.volume_id).ok());
  ASSERT_TRUE(stage(v.volume_id).ok());
  EXPECT_EQ(loop_devices_backed_by(image(v.volume_id)).size(), 1u) << "a second stage must not attach again";
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  auto ro_clash = publish(v.volume_id, "pod1", /*readonly=*/true);
  ASSERT_FALSE(ro_clash.ok());
  EXPECT_EQ(ro_clash.error().code(), ErrorCode::kAlreadyExists);

  // Unstage while still published is refused, and changes nothing.
  auto early = client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(is_mounted(target(v.volume_id, "pod1")));
  // So is deleting a staged volume.
  auto busy = client_->delete_volume(v.volume_id);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code(), ErrorCode::kFailedPrecondition);

  for (int i = 0; i < 2; ++i) {
    auto r = client_->node_unpublish_volume(v.volume_id, target(v.volume_id, "pod1"));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().to_string();
  }
  for (int i = 0; i < 2; ++i) {
    auto r = client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id);
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().to_string();
  }
  EXPECT_TRUE(loop_devices_backed_by(image(v.volume_id)).empty());
  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
  EXPECT_TRUE(client_->delete_volume("never-existed").ok());
  EXPECT_FALSE(fs::exists(image(v.volume_id)));
}

TEST_F(LocalDriverTest, RestartKeepsVolumesAndMounts) {
  Volume v = create("pvc-restart", 16 * kMiB);
  ASSERT_TRUE(stage(v.volume_id).ok());
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  const std::string t = target(v.volume_id, "pod1");
  std::ofstream(t + "/kept") << "data";

  stop_driver(SIGKILL);  // a crash, not a clean stop
  start_driver();

  Volume again = create("pvc-restart", 16 * kMiB);
  EXPECT_EQ(again.volume_id, v.volume_id);
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok()) << "the published volume is recognised after restart";
  auto stats = client_->node_get_volume_stats(v.volume_id, t);
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(read_word(t + "/kept"), "data");
  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, t).ok());
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());
  EXPECT_TRUE(loop_devices_backed_by(image(v.volume_id)).empty());
  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
}

// ControllerExpandVolume while the volume is not staged: the next NodeStage grows the
// filesystem offline (e2fsck + resize2fs on the image) before mounting it.
TEST_F(LocalDriverTest, ExpansionWhileUnstagedGrowsAtTheNextStage) {
  Volume v = create("pvc-grow-off", 16 * kMiB);
  ASSERT_TRUE(stage(v.volume_id).ok());
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  const std::string t = target(v.volume_id, "pod1");
  ASSERT_EQ(fill(t + "/first", 32 * kMiB).first, ENOSPC);
  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, t).ok());
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());

  auto grown = client_->controller_expand_volume(v.volume_id, 64 * kMiB, 0, rwo());
  ASSERT_TRUE(grown.ok()) << grown.error().to_string();
  EXPECT_EQ(grown->capacity_bytes, 64 * kMiB);
  EXPECT_TRUE(grown->node_expansion_required);
  auto smaller = client_->controller_expand_volume(v.volume_id, 32 * kMiB, 0, rwo());
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ(smaller->capacity_bytes, 64 * kMiB) << "never shrinks";
  struct stat st {};
  ASSERT_EQ(::stat(image(v.volume_id).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 * kMiB);

  auto s = stage(v.volume_id);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  // The CO's NodeExpandVolume after staging finds nothing left to do.
  auto node = client_->node_expand_volume(v.volume_id, t, staging_ + "/" + v.volume_id, 64 * kMiB, rwo());
  ASSERT_TRUE(node.ok()) << node.error().to_string();
  EXPECT_EQ(*node, 64 * kMiB);
  auto stats = client_->node_get_volume_stats(v.volume_id, t);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->bytes_total, 48 * kMiB);
  auto [err, written] = fill(t + "/second", 24 * kMiB);
  EXPECT_EQ(err, 0) << "after growing, 24 MiB more fit (wrote " << written << ")";
  EXPECT_TRUE(fs::exists(t + "/first")) << "growing keeps the data";

  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, t).ok());
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());
  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
}

// ControllerExpandVolume + NodeExpandVolume while published: LOOP_SET_CAPACITY and an
// online resize2fs.
TEST_F(LocalDriverTest, OnlineExpansionGrowsThePublishedFilesystem) {
  if (!have_cap_sys_resource())
    GTEST_SKIP() << "online ext4 resize (EXT4_IOC_RESIZE_FS) needs CAP_SYS_RESOURCE, which this process lacks";
  Volume v = create("pvc-grow", 16 * kMiB);
  ASSERT_TRUE(stage(v.volume_id).ok());
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  const std::string t = target(v.volume_id, "pod1");
  ASSERT_EQ(fill(t + "/first", 32 * kMiB).first, ENOSPC);

  auto grown = client_->controller_expand_volume(v.volume_id, 64 * kMiB, 0, rwo());
  ASSERT_TRUE(grown.ok()) << grown.error().to_string();
  auto node = client_->node_expand_volume(v.volume_id, t, staging_ + "/" + v.volume_id, 64 * kMiB, rwo());
  ASSERT_TRUE(node.ok()) << node.error().to_string();
  EXPECT_EQ(*node, 64 * kMiB);
  ASSERT_TRUE(client_->node_expand_volume(v.volume_id, t, staging_ + "/" + v.volume_id, 64 * kMiB, rwo()).ok());
  auto stats = client_->node_get_volume_stats(v.volume_id, t);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->bytes_total, 48 * kMiB);
  auto [err, written] = fill(t + "/second", 24 * kMiB);
  EXPECT_EQ(err, 0) << "after growing, 24 MiB more fit (wrote " << written << ")";

  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, t).ok());
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());
  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
}

// Where ext4's online resize is not allowed (no CAP_SYS_RESOURCE, as for root on this build
// host), NodeExpandVolume says so and how to grow offline, and nothing breaks.
TEST_F(LocalDriverTest, OnlineExpansionWithoutCapSysResourceSaysWhy) {
  if (have_cap_sys_resource()) GTEST_SKIP() << "this process has CAP_SYS_RESOURCE: the online test covers it";
  Volume v = create("pvc-grow-eperm", 16 * kMiB);
  ASSERT_TRUE(stage(v.volume_id).ok());
  ASSERT_TRUE(publish(v.volume_id, "pod1").ok());
  const std::string t = target(v.volume_id, "pod1");
  ASSERT_TRUE(client_->controller_expand_volume(v.volume_id, 32 * kMiB, 0, rwo()).ok());
  auto node = client_->node_expand_volume(v.volume_id, t, staging_ + "/" + v.volume_id, 32 * kMiB, rwo());
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(node.error().message().find("CAP_SYS_RESOURCE"), std::string::npos) << node.error().message();
  EXPECT_FALSE(is_retriable(node.error()));
  std::ofstream(t + "/still") << "writable";
  EXPECT_EQ(read_word(t + "/still"), "writable");
  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, t).ok());
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());
  ASSERT_TRUE(stage(v.volume_id).ok()) << "the next stage grows it offline";
  auto stats = client_->node_get_volume_stats(v.volume_id, staging_ + "/" + v.volume_id);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->bytes_total, 24 * kMiB);
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());
  ASSERT_TRUE(client_->delete_volume(v.volume_id).ok());
}

TEST_F(LocalDriverTest, ReadOnlyPublish) {
  Volume v = create("pvc-ro", 16 * kMiB);
  ASSERT_TRUE(stage(v.volume_id).ok());
  ASSERT_TRUE(publish(v.volume_id, "pod1", /*readonly=*/true).ok());
  int fd = ::open((target(v.volume_id, "pod1") + "/x").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  EXPECT_LT(fd, 0);
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) ::close(fd);
  ASSERT_TRUE(client_->node_unpublish_volume(v.volume_id, target(v.volume_id, "pod1")).ok());
  ASSERT_TRUE(client_->node_unstage_volume(v.volume_id, staging_ + "/" + v.volume_id).ok());
}

TEST_F(LocalDriverTest, LeavesForeignMountsAlone) {
  Volume v = create("pvc-safe", 16 * kMiB);
  // A tmpfs the CO did not get from this driver, where a target would be.
  const std::string foreign = pods_ + "/other/" + v.volume_id;
  ASSERT_TRUE(fs::create_directories(foreign));
  ASSERT_EQ(::mount("tmpfs", foreign.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  auto r = client_->node_unpublish_volume(v.volume_id, foreign);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(is_mounted(foreign));
  auto st = client_->node_unstage_volume(v.volume_id, foreign);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(is_mounted(foreign));
  auto stage_over = client_->node_stage_volume({v.volume_id, {}, foreign, rwo(), {}, {}});
  ASSERT_FALSE(stage_over.ok());
  EXPECT_EQ(stage_over.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(loop_devices_backed_by(image(v.volume_id)).empty());
  ASSERT_EQ(::umount2(foreign.c_str(), 0), 0);
}

TEST_F(LocalDriverTest, BadInputIsRefusedWithTheReason) {
  auto code_of = [&](CreateVolumeParams p) {
    auto r = client_->create_volume(p);
    EXPECT_FALSE(r.ok());
    return r.ok() ? ErrorCode::kUnknown : r.error().code();
  };
  VolumeCapability block = rwo();
  block.block = true;
  VolumeCapability rwx = rwo();
  rwx.access_mode = AccessMode::kMultiNodeMultiWriter;
  VolumeCapability xfs = rwo();
  xfs.fs_type = "xfs";
  EXPECT_EQ(code_of({"pvc-block", 16 * kMiB, 0, {block}, {}, {}, {}, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of({"pvc-rwx", 16 * kMiB, 0, {rwx}, {}, {}, {}, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of({"pvc-xfs", 16 * kMiB, 0, {xfs}, {}, {}, {}, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of({"Bad/Name", 16 * kMiB, 0, {rwo()}, {}, {}, {}, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of({"pvc-tiny", 0, 4 * kMiB, {rwo()}, {}, {}, {}, {}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of({"pvc-elsewhere", 16 * kMiB, 0, {rwo()}, {}, {}, {{{"topology.kernlet.io/node", "node-b"}}}, {}}),
            ErrorCode::kResourceExhausted);
  auto ok_here = client_->create_volume(
      {"pvc-here", 16 * kMiB, 0, {rwo()}, {}, {}, {{{"topology.kernlet.io/node", "node-a"}}}, {}});
  EXPECT_TRUE(ok_here.ok());
  auto missing = client_->node_stage_volume({"pvc-nope", {}, staging_, rwo(), {}, {}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto relative = client_->node_publish_volume({"pvc-here", {}, staging_, "relative/path", rwo(), false, {}, {}});
  ASSERT_FALSE(relative.ok());
  auto traversal = client_->node_unpublish_volume("../../etc", pods_ + "/x");
  ASSERT_FALSE(traversal.ok());
  EXPECT_EQ(traversal.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(is_retriable(traversal.error()));
}

TEST_F(LocalDriverTest, RegistersThroughThePluginRegistry) {
  stop_driver(SIGTERM);
  const std::string reg_dir = dir_ + "/plugins_registry";
  PluginRegistry registry(reg_dir, nullptr, {std::chrono::seconds(2), std::chrono::milliseconds(50)});
  ASSERT_TRUE(registry.start().ok());
  start_driver({"--registration-dir", reg_dir});
  ASSERT_TRUE(registry.wait_for("local.csi.kernlet.io", std::chrono::seconds(10)));
  auto d = registry.find("local.csi.kernlet.io");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->endpoint, "unix://" + socket_);
  auto c = CsiClient::connect(d->endpoint);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->node_get_info()->node_id, "node-a");
  stop_driver(SIGTERM);  // a clean stop removes the registration socket
  EXPECT_TRUE(registry.wait_gone("local.csi.kernlet.io", std::chrono::seconds(10)));
  registry.stop();
}

}  // namespace
}  // namespace kernlet::csi
