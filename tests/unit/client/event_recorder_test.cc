// EventRecorder's spam filter (client-go's EventSourceObjectSpamFilter): a token bucket
// per source and involved object, burst 25 and one more per 5 minutes, applied before an
// event is queued, so it is observable without a server (the sender is never started).
// Aggregation and dedup against a real API server: tests/integration/client.
#include "api/client/event_recorder.h"

#include <gtest/gtest.h>

namespace kernlet::client {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<RestClient> offline_client() {
  ClientConfig cfg;
  cfg.server = "http://127.0.0.1:1";  // never contacted: nothing drains the queue
  auto c = RestClient::create(cfg);
  EXPECT_TRUE(c.ok()) << c.error().to_string();
  return c.ok() ? *c : nullptr;
}

json::object job(const std::string& name) {
  return json::object{{"apiVersion", "batch/v1"},
                      {"kind", "Job"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}}};
}

TEST(EventRecorderSpamFilter, BurstThenOnePerRefillPerSourceAndObject) {
  auto clock = std::make_shared<FakeWallClock>();
  EventRecorderOptions o;
  o.clock = clock;
  o.queue_capacity = 1000;
  EventRecorder rec(offline_client(), o);
  auto jobs = rec.sink("job-controller");
  // A crash-looping Job: a new pod (and message) every time.
  for (int i = 0; i < 40; ++i) jobs->event(job("crash"), "Normal", "SuccessfulCreate", "Created pod: crash-" + std::to_string(i));
  EXPECT_EQ(rec.counters().filtered, 15u);
  // Another object, or another component about the same object, has its own bucket.
  jobs->event(job("other"), "Normal", "SuccessfulCreate", "Created pod: other-1");
  rec.sink("cronjob-controller")->event(job("crash"), "Normal", "SawCompletedJob", "x");
  EXPECT_EQ(rec.counters().filtered, 15u);
  // Refill: one token per 5 minutes, never more than the burst.
  clock->advance(299s);
  jobs->event(job("crash"), "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  EXPECT_EQ(rec.counters().filtered, 16u);
  clock->advance(1s);
  jobs->event(job("crash"), "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  EXPECT_EQ(rec.counters().filtered, 16u);
  clock->advance(24h);
  for (int i = 0; i < 26; ++i) jobs->event(job("crash"), "Normal", "SuccessfulCreate", "again");
  EXPECT_EQ(rec.counters().filtered, 17u);
  EXPECT_EQ(rec.counters().dropped, 0u);
}

TEST(EventRecorderSpamFilter, ConfigurableBurst) {
  auto clock = std::make_shared<FakeWallClock>();
  EventRecorderOptions o;
  o.clock = clock;
  o.spam_burst = 2;
  o.spam_refill = 10s;
  EventRecorder rec(offline_client(), o);
  for (int i = 0; i < 5; ++i) rec.event(job("a"), "Normal", "R", "m");
  EXPECT_EQ(rec.counters().filtered, 3u);
  clock->advance(10s);
  rec.event(job("a"), "Normal", "R", "m");
  rec.event(job("a"), "Normal", "R", "m");
  EXPECT_EQ(rec.counters().filtered, 4u);
}

}  // namespace
}  // namespace kernlet::client
