#include "api/time.h"

#include <cstdint>
#include <cstdio>

namespace kernlet::api {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::sys_days;

// "YYYY-MM-DDTHH:MM:SS" of the second containing t; returns the nanoseconds past it.
int64_t format_seconds(TimePoint t, char (&buf)[32]) {
  auto secs = floor<seconds>(t);
  auto day = floor<days>(secs);
  std::chrono::year_month_day ymd{day};
  int64_t sod = (secs - day).count();
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60),
                static_cast<int>(sod % 60));
  return std::chrono::duration_cast<nanoseconds>(t - secs).count();
}

// Reads exactly n decimal digits at s[pos...].
bool read_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

Error bad_time(std::string_view text, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               "invalid RFC 3339 time \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

std::string format_rfc3339(TimePoint t) {
  char buf[32];
  format_seconds(t, buf);
  return std::string(buf) + "Z";
}

std::string format_rfc3339_micro(TimePoint t) {
  char buf[32];
  int64_t nanos = format_seconds(t, buf);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06dZ", static_cast<int>(nanos / 1000));
  return std::string(buf) + frac;
}

Result<TimePoint> parse_rfc3339(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 5 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text.size() < 8 || text[7] != '-' ||
      !read_digits(text, 8, 2, day) || text.size() < 11 || text[10] != 'T' ||
      !read_digits(text, 11, 2, hour) || text.size() < 14 || text[13] != ':' ||
      !read_digits(text, 14, 2, minute) || text.size() < 17 || text[16] != ':' ||
      !read_digits(text, 17, 2, second)) {
    return bad_time(text, "expected YYYY-MM-DDTHH:MM:SS");
  }
  std::size_t pos = 19;
  int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int64_t scale = 100000000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad_time(text, "expected digits after '.'");
  }
  int offset_minutes = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0, om = 0;
    if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om)) {
      return bad_time(text, "expected a time zone offset +hh:mm");
    }
    if (oh > 23 || om > 59) return bad_time(text, "time zone offset out of range");
    offset_minutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad_time(text, "expected 'Z' or a time zone offset");
  }
  if (pos != text.size()) return bad_time(text, "unexpected text after the time zone");

  std::chrono::year_month_day ymd{std::chrono::year(year),
                                  std::chrono::month(static_cast<unsigned>(month)),
                                  std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.month().ok()) return bad_time(text, "month out of range");
  if (!ymd.ok()) return bad_time(text, "day out of range");
  if (hour > 23) return bad_time(text, "hour out of range");
  if (minute > 59) return bad_time(text, "minute out of range");
  if (second > 59) return bad_time(text, "second out of range");

  int64_t secs = static_cast<int64_t>(sys_days(ymd).time_since_epoch().count()) * 86400 +
                 hour * 3600 + minute * 60 + second - int64_t{offset_minutes} * 60;
  // system_clock counts nanoseconds in an int64 on Linux: about 292 years either side.
  constexpr int64_t kMaxSecs =
      std::chrono::duration_cast<seconds>(TimePoint::duration::max()).count() - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) return bad_time(text, "out of range");
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds(secs)) +
                   std::chrono::duration_cast<TimePoint::duration>(nanoseconds(nanos)));
}

std::string now_rfc3339() { return format_rfc3339(std::chrono::system_clock::now()); }
std::string now_rfc3339_micro() {
  return format_rfc3339_micro(std::chrono::system_clock::now());
}

}  // namespace kernlet::api
