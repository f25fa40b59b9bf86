// One sync of a Job, decided without I/O (the JobController carries it out): which pods
// to create (and with which completion index), which to delete, which finished pods lose
// the tracking finalizer, and the status before and after that. Behaviour follows the
// Kubernetes 1.33 Job controller with its default feature gates:
//  - pods carry the finalizer batch.kubernetes.io/job-tracking; a finished pod is first
//    recorded in status.uncountedTerminatedPods, then loses the finalizer, then moves into
//    status.succeeded/failed (so a pod is counted exactly once, even across restarts);
//  - a pod being deleted that has not succeeded counts as failed, and is replaced at once
//    (podReplacementPolicy TerminatingOrFailed); status.terminating counts such pods;
//  - with a podFailurePolicy, the first rule a Failed pod matches decides (FailJob: the Job
//    fails with reason PodFailurePolicy; Ignore: not counted; Count), and a pod being
//    deleted counts and is replaced only once it is Failed (FailIndex is not supported);
//  - with restartPolicy OnFailure, restarts of the active pods reaching backoffLimit fail
//    the Job;
//  - reaching completions adds SuccessCriteriaMet, exceeding backoffLimit or
//    activeDeadlineSeconds adds FailureTarget; remaining pods are deleted, and Complete or
//    Failed follows once no pod of the Job is left running or terminating;
//  - failed pods are replaced after a back-off of 10 s doubling per failure since the last
//    success, capped at 6 min;
//  - suspend deletes the active pods, sets Suspended=True and clears startTime; resuming
//    sets Suspended=False and a new startTime (restarting activeDeadlineSeconds).
// Pure; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/client/cache.h"
#include "api/json.h"

namespace kernlet::controllers::job {

inline constexpr std::string_view kTrackingFinalizer = "batch.kubernetes.io/job-tracking";
inline constexpr std::string_view kCompletionIndex = "batch.kubernetes.io/job-completion-index";

// What the controller remembers between syncs about a Job's failures (in memory, as
// upstream's backoff record store).
struct BackoffRecord {
  int32_t failures_since_success = 0;
  std::chrono::system_clock::time_point last_failure{};
};

struct SyncPlan {
  // Status after recording newly finished pods as uncounted; written before any
  // finalizer is removed. Equal to the old status when nothing new finished.
  json::object status_uncounted;
  json::object status;  // the status at the end of the sync
  std::vector<client::ObjectPtr> remove_finalizer;  // finished pods recorded as uncounted
  std::vector<client::ObjectPtr> to_delete;
  int32_t create = 0;                   // NonIndexed: pods to create
  std::vector<int32_t> create_indexes;  // Indexed: one pod per index
  std::optional<std::chrono::seconds> requeue_after;  // back-off, deadline
  BackoffRecord backoff;                // the record after this sync
};

// Decides one sync of `job` given its pods (claimed: controller reference = the Job),
// the time, the back-off record, and the uids whose finalizer removal the informer has
// not shown yet (they are already counted).
SyncPlan plan_sync(const json::object& job, const std::vector<client::ObjectPtr>& pods,
                   std::chrono::system_clock::time_point now, const BackoffRecord& backoff,
                   const std::set<std::string>& finalizer_removed = {});

// The pod to create for `job` (its template, owner, finalizer), for completion index
// `index` when Indexed: annotation and label batch.kubernetes.io/job-completion-index,
// generateName `<job>-<index>-`, hostname `<job>-<index>`, and JOB_COMPLETION_INDEX in
// every container's env from that annotation (downward API), as upstream.
json::object pod_for_job(const json::object& job, std::optional<int32_t> index);

// A Job condition as upstream writes it (lastProbeTime and lastTransitionTime = now).
json::object job_condition(std::string_view type, std::string_view status, std::string_view reason,
                           std::string_view message, std::chrono::system_clock::time_point now);

}  // namespace kernlet::controllers::job
