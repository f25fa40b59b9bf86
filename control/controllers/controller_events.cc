#include "control/controllers/controller_events.h"

namespace kernlet::controllers::events {

std::string created_pod(std::string_view pod) { return "Created pod: " + std::string(pod); }
std::string deleted_pod(std::string_view pod) { return "Deleted pod: " + std::string(pod); }
std::string error_creating(std::string_view err) { return "Error creating: " + std::string(err); }
std::string error_deleting(std::string_view err) { return "Error deleting: " + std::string(err); }

std::string scaled_new_replica_set(std::string_view rs, int64_t replicas) {
  return "Scaled up replica set " + std::string(rs) + " to " + std::to_string(replicas);
}

std::string scaled_replica_set(std::string_view rs, int64_t to, int64_t from) {
  return std::string("Scaled ") + (to > from ? "up" : "down") + " replica set " + std::string(rs) + " to " +
         std::to_string(to) + " from " + std::to_string(from);
}

namespace {
// "True", "False" or "" (absent) for a condition type of a status.
std::string condition_status(const json::object& status, std::string_view type, std::string* reason = nullptr,
                             std::string* message = nullptr) {
  const json::array* conds = json::get_array(status, "conditions");
  if (conds == nullptr) return "";
  for (const json::value& c : *conds) {
    if (!c.is_object() || json::get_string(c.as_object(), "type") != type) continue;
    if (reason != nullptr) *reason = std::string(json::get_string(c.as_object(), "reason"));
    if (message != nullptr) *message = std::string(json::get_string(c.as_object(), "message"));
    return std::string(json::get_string(c.as_object(), "status"));
  }
  return "";
}
}  // namespace

std::vector<Event> job_status_events(const json::object& old_status, const json::object& new_status) {
  std::vector<Event> out;
  const std::string was_suspended = condition_status(old_status, "Suspended");
  const std::string suspended = condition_status(new_status, "Suspended");
  if (suspended == "True" && was_suspended != "True") out.push_back({kNormal, std::string(kJobSuspended), std::string(kJobSuspendedMessage)});
  if (suspended == "False" && was_suspended == "True") out.push_back({kNormal, std::string(kJobResumed), std::string(kJobResumedMessage)});
  if (condition_status(new_status, "Complete") == "True" && condition_status(old_status, "Complete") != "True") {
    out.push_back({kNormal, std::string(kJobCompleted), std::string(kJobCompletedMessage)});
  }
  std::string reason, message;
  if (condition_status(new_status, "Failed", &reason, &message) == "True" && condition_status(old_status, "Failed") != "True") {
    out.push_back({kWarning, reason.empty() ? "Failed" : reason, message});
  }
  return out;
}

std::string created_job(std::string_view job) { return "Created job " + std::string(job); }
std::string deleted_job(std::string_view job) { return "Deleted job " + std::string(job); }
std::string saw_completed_job(std::string_view job, std::string_view condition) {
  return "Saw completed job: " + std::string(job) + ", condition: " + std::string(condition);
}

std::string node_status_now(std::string_view node, std::string_view status) {
  return "Node " + std::string(node) + " status is now: " + std::string(status);
}

std::string marking_for_deletion(std::string_view ns, std::string_view pod) {
  return "Marking for deletion Pod " + std::string(ns) + "/" + std::string(pod);
}

std::string failed_endpoint_slices(std::string_view ns, std::string_view service, std::string_view err) {
  return "Error updating Endpoint Slices for Service " + std::string(ns) + "/" + std::string(service) + ": " +
         std::string(err);
}

}  // namespace kernlet::controllers::events
