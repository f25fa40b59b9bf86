#include "agent/pod/keyed_mutex.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace kernlet::agent {
namespace {

TEST(KeyedMutexTest, DifferentKeysDoNotWaitForEachOther) {
  KeyedMutex m;
  auto a = m.lock("pod-a");
  std::atomic<bool> got_b{false};
  std::thread t([&] {
    auto b = m.lock("pod-b");
    got_b = true;
  });
  t.join();  // would hang if pod-b waited for pod-a
  EXPECT_TRUE(got_b.load());
  EXPECT_EQ(m.size(), 1u);  // pod-b's entry went with its last user
}

TEST(KeyedMutexTest, SameKeyIsExclusiveAndTheEntryGoesWithItsLastUser) {
  KeyedMutex m;
  constexpr int kThreads = 8, kRounds = 2000;
  int counter = 0;  // guarded by the lock of "pod" only; TSAN reports a race if it leaks
  int inside = 0;
  int max_inside = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto g = m.lock("pod");
        ++inside;
        max_inside = std::max(max_inside, inside);
        ++counter;
        --inside;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, kThreads * kRounds);
  EXPECT_EQ(max_inside, 1);
  EXPECT_EQ(m.size(), 0u);
}

TEST(KeyedMutexTest, AWaiterKeepsTheEntryAlive) {
  KeyedMutex m;
  std::mutex mu;
  std::condition_variable cv;
  bool waiting = false;
  std::atomic<bool> done{false};
  std::thread t;
  {
    auto g = m.lock("pod");
    t = std::thread([&] {
      {
        std::lock_guard l(mu);
        waiting = true;
      }
      cv.notify_all();
      auto g2 = m.lock("pod");  // waits for the holder
      done = true;
    });
    std::unique_lock l(mu);
    cv.wait(l, [&] { return waiting; });
    EXPECT_FALSE(done.load());
  }
  t.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(m.size(), 0u);
}

}  // namespace
}  // namespace kernlet::agent
