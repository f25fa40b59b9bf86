#include "csi/node/csi_node_volumes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "csi/node/fs_group.h"
#include "tests/unit/csi/volume/fake_mounter.h"
#include "tests/unit/csi/volume/temp_dir.h"

namespace kernlet::csi {
namespace {

using testing::FakeMounter;
using testing::TempDir;
namespace fs = std::filesystem;

json::object parse(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object();
}

// A driver that "mounts" by recording the target in the fake mounter, as a real one would
// make it a mount point.
class FakeDriver final : public NodeDriver {
 public:
  explicit FakeDriver(FakeMounter& m) : m_(m) {}
  Result<NodeCapabilities> node_get_capabilities() override {
    NodeCapabilities c;
    c.stage_unstage_volume = stage;
    return c;
  }
  Result<void> node_stage_volume(const StageParams& p) override {
    calls.push_back("stage " + p.volume_id);
    last_stage = p;
    if (stage_error) return *stage_error;
    m_.mounts[p.staging_target_path] = FakeMounter::Mount{"ext4", std::nullopt, p.volume_id};
    return Ok();
  }
  Result<void> node_unstage_volume(const std::string& id, const std::string& path) override {
    calls.push_back("unstage " + id);
    m_.mounts.erase(path);
    return Ok();
  }
  Result<void> node_publish_volume(const PublishParams& p) override {
    calls.push_back("publish " + p.volume_id);
    last_publish = p;
    ::mkdir(p.target_path.c_str(), 0750);
    m_.mounts[p.target_path] = FakeMounter::Mount{"bind", std::nullopt, p.staging_target_path};
    return Ok();
  }
  Result<void> node_unpublish_volume(const std::string& id, const std::string& path) override {
    calls.push_back("unpublish " + id);
    m_.mounts.erase(path);
    ::rmdir(path.c_str());
    return Ok();
  }

  bool stage = true;
  std::optional<Error> stage_error;
  std::vector<std::string> calls;
  StageParams last_stage;
  PublishParams last_publish;

 private:
  FakeMounter& m_;
};

class CsiNodeVolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = tmp.path();
    driver = std::make_shared<FakeDriver>(mounter);
    claims["data"] = parse(R"({"metadata":{"name":"data","namespace":"default","uid":"c-1"},
      "spec":{"volumeName":"pvc-c-1"},"status":{"phase":"Bound"}})");
    volumes["pvc-c-1"] = parse(R"({"metadata":{"name":"pvc-c-1"},"spec":{"accessModes":["ReadWriteOnce"],
      "claimRef":{"namespace":"default","name":"data","uid":"c-1"},
      "csi":{"driver":"local.csi.kernlet.io","volumeHandle":"pvc-c-1","fsType":"ext4",
             "volumeAttributes":{"k":"v"}}}})");
  }

  CsiNodeDeps deps() {
    CsiNodeDeps d;
    d.claim = [this](std::string_view, std::string_view name) -> Result<std::optional<json::object>> {
      auto it = claims.find(std::string(name));
      return it == claims.end() ? std::optional<json::object>() : std::optional<json::object>(it->second);
    };
    d.volume = [this](std::string_view name) -> Result<std::optional<json::object>> {
      auto it = volumes.find(std::string(name));
      return it == volumes.end() ? std::optional<json::object>() : std::optional<json::object>(it->second);
    };
    d.csi_driver = [this](std::string_view) -> Result<std::optional<json::object>> { return csi_driver; };
    d.driver = [this](std::string_view name) -> Result<std::shared_ptr<NodeDriver>> {
      if (!registered || name != "local.csi.kernlet.io") return Error(ErrorCode::kNotFound, "not registered");
      return std::shared_ptr<NodeDriver>(driver);
    };
    return d;
  }

  json::object pod(std::string_view uid, std::string_view extra = "", std::string_view sc = "{}") {
    return parse(std::string(R"({"metadata":{"name":"p","namespace":"default","uid":")") + std::string(uid) +
                 R"("},"spec":{"securityContext":)" + std::string(sc) +
                 R"(,"volumes":[{"name":"vol","persistentVolumeClaim":{"claimName":"data")" + std::string(extra) +
                 R"(}}],"containers":[{"name":"c"}]}})");
  }

  Result<VolumeInfo> setup(CsiNodeVolumes& v, const json::object& p) {
    api::VolumeView view(*api::get_object_array(*json::get_object(p, "spec"), "volumes").front());
    return v.setup(p, view, root + "/pods/" + std::string(api::Meta(p).uid()));
  }

  std::string pod_dir(std::string_view uid) { return root + "/pods/" + std::string(uid); }
  std::string target(std::string_view uid) { return pod_dir(uid) + "/volumes/kubernetes.io~csi/pvc-c-1/mount"; }

  TempDir tmp;
  std::string root;
  FakeMounter mounter;
  std::shared_ptr<FakeDriver> driver;
  std::map<std::string, json::object> claims, volumes;
  std::optional<json::object> csi_driver;
  bool registered = true;
};

TEST_F(CsiNodeVolumesTest, StagesOnceThenPublishesIntoThePodsVolumeDir) {
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  auto info = setup(v, pod("u1"));
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  EXPECT_EQ(info->kind, VolumeKind::kCsi);
  EXPECT_EQ(info->name, "vol");
  EXPECT_EQ(info->host_path, target("u1"));
  EXPECT_FALSE(info->read_only);
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"stage pvc-c-1", "publish pvc-c-1"}));
  std::string staging = v.global_dir("local.csi.kernlet.io", "pvc-c-1") + "/globalmount";
  EXPECT_EQ(staging, root + "/plugins/kubernetes.io/csi/local.csi.kernlet.io/" + sha256_hex("pvc-c-1") + "/globalmount");
  EXPECT_EQ(driver->last_stage.staging_target_path, staging);
  EXPECT_EQ(driver->last_stage.capability.fs_type, "ext4");
  EXPECT_EQ(driver->last_stage.capability.access_mode, AccessMode::kSingleNodeWriter);
  EXPECT_EQ(driver->last_stage.volume_context.at("k"), "v");
  EXPECT_EQ(driver->last_publish.staging_target_path, staging);
  EXPECT_FALSE(driver->last_publish.readonly);
  EXPECT_TRUE(fs::exists(pod_dir("u1") + "/volumes/kubernetes.io~csi/pvc-c-1/vol_data.json"));

  // Again (a resync, or an agent restart): nothing is mounted twice.
  CsiNodeVolumes restarted(root, root + "/pods", mounter, deps());
  ASSERT_TRUE(setup(restarted, pod("u1")).ok());
  EXPECT_EQ(driver->calls.size(), 2u);

  // A second pod on the same claim: published, not staged again.
  ASSERT_TRUE(setup(v, pod("u2")).ok());
  EXPECT_EQ(driver->calls.back(), "publish pvc-c-1");
  EXPECT_EQ(driver->calls.size(), 3u);
}

TEST_F(CsiNodeVolumesTest, UnpublishesPerPodAndUnstagesAfterTheLast) {
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  ASSERT_TRUE(setup(v, pod("u1")).ok());
  ASSERT_TRUE(setup(v, pod("u2")).ok());
  driver->calls.clear();
  ASSERT_TRUE(v.teardown_pod("u1", pod_dir("u1")).ok());
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"unpublish pvc-c-1"}));
  EXPECT_FALSE(fs::exists(pod_dir("u1") + "/volumes/kubernetes.io~csi/pvc-c-1"));
  // Torn down from the disk alone (a restarted agent that never saw the pod).
  CsiNodeVolumes restarted(root, root + "/pods", mounter, deps());
  ASSERT_TRUE(restarted.teardown_pod("u2", pod_dir("u2")).ok());
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"unpublish pvc-c-1", "unpublish pvc-c-1", "unstage pvc-c-1"}));
  EXPECT_TRUE(mounter.mounts.empty());
  EXPECT_FALSE(fs::exists(v.global_dir("local.csi.kernlet.io", "pvc-c-1")));
  // Idempotent.
  ASSERT_TRUE(restarted.teardown_pod("u2", pod_dir("u2")).ok());
  EXPECT_EQ(driver->calls.size(), 3u);
}

TEST_F(CsiNodeVolumesTest, WaitsForTheClaimToBeBound) {
  claims["data"] = parse(R"({"metadata":{"name":"data","namespace":"default","uid":"c-1"},"spec":{},
    "status":{"phase":"Pending"}})");
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  auto info = setup(v, pod("u1"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(info.error().message().find("PVC default/data has non-bound phase (\"Pending\")"), std::string::npos)
      << info.error().message();
  EXPECT_TRUE(driver->calls.empty());
  claims.erase("data");
  info = setup(v, pod("u1"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().message(), "persistentvolumeclaim \"data\" not found");
}

TEST_F(CsiNodeVolumesTest, ClaimBeingDeletedKeepsExistingMountsOnly) {
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  ASSERT_TRUE(setup(v, pod("u1")).ok());
  (*json::get_object(claims["data"], "metadata"))["deletionTimestamp"] = "2026-11-27T10:00:00Z";
  // The running pod (or the agent restarted under it) keeps its volume.
  CsiNodeVolumes restarted(root, root + "/pods", mounter, deps());
  EXPECT_TRUE(setup(restarted, pod("u1")).ok());
  // A new pod does not get it.
  auto info = setup(restarted, pod("u2"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().message(), "persistentvolumeclaim \"data\" is being deleted");
  EXPECT_EQ(driver->calls.size(), 2u);
}

TEST_F(CsiNodeVolumesTest, RefusesAVolumeBoundToAnotherClaim) {
  volumes["pvc-c-1"] = parse(R"({"metadata":{"name":"pvc-c-1"},"spec":{"claimRef":{"uid":"other"},
    "csi":{"driver":"local.csi.kernlet.io","volumeHandle":"h"}}})");
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  auto info = setup(v, pod("u1"));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message().find("claimRef uid mismatch"), std::string::npos);
  EXPECT_TRUE(driver->calls.empty());
}

TEST_F(CsiNodeVolumesTest, MissingDriverAndDriverErrorsAreReported) {
  registered = false;
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  auto info = setup(v, pod("u1"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().message(),
            "driver name local.csi.kernlet.io not found in the list of registered CSI drivers");
  registered = true;
  driver->stage_error = Error(ErrorCode::kInternal, "NodeStageVolume: rpc error: code = Internal desc = mkfs broke");
  info = setup(v, pod("u1"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().message(), "MountVolume.MountDevice failed for volume \"pvc-c-1\": NodeStageVolume: rpc "
                                    "error: code = Internal desc = mkfs broke");
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"stage pvc-c-1"}));  // never published
  // Nothing mounted; a pod teardown then releases nothing in the driver.
  ASSERT_TRUE(v.teardown_pod("u1", pod_dir("u1")).ok());
  // The staged record is left for the sweep, which finds nothing mounted.
  auto swept = v.unstage_unused();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"stage pvc-c-1"}));
  EXPECT_FALSE(fs::exists(v.global_dir("local.csi.kernlet.io", "pvc-c-1")));
}

TEST_F(CsiNodeVolumesTest, ReadOnlyClaimIsPublishedReadOnly) {
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  auto info = setup(v, pod("u1", R"(,"readOnly":true)"));
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  EXPECT_TRUE(info->read_only);
  EXPECT_TRUE(driver->last_publish.readonly);
}

TEST_F(CsiNodeVolumesTest, DriverWithoutStagingIsOnlyPublished) {
  driver->stage = false;
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  ASSERT_TRUE(setup(v, pod("u1")).ok());
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"publish pvc-c-1"}));
  EXPECT_EQ(driver->last_publish.staging_target_path, "");
  ASSERT_TRUE(v.teardown_pod("u1", pod_dir("u1")).ok());
  EXPECT_EQ(driver->calls.back(), "unpublish pvc-c-1");
}

TEST_F(CsiNodeVolumesTest, SweepUnstagesVolumesNoPodUses) {
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  ASSERT_TRUE(setup(v, pod("u1")).ok());
  auto swept = v.unstage_unused();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 0);  // u1 uses it
  // The pod directory vanished while the agent was down after unpublish (a crash).
  ASSERT_TRUE(driver->node_unpublish_volume("pvc-c-1", target("u1")).ok());
  fs::remove_all(pod_dir("u1"));
  swept = v.unstage_unused();
  ASSERT_TRUE(swept.ok()) << swept.error().to_string();
  EXPECT_EQ(*swept, 1);
  EXPECT_EQ(driver->calls.back(), "unstage pvc-c-1");
  EXPECT_TRUE(mounter.mounts.empty());
}

TEST_F(CsiNodeVolumesTest, FsGroupAppliedToTheVolumeRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "chgrp to an arbitrary group needs root";
  CsiNodeVolumes v(root, root + "/pods", mounter, deps());
  auto info = setup(v, pod("u1", "", R"({"fsGroup":1234})"));
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(info->host_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 1234u);
  EXPECT_EQ(st.st_mode & 02070, 02070u);
}

TEST(FsGroupPolicy, FollowsTheCsiDriverPolicy) {
  std::vector<std::string> rwo{"ReadWriteOnce"}, rox{"ReadOnlyMany"};
  EXPECT_TRUE(fs_group_applies("", "ext4", rwo, false));
  EXPECT_TRUE(fs_group_applies("ReadWriteOnceWithFSType", "ext4", rwo, false));
  EXPECT_FALSE(fs_group_applies("ReadWriteOnceWithFSType", "", rwo, false));
  EXPECT_FALSE(fs_group_applies("ReadWriteOnceWithFSType", "ext4", rox, false));
  EXPECT_TRUE(fs_group_applies("File", "", rox, false));
  EXPECT_FALSE(fs_group_applies("None", "ext4", rwo, false));
  EXPECT_FALSE(fs_group_applies("File", "ext4", rwo, true));
}

TEST(VolumeRecord, RoundTripsAndRejectsGarbage) {
  CsiVolumeRecord r{"d", "h", "pv", "/s"};
  auto back = decode_volume_record(encode_volume_record(r), "x");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->driver, "d");
  EXPECT_EQ(back->volume_handle, "h");
  EXPECT_EQ(back->pv_name, "pv");
  EXPECT_EQ(back->staging_path, "/s");
  EXPECT_FALSE(decode_volume_record("{}", "x").ok());
  EXPECT_FALSE(decode_volume_record("nope", "x").ok());
}

}  // namespace
}  // namespace kernlet::csi
