// Views of the batch/v1 kinds, Job and CronJob (pattern: api/objects/pod.h), with the
// defaults the API server writes.
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/common.h"

namespace kernlet::api {

// ---- Job --------------------------------------------------------------------------------

// spec of a Job (and of a CronJob's jobTemplate).
class JobSpecView {
 public:
  explicit JobSpecView(const json::object& s) : s_(&s) {}
  int64_t parallelism() const;  // default 1
  // The number of successful pods wanted. Unset reads 1 when parallelism is unset too (a
  // plain one-pod job); nullopt otherwise: any success completes a work-queue job.
  std::optional<int64_t> completions() const;
  std::string_view completion_mode() const;  // "NonIndexed" (default) or "Indexed"
  // Default 6, or 2147483647 when backoffLimitPerIndex is set (the per-index limit rules).
  int64_t backoff_limit() const;
  std::optional<int64_t> backoff_limit_per_index() const;
  std::optional<int64_t> max_failed_indexes() const;
  std::optional<int64_t> active_deadline_seconds() const;
  std::optional<int64_t> ttl_seconds_after_finished() const;
  bool suspend() const;  // default false
  // When replacement pods are created: default "Failed" when a podFailurePolicy is set,
  // else "TerminatingOrFailed".
  std::string_view pod_replacement_policy() const;
  const json::object* pod_failure_policy() const;
  const json::object* success_policy() const;
  const json::object* selector() const;  // set by the API server unless manualSelector
  bool manual_selector() const;  // default false
  std::optional<std::string_view> managed_by() const;
  PodTemplateView template_() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// status of a Job
class JobStatusView {
 public:
  explicit JobStatusView(const json::object& s) : s_(&s) {}
  int64_t active() const;     // pods running or pending; 0 when unset
  int64_t succeeded() const;  // 0 when unset
  int64_t failed() const;     // 0 when unset
  std::optional<int64_t> terminating() const;
  std::optional<int64_t> ready() const;
  std::vector<ConditionView> conditions() const;
  // "Complete", "Failed", "Suspended", "FailureTarget", "SuccessCriteriaMet".
  std::optional<ConditionView> condition(std::string_view type) const;
  std::string_view start_time() const;       // RFC 3339, "" when unset
  std::string_view completion_time() const;  // RFC 3339, "" unless it completed
  std::string_view completed_indexes() const;  // Indexed jobs: "1,3-5"
  std::optional<std::string_view> failed_indexes() const;
  const json::object* uncounted_terminated_pods() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class JobView {
 public:
  explicit JobView(const json::object& j) : j_(&j) {}
  Meta meta() const { return Meta(*j_); }
  JobSpecView spec() const { return JobSpecView(object_or_empty(*j_, "spec")); }
  JobStatusView status() const { return JobStatusView(object_or_empty(*j_, "status")); }
  const json::object& raw() const { return *j_; }

 private:
  const json::object* j_;
};

// Whether the job has finished: a Complete or Failed condition with status True.
bool job_is_finished(const JobView& job);

// ---- CronJob ----------------------------------------------------------------------------

// spec.jobTemplate: the metadata and spec of each Job created.
class JobTemplateView {
 public:
  explicit JobTemplateView(const json::object& t) : t_(&t) {}
  Meta meta() const { return Meta(*t_); }
  JobSpecView spec() const { return JobSpecView(object_or_empty(*t_, "spec")); }
  const json::object& raw() const { return *t_; }

 private:
  const json::object* t_;
};

class CronJobSpecView {
 public:
  explicit CronJobSpecView(const json::object& s) : s_(&s) {}
  std::string_view schedule() const;  // cron syntax, e.g. "*/5 * * * *"
  // An IANA zone name ("Europe/Paris"); nullopt means the controller's local zone.
  std::optional<std::string_view> time_zone() const;
  std::string_view concurrency_policy() const;  // "Allow" (default), "Forbid", "Replace"
  bool suspend() const;                         // default false
  std::optional<int64_t> starting_deadline_seconds() const;
  int64_t successful_jobs_history_limit() const;  // default 3
  int64_t failed_jobs_history_limit() const;      // default 1
  JobTemplateView job_template() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class CronJobStatusView {
 public:
  explicit CronJobStatusView(const json::object& s) : s_(&s) {}
  std::vector<ObjectReferenceView> active() const;  // the running jobs
  std::string_view last_schedule_time() const;      // RFC 3339, "" when unset
  std::string_view last_successful_time() const;    // RFC 3339, "" when unset
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class CronJobView {
 public:
  explicit CronJobView(const json::object& cj) : cj_(&cj) {}
  Meta meta() const { return Meta(*cj_); }
  CronJobSpecView spec() const { return CronJobSpecView(object_or_empty(*cj_, "spec")); }
  CronJobStatusView status() const { return CronJobStatusView(object_or_empty(*cj_, "status")); }
  const json::object& raw() const { return *cj_; }

 private:
  const json::object* cj_;
};

}  // namespace kernlet::api
