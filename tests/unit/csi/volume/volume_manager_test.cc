#include "csi/volume/volume_manager.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "tests/unit/csi/volume/fake_mounter.h"
#include "tests/unit/csi/volume/temp_dir.h"

namespace kernlet::csi {
namespace {

using testing::FakeMounter;
using testing::read_all;
using testing::TempDir;
namespace fs = std::filesystem;

json::object parse(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object();
}

mode_t mode_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class VolumeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pods = tmp.path() + "/pods";
    objects["cfg"] = parse(R"({"metadata":{"name":"cfg"},"data":{"a":"A","b":"B"}})");
    secrets["creds"] = parse(R"({"metadata":{"name":"creds"},"data":{"user":"YWRtaW4=","pass":"czNjcjN0"}})");
    sources.config_map = [this](std::string_view ns, std::string_view name) -> Result<std::optional<json::object>> {
      EXPECT_EQ(ns, "default");
      auto it = objects.find(std::string(name));
      if (it == objects.end()) return std::optional<json::object>();
      return std::optional<json::object>(it->second);
    };
    sources.secret = [this](std::string_view, std::string_view name) -> Result<std::optional<json::object>> {
      auto it = secrets.find(std::string(name));
      if (it == secrets.end()) return std::optional<json::object>();
      return std::optional<json::object>(it->second);
    };
    sources.node_allocatable = {{"cpu", *Quantity::parse("2")}, {"memory", *Quantity::parse("4Gi")}};
  }

  // A pod with the given spec.volumes and containers JSON.
  json::object pod(std::string_view volumes, std::string_view containers = R"([{"name":"app"}])") {
    return parse(std::string(R"({"metadata":{"name":"web","namespace":"default","uid":"uid-1","labels":{"app":"web"}},)") +
                 R"("spec":{"volumes":)" + std::string(volumes) + R"(,"containers":)" + std::string(containers) + "}}");
  }

  std::string vol_dir(std::string_view plugin, std::string_view name) {
    return pods + "/uid-1/volumes/kubernetes.io~" + std::string(plugin) + "/" + std::string(name);
  }

  TempDir tmp;
  std::string pods;
  FakeMounter mounter;
  VolumeSources sources;
  std::map<std::string, json::object> objects, secrets;
};

TEST_F(VolumeManagerTest, EmptyDirDiskAndMemory) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"scratch","emptyDir":{}},
                          {"name":"mem","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}},
                          {"name":"big","emptyDir":{"medium":"Memory"}}])");
  Result<PodVolumes> r = vm.setup(p, sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->volumes.at("scratch").host_path, vol_dir("empty-dir", "scratch"));
  EXPECT_EQ(mode_of(vol_dir("empty-dir", "scratch")), 0777u);
  EXPECT_FALSE(r->volumes.at("scratch").tmpfs);
  ASSERT_EQ(mounter.mounts.count(vol_dir("empty-dir", "mem")), 1u);
  EXPECT_EQ(mounter.mounts[vol_dir("empty-dir", "mem")].size, 64u << 20);
  EXPECT_EQ(r->volumes.at("mem").size_limit, 64u << 20);
  // No sizeLimit, no pod limit: node allocatable memory.
  EXPECT_EQ(mounter.mounts[vol_dir("empty-dir", "big")].size, 4ull << 30);
  // Idempotent: a second setup mounts nothing new.
  size_t mounts = mounter.mounts.size();
  ASSERT_TRUE(vm.setup(p, sources).ok());
  EXPECT_EQ(mounter.mounts.size(), mounts);
}

TEST_F(VolumeManagerTest, FailedTmpfsMountLeavesNoDirectory) {
  VolumeManager vm(pods, mounter);
  mounter.fail_next_mount = true;
  Result<PodVolumes> r = vm.setup(pod(R"([{"name":"mem","emptyDir":{"medium":"Memory"}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().to_string().find("mount tmpfs on " + vol_dir("empty-dir", "mem")), std::string::npos)
      << r.error().to_string();
  EXPECT_FALSE(fs::exists(vol_dir("empty-dir", "mem")));
  mounter.fail_next_mount = true;
  r = vm.setup(pod(R"([{"name":"s","secret":{"secretName":"creds"}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(fs::exists(vol_dir("secret", "s")));
  // The retry works.
  ASSERT_TRUE(vm.setup(pod(R"([{"name":"s","secret":{"secretName":"creds"}}])"), sources).ok());
  EXPECT_EQ(read_all(vol_dir("secret", "s") + "/user"), "admin");
}

TEST_F(VolumeManagerTest, MemoryVolumeSizeFollowsPodLimit) {
  json::object p = pod(R"([])", R"([{"name":"a","resources":{"limits":{"memory":"1Gi"}}},
                                   {"name":"b","resources":{"limits":{"memory":"512Mi"}}}])");
  Result<std::optional<uint64_t>> s = memory_volume_size(p, std::nullopt, sources.node_allocatable);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(**s, 1536ull << 20);
  s = memory_volume_size(p, 100ull << 20, sources.node_allocatable);
  EXPECT_EQ(**s, 100ull << 20);
  s = memory_volume_size(p, 8ull << 30, sources.node_allocatable);  // larger than the pod may use
  EXPECT_EQ(**s, 1536ull << 20);
  // Init containers run before the others: the larger of them and the sum counts; a
  // sidecar (restartPolicy Always) runs alongside and adds up.
  json::object with_init = parse(R"({"metadata":{"uid":"u"},"spec":{
      "initContainers":[{"name":"i","resources":{"limits":{"memory":"3Gi"}}},
                        {"name":"side","restartPolicy":"Always","resources":{"limits":{"memory":"1Gi"}}}],
      "containers":[{"name":"a","resources":{"limits":{"memory":"1Gi"}}}]}})");
  EXPECT_EQ(**memory_volume_size(with_init, std::nullopt, {{"memory", *Quantity::parse("16Gi")}}), 3ull << 30);
  json::object unlimited = pod(R"([])", R"([{"name":"a","resources":{"limits":{"memory":"1Gi"}}},{"name":"b"}])");
  EXPECT_EQ(**memory_volume_size(unlimited, std::nullopt, sources.node_allocatable), 4ull << 30);
}

TEST_F(VolumeManagerTest, ConfigMapAllKeysDefaultModeAndItems) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"all","configMap":{"name":"cfg"}},
     {"name":"some","configMap":{"name":"cfg","defaultMode":256,
        "items":[{"key":"a","path":"dir/a.txt"},{"key":"b","path":"b.txt","mode":384}]}}])");
  Result<PodVolumes> r = vm.setup(p, sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::string all = vol_dir("configmap", "all"), some = vol_dir("configmap", "some");
  EXPECT_EQ(read_all(all + "/a"), "A");
  EXPECT_EQ(read_all(all + "/b"), "B");
  EXPECT_EQ(mode_of(all + "/a"), 0644u);
  EXPECT_EQ(mode_of(all), 0777u);  // reachable by any container user, as upstream
  EXPECT_EQ(read_all(some + "/dir/a.txt"), "A");
  EXPECT_EQ(mode_of(some + "/dir/a.txt"), 0400u);
  EXPECT_EQ(mode_of(some + "/b.txt"), 0600u);
  EXPECT_FALSE(fs::exists(fs::symlink_status(some + "/a")));
  EXPECT_TRUE(r->volumes.at("all").read_only);
  EXPECT_FALSE(r->volumes.at("all").tmpfs);  // configMaps live on disk, as upstream
  EXPECT_TRUE(mounter.mounts.empty());
}

TEST_F(VolumeManagerTest, ConfigMapMissingAndOptional) {
  VolumeManager vm(pods, mounter);
  Result<PodVolumes> r = vm.setup(pod(R"([{"name":"v","configMap":{"name":"nope"}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume v: configmap \"nope\" not found");
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(vol_dir("configmap", "v")));

  r = vm.setup(pod(R"([{"name":"v","configMap":{"name":"nope","optional":true}}])"), sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(fs::is_directory(vol_dir("configmap", "v") + "/..data"));

  r = vm.setup(pod(R"([{"name":"k","configMap":{"name":"cfg","items":[{"key":"zz","path":"z"}]}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume k: configmap references non-existent config key: zz");

  r = vm.setup(pod(R"([{"name":"k","configMap":{"name":"cfg","optional":true,
                         "items":[{"key":"zz","path":"z"},{"key":"a","path":"a"}]}}])"), sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(read_all(vol_dir("configmap", "k") + "/a"), "A");
  EXPECT_FALSE(fs::exists(fs::symlink_status(vol_dir("configmap", "k") + "/z")));
}

TEST_F(VolumeManagerTest, SecretOnTmpfsDecodedAndFailedSetupCleansUp) {
  VolumeManager vm(pods, mounter);
  Result<PodVolumes> r = vm.setup(pod(R"([{"name":"s","secret":{"secretName":"creds"}}])"), sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::string dir = vol_dir("secret", "s");
  ASSERT_EQ(mounter.mounts.count(dir), 1u);
  EXPECT_EQ(mounter.mounts[dir].kind, "tmpfs");
  EXPECT_EQ(read_all(dir + "/user"), "admin");
  EXPECT_EQ(read_all(dir + "/pass"), "s3cr3t");

  // Missing secret: error before anything is mounted.
  r = vm.setup(pod(R"([{"name":"t","secret":{"secretName":"gone"}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume t: secret \"gone\" not found");
  EXPECT_EQ(mounter.mounts.count(vol_dir("secret", "t")), 0u);

  // A write that fails after the tmpfs is mounted: unmounted and removed again.
  r = vm.setup(pod(R"([{"name":"u","secret":{"secretName":"creds","items":[{"key":"user","path":"../x"}]}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(mounter.mounts.count(vol_dir("secret", "u")), 0u);
  EXPECT_NE(std::find(mounter.unmounted.begin(), mounter.unmounted.end(), vol_dir("secret", "u")), mounter.unmounted.end());
  EXPECT_FALSE(fs::exists(vol_dir("secret", "u")));

  r = vm.setup(pod(R"([{"name":"k","secret":{"secretName":"creds","items":[{"key":"zz","path":"z"}]}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume k: secret references non-existent secret key: zz");
}

TEST_F(VolumeManagerTest, RefreshUpdatesContentsAtomically) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"c","configMap":{"name":"cfg"}},
                          {"name":"d","downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}}]}}])");
  ASSERT_TRUE(vm.setup(p, sources).ok());
  std::string c = vol_dir("configmap", "c");
  std::string old_ts = fs::read_symlink(c + "/..data").string();
  objects["cfg"] = parse(R"({"metadata":{"name":"cfg"},"data":{"a":"A2","n":"N"}})");
  json::object relabelled = p;
  relabelled["metadata"].as_object()["labels"].as_object()["tier"] = "front";
  Result<void> r = vm.refresh(relabelled, sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(read_all(c + "/a"), "A2");
  EXPECT_EQ(read_all(c + "/n"), "N");
  EXPECT_FALSE(fs::exists(fs::symlink_status(c + "/b")));
  EXPECT_NE(fs::read_symlink(c + "/..data").string(), old_ts);
  EXPECT_EQ(read_all(vol_dir("downward-api", "d") + "/labels"), "app=\"web\"\ntier=\"front\"");
}

TEST_F(VolumeManagerTest, DownwardApiAndProjected) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"d","downwardAPI":{"items":[
        {"path":"name","fieldRef":{"fieldPath":"metadata.name"}},
        {"path":"cpu","resourceFieldRef":{"containerName":"app","resource":"limits.cpu","divisor":"1m"}},
        {"path":"mem","mode":256,"resourceFieldRef":{"containerName":"app","resource":"limits.memory","divisor":"1Mi"}}]}},
     {"name":"p","projected":{"defaultMode":288,"sources":[
        {"configMap":{"name":"cfg","items":[{"key":"a","path":"cfg/a"}]}},
        {"secret":{"name":"creds","items":[{"key":"user","path":"user"}]}},
        {"secret":{"name":"absent","optional":true}},
        {"downwardAPI":{"items":[{"path":"ns","fieldRef":{"fieldPath":"metadata.namespace"}}]}}]}}])",
                       R"([{"name":"app","resources":{"limits":{"memory":"256Mi"}}}])");
  Result<PodVolumes> r = vm.setup(p, sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::string d = vol_dir("downward-api", "d"), pr = vol_dir("projected", "p");
  EXPECT_EQ(read_all(d + "/name"), "web");
  EXPECT_EQ(read_all(d + "/cpu"), "2000");
  EXPECT_EQ(read_all(d + "/mem"), "256");
  EXPECT_EQ(mode_of(d + "/mem"), 0400u);
  EXPECT_EQ(mounter.mounts[d].kind, "tmpfs");
  EXPECT_EQ(mounter.mounts[d].size, 256u << 20);  // the pod's memory limit
  EXPECT_EQ(read_all(pr + "/cfg/a"), "A");
  EXPECT_EQ(read_all(pr + "/user"), "admin");
  EXPECT_EQ(read_all(pr + "/ns"), "default");
  EXPECT_EQ(mode_of(pr + "/ns"), 0440u);
  EXPECT_EQ(mounter.mounts[pr].kind, "tmpfs");
}

TEST_F(VolumeManagerTest, FsGroupOwnsContentAndEmptyDirVolumes) {
  VolumeManager vm(pods, mounter);
  gid_t gid = ::getegid();
  json::object p = pod(R"([{"name":"c","configMap":{"name":"cfg","defaultMode":384}},{"name":"e","emptyDir":{}}])");
  p["spec"].as_object()["securityContext"] = json::object{{"fsGroup", static_cast<int64_t>(gid)}};
  Result<PodVolumes> r = vm.setup(p, sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::string c = vol_dir("configmap", "c"), e = vol_dir("empty-dir", "e");
  EXPECT_EQ(mode_of(c + "/a"), 0640u);  // 0600 plus group read
  struct stat st {};
  ASSERT_EQ(::stat((c + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(mode_of(e), 02777u);
  // Same contents and group again: nothing rewritten.
  std::string ts = fs::read_symlink(c + "/..data").string();
  ASSERT_TRUE(vm.refresh(p, sources).ok());
  EXPECT_EQ(fs::read_symlink(c + "/..data").string(), ts);
}

TEST_F(VolumeManagerTest, UnsupportedSourcesAreClearErrors) {
  VolumeManager vm(pods, mounter);
  Result<PodVolumes> r = vm.setup(pod(R"([{"name":"data","persistentVolumeClaim":{"claimName":"c"}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume data: persistentVolumeClaim volumes are not supported yet");
  r = vm.setup(pod(R"([{"name":"tok","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume tok: projected serviceAccountToken sources are not supported yet");
  EXPECT_EQ(mounter.mounts.count(vol_dir("projected", "tok")), 0u);
  r = vm.setup(pod(R"([{"name":"h","emptyDir":{"medium":"HugePages"}}])"), sources);
  ASSERT_FALSE(r.ok());
}

TEST_F(VolumeManagerTest, HostPathUsesTheHostPathAndChecksType) {
  VolumeManager vm(pods, mounter);
  std::string host = tmp.path() + "/host";
  Result<PodVolumes> r = vm.setup(pod(R"([{"name":"h","hostPath":{"path":")" + host + R"(","type":"Directory"}}])"), sources);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "pod default/web volume h: hostPath type check failed: " + host + " is not a directory");
  r = vm.setup(pod(R"([{"name":"h","hostPath":{"path":")" + host + R"(","type":"DirectoryOrCreate"}}])"), sources);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->volumes.at("h").host_path, host);
  EXPECT_FALSE(r->volumes.at("h").read_only);
  EXPECT_FALSE(fs::exists(pods + "/uid-1/volumes/kubernetes.io~host-path"));
}

TEST_F(VolumeManagerTest, ContainerMountsReadOnlyPropagationAndErrors) {
  VolumeManager vm(pods, mounter);
  std::string vols = R"([{"name":"scratch","emptyDir":{}},{"name":"c","configMap":{"name":"cfg"}}])";
  json::object p = pod(vols, R"([{"name":"app","volumeMounts":[
      {"name":"scratch","mountPath":"/data/","mountPropagation":"HostToContainer"},
      {"name":"c","mountPath":"/etc/cfg"}]}])");
  Result<PodVolumes> vols_r = vm.setup(p, sources);
  ASSERT_TRUE(vols_r.ok()) << vols_r.error().to_string();
  Result<std::vector<VolumeMount>> m = vm.container_mounts(p, api::PodView(p).spec().containers()[0], *vols_r);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].host_path, vol_dir("empty-dir", "scratch"));
  EXPECT_EQ((*m)[0].container_path, "/data");
  EXPECT_FALSE((*m)[0].read_only);
  EXPECT_EQ((*m)[0].propagation, MountPropagation::kHostToContainer);
  EXPECT_TRUE((*m)[1].read_only);  // configMap: always read-only

  auto mounts_of = [&](std::string_view containers) {
    json::object q = pod(vols, containers);
    return vm.container_mounts(q, api::PodView(q).spec().containers()[0], *vols_r);
  };
  Result<std::vector<VolumeMount>> bad = mounts_of(R"([{"name":"app","volumeMounts":[{"name":"nope","mountPath":"/x"}]}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "cannot find volume \"nope\" to mount into container \"app\"");
  bad = mounts_of(R"([{"name":"app","volumeMounts":[{"name":"scratch","mountPath":"/x"},{"name":"c","mountPath":"/x/"}]}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("duplicate mountPath \"/x\""), std::string::npos);
  bad = mounts_of(R"([{"name":"app","volumeMounts":[{"name":"scratch","mountPath":"/x","mountPropagation":"Bidirectional"}]}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("only to privileged containers"), std::string::npos);
  bad = mounts_of(R"([{"name":"app","volumeMounts":[{"name":"scratch","mountPath":"/x","mountPropagation":"Sideways"}]}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("invalid MountPropagation mode: \"Sideways\""), std::string::npos);
  Result<std::vector<VolumeMount>> rel = mounts_of(R"([{"name":"app","volumeMounts":[{"name":"scratch","mountPath":"rel/dir"}]}])");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ((*rel)[0].container_path, "/rel/dir");
  Result<std::vector<VolumeMount>> priv = mounts_of(R"([{"name":"app","securityContext":{"privileged":true},
      "volumeMounts":[{"name":"scratch","mountPath":"/x","mountPropagation":"Bidirectional","readOnly":true}]}])");
  ASSERT_TRUE(priv.ok()) << priv.error().to_string();
  EXPECT_EQ((*priv)[0].propagation, MountPropagation::kBidirectional);
  EXPECT_TRUE((*priv)[0].read_only);
}

TEST_F(VolumeManagerTest, SubPathIsAPinnedBindAndSubPathExprUsesEnv) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"scratch","emptyDir":{}},{"name":"c","configMap":{"name":"cfg"}}])",
                       R"J([{"name":"app","env":[{"name":"POD","value":"web-0"}],"volumeMounts":[
      {"name":"scratch","mountPath":"/logs","subPathExpr":"logs/$(POD)"},
      {"name":"c","mountPath":"/etc/a.conf","subPath":"a"},
      {"name":"scratch","mountPath":"/escape","subPath":"esc"}]}])J");
  Result<PodVolumes> vols = vm.setup(p, sources);
  ASSERT_TRUE(vols.ok()) << vols.error().to_string();
  std::string scratch = vol_dir("empty-dir", "scratch");
  ASSERT_EQ(::symlink("/etc", (scratch + "/esc").c_str()), 0);
  api::ContainerView app = api::PodView(p).spec().containers()[0];
  Result<std::vector<VolumeMount>> m = vm.container_mounts(p, app, *vols);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("not within volume path"), std::string::npos) << m.error().message();
  ASSERT_EQ(::unlink((scratch + "/esc").c_str()), 0);

  m = vm.container_mounts(p, app, *vols);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  std::string base = pods + "/uid-1/volume-subpaths/";
  EXPECT_EQ((*m)[0].host_path, base + "scratch/app/0");
  EXPECT_EQ((*m)[0].sub_path, "logs/web-0");
  EXPECT_TRUE(fs::is_directory(scratch + "/logs/web-0"));
  EXPECT_EQ(mounter.mounts[base + "scratch/app/0"].source, scratch + "/logs/web-0");
  // configMap subPath: the bind pins the file behind ..data, and the target is a file.
  std::string ts = fs::read_symlink(vol_dir("configmap", "c") + "/..data").string();
  EXPECT_EQ(mounter.mounts[base + "c/app/1"].source, vol_dir("configmap", "c") + "/" + ts + "/a");
  EXPECT_TRUE(fs::is_regular_file(base + "c/app/1"));
  EXPECT_TRUE((*m)[1].read_only);
  EXPECT_TRUE(fs::is_directory(scratch + "/esc"));  // created inside the volume

  // subPathExpr with a missing variable.
  json::object q = pod(R"([{"name":"scratch","emptyDir":{}}])",
                       R"J([{"name":"app","volumeMounts":[{"name":"scratch","mountPath":"/l","subPathExpr":"$(NOPE)"}]}])J");
  Result<std::vector<VolumeMount>> bad = vm.container_mounts(q, api::PodView(q).spec().containers()[0], *vols);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("missing value for NOPE"), std::string::npos);
}

TEST_F(VolumeManagerTest, TeardownUnmountsEverythingAndIsIdempotent) {
  VolumeManager vm(pods, mounter);
  json::object p = pod(R"([{"name":"m","emptyDir":{"medium":"Memory"}},{"name":"s","secret":{"secretName":"creds"}}])",
                       R"([{"name":"app","volumeMounts":[{"name":"m","mountPath":"/m","subPath":"x"}]}])");
  Result<PodVolumes> vols = vm.setup(p, sources);
  ASSERT_TRUE(vols.ok());
  ASSERT_TRUE(vm.container_mounts(p, api::PodView(p).spec().containers()[0], *vols).ok());
  EXPECT_EQ(mounter.mounts.size(), 3u);
  Result<std::vector<std::string>> on_disk = vm.pods_on_disk();
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, std::vector<std::string>{"uid-1"});
  Result<void> r = vm.teardown("uid-1");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(mounter.mounts.empty());
  std::set<std::string> unmounted(mounter.unmounted.begin(), mounter.unmounted.end());
  EXPECT_EQ(unmounted, (std::set<std::string>{vol_dir("empty-dir", "m"), vol_dir("secret", "s"),
                                               pods + "/uid-1/volume-subpaths/m/app/0"}));
  EXPECT_FALSE(fs::exists(pods + "/uid-1"));
  EXPECT_TRUE(vm.teardown("uid-1").ok());
  EXPECT_TRUE(vm.pods_on_disk()->empty());
  EXPECT_FALSE(vm.teardown("../etc").ok());
}

}  // namespace
}  // namespace kernlet::csi
