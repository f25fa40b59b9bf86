// The Events the controllers record, with Kubernetes 1.33's reasons and message wording
// (kubectl describe shows them, and scripts grep them): one place, so the wording is
// tested once and every controller spells it the same. The controllers record them
// through SharedInformers::events(component) (api/client/event_recorder.h: one shared
// recorder with client-go's spam filter and aggregation).
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"

namespace kernlet::controllers::events {

inline constexpr std::string_view kNormal = "Normal";
inline constexpr std::string_view kWarning = "Warning";

// Pods created and deleted by a ReplicaSet, Job or DaemonSet (upstream's RealPodControl).
inline constexpr std::string_view kSuccessfulCreate = "SuccessfulCreate";
inline constexpr std::string_view kFailedCreate = "FailedCreate";
inline constexpr std::string_view kSuccessfulDelete = "SuccessfulDelete";
inline constexpr std::string_view kFailedDelete = "FailedDelete";
std::string created_pod(std::string_view pod);     // "Created pod: web-abc12"
std::string deleted_pod(std::string_view pod);     // "Deleted pod: web-abc12"
std::string error_creating(std::string_view err);  // "Error creating: <err>"
std::string error_deleting(std::string_view err);  // "Error deleting: <err>"

// Deployment.
inline constexpr std::string_view kScalingReplicaSet = "ScalingReplicaSet";
// A new ReplicaSet created with replicas: "Scaled up replica set web-6d4f to 1".
std::string scaled_new_replica_set(std::string_view rs, int64_t replicas);
// "Scaled up replica set web-6d4f to 3 from 1" / "Scaled down replica set web-5c9b to 0 from 2".
std::string scaled_replica_set(std::string_view rs, int64_t to, int64_t from);

// Job (the failure reasons and messages are the Failed condition's, job_sync.h).
inline constexpr std::string_view kJobCompleted = "Completed";
inline constexpr std::string_view kJobCompletedMessage = "Job completed";
inline constexpr std::string_view kJobSuspended = "Suspended";
inline constexpr std::string_view kJobSuspendedMessage = "Job suspended";
inline constexpr std::string_view kJobResumed = "Resumed";
inline constexpr std::string_view kJobResumedMessage = "Job resumed";

struct Event {
  std::string_view type;
  std::string reason, message;
  bool operator==(const Event&) const = default;
};
// The Events of a Job whose status goes from `old_status` to `new_status`: a Complete
// condition turning True is Normal "Completed: Job completed"; a Failed one is a Warning
// with the condition's reason and message (BackoffLimitExceeded, DeadlineExceeded, ...);
// Suspended turning True or False is "Suspended: Job suspended" / "Resumed: Job resumed".
std::vector<Event> job_status_events(const json::object& old_status, const json::object& new_status);

// CronJob.
inline constexpr std::string_view kSawCompletedJob = "SawCompletedJob";
inline constexpr std::string_view kJobAlreadyActive = "JobAlreadyActive";
inline constexpr std::string_view kJobAlreadyActiveMessage =
    "Not starting job because prior execution is running and concurrency policy is Forbid";
std::string created_job(std::string_view job);  // "Created job web-29012345"
std::string deleted_job(std::string_view job);  // "Deleted job web-29012345"
// "Saw completed job: web-29012345, condition: Complete"
std::string saw_completed_job(std::string_view job, std::string_view condition);

// Node lifecycle and taint eviction.
inline constexpr std::string_view kNodeNotReady = "NodeNotReady";
inline constexpr std::string_view kPodNodeNotReadyMessage = "Node is not ready";
std::string node_status_now(std::string_view node, std::string_view status);  // "Node n1 status is now: NodeNotReady"
inline constexpr std::string_view kTaintManagerEviction = "TaintManagerEviction";
std::string marking_for_deletion(std::string_view ns, std::string_view pod);  // "Marking for deletion Pod ns/name"

// EndpointSlice.
inline constexpr std::string_view kFailedToUpdateEndpointSlices = "FailedToUpdateEndpointSlices";
std::string failed_endpoint_slices(std::string_view ns, std::string_view service, std::string_view err);

}  // namespace kernlet::controllers::events
