#include "control/controllers/cron.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

namespace kernlet::controllers {
namespace {

using namespace std::chrono;

Error invalid(std::string msg) { return Error(ErrorCode::kInvalidArgument, std::move(msg)); }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

struct Bounds {
  int min;
  int max;
  const char* const* names;  // lower-case names for min.., or nullptr
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

Result<int> parse_value(std::string_view s, const Bounds& b) {
  if (b.names != nullptr) {
    std::string lower(s);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; i <= b.max - b.min; ++i) {
      if (lower == b.names[i]) return b.min + i;
    }
  }
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return invalid("failed to parse int from " + std::string(s));
  }
  return v;
}

// One comma-separated field into `bits`; `star` is set when it is a bare * or ?.
template <std::size_t N>
Result<void> parse_field(std::string_view field, const Bounds& b, std::bitset<N>& bits, bool* star) {
  for (std::string_view expr : split(field, ',')) {
    auto range_and_step = split(expr, '/');
    if (range_and_step.size() > 2) return invalid("too many slashes: " + std::string(expr));
    auto low_high = split(range_and_step[0], '-');
    if (low_high.size() > 2) return invalid("too many hyphens: " + std::string(expr));
    int start = 0, end = 0, step = 1;
    bool is_star = false;
    if (range_and_step[0] == "*" || range_and_step[0] == "?") {
      start = b.min;
      end = b.max;
      is_star = true;
    } else {
      KL_ASSIGN_OR_RETURN(start, parse_value(low_high[0], b));
      if (low_high.size() == 2) {
        KL_ASSIGN_OR_RETURN(end, parse_value(low_high[1], b));
      } else {
        end = start;
      }
    }
    if (range_and_step.size() == 2) {
      auto s = parse_value(range_and_step[1], Bounds{0, 0, nullptr});
      if (!s.ok()) return s.error();
      step = *s;
      if (step <= 0) return invalid("step of range should be a positive number: " + std::string(expr));
      if (low_high.size() == 1 && !is_star) end = b.max;  // "N/step" means N-max/step
      if (step > 1) is_star = false;
    }
    if (start < b.min) {
      return invalid("beginning of range (" + std::to_string(start) + ") below minimum (" + std::to_string(b.min) +
                     "): " + std::string(expr));
    }
    if (end > b.max) {
      return invalid("end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(b.max) +
                     "): " + std::string(expr));
    }
    if (start > end) {
      return invalid("beginning of range (" + std::to_string(start) + ") beyond end of range (" +
                     std::to_string(end) + "): " + std::string(expr));
    }
    for (int v = start; v <= end; v += step) bits.set(static_cast<std::size_t>(v));
    if (is_star && star != nullptr) *star = true;
  }
  return Ok();
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{be32(p)} << 32) | uint64_t{be32(p + 4)});
}

}  // namespace

// ---- TimeZone ---------------------------------------------------------------------------

Result<TimeZone> TimeZone::load(std::string_view name, std::string_view zoneinfo_dir) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") return utc();
  if (name.front() == '/' || name.find("..") != std::string_view::npos) {
    return invalid("unknown time zone \"" + std::string(name) + "\"");
  }
  std::ifstream f(std::string(zoneinfo_dir) + "/" + std::string(name), std::ios::binary);
  if (!f) return invalid("unknown time zone \"" + std::string(name) + "\"");
  std::ostringstream data;
  data << f.rdbuf();
  return parse(name, data.str());
}

Result<TimeZone> TimeZone::parse(std::string_view name, std::string_view tzif) {
  auto bad = [&](const char* why) { return invalid("time zone \"" + std::string(name) + "\": " + why); };
  const auto* p = reinterpret_cast<const unsigned char*>(tzif.data());
  std::size_t left = tzif.size();
  auto header = [&](uint32_t c[6]) -> bool {
    if (left < 44 || std::string_view(reinterpret_cast<const char*>(p), 4) != "TZif") return false;
    for (int i = 0; i < 6; ++i) c[i] = be32(p + 20 + 4 * i);
    return true;
  };
  uint32_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(c)) return bad("not TZif data");
  const char version = static_cast<char>(p[4]);
  int time_size = 4;
  auto block_size = [&](int ts) {
    return std::size_t{c[3]} * ts + c[3] + std::size_t{c[4]} * 6 + c[5] + std::size_t{c[2]} * (ts + 4) + c[1] + c[0];
  };
  if (version >= '2') {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    const std::size_t skip = 44 + block_size(4);
    if (left < skip) return bad("truncated");
    p += skip;
    left -= skip;
    if (!header(c)) return bad("missing the 64-bit header");
    time_size = 8;
  }
  if (left < 44 + block_size(time_size) || c[4] == 0) return bad("truncated");
  const unsigned char* times = p + 44;
  const unsigned char* idx = times + std::size_t{c[3]} * time_size;
  const unsigned char* types = idx + c[3];
  TimeZone z;
  z.name_ = std::string(name);
  auto offset_of = [&](uint32_t type) -> std::optional<int32_t> {
    if (type >= c[4]) return std::nullopt;
    return static_cast<int32_t>(be32(types + 6 * type));
  };
  z.initial_offset_ = *offset_of(0);
  for (uint32_t i = 0; i < c[3]; ++i) {
    const int64_t t = time_size == 8 ? be64(times + 8 * i) : static_cast<int32_t>(be32(times + 4 * i));
    auto off = offset_of(idx[i]);
    if (!off) return bad("transition type out of range");
    if (!z.transitions_.empty() && t <= z.transitions_.back()) return bad("transitions out of order");
    z.transitions_.push_back(t);
    z.offsets_.push_back(*off);
  }
  z.last_offset_ = z.offsets_.empty() ? z.initial_offset_ : z.offsets_.back();
  return z;
}

int64_t TimeZone::offset_at(SysSeconds t) const {
  const int64_t s = t.time_since_epoch().count();
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<std::size_t>(it - transitions_.begin()) - 1];
}

// ---- CronSchedule -----------------------------------------------------------------------

Result<CronSchedule> CronSchedule::parse(std::string_view spec) {
  std::string_view s = spec;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return invalid("empty spec string");
  static constexpr std::pair<std::string_view, std::string_view> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  if (s.front() == '@') {
    for (const auto& [macro, expansion] : kMacros) {
      if (s == macro) return parse(expansion);
    }
    return invalid("unrecognized descriptor: " + std::string(s));
  }
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const std::size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return invalid("expected exactly 5 fields, found " + std::to_string(fields.size()) + ": " + std::string(s));
  }
  CronSchedule c;
  KL_TRY(parse_field(fields[0], Bounds{0, 59, nullptr}, c.minute_, nullptr));
  KL_TRY(parse_field(fields[1], Bounds{0, 23, nullptr}, c.hour_, nullptr));
  KL_TRY(parse_field(fields[2], Bounds{1, 31, nullptr}, c.dom_, &c.dom_star_));
  KL_TRY(parse_field(fields[3], Bounds{1, 12, kMonthNames}, c.month_, nullptr));
  KL_TRY(parse_field(fields[4], Bounds{0, 6, kDayNames}, c.dow_, &c.dow_star_));
  return c;
}

std::optional<SysSeconds> CronSchedule::next(SysSeconds after, const TimeZone& zone) const {
  // Walk wall-clock time in the zone, skipping whole months, days and hours that cannot
  // match, then map the local minute back to UTC.
  const int64_t after_s = after.time_since_epoch().count();
  int64_t local = after_s + zone.offset_at(after);
  local = local - (((local % 60) + 60) % 60) + 60;  // the next whole minute
  const int64_t limit = local + int64_t{5} * 366 * 86400;
  while (local < limit) {
    const sys_days day{days{local >= 0 ? local / 86400 : (local - 86399) / 86400}};
    const int64_t secs = local - day.time_since_epoch().count() * int64_t{86400};
    const year_month_day ymd{day};
    const unsigned m = static_cast<unsigned>(ymd.month());
    const unsigned d = static_cast<unsigned>(ymd.day());
    const int hour = static_cast<int>(secs / 3600);
    const int minute = static_cast<int>((secs / 60) % 60);
    if (!month_[m]) {
      const year_month_day first_next{ymd.year() / ymd.month() / 1};
      local = (sys_days{first_next + months{1}}).time_since_epoch().count() * int64_t{86400};
      continue;
    }
    const unsigned wd = weekday{day}.c_encoding();
    const bool dom_ok = dom_[d];
    const bool dow_ok = dow_[wd];
    const bool day_ok = (dom_star_ || dow_star_) ? (dom_ok && dow_ok) : (dom_ok || dow_ok);
    if (!day_ok) {
      local = (day + days{1}).time_since_epoch().count() * int64_t{86400};
      continue;
    }
    if (!hour_[static_cast<std::size_t>(hour)]) {
      local = local - secs % 3600 + 3600;
      continue;
    }
    if (!minute_[static_cast<std::size_t>(minute)]) {
      local += 60;
      continue;
    }
    // The local minute matches. Map it to UTC; a wall-clock time that does not exist
    // (skipped by a DST change) is passed over, as the time never occurs.
    const int64_t guess = local - zone.offset_at(SysSeconds{seconds{local}});
    const int64_t utc = local - zone.offset_at(SysSeconds{seconds{guess}});
    if (utc + zone.offset_at(SysSeconds{seconds{utc}}) == local && utc > after_s) return SysSeconds{seconds{utc}};
    local += 60;
  }
  return std::nullopt;
}

}  // namespace kernlet::controllers
