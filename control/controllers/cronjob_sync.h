// One sync of a CronJob, decided without I/O (CronJobController carries it out), as the
// Kubernetes 1.33 CronJob controller (v2):
//  - the schedule is spec.schedule in spec.timeZone (or a CRON_TZ=/TZ= prefix; else UTC,
//    the controller's zone);
//  - the most recent missed schedule time since lastScheduleTime (or creation), bounded by
//    startingDeadlineSeconds, is the one to run; more than 100 missed times is reported
//    ("too many missed start times") and the most recent one still runs; a time older than
//    startingDeadlineSeconds is skipped;
//  - Job names are `<cronjob>-<scheduled time in minutes since the epoch>`;
//  - concurrencyPolicy Forbid skips a run while a Job is active, Replace deletes the
//    active Jobs first, Allow runs them side by side;
//  - status.active drops finished and vanished Jobs; lastSuccessfulTime follows the
//    completion of Jobs it started; finished Jobs beyond successfulJobsHistoryLimit (3)
//    and failedJobsHistoryLimit (1) are deleted, oldest first;
//  - after a sync the CronJob is requeued at its next schedule time (no polling).
// Pure; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/client/cache.h"
#include "api/json.h"
#include "control/controllers/controller_events.h"
#include "control/controllers/cron.h"

namespace kernlet::controllers::cronjob {

inline constexpr std::string_view kScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp";

struct Schedule {
  CronSchedule cron;
  TimeZone zone;
};

// The CronJob's schedule and zone. Errors (kInvalidArgument) name the field: a bad
// schedule, or an unknown time zone.
Result<Schedule> schedule_of(const json::object& cronjob, std::string_view zoneinfo_dir = "/usr/share/zoneinfo");

struct Plan {
  json::object status;                          // the status after this sync
  std::optional<json::object> create;           // the Job to create
  std::vector<client::ObjectPtr> delete_jobs;   // Replace, and history beyond the limits
  std::optional<std::chrono::milliseconds> requeue_after;  // until the next schedule time
  std::string warning;  // "too many missed start times: N. ..." or a missed deadline
  // Events about the CronJob decided here (SawCompletedJob, JobAlreadyActive,
  // TooManyMissedTimes, MissSchedule); the controller adds those of its writes.
  std::vector<events::Event> events;
};

// Decides one sync of `cronjob` given the Jobs it controls and the time.
Plan plan_sync(const json::object& cronjob, const Schedule& schedule, const std::vector<client::ObjectPtr>& jobs,
               std::chrono::system_clock::time_point now);

// The Job for the run at `scheduled`: the jobTemplate's metadata and spec, named
// `<cronjob>-<minutes since epoch>`, controlled by the CronJob, annotated with the
// scheduled time (RFC 3339 in the CronJob's zone).
json::object job_for(const json::object& cronjob, const Schedule& schedule, SysSeconds scheduled);

}  // namespace kernlet::controllers::cronjob
