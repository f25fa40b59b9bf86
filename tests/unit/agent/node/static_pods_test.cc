// Static pod rules (names, uids, annotations), the directory source and mirror pod content.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/node/static_pods.h"
#include "api/object.h"
#include "api/yaml.h"

namespace kernlet::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* kManifest = R"(
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  labels: {tier: control-plane}
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5
)";

json::value doc(std::string_view yaml_text) { return yaml::to_json(yaml_text).value(); }

api::TimePoint t0() { return api::TimePoint{std::chrono::seconds(1'800'000'000) + std::chrono::nanoseconds(120)}; }

TEST(StaticPodRules, NameNamespaceNodeAndAnnotations) {
  auto pod = static_pod_from_manifest(doc(kManifest), "/etc/kernlet/manifests/etcd.yaml", "Node-A", t0());
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  api::Meta m(*pod);
  EXPECT_EQ(m.name(), "etcd-node-a");
  EXPECT_EQ(m.namespace_(), "default");
  EXPECT_EQ(m.uid(), static_pod_uid(doc(kManifest), "Node-A"));
  EXPECT_EQ(m.uid().size(), 32u);
  EXPECT_EQ(m.annotation(kConfigSourceAnnotation), "file");
  EXPECT_EQ(m.annotation(kConfigHashAnnotation), m.uid());
  EXPECT_EQ(m.annotation(kConfigSeenAnnotation), "2027-01-15T08:00:00.00000012Z");
  EXPECT_EQ(m.label("tier"), "control-plane");
  const json::object& spec = *json::get_object(*pod, "spec");
  EXPECT_EQ(json::get_string(spec, "nodeName"), "Node-A");
  ASSERT_EQ(json::get_array(spec, "tolerations")->size(), 1u);
  EXPECT_EQ(json::get_array(spec, "tolerations")->at(0),
            json::value(json::object{{"operator", "Exists"}, {"effect", "NoExecute"}}));
  EXPECT_EQ(json::get_string(*json::get_object(*pod, "status"), "phase"), "Pending");
}

TEST(StaticPodRules, UidStableAndSensitiveToContentAndNode) {
  std::string uid = static_pod_uid(doc(kManifest), "n1");
  EXPECT_EQ(uid, static_pod_uid(doc(kManifest), "n1"));
  // Layout and comments are not content.
  EXPECT_EQ(uid, static_pod_uid(doc(std::string("# a comment\n") + kManifest + "\n\n"), "n1"));
  EXPECT_NE(uid, static_pod_uid(doc(kManifest), "n2"));
  std::string changed = kManifest;
  changed.replace(changed.find("3.5"), 3, "3.6");
  EXPECT_NE(uid, static_pod_uid(doc(changed), "n1"));
}

TEST(StaticPodRules, KeepsNamespaceUidAndExistingToleration) {
  auto pod = static_pod_from_manifest(
      doc("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system, uid: given}\n"
          "spec:\n  containers: [{name: c, image: i}]\n  tolerations: [{operator: Exists, effect: NoExecute}]\n"),
      "f.yaml", "n1", t0());
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  EXPECT_EQ(api::Meta(*pod).namespace_(), "kube-system");
  EXPECT_EQ(api::Meta(*pod).uid(), "given");
  EXPECT_EQ(api::Meta(*pod).annotation(kConfigHashAnnotation), "given");
  EXPECT_EQ(json::get_array(*json::get_object(*pod, "spec"), "tolerations")->size(), 1u);
}

TEST(StaticPodRules, BadManifestsNameTheFile) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", "expected apiVersion v1, kind Pod"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: c}]}\n", "metadata.name: Required value"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n", "spec.containers: Required value"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: [{name: c}]}\n", "pod name"},
      {"- 1\n- 2\n", "not a JSON/YAML object"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: [1]}\nspec: {containers: [{name: c}]}\n",
       "metadata.labels"},
  };
  for (const auto& c : cases) {
    auto pod = static_pod_from_manifest(doc(c.yaml), "/m/bad.yaml", "n1", t0());
    ASSERT_FALSE(pod.ok()) << c.yaml;
    EXPECT_EQ(pod.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(pod.error().message().find("static pod manifest /m/bad.yaml: "), std::string::npos)
        << pod.error().message();
    EXPECT_NE(pod.error().message().find(c.error), std::string::npos) << pod.error().message();
  }
}

class StaticPodDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kl-static-pods-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    // Written aside and renamed in, as config management tools do.
    fs::path tmp = dir_ / ("." + name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir_ / name);
  }
  fs::path dir_;
};

TEST_F(StaticPodDir, ReadsYamlAndJsonSkipsBadAndOtherFiles) {
  write("etcd.yaml", kManifest);
  write("web.json",
        R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"apps"},)"
        R"("spec":{"containers":[{"name":"w","image":"nginx"}]}})");
  write("broken.yml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n");
  write("notes.txt", "not a manifest");
  write(".hidden.yaml", kManifest);
  auto clock = std::make_shared<FakeWallClock>();
  StaticPodSource src(dir_.string(), "n1", clock);
  int calls = 0;
  std::size_t last_size = 0;
  src.on_change([&](const std::vector<json::object>& pods) {
    ++calls;
    last_size = pods.size();
  });
  EXPECT_TRUE(src.rescan());
  EXPECT_EQ(last_size, 2u);
  auto pods = src.pods();
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(api::Meta(pods[0]).namespace_(), "apps");
  EXPECT_EQ(api::Meta(pods[0]).name(), "web-n1");
  EXPECT_EQ(api::Meta(pods[1]).name(), "etcd-n1");
  ASSERT_EQ(src.errors().size(), 1u);
  EXPECT_EQ(src.errors()[0].rfind((dir_ / "broken.yml").string() + ": yaml: ", 0), 0u) << src.errors()[0];
  EXPECT_EQ(calls, 1);

  // Nothing changed: config.seen stays what it was, though time moved.
  std::string seen(*api::Meta(pods[1]).annotation(kConfigSeenAnnotation));
  clock->advance(std::chrono::minutes(5));
  EXPECT_FALSE(src.rescan());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(api::Meta(src.pods()[1]).annotation(kConfigSeenAnnotation), seen);

  // An edit is a new pod (new uid, new seen time); removing a file removes its pod.
  std::string edited = kManifest;
  edited.replace(edited.find("3.5"), 3, "3.6");
  std::string old_uid(api::Meta(pods[1]).uid());
  write("etcd.yaml", edited);
  fs::remove(dir_ / "web.json");
  EXPECT_TRUE(src.rescan());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(last_size, 1u);
  ASSERT_EQ(src.pods().size(), 1u);
  EXPECT_NE(api::Meta(src.pods()[0]).uid(), old_uid);
  EXPECT_NE(api::Meta(src.pods()[0]).annotation(kConfigSeenAnnotation), seen);
}

TEST_F(StaticPodDir, DuplicateNameFirstFileWins) {
  write("a.yaml", kManifest);
  write("b.yaml", std::string(kManifest) + "  restartPolicy: Always\n");
  StaticPodSource src(dir_.string(), "n1");
  src.rescan();
  ASSERT_EQ(src.pods().size(), 1u);
  EXPECT_EQ(json::get_object(src.pods()[0], "spec")->count("restartPolicy"), 0u);
  ASSERT_EQ(src.errors().size(), 1u);
  EXPECT_NE(src.errors()[0].find("b.yaml: pod default/etcd-n1 is already defined"), std::string::npos);
}

TEST_F(StaticPodDir, MissingDirectoryIsNoPods) {
  StaticPodSource src((dir_ / "nope").string(), "n1");
  EXPECT_FALSE(src.rescan());
  EXPECT_TRUE(src.pods().empty());
  EXPECT_TRUE(src.errors().empty());
}

TEST_F(StaticPodDir, InotifyWakesTheSourceLongBeforeTheRescanPeriod) {
  StaticPodSource src(dir_.string(), "n1");
  std::atomic<int> calls{0};
  src.on_change([&](const std::vector<json::object>&) { ++calls; });
  src.start();
  EXPECT_TRUE(src.pods().empty());
  write("etcd.yaml", kManifest);
  // The periodic rescan is 20 s away: only inotify can make this in time.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (src.pods().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(src.pods().size(), 1u);
  fs::remove(dir_ / "etcd.yaml");
  deadline = std::chrono::steady_clock::now() + 5s;
  while (!src.pods().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(src.pods().empty());
  EXPECT_GE(calls.load(), 2);
  src.stop();

  // Started again after a stop, it watches again.
  src.start();
  write("etcd.yaml", kManifest);
  deadline = std::chrono::steady_clock::now() + 5s;
  while (src.pods().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(src.pods().size(), 1u);
  src.stop();
}

TEST(MirrorPod, CopyWithMirrorAnnotationAndNodeOwner) {
  auto sp = static_pod_from_manifest(doc(kManifest), "f.yaml", "n1", t0());
  ASSERT_TRUE(sp.ok());
  json::object m = mirror_pod_for(*sp, "n1", "node-uid");
  api::Meta meta(m);
  EXPECT_TRUE(is_mirror_pod(m));
  EXPECT_FALSE(is_mirror_pod(*sp));
  EXPECT_EQ(meta.annotation(kConfigMirrorAnnotation), api::Meta(*sp).uid());
  EXPECT_EQ(meta.annotation(kConfigHashAnnotation), api::Meta(*sp).uid());
  EXPECT_EQ(meta.uid(), "");
  EXPECT_EQ(meta.name(), "etcd-n1");
  EXPECT_FALSE(m.contains("status"));
  auto owners = meta.owner_references();
  ASSERT_EQ(owners.size(), 1u);
  EXPECT_EQ(owners[0], (api::OwnerReference{"v1", "Node", "n1", "node-uid", true, false}));
}

}  // namespace
}  // namespace kernlet::agent
