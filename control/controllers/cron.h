// CronJob schedules: the standard five-field cron syntax Kubernetes accepts (minute, hour,
// day of month, month, day of week; lists, ranges, steps, month and weekday names, `?`),
// the `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`
// macros, and next-activation times in a named time zone (spec.timeZone), read from the
// system's zoneinfo files.
//
// Pure apart from TimeZone::load (reads /usr/share/zoneinfo). Thread-safe: immutable values.
#pragma once

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::controllers {

using SysSeconds = std::chrono::sys_seconds;

// A time zone as its transitions: UTC offsets by instant (TZif data). UTC has none.
class TimeZone {
 public:
  static TimeZone utc() { return TimeZone(); }
  // Loads an IANA zone ("Europe/Berlin") from `zoneinfo_dir`. Errors name the zone:
  // `unknown time zone "Mars/Base"`. Names with ".." or a leading "/" are refused.
  static Result<TimeZone> load(std::string_view name, std::string_view zoneinfo_dir = "/usr/share/zoneinfo");
  // Parses TZif data (versions 1–3).
  static Result<TimeZone> parse(std::string_view name, std::string_view tzif);

  const std::string& name() const { return name_; }
  // The UTC offset in seconds in force at `t`.
  int64_t offset_at(SysSeconds t) const;

 private:
  std::string name_ = "UTC";
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int32_t> offsets_;      // offset after each transition
  int32_t initial_offset_ = 0;        // before the first transition
  int32_t last_offset_ = 0;           // after the last one (the footer rule is not modelled)
};

class CronSchedule {
 public:
  // Parses a schedule. Errors (kInvalidArgument) name the field and the problem as
  // Kubernetes' validation reports them: `unparseable schedule "* *": expected exactly 5
  // fields, found 2`, `... end of range (70) above maximum (59): 0-70`.
  static Result<CronSchedule> parse(std::string_view spec);

  // The first activation strictly after `after`, in `zone`'s wall-clock time; nullopt
  // when there is none within five years (e.g. February 30).
  std::optional<SysSeconds> next(SysSeconds after, const TimeZone& zone = TimeZone::utc()) const;

 private:
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;    // 1..31
  std::bitset<13> month_;  // 1..12
  std::bitset<7> dow_;     // 0 = Sunday
  bool dom_star_ = false;  // the field was * or ?: days match by the other field alone
  bool dow_star_ = false;
};

}  // namespace kernlet::controllers
