// Scheduler (the loop around GenericScheduler) against a real API server and SQLite store,
// through both of its client paths: the in-process transport, where bindings and Events
// are started from the deciding thread and finished in their answers' callbacks, and
// loopback HTTP, where binder and event threads make blocking requests. Either way every
// pod that fits is bound exactly once, each gets its Scheduled Event, the nodes' capacity
// is respected, a pod that fits nowhere is reported Unschedulable, and stop() returns with
// nothing left in flight.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "api/client/rest_client.h"
#include "api/json.h"
#include "control/apiserver/api_server.h"
#include "control/apiserver/http_server.h"
#include "control/apiserver/in_process_transport.h"
#include "control/scheduler/scheduler.h"
#include "control/store/sqlite_store.h"

namespace kernlet::scheduler {
namespace {

json::object node(const std::string& name, const std::string& cpu) {
  json::object resources{{"cpu", cpu}, {"memory", "8Gi"}, {"pods", "110"}};
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", json::object{{"name", name}, {"labels", json::object{{"kubernetes.io/hostname", name}}}}},
          {"status", json::object{{"capacity", resources},
                                  {"allocatable", resources},
                                  {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}}}};
}

json::object pod(const std::string& name, const std::string& cpu) {
  json::object requests{{"cpu", cpu}, {"memory", "64Mi"}};
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
          {"spec", json::object{{"containers", json::array{json::object{
                                                   {"name", "c"},
                                                   {"image", "busybox"},
                                                   {"resources", json::object{{"requests", requests}}}}}}}}};
}

class SchedulerLoopTest : public ::testing::TestWithParam<bool> {  // in-process?
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kl-schedloop-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::SqliteStore::open({.path = dir_ + "/state.db"});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_ = std::move(s).value();
    apiserver::ApiServerOptions opts;
    opts.trust_unauthenticated = true;
    opts.metrics_resolution = std::chrono::milliseconds(0);
    api_ = std::make_shared<apiserver::ApiServer>(*store_, opts);
    ASSERT_TRUE(api_->bootstrap().ok());
    apiserver::HttpServerOptions h;
    h.address = "127.0.0.1";
    server_ = std::make_unique<apiserver::HttpServer>(h, api_);
    ASSERT_TRUE(server_->start().ok());
    client::ClientConfig cfg;
    cfg.server = "http://127.0.0.1:" + std::to_string(server_->port());
    http_ = client::RestClient::create(cfg).value();
    client_ = GetParam() ? client::RestClient::create(
                               cfg, std::make_shared<apiserver::InProcessTransport>(api_, server_->io_context()))
                               .value()
                         : http_;
    ASSERT_EQ(client_->can_request_async(), GetParam());
  }
  void TearDown() override {
    if (sched_) sched_->stop();
    sched_.reset();
    client_.reset();  // the in-process transport holds the ApiServer
    http_.reset();
    if (server_) server_->stop();
    server_.reset();
    api_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Pods of the namespace by name → node name ("" while unbound).
  std::map<std::string, std::string> placements() {
    std::map<std::string, std::string> out;
    auto list = http_->list(client::ResourceRef("", "v1", "pods", "default"));
    EXPECT_TRUE(list.ok()) << list.error().to_string();
    if (!list.ok()) return out;
    for (const auto& p : list->items) {
      const json::object* spec = json::get_object(p, "spec");
      out[std::string(json::get_string(*json::get_object(p, "metadata"), "name"))] =
          spec ? std::string(json::get_string(*spec, "nodeName")) : "";
    }
    return out;
  }
  // Events of the namespace by reason → count.
  std::map<std::string, int> event_reasons() {
    std::map<std::string, int> out;
    auto list = http_->list(client::ResourceRef("", "v1", "events", "default"));
    EXPECT_TRUE(list.ok()) << list.error().to_string();
    if (!list.ok()) return out;
    for (const auto& e : list->items) ++out[std::string(json::get_string(e, "reason"))];
    return out;
  }
  template <typename F>
  static bool eventually(F done, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::shared_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<apiserver::HttpServer> server_;
  std::shared_ptr<client::RestClient> http_;
  std::shared_ptr<client::RestClient> client_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_P(SchedulerLoopTest, BindsEveryPodThatFitsOnceWithItsEvent) {
  const client::ResourceRef nodes("", "v1", "nodes");
  const client::ResourceRef pods("", "v1", "pods", "default");
  for (const char* n : {"n1", "n2", "n3"}) ASSERT_TRUE(http_->create(nodes, node(n, "2")).ok());
  // A few binding slots and Event writers, so the 60 pods queue behind them.
  sched_ = std::make_unique<Scheduler>(client_, SchedulerConfig{.binders = 4, .event_writers = 2});
  ASSERT_TRUE(sched_->start(std::chrono::seconds(10)).ok());
  // 3 nodes × 2 cpu hold 60 pods of 100m exactly; a 61st does not fit, nor one of 3 cpu.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(http_->create(pods, pod("p" + std::to_string(i), "100m")).ok());
  ASSERT_TRUE(eventually([&] {
    auto p = placements();
    return std::all_of(p.begin(), p.end(), [](const auto& kv) { return !kv.second.empty(); });
  }));
  ASSERT_TRUE(http_->create(pods, pod("big", "3")).ok());
  ASSERT_TRUE(http_->create(pods, pod("extra", "100m")).ok());
  ASSERT_TRUE(eventually([&] { return event_reasons()["FailedScheduling"] >= 2; }));
  ASSERT_TRUE(eventually([&] { return event_reasons()["Scheduled"] == 60; })) << event_reasons()["Scheduled"];

  std::map<std::string, int> per_node;
  for (const auto& [name, node_name] : placements()) {
    if (name == "big" || name == "extra") {
      EXPECT_EQ(node_name, "") << name;
    } else {
      ++per_node[node_name];
    }
  }
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"n1", 20}, {"n2", 20}, {"n3", 20}}));
  auto big = http_->get(pods.named("big"));
  ASSERT_TRUE(big.ok());
  const std::string dumped = json::dump(json::value(*big));
  EXPECT_NE(dumped.find("Unschedulable"), std::string::npos) << dumped;
  EXPECT_NE(dumped.find("0/3 nodes are available: 3 Insufficient cpu."), std::string::npos) << dumped;

  const SchedulerStats st = sched_->stats();
  EXPECT_EQ(st.scheduled, 60);
  EXPECT_EQ(st.bind_failures, 0);
  EXPECT_EQ(st.events_dropped, 0);

  // Room on a new node: the waiting 100m pod is bound there, the 3-cpu one still fits nowhere.
  ASSERT_TRUE(http_->create(nodes, node("n4", "1")).ok());
  ASSERT_TRUE(eventually([&] { return placements()["extra"] == "n4"; }));
  EXPECT_EQ(placements()["big"], "");
  ASSERT_TRUE(eventually([&] { return event_reasons()["Scheduled"] == 61; }));
}

TEST_P(SchedulerLoopTest, StopsWithBindingsInFlight) {
  const client::ResourceRef pods("", "v1", "pods", "default");
  ASSERT_TRUE(http_->create(client::ResourceRef("", "v1", "nodes"), node("n1", "64")).ok());
  sched_ = std::make_unique<Scheduler>(client_, SchedulerConfig{.binders = 2, .event_writers = 1});
  ASSERT_TRUE(sched_->start(std::chrono::seconds(10)).ok());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(http_->create(pods, pod("s" + std::to_string(i), "10m")).ok());
  ASSERT_TRUE(eventually([&] { return sched_->stats().scheduled > 0; }));
  // Whatever is in flight is answered before stop() returns; the callbacks then find no
  // scheduler (a use after free would show under the sanitizers and as a crash here).
  sched_->stop();
  const int64_t bound = sched_->stats().scheduled;
  sched_.reset();
  int on_node = 0;
  for (const auto& [name, node_name] : placements()) on_node += node_name.empty() ? 0 : 1;
  EXPECT_EQ(on_node, bound);
}

INSTANTIATE_TEST_SUITE_P(Transports, SchedulerLoopTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "InProcess" : "Http"; });

}  // namespace
}  // namespace kernlet::scheduler
