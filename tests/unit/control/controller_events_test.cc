// The controllers' Event reasons and messages (controller_events.h), as Kubernetes 1.33
// words them, and the Job status transitions that produce Events.
#include "control/controllers/controller_events.h"

#include <gtest/gtest.h>

namespace kernlet::controllers::events {
namespace {

json::object status_with(std::string_view type, std::string_view status, std::string_view reason = "",
                         std::string_view message = "") {
  return json::object{{"conditions", json::array{json::object{
                                         {"type", type}, {"status", status}, {"reason", reason}, {"message", message}}}}};
}

TEST(ControllerEvents, UpstreamWording) {
  EXPECT_EQ(scaled_new_replica_set("web-6d4f", 1), "Scaled up replica set web-6d4f to 1");
  EXPECT_EQ(scaled_replica_set("web-6d4f", 3, 1), "Scaled up replica set web-6d4f to 3 from 1");
  EXPECT_EQ(scaled_replica_set("web-5c9b", 0, 2), "Scaled down replica set web-5c9b to 0 from 2");
  EXPECT_EQ(created_pod("web-abc"), "Created pod: web-abc");
  EXPECT_EQ(deleted_pod("web-abc"), "Deleted pod: web-abc");
  EXPECT_EQ(error_creating("pods \"x\" is forbidden"), "Error creating: pods \"x\" is forbidden");
  EXPECT_EQ(created_job("hello-29012345"), "Created job hello-29012345");
  EXPECT_EQ(deleted_job("hello-29012345"), "Deleted job hello-29012345");
  EXPECT_EQ(saw_completed_job("hello-29012345", "Complete"), "Saw completed job: hello-29012345, condition: Complete");
  EXPECT_EQ(node_status_now("n1", kNodeNotReady), "Node n1 status is now: NodeNotReady");
  EXPECT_EQ(marking_for_deletion("default", "web-abc"), "Marking for deletion Pod default/web-abc");
  EXPECT_EQ(failed_endpoint_slices("default", "web", "boom"), "Error updating Endpoint Slices for Service default/web: boom");
  EXPECT_EQ(kScalingReplicaSet, "ScalingReplicaSet");
  EXPECT_EQ(kSuccessfulCreate, "SuccessfulCreate");
  EXPECT_EQ(kTaintManagerEviction, "TaintManagerEviction");
}

TEST(ControllerEvents, JobFinishes) {
  auto done = job_status_events(json::object{}, status_with("Complete", "True"));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], (Event{kNormal, "Completed", "Job completed"}));
  auto failed = job_status_events(
      json::object{}, status_with("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0], (Event{kWarning, "BackoffLimitExceeded", "Job has reached the specified backoff limit"}));
  auto deadline = job_status_events(
      json::object{}, status_with("Failed", "True", "DeadlineExceeded", "Job was active longer than specified deadline"));
  ASSERT_EQ(deadline.size(), 1u);
  EXPECT_EQ(deadline[0].reason, "DeadlineExceeded");
  // Only the transition: a status already Complete says nothing again.
  EXPECT_TRUE(job_status_events(status_with("Complete", "True"), status_with("Complete", "True")).empty());
  EXPECT_TRUE(job_status_events(json::object{}, json::object{}).empty());
}

TEST(ControllerEvents, JobSuspendAndResume) {
  auto s = job_status_events(json::object{}, status_with("Suspended", "True"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], (Event{kNormal, "Suspended", "Job suspended"}));
  auto r = job_status_events(status_with("Suspended", "True"), status_with("Suspended", "False"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], (Event{kNormal, "Resumed", "Job resumed"}));
}

}  // namespace
}  // namespace kernlet::controllers::events
