#include "agent/pod/backoff.h"

#include <gtest/gtest.h>

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;

TEST(BackOff, FirstRestartIsImmediateThenDoublesToTheCap) {
  BackOff b;
  auto t = std::chrono::system_clock::time_point(std::chrono::hours(1000));
  EXPECT_EQ(b.remaining("p/c", t, t).count(), 0);
  b.next("p/c", t);
  EXPECT_EQ(b.current("p/c"), 10s);
  EXPECT_GT(b.remaining("p/c", t, t + 5s).count(), 0);
  EXPECT_EQ(b.remaining("p/c", t, t + 10s).count(), 0);
  std::vector<std::chrono::milliseconds> seen;
  for (int i = 0; i < 8; ++i) {
    t += 1s;
    b.next("p/c", t);
    seen.push_back(b.current("p/c"));
  }
  std::vector<std::chrono::milliseconds> want = {20s, 40s, 80s, 160s, 300s, 300s, 300s, 300s};
  EXPECT_EQ(seen, want);
}

TEST(BackOff, ResetAndForgetPrefix) {
  BackOff b;
  auto t = std::chrono::system_clock::time_point(std::chrono::hours(1000));
  b.next("uid1/a", t);
  b.next("uid1/b", t);
  b.next("uid2/a", t);
  b.reset("uid1/a");
  EXPECT_EQ(b.current("uid1/a").count(), 0);
  b.forget_prefix("uid1/");
  EXPECT_EQ(b.current("uid1/b").count(), 0);
  EXPECT_EQ(b.current("uid2/a"), 10s);
}

TEST(BackOff, StaleEntryStartsOver) {
  BackOff b;
  auto t = std::chrono::system_clock::time_point(std::chrono::hours(1000));
  b.next("k", t);
  b.next("k", t + 1s);
  EXPECT_EQ(b.current("k"), 20s);
  b.next("k", t + 20min);
  EXPECT_EQ(b.current("k"), 10s);
}

}  // namespace
}  // namespace kernlet::agent
