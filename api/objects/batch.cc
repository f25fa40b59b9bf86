#include "api/objects/batch.h"

#include <cstdint>

namespace kernlet::api {

int64_t JobSpecView::parallelism() const { return json::get_int_or(*s_, "parallelism", 1); }
std::optional<int64_t> JobSpecView::completions() const {
  if (auto c = json::get_int(*s_, "completions")) return c;
  if (!json::get_int(*s_, "parallelism")) return 1;
  return std::nullopt;
}
std::string_view JobSpecView::completion_mode() const {
  return string_or_default(*s_, "completionMode", "NonIndexed");
}
int64_t JobSpecView::backoff_limit() const {
  if (auto b = json::get_int(*s_, "backoffLimit")) return *b;
  return backoff_limit_per_index() ? INT32_MAX : 6;
}
std::optional<int64_t> JobSpecView::backoff_limit_per_index() const {
  return json::get_int(*s_, "backoffLimitPerIndex");
}
std::optional<int64_t> JobSpecView::max_failed_indexes() const {
  return json::get_int(*s_, "maxFailedIndexes");
}
std::optional<int64_t> JobSpecView::active_deadline_seconds() const {
  return json::get_int(*s_, "activeDeadlineSeconds");
}
std::optional<int64_t> JobSpecView::ttl_seconds_after_finished() const {
  return json::get_int(*s_, "ttlSecondsAfterFinished");
}
bool JobSpecView::suspend() const { return json::get_bool_or(*s_, "suspend", false); }
std::string_view JobSpecView::pod_replacement_policy() const {
  std::string_view v = json::get_string(*s_, "podReplacementPolicy");
  if (!v.empty()) return v;
  return pod_failure_policy() != nullptr ? "Failed" : "TerminatingOrFailed";
}
const json::object* JobSpecView::pod_failure_policy() const {
  return json::get_object(*s_, "podFailurePolicy");
}
const json::object* JobSpecView::success_policy() const {
  return json::get_object(*s_, "successPolicy");
}
const json::object* JobSpecView::selector() const { return json::get_object(*s_, "selector"); }
bool JobSpecView::manual_selector() const {
  return json::get_bool_or(*s_, "manualSelector", false);
}
std::optional<std::string_view> JobSpecView::managed_by() const {
  return get_optional_string(*s_, "managedBy");
}
PodTemplateView JobSpecView::template_() const {
  return PodTemplateView(object_or_empty(*s_, "template"));
}

int64_t JobStatusView::active() const { return json::get_int_or(*s_, "active", 0); }
int64_t JobStatusView::succeeded() const { return json::get_int_or(*s_, "succeeded", 0); }
int64_t JobStatusView::failed() const { return json::get_int_or(*s_, "failed", 0); }
std::optional<int64_t> JobStatusView::terminating() const {
  return json::get_int(*s_, "terminating");
}
std::optional<int64_t> JobStatusView::ready() const { return json::get_int(*s_, "ready"); }
std::vector<ConditionView> JobStatusView::conditions() const { return get_conditions(*s_); }
std::optional<ConditionView> JobStatusView::condition(std::string_view type) const {
  return find_condition(*s_, type);
}
std::string_view JobStatusView::start_time() const { return json::get_string(*s_, "startTime"); }
std::string_view JobStatusView::completion_time() const {
  return json::get_string(*s_, "completionTime");
}
std::string_view JobStatusView::completed_indexes() const {
  return json::get_string(*s_, "completedIndexes");
}
std::optional<std::string_view> JobStatusView::failed_indexes() const {
  return get_optional_string(*s_, "failedIndexes");
}
const json::object* JobStatusView::uncounted_terminated_pods() const {
  return json::get_object(*s_, "uncountedTerminatedPods");
}

bool job_is_finished(const JobView& job) {
  for (const ConditionView& c : job.status().conditions()) {
    if ((c.type() == "Complete" || c.type() == "Failed") && c.is_true()) return true;
  }
  return false;
}

std::string_view CronJobSpecView::schedule() const { return json::get_string(*s_, "schedule"); }
std::optional<std::string_view> CronJobSpecView::time_zone() const {
  return get_optional_string(*s_, "timeZone");
}
std::string_view CronJobSpecView::concurrency_policy() const {
  return string_or_default(*s_, "concurrencyPolicy", "Allow");
}
bool CronJobSpecView::suspend() const { return json::get_bool_or(*s_, "suspend", false); }
std::optional<int64_t> CronJobSpecView::starting_deadline_seconds() const {
  return json::get_int(*s_, "startingDeadlineSeconds");
}
int64_t CronJobSpecView::successful_jobs_history_limit() const {
  return json::get_int_or(*s_, "successfulJobsHistoryLimit", 3);
}
int64_t CronJobSpecView::failed_jobs_history_limit() const {
  return json::get_int_or(*s_, "failedJobsHistoryLimit", 1);
}
JobTemplateView CronJobSpecView::job_template() const {
  return JobTemplateView(object_or_empty(*s_, "jobTemplate"));
}

std::vector<ObjectReferenceView> CronJobStatusView::active() const {
  return object_views<ObjectReferenceView>(*s_, "active");
}
std::string_view CronJobStatusView::last_schedule_time() const {
  return json::get_string(*s_, "lastScheduleTime");
}
std::string_view CronJobStatusView::last_successful_time() const {
  return json::get_string(*s_, "lastSuccessfulTime");
}

}  // namespace kernlet::api
