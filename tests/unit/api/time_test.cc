#include "api/time.h"

#include <gtest/gtest.h>

namespace kernlet::api {
namespace {

using namespace std::chrono_literals;

TimePoint at(int64_t unix_seconds) { return TimePoint(std::chrono::seconds(unix_seconds)); }

TEST(Time, FormatsAsKubernetesDoes) {
  EXPECT_EQ(format_rfc3339(at(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(at(1795162443)), "2026-11-20T08:14:03Z");
  // metav1.Time drops the fraction; MicroTime keeps exactly six digits.
  EXPECT_EQ(format_rfc3339(at(1795162443) + 999ms), "2026-11-20T08:14:03Z");
  EXPECT_EQ(format_rfc3339_micro(at(1795162443) + 123456789ns), "2026-11-20T08:14:03.123456Z");
  EXPECT_EQ(format_rfc3339_micro(at(1795162443)), "2026-11-20T08:14:03.000000Z");
  // Before the epoch the second is floored, not truncated toward zero.
  EXPECT_EQ(format_rfc3339(at(-1) + 500ms), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339_micro(at(-1) + 500ms), "1969-12-31T23:59:59.500000Z");
  EXPECT_EQ(format_rfc3339(at(951782400)), "2000-02-29T00:00:00Z");
}

TEST(Time, ParsesZuluOffsetsAndFractions) {
  EXPECT_EQ(parse_rfc3339("2026-11-20T08:14:03Z").value(), at(1795162443));
  EXPECT_EQ(parse_rfc3339("2026-11-20T09:14:03+01:00").value(), at(1795162443));
  EXPECT_EQ(parse_rfc3339("2026-11-20T02:44:03-05:30").value(), at(1795162443));
  EXPECT_EQ(parse_rfc3339("2026-11-20T08:14:03.5Z").value(), at(1795162443) + 500ms);
  EXPECT_EQ(parse_rfc3339("2026-11-20T08:14:03.123456Z").value(), at(1795162443) + 123456us);
  EXPECT_EQ(parse_rfc3339("2026-11-20T08:14:03.123456789123Z").value(),
            at(1795162443) + 123456789ns);
  EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z").value(), at(-1));
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z").value(), at(1709164800));
}

TEST(Time, RoundTrips) {
  TimePoint t = at(1795162443) + 654321us;
  EXPECT_EQ(parse_rfc3339(format_rfc3339_micro(t)).value(), t);
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t)).value(), at(1795162443));
  auto now = parse_rfc3339(now_rfc3339());
  ASSERT_TRUE(now.ok());
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - *now), 5s);
  EXPECT_TRUE(parse_rfc3339(now_rfc3339_micro()).ok());
  EXPECT_EQ(now_rfc3339_micro().size(), 27u);
}

TEST(Time, RejectsMalformedInputNamingIt) {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"", "expected YYYY-MM-DDTHH:MM:SS"},
      {"2026-11-20", "expected YYYY-MM-DDTHH:MM:SS"},
      {"2026-11-20 08:14:03Z", "expected YYYY-MM-DDTHH:MM:SS"},
      {"2026-11-20t08:14:03Z", "expected YYYY-MM-DDTHH:MM:SS"},
      {"2026-11-20T08:14:03", "expected 'Z' or a time zone offset"},
      {"2026-11-20T08:14:03z", "expected 'Z' or a time zone offset"},
      {"2026-11-20T08:14:03.Z", "expected digits after '.'"},
      {"2026-11-20T08:14:03+0100", "expected a time zone offset +hh:mm"},
      {"2026-11-20T08:14:03+24:00", "time zone offset out of range"},
      {"2026-11-20T08:14:03Zjunk", "unexpected text after the time zone"},
      {"2026-13-20T08:14:03Z", "month out of range"},
      {"2026-02-29T08:14:03Z", "day out of range"},
      {"2026-11-31T08:14:03Z", "day out of range"},
      {"2026-11-20T24:00:00Z", "hour out of range"},
      {"2026-11-20T08:60:03Z", "minute out of range"},
      {"2026-11-20T08:14:60Z", "second out of range"},
      {"9999-12-31T23:59:59Z", "out of range"},
      {"0001-01-01T00:00:00Z", "out of range"},
  };
  for (const Case& c : cases) {
    auto r = parse_rfc3339(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message(),
              "invalid RFC 3339 time \"" + std::string(c.text) + "\": " + c.why);
  }
}

}  // namespace
}  // namespace kernlet::api
