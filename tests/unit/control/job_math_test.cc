#include "control/controllers/job_math.h"

#include <gtest/gtest.h>

namespace kernlet::controllers::job {
namespace {

using namespace std::chrono_literals;

TEST(Job, PodsToCreate) {
  Spec s{.completions = 5, .parallelism = 2};
  EXPECT_EQ(pods_to_create(s, {}), 2);
  EXPECT_EQ(pods_to_create(s, {.active = 2}), 0);
  EXPECT_EQ(pods_to_create(s, {.active = 1, .succeeded = 3}), 1);  // 2 still needed, 1 running
  EXPECT_EQ(pods_to_create(s, {.active = 0, .succeeded = 4}), 1);
  EXPECT_EQ(pods_to_create(s, {.succeeded = 5}), 0);
  Spec queue{.completions = std::nullopt, .parallelism = 3};
  EXPECT_EQ(pods_to_create(queue, {.active = 1}), 2);
  EXPECT_EQ(pods_to_create(queue, {.active = 1, .succeeded = 1}), 0);
  Spec suspended{.completions = 5, .parallelism = 2, .suspend = true};
  EXPECT_EQ(pods_to_create(suspended, {}), 0);
}

TEST(Job, Verdicts) {
  Spec s{.completions = 5, .parallelism = 2, .backoff_limit = 2};
  EXPECT_EQ(judge(s, {.succeeded = 4}, 1s).outcome, Outcome::kRunning);
  EXPECT_EQ(judge(s, {.succeeded = 5}, 1s).outcome, Outcome::kComplete);
  auto failed = judge(s, {.failed = 3}, 1s);
  EXPECT_EQ(failed.outcome, Outcome::kFailed);
  EXPECT_EQ(failed.reason, "BackoffLimitExceeded");
  EXPECT_EQ(judge(s, {.failed = 2}, 1s).outcome, Outcome::kRunning);  // limit 2 allows 2 failures
  s.active_deadline_seconds = 60;
  auto late = judge(s, {.active = 1}, 60s);
  EXPECT_EQ(late.reason, "DeadlineExceeded");
  EXPECT_EQ(late.message, "Job was active longer than specified deadline");
  Spec queue{.completions = std::nullopt, .parallelism = 2};
  EXPECT_EQ(judge(queue, {.active = 1, .succeeded = 1}, 1s).outcome, Outcome::kRunning);
  EXPECT_EQ(judge(queue, {.active = 0, .succeeded = 1}, 1s).outcome, Outcome::kComplete);
}

TEST(Job, IndexedCompletion) {
  Spec s{.completions = 5, .parallelism = 2, .indexed = true};
  EXPECT_EQ(indexes_to_create(s, {}), (std::vector<int32_t>{0, 1}));
  Counts c;
  c.succeeded_indexes = {0, 2};
  c.active_indexes = {1};
  EXPECT_EQ(indexes_to_create(s, c), (std::vector<int32_t>{3}));
  c.succeeded_indexes = {0, 1, 2, 3, 4};
  c.active_indexes = {};
  EXPECT_EQ(judge(s, c, 1s).outcome, Outcome::kComplete);
}

TEST(Job, BackoffDoublesToSixMinutes) {
  EXPECT_EQ(failure_backoff(0), 0s);
  EXPECT_EQ(failure_backoff(1), 10s);
  EXPECT_EQ(failure_backoff(2), 20s);
  EXPECT_EQ(failure_backoff(3), 40s);
  EXPECT_EQ(failure_backoff(6), 320s);
  EXPECT_EQ(failure_backoff(7), 360s);
  EXPECT_EQ(failure_backoff(100), 360s);
}

TEST(Job, CompletedIndexesNotation) {
  EXPECT_EQ(format_indexes({1, 3, 4, 5, 7}), "1,3-5,7");
  EXPECT_EQ(format_indexes({}), "");
  EXPECT_EQ(format_indexes({0}), "0");
  auto back = parse_indexes("1,3-5,7", 10);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (std::set<int32_t>{1, 3, 4, 5, 7}));
  EXPECT_FALSE(parse_indexes("1,x", 10).ok());
  EXPECT_FALSE(parse_indexes("5-3", 10).ok());
  EXPECT_FALSE(parse_indexes("12", 10).ok());
  EXPECT_EQ(parse_indexes("1,,2", 10).error().message(), "completed indexes \"1,,2\": bad index \"\"");
}

}  // namespace
}  // namespace kernlet::controllers::job
