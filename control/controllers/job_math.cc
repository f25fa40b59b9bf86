#include "control/controllers/job_math.h"

#include <algorithm>
#include <charconv>

namespace kernlet::controllers::job {
namespace {

constexpr std::chrono::seconds kBackoffBase{10};
constexpr std::chrono::seconds kBackoffMax{360};

}  // namespace

Verdict judge(const Spec& spec, const Counts& counts, std::chrono::seconds active_for) {
  Verdict v;
  if (counts.failed > spec.backoff_limit) {
    v.outcome = Outcome::kFailed;
    v.reason = "BackoffLimitExceeded";
    v.message = "Job has reached the specified backoff limit";
    return v;
  }
  if (spec.active_deadline_seconds && !spec.suspend && active_for.count() >= *spec.active_deadline_seconds) {
    v.outcome = Outcome::kFailed;
    v.reason = "DeadlineExceeded";
    v.message = "Job was active longer than specified deadline";
    return v;
  }
  if (spec.completions) {
    const int32_t done = spec.indexed ? static_cast<int32_t>(counts.succeeded_indexes.size()) : counts.succeeded;
    if (done >= *spec.completions) v.outcome = Outcome::kComplete;
  } else if (counts.succeeded > 0 && counts.active == 0) {
    // A work queue is complete once a pod succeeded and the rest have finished.
    v.outcome = Outcome::kComplete;
  }
  return v;
}

int32_t pods_to_create(const Spec& spec, const Counts& counts) {
  if (spec.suspend) return 0;
  int32_t want = spec.parallelism;
  if (spec.completions) {
    want = std::min(want, *spec.completions - counts.succeeded);
  } else if (counts.succeeded > 0) {
    want = 0;  // work queue: once one succeeds, start no more
  }
  return std::max(0, want - counts.active);
}

std::vector<int32_t> indexes_to_create(const Spec& spec, const Counts& counts) {
  std::vector<int32_t> out;
  if (spec.suspend || !spec.completions) return out;
  const int32_t room = spec.parallelism - static_cast<int32_t>(counts.active_indexes.size());
  for (int32_t i = 0; i < *spec.completions && static_cast<int32_t>(out.size()) < room; ++i) {
    if (!counts.succeeded_indexes.contains(i) && !counts.active_indexes.contains(i)) out.push_back(i);
  }
  return out;
}

std::chrono::seconds failure_backoff(int32_t failures) {
  if (failures <= 0) return std::chrono::seconds(0);
  std::chrono::seconds d = kBackoffBase;
  for (int32_t i = 1; i < failures && d < kBackoffMax; ++i) d *= 2;
  return std::min(d, kBackoffMax);
}

std::string format_indexes(const std::set<int32_t>& indexes) {
  std::string out;
  for (auto it = indexes.begin(); it != indexes.end();) {
    const int32_t start = *it;
    int32_t end = start;
    auto next = std::next(it);
    while (next != indexes.end() && *next == end + 1) {
      end = *next;
      ++next;
    }
    if (!out.empty()) out += ',';
    out += std::to_string(start);
    if (end > start) out += "-" + std::to_string(end);
    it = next;
  }
  return out;
}

Result<std::set<int32_t>> parse_indexes(std::string_view text, int32_t completions) {
  std::set<int32_t> out;
  if (text.empty()) return out;
  auto number = [&](std::string_view s) -> Result<int32_t> {
    int32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v < 0 || v >= completions) {
      return Error(ErrorCode::kInvalidArgument, "completed indexes \"" + std::string(text) + "\": bad index \"" +
                                                    std::string(s) + "\"");
    }
    return v;
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view part = text.substr(pos, comma - pos);
    const std::size_t dash = part.find('-');
    KL_ASSIGN_OR_RETURN(int32_t a, number(part.substr(0, dash)));
    int32_t b = a;
    if (dash != std::string_view::npos) {
      KL_ASSIGN_OR_RETURN(b, number(part.substr(dash + 1)));
    }
    if (b < a) {
      return Error(ErrorCode::kInvalidArgument, "completed indexes \"" + std::string(text) + "\": range \"" +
                                                    std::string(part) + "\" runs backwards");
    }
    for (int32_t i = a; i <= b; ++i) out.insert(i);
    pos = comma + 1;
  }
  return out;
}

}  // namespace kernlet::controllers::job
