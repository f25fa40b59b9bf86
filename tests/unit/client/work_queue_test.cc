#include "api/client/work_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace kernlet::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Fixture {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  WorkQueue q{clock, default_controller_rate_limiter(clock)};
};

TEST(WorkQueue, DeduplicatesQueuedKeysInFifoOrder) {
  Fixture f;
  f.q.add("a");
  f.q.add("b");
  f.q.add("a");
  EXPECT_EQ(f.q.len(), 2u);
  EXPECT_EQ(f.q.try_get(), "a");
  EXPECT_EQ(f.q.try_get(), "b");
  EXPECT_EQ(f.q.try_get(), std::nullopt);
}

TEST(WorkQueue, KeyAddedWhileProcessingIsRequeuedAfterDone) {
  Fixture f;
  f.q.add("a");
  auto k = f.q.try_get();
  ASSERT_EQ(k, "a");
  f.q.add("a");  // changed while a worker has it
  f.q.add("a");
  EXPECT_EQ(f.q.len(), 0u) << "never handed to a second worker while processing";
  EXPECT_EQ(f.q.try_get(), std::nullopt);
  f.q.done("a");
  EXPECT_EQ(f.q.len(), 1u);
  EXPECT_EQ(f.q.try_get(), "a");
  f.q.done("a");
  EXPECT_EQ(f.q.len(), 0u) << "done without a new add does not requeue";
}

TEST(WorkQueue, AddAfterWaitsForTheClockAndKeepsTheEarlierTime) {
  Fixture f;
  f.q.add_after("a", seconds(10));
  f.q.add_after("a", seconds(5));   // earlier wins
  f.q.add_after("a", seconds(20));  // later is ignored
  f.q.add_after("b", seconds(7));
  EXPECT_EQ(f.q.waiting(), 2u);
  EXPECT_EQ(f.q.try_get(), std::nullopt);
  f.clock->advance(seconds(5));
  EXPECT_EQ(f.q.try_get(), "a");
  EXPECT_EQ(f.q.try_get(), std::nullopt);
  f.clock->advance(seconds(2));
  EXPECT_EQ(f.q.try_get(), "b");
  f.clock->advance(seconds(100));
  EXPECT_EQ(f.q.len(), 0u) << "the ignored later add_after did not leave a second entry";
  f.q.add_after("c", milliseconds(0));
  EXPECT_EQ(f.q.try_get(), "c") << "no delay queues at once";
}

TEST(WorkQueue, RateLimitedBackoffDoublesFrom5msAndForgetResets) {
  auto clock = std::make_shared<FakeClock>();
  WorkQueue q(clock, std::make_unique<ItemExponentialRateLimiter>(milliseconds(5), seconds(1000)));
  std::vector<milliseconds> want = {milliseconds(5), milliseconds(10), milliseconds(20), milliseconds(40)};
  for (auto d : want) {
    q.add_rate_limited("a");
    clock->advance(d - milliseconds(1));
    EXPECT_EQ(q.try_get(), std::nullopt) << "too early for a retry after " << d.count() << " ms";
    clock->advance(milliseconds(1));
    ASSERT_EQ(q.try_get(), "a") << "due after " << d.count() << " ms";
    q.done("a");
  }
  EXPECT_EQ(q.num_requeues("a"), 4);
  q.forget("a");
  EXPECT_EQ(q.num_requeues("a"), 0);
  q.add_rate_limited("a");
  clock->advance(milliseconds(5));
  EXPECT_EQ(q.try_get(), "a");
}

TEST(RateLimiter, ExponentialCapsAt1000Seconds) {
  ItemExponentialRateLimiter l(milliseconds(5), seconds(1000));
  Clock::duration last{};
  for (int i = 0; i < 80; ++i) last = l.when("x");
  EXPECT_EQ(last, seconds(1000));
  EXPECT_EQ(l.when("y"), milliseconds(5)) << "per item";
}

TEST(RateLimiter, BucketAllowsBurstThenPacesAtQps) {
  auto clock = std::make_shared<FakeClock>();
  BucketRateLimiter b(10.0, 100, clock);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(b.when("k" + std::to_string(i)), Clock::duration::zero()) << i;
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(b.when("k100")), milliseconds(100));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(b.when("k101")), milliseconds(200));
  clock->advance(seconds(1));  // 10 tokens back: pays the two reservations, leaves 8
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b.when("z"), Clock::duration::zero()) << i;
  EXPECT_GT(b.when("z"), Clock::duration::zero());
}

TEST(RateLimiter, DefaultControllerLimiterTakesTheLargerDelay) {
  auto clock = std::make_shared<FakeClock>();
  auto l = default_controller_rate_limiter(clock);
  EXPECT_EQ(l->when("a"), milliseconds(5));  // bucket has tokens: per-item back-off rules
  for (int i = 0; i < 200; ++i) (void)l->when("b" + std::to_string(i));
  // The bucket is now 100 tokens in debt: 10 s at 10 qps, more than 10 ms of back-off.
  EXPECT_GT(l->when("a"), seconds(10));
}

TEST(WorkQueue, ShutDownDrainsQueuedKeysThenEnds) {
  Fixture f;
  f.q.add("a");
  f.q.add_after("later", seconds(1));
  f.q.shut_down();
  EXPECT_TRUE(f.q.shutting_down());
  f.q.add("b");  // ignored
  EXPECT_EQ(f.q.get(), "a");
  EXPECT_EQ(f.q.get(), std::nullopt);
  f.clock->advance(seconds(2));
  EXPECT_EQ(f.q.try_get(), std::nullopt) << "delayed keys are dropped at shutdown";
}

TEST(WorkQueue, ShutDownWakesABlockedGet) {
  WorkQueue q;
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = q.get(); });
  q.shut_down();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
}

TEST(WorkQueue, BlockingGetWakesForAddAndDelayedKey) {
  WorkQueue q;  // real clock
  // Taken before the producer starts: it may run (and start the 20 ms) before this thread
  // goes on, and a later start measured less than 15 ms (seen under ThreadSanitizer).
  auto start = std::chrono::steady_clock::now();
  std::thread producer([&] {
    q.add_after("late", milliseconds(20));
    q.add("now");
  });
  EXPECT_EQ(q.get(), "now");
  EXPECT_EQ(q.get(), "late");
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(15));
  producer.join();
}

TEST(WorkQueue, ConcurrentWorkersNeverShareAKey) {
  WorkQueue q;
  std::atomic<int> in_flight_a{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto k = q.get()) {
        if (*k == "a" && in_flight_a.fetch_add(1) != 0) overlap = true;
        std::this_thread::yield();
        if (*k == "a") in_flight_a.fetch_sub(1);
        processed.fetch_add(1);
        q.done(*k);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) q.add(i % 3 == 0 ? "a" : "k" + std::to_string(i % 17));
  // Every key is eventually handed out; wait (bounded) for the queue to go quiet.
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (q.len() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  q.shut_down();
  for (auto& t : workers) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GT(processed.load(), 0);
}

}  // namespace
}  // namespace kernlet::client
