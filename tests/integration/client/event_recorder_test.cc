// EventRecorder against a real kernlet-control: a controller's sink writes Events with its
// source.component and no host; repeats are one Event whose count grows; more than 10
// different messages of one reason within the window fold into one "(combined from similar
// events): ..." Event, so a crash-looping Job leaves a bounded number of Events.
#include "api/client/event_recorder.h"

#include <gtest/gtest.h>

#include <map>

#include "api/object.h"
#include "tests/integration/client/control_plane.h"

namespace kernlet::client {
namespace {

using namespace std::chrono_literals;
using testing::ControlPlane;

json::object job(const std::string& name) {
  return json::object{{"apiVersion", "batch/v1"},
                      {"kind", "Job"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}}};
}

class Recorder : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ControlPlane::binary().empty()) GTEST_SKIP() << "kernlet-control not built (KERNLET_BIN or this build)";
    cp_ = std::make_unique<ControlPlane>();
    auto s = cp_->start();
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    auto c = cp_->client();
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    client_ = *c;
  }
  // The Events about `name`, by message.
  std::map<std::string, json::object> events_of(const std::string& name) {
    std::map<std::string, json::object> out;
    auto l = client_->list(ResourceRef("", "v1", "events", "default"));
    EXPECT_TRUE(l.ok()) << l.error().to_string();
    if (!l.ok()) return out;
    for (const auto& e : l->items) {
      if (json::get_string(api::object_or_empty(e, "involvedObject"), "name") == name) {
        out[std::string(json::get_string(e, "message"))] = e;
      }
    }
    return out;
  }
  std::unique_ptr<ControlPlane> cp_;
  std::shared_ptr<RestClient> client_;
};

TEST_F(Recorder, ComponentSinkDedupAndSimilarEventsCombined) {
  auto clock = std::make_shared<FakeWallClock>();
  clock->set(std::chrono::system_clock::now());
  EventRecorderOptions o;
  o.clock = clock;
  EventRecorder rec(client_, o);
  rec.start();
  auto sink = rec.sink("job-controller");
  for (int i = 0; i < 3; ++i) sink->event(job("same"), "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  for (int i = 1; i <= 14; ++i) sink->event(job("loop"), "Normal", "SuccessfulCreate", "Created pod: loop-" + std::to_string(i));
  ASSERT_TRUE(rec.flush(20s));

  auto same = events_of("same");
  ASSERT_EQ(same.size(), 1u);
  const json::object& e = same.begin()->second;
  EXPECT_EQ(json::get_int_or(e, "count", 0), 3);
  EXPECT_EQ(json::get_string(api::object_or_empty(e, "source"), "component"), "job-controller");
  EXPECT_EQ(json::find(api::object_or_empty(e, "source"), "host"), nullptr);
  EXPECT_EQ(json::get_string(api::object_or_empty(e, "involvedObject"), "kind"), "Job");
  EXPECT_EQ(json::get_string(e, "reportingComponent"), "job-controller");

  auto loop = events_of("loop");
  ASSERT_EQ(loop.size(), 11u);  // 10 as they came, then one combined
  auto combined = loop.find("(combined from similar events): Created pod: loop-14");
  ASSERT_NE(combined, loop.end());
  EXPECT_EQ(json::get_int_or(combined->second, "count", 0), 4);
  EXPECT_TRUE(loop.contains("Created pod: loop-10"));
  EXPECT_FALSE(loop.contains("Created pod: loop-11"));
  EXPECT_EQ(rec.counters().filtered, 0u);

  // After the window the messages count afresh.
  clock->advance(11min);
  sink->event(job("loop"), "Normal", "SuccessfulCreate", "Created pod: loop-15");
  ASSERT_TRUE(rec.flush(20s));
  EXPECT_TRUE(events_of("loop").contains("Created pod: loop-15"));
}

}  // namespace
}  // namespace kernlet::client
