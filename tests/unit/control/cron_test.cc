#include "control/controllers/cron.h"

#include <gtest/gtest.h>

#include "api/time.h"

namespace kernlet::controllers {
namespace {

SysSeconds at(const char* rfc3339) {
  auto t = api::parse_rfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return std::chrono::time_point_cast<std::chrono::seconds>(*t);
}

std::string next_of(const char* spec, const char* after, const TimeZone& zone = TimeZone::utc()) {
  auto c = CronSchedule::parse(spec);
  if (!c.ok()) return "error: " + c.error().message();
  auto n = c->next(at(after), zone);
  if (!n) return "never";
  return api::format_rfc3339(*n);
}

struct Case {
  const char* spec;
  const char* after;
  const char* want;
};

class CronNext : public ::testing::TestWithParam<Case> {};

TEST_P(CronNext, InUtc) {
  const Case& c = GetParam();
  EXPECT_EQ(next_of(c.spec, c.after), c.want) << c.spec << " after " << c.after;
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, CronNext,
    ::testing::Values(
        Case{"* * * * *", "2026-11-26T10:00:30Z", "2026-11-26T10:01:00Z"},
        Case{"* * * * *", "2026-11-26T10:00:00Z", "2026-11-26T10:01:00Z"},  // strictly after
        Case{"*/15 * * * *", "2026-11-26T10:07:00Z", "2026-11-26T10:15:00Z"},
        Case{"5/20 * * * *", "2026-11-26T10:30:00Z", "2026-11-26T10:45:00Z"},
        Case{"0 9-17/4 * * *", "2026-11-26T13:00:00Z", "2026-11-26T17:00:00Z"},
        Case{"30 2 * * *", "2026-11-26T03:00:00Z", "2026-11-27T02:30:00Z"},
        Case{"0 0 1 * *", "2026-11-26T00:00:00Z", "2026-12-01T00:00:00Z"},
        Case{"0 0 31 * *", "2026-11-26T00:00:00Z", "2026-12-31T00:00:00Z"},  // November has 30 days
        Case{"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},  // leap day
        Case{"0 0 30 2 *", "2026-03-01T00:00:00Z", "never"},
        Case{"0 12 * * MON-FRI", "2026-11-27T13:00:00Z", "2026-11-30T12:00:00Z"},  // Fri → Mon
        Case{"0 12 * JAN,jul sun", "2026-11-26T00:00:00Z", "2027-01-03T12:00:00Z"},
        // Day of month and day of week both restricted: either matches (cron's OR).
        Case{"0 0 13 * 5", "2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z"},
        // One of them a star: both must match.
        Case{"0 0 * * 5", "2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z"},
        Case{"0 0 ? * 1", "2026-11-26T00:00:00Z", "2026-11-30T00:00:00Z"},
        Case{"@hourly", "2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z"},
        Case{"@daily", "2026-11-26T10:00:00Z", "2026-11-27T00:00:00Z"},
        Case{"@weekly", "2026-11-26T10:00:00Z", "2026-11-29T00:00:00Z"},
        Case{"@monthly", "2026-11-26T10:00:00Z", "2026-12-01T00:00:00Z"},
        Case{"@yearly", "2026-11-26T10:00:00Z", "2027-01-01T00:00:00Z"},
        Case{"@annually", "2026-11-26T10:00:00Z", "2027-01-01T00:00:00Z"},
        Case{"@midnight", "2026-11-26T10:00:00Z", "2026-11-27T00:00:00Z"}));

TEST(Cron, BadSchedulesAreNamed) {
  EXPECT_EQ(next_of("* *", "2026-11-26T00:00:00Z"), "error: expected exactly 5 fields, found 2: * *");
  EXPECT_EQ(next_of("0-70 * * * *", "2026-11-26T00:00:00Z"), "error: end of range (70) above maximum (59): 0-70");
  EXPECT_EQ(next_of("* * 0 * *", "2026-11-26T00:00:00Z"), "error: beginning of range (0) below minimum (1): 0");
  EXPECT_EQ(next_of("5-1 * * * *", "2026-11-26T00:00:00Z"),
            "error: beginning of range (5) beyond end of range (1): 5-1");
  EXPECT_EQ(next_of("*/0 * * * *", "2026-11-26T00:00:00Z"), "error: step of range should be a positive number: */0");
  EXPECT_EQ(next_of("1-2-3 * * * *", "2026-11-26T00:00:00Z"), "error: too many hyphens: 1-2-3");
  EXPECT_EQ(next_of("* * * * 7", "2026-11-26T00:00:00Z"), "error: end of range (7) above maximum (6): 7");
  EXPECT_EQ(next_of("* * * foo *", "2026-11-26T00:00:00Z"), "error: failed to parse int from foo");
  EXPECT_EQ(next_of("@often", "2026-11-26T00:00:00Z"), "error: unrecognized descriptor: @often");
  EXPECT_EQ(next_of("", "2026-11-26T00:00:00Z"), "error: empty spec string");
}

TEST(Cron, TimeZones) {
  auto berlin = TimeZone::load("Europe/Berlin");
  if (!berlin.ok()) GTEST_SKIP() << "no zoneinfo on this machine: " << berlin.error().message();
  // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
  EXPECT_EQ(next_of("0 9 * * *", "2026-11-26T10:00:00Z", *berlin), "2026-11-27T08:00:00Z");
  EXPECT_EQ(next_of("0 9 * * *", "2026-07-01T10:00:00Z", *berlin), "2026-07-02T07:00:00Z");
  // 02:30 does not exist on the day clocks go forward (29 March 2026): that day is skipped.
  EXPECT_EQ(next_of("30 2 * * *", "2026-03-28T12:00:00Z", *berlin), "2026-03-30T00:30:00Z");
  auto ny = TimeZone::load("America/New_York");
  ASSERT_TRUE(ny.ok());
  EXPECT_EQ(next_of("0 0 * * *", "2026-11-26T12:00:00Z", *ny), "2026-11-27T05:00:00Z");
  auto bad = TimeZone::load("Mars/Olympus_Mons");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "unknown time zone \"Mars/Olympus_Mons\"");
  EXPECT_FALSE(TimeZone::load("../../etc/passwd").ok());
  EXPECT_FALSE(TimeZone::parse("x", "not tzif data at all, clearly too short............").ok());
}

}  // namespace
}  // namespace kernlet::controllers
