#include "agent/server/log_query.h"

#include <gtest/gtest.h>

#include "api/time.h"

namespace kernlet::agent {
namespace {

TEST(LogQuery, EmptyIsAllDefaults) {
  auto q = parse_log_query("");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->follow);
  EXPECT_FALSE(q->previous);
  EXPECT_FALSE(q->timestamps);
  EXPECT_FALSE(q->tail_lines);
  EXPECT_FALSE(q->since_seconds);
  EXPECT_FALSE(q->since_time);
  EXPECT_FALSE(q->limit_bytes);
}

TEST(LogQuery, AllParameters) {
  auto q = parse_log_query("follow=true&previous=1&timestamps=True&tailLines=10&limitBytes=500&sinceTime="
                           "2026-11-26T21%3A00%3A00Z&other=x");
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_TRUE(q->follow);
  EXPECT_TRUE(q->previous);
  EXPECT_TRUE(q->timestamps);
  EXPECT_EQ(*q->tail_lines, 10);
  EXPECT_EQ(*q->limit_bytes, 500);
  EXPECT_EQ(*q->since_time, *api::parse_rfc3339("2026-11-26T21:00:00Z"));
}

TEST(LogQuery, BooleansAsTheApiMachineryConvertsThem) {
  EXPECT_FALSE(parse_log_query("follow=false")->follow);
  EXPECT_FALSE(parse_log_query("follow=0")->follow);
  EXPECT_FALSE(parse_log_query("follow=FALSE")->follow);
  EXPECT_TRUE(parse_log_query("follow")->follow);
  EXPECT_TRUE(parse_log_query("follow=yes")->follow);
}

TEST(LogQuery, RejectsBadValuesNamingTheParameter) {
  struct Case {
    const char* query;
    const char* message;
  } cases[] = {
      {"tailLines=x", "invalid tailLines \"x\": not an integer"},
      {"tailLines=-1", "invalid tailLines \"-1\": must be greater than or equal to 0"},
      {"sinceSeconds=0", "invalid sinceSeconds \"0\": must be greater than 0"},
      {"limitBytes=0", "invalid limitBytes \"0\": must be greater than 0"},
      {"limitBytes=12a", "invalid limitBytes \"12a\": not an integer"},
      {"sinceTime=yesterday", "invalid sinceTime \"yesterday\": not an RFC 3339 time"},
      {"sinceSeconds=5&sinceTime=2026-11-26T21:00:00Z", "at most one of sinceTime or sinceSeconds may be specified"},
      {"follow=%zz", "malformed escape in \"%zz\""},
  };
  for (const auto& c : cases) {
    auto q = parse_log_query(c.query);
    ASSERT_FALSE(q.ok()) << c.query;
    EXPECT_EQ(q.error().code(), ErrorCode::kInvalidArgument) << c.query;
    EXPECT_EQ(q.error().message(), c.message) << c.query;
  }
}

TEST(LogQuery, TailZeroIsAllowed) {
  auto q = parse_log_query("tailLines=0");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q->tail_lines, 0);
}

TEST(LogQuery, ReadOptionsCountSinceSecondsBackFromNow) {
  auto q = parse_log_query("sinceSeconds=30&timestamps=true&follow=true");
  ASSERT_TRUE(q.ok());
  auto now = *api::parse_rfc3339("2026-11-26T21:00:30Z");
  logs::LogReadOptions o = read_options(*q, now);
  ASSERT_TRUE(o.since);
  EXPECT_EQ(*o.since, *api::parse_rfc3339("2026-11-26T21:00:00Z"));
  EXPECT_TRUE(o.timestamps);
  EXPECT_TRUE(o.follow);
  EXPECT_FALSE(o.tail_lines);
}

TEST(UrlDecode, PlusIsSpaceOnlyInQueries) {
  EXPECT_EQ(*url_decode("a+b%2Fc"), "a b/c");
  EXPECT_EQ(*url_decode("a+b", false), "a+b");
  EXPECT_FALSE(url_decode("%4").ok());
}

}  // namespace
}  // namespace kernlet::agent
