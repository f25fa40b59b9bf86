// PodWorkers with the fake runtime and a recording PodApi: status writes (only when changed,
// uid precondition), deletion (terminate, remove, delete with grace 0), pods gone from the
// API, orphans, static pods writing through their mirror pod, exits waking the sync.
#include "agent/pod/pod_workers.h"

#include <gtest/gtest.h>

#include <thread>

#include "agent/pod/fake_pod_runtime.h"
#include "api/object.h"

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;

class NullEvents final : public EventSink {
 public:
  void event(const json::object&, std::string_view, std::string_view, const std::string&) override {}
};

class RecordingApi final : public PodApi {
 public:
  Result<void> patch_status(const std::string& ns, const std::string& name, const json::object& patch) override {
    std::lock_guard<std::mutex> lock(mu);
    patches.push_back({ns + "/" + name, patch});
    return Ok();
  }
  Result<void> delete_pod(const std::string& ns, const std::string& name, const std::string& uid) override {
    std::lock_guard<std::mutex> lock(mu);
    deletes.push_back(ns + "/" + name + "@" + uid);
    return Ok();
  }
  size_t npatches() {
    std::lock_guard<std::mutex> lock(mu);
    return patches.size();
  }
  json::object last_patch() {
    std::lock_guard<std::mutex> lock(mu);
    return patches.empty() ? json::object{} : patches.back().second;
  }
  std::vector<std::string> deleted() {
    std::lock_guard<std::mutex> lock(mu);
    return deletes;
  }
  std::mutex mu;
  std::vector<std::pair<std::string, json::object>> patches;
  std::vector<std::string> deletes;
};

template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = 5s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

client::ObjectPtr pod(const std::string& uid, const std::string& name, const std::string& extra_meta = "") {
  auto o = api::decode_object(R"({"metadata":{"name":")" + name + R"(","namespace":"default","uid":")" + uid +
                              R"(")" + extra_meta + R"(},"spec":{"restartPolicy":"Never","containers":[
      {"name":"app","image":"busybox:1","imagePullPolicy":"IfNotPresent"}]}})");
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return std::make_shared<const json::object>(*o);
}

class PodWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt.add_image("busybox:1");
    env = basic_environment();
    probes = no_probes(&rt);
    net = no_network();
    syncer = std::make_unique<PodSyncer>(&rt, &events, env.get(), probes.get(), net.get(), SyncerOptions{});
  }
  void start(PodWorkersOptions o = {}) {
    workers = std::make_unique<PodWorkers>(syncer.get(), &rt, &api, o);
    ASSERT_TRUE(workers->start().ok());
  }
  void TearDown() override {
    if (workers) workers->stop();
  }
  FakePodRuntime rt;
  NullEvents events;
  RecordingApi api;
  std::unique_ptr<PodEnvironment> env;
  std::unique_ptr<PodProbes> probes;
  std::unique_ptr<PodNetwork> net;
  std::unique_ptr<PodSyncer> syncer;
  std::unique_ptr<PodWorkers> workers;
};

TEST_F(PodWorkersTest, WritesStatusWithTheUidAsPrecondition) {
  start();
  workers->upsert(pod("u1", "web"));
  ASSERT_TRUE(eventually([&] { return api.npatches() >= 1; }));
  auto p = api.last_patch();
  EXPECT_EQ(json::get_string(*json::get_object(p, "metadata"), "uid"), "u1");
  EXPECT_EQ(json::get_string(*json::get_object(p, "status"), "phase"), "Running");
  EXPECT_EQ(rt.starts(), 1);
  // The same pod again with the status it was given: nothing to write.
  auto with_status = std::make_shared<json::object>(*pod("u1", "web"));
  (*with_status)["status"] = (*json::get_object(p, "status"));
  size_t before = api.npatches();
  workers->upsert(with_status);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(api.npatches(), before);
}

TEST_F(PodWorkersTest, StatusChangedByAnotherWriterIsWrittenAgain) {
  start();
  workers->upsert(pod("u1", "web", R"(,"resourceVersion":"10")"));
  ASSERT_TRUE(eventually([&] { return api.npatches() >= 1; }));
  json::object written = *json::get_object(api.last_patch(), "status");
  // The node lifecycle controller marks the pod not Ready while its node looked dead (a
  // newer resourceVersion): the agent, whose view has not changed, writes Ready back.
  auto overwritten = std::make_shared<json::object>(*pod("u1", "web", R"(,"resourceVersion":"12")"));
  json::object st = written;
  for (auto& c : st["conditions"].as_array()) {
    if (json::get_string(c.as_object(), "type") == "Ready") c.as_object()["status"] = "False";
  }
  (*overwritten)["status"] = st;
  size_t before = api.npatches();
  workers->upsert(overwritten);
  ASSERT_TRUE(eventually([&] { return api.npatches() > before; })) << "Ready=False was left in place";
  const json::object last = api.last_patch();
  auto c = api::find_condition(*json::get_object(last, "status"), "Ready");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status(), "True");
}

TEST_F(PodWorkersTest, ContainerExitWakesTheSync) {
  start();
  workers->upsert(pod("u1", "web"));
  ASSERT_TRUE(eventually([&] { return api.npatches() >= 1; }));
  rt.exit("u1_app_0", 0);
  workers->enqueue("u1");  // the fake's pids are not real processes: wake by hand
  ASSERT_TRUE(eventually([&] {
    auto p = api.last_patch();
    return json::get_string(*json::get_object(p, "status"), "phase") == "Succeeded";
  }));
}

TEST_F(PodWorkersTest, DeletionTerminatesRemovesAndDeletesWithUid) {
  start();
  workers->upsert(pod("u1", "web"));
  ASSERT_TRUE(eventually([&] { return rt.starts() == 1; }));
  workers->upsert(pod("u1", "web", R"(,"deletionTimestamp":"2026-01-01T00:00:00Z","deletionGracePeriodSeconds":1)"));
  ASSERT_TRUE(eventually([&] { return !api.deleted().empty(); }));
  EXPECT_EQ(api.deleted().front(), "default/web@u1");
  EXPECT_EQ(rt.stopped(), std::vector<std::string>{"u1_app_0"});
  EXPECT_TRUE(rt.list_pods().empty());
}

TEST_F(PodWorkersTest, PodGoneFromTheApiIsRemovedWithoutDelete) {
  start();
  auto p = pod("u1", "web");
  workers->upsert(p);
  ASSERT_TRUE(eventually([&] { return rt.starts() == 1; }));
  workers->removed(p);
  ASSERT_TRUE(eventually([&] { return rt.list_pods().empty(); }));
  EXPECT_TRUE(api.deleted().empty());
}

TEST_F(PodWorkersTest, OrphansAreRemovedAfterTheSourceSynced) {
  // Left behind by an earlier agent: in the runtime, unknown to the API.
  SandboxConfig old;
  old.pod_uid = "old";
  ASSERT_TRUE(rt.ensure_sandbox(old).ok());
  start();
  workers->upsert(pod("u1", "web"));
  workers->adopt_orphans();
  ASSERT_TRUE(eventually([&] { return rt.list_pods() == std::vector<std::string>{"u1"}; }));
}

TEST_F(PodWorkersTest, StaticPodStatusGoesToItsMirror) {
  client::ObjectPtr mirror = pod("mirror-uid", "static-web-n1");
  PodWorkersOptions o;
  o.mirror_of = [&](const std::string& ns, const std::string& name) -> client::ObjectPtr {
    return ns == "default" && name == "static-web-n1" ? mirror : nullptr;
  };
  start(o);
  auto s = pod("file-uid", "static-web-n1", R"(,"annotations":{"kubernetes.io/config.source":"file"})");
  workers->set_static_pods({*s});
  ASSERT_TRUE(eventually([&] { return api.npatches() >= 1; }));
  EXPECT_EQ(json::get_string(*json::get_object(api.last_patch(), "metadata"), "uid"), "mirror-uid");
  EXPECT_EQ(rt.list_pods(), std::vector<std::string>{"file-uid"});
  // The manifest is gone: the pod goes too.
  workers->set_static_pods({});
  ASSERT_TRUE(eventually([&] { return rt.list_pods().empty(); }));
  EXPECT_TRUE(api.deleted().empty());
}

}  // namespace
}  // namespace kernlet::agent
