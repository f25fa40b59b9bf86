// The arithmetic of the Job controller: how many pods (or which completion indexes) to
// start, when a Job is Complete or Failed, the back-off before recreating failed pods, and
// the `status.completedIndexes` notation ("1,3-5,7"). Pure; thread-safe (no state).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::controllers::job {

struct Spec {
  std::optional<int32_t> completions = std::nullopt;  // nullopt: a work queue (done when one succeeds)
  int32_t parallelism = 1;
  int32_t backoff_limit = 6;
  std::optional<int64_t> active_deadline_seconds = std::nullopt;
  bool indexed = false;
  bool suspend = false;
};

struct Counts {
  int32_t active = 0;
  int32_t succeeded = 0;
  int32_t failed = 0;
  std::set<int32_t> succeeded_indexes = {};  // Indexed only
  std::set<int32_t> active_indexes = {};     // Indexed only
};

enum class Outcome { kRunning, kComplete, kFailed };

struct Verdict {
  Outcome outcome = Outcome::kRunning;
  std::string reason;   // BackoffLimitExceeded, DeadlineExceeded (Failed only)
  std::string message;  // the condition's message, as upstream words it
};

// Complete or Failed, or still running, given the counts and how long it has been active.
Verdict judge(const Spec& spec, const Counts& counts, std::chrono::seconds active_for);

// How many new pods to create now (NonIndexed): enough to reach min(parallelism, the
// completions still needed) active pods; none once the Job has finished or is suspended.
int32_t pods_to_create(const Spec& spec, const Counts& counts);

// Which completion indexes to start now (Indexed): the lowest ones neither succeeded nor
// active, up to parallelism.
std::vector<int32_t> indexes_to_create(const Spec& spec, const Counts& counts);

// The delay before replacing failed pods: 10 s doubling per failure, capped at 6 min.
std::chrono::seconds failure_backoff(int32_t failures);

// "1,3-5,7" from a set of indexes, and back. Errors name the malformed part.
std::string format_indexes(const std::set<int32_t>& indexes);
Result<std::set<int32_t>> parse_indexes(std::string_view text, int32_t completions);

}  // namespace kernlet::controllers::job
