// The Job controller's decisions (job_sync.h), pod by pod and status by status.
#include "control/controllers/job_sync.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::controllers::job {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'800'000'000));

json::object make_job(std::string_view spec_json, std::string_view status_json = "{}") {
  auto spec = json::parse_object(spec_json);
  auto status = json::parse_object(status_json);
  EXPECT_TRUE(spec.ok() && status.ok());
  json::object s = *spec;
  if (!s.contains("template")) {
    s["template"] = json::object{{"metadata", json::object{{"labels", json::object{{"job-name", "pi"}}}}},
                                 {"spec", json::object{{"restartPolicy", "Never"},
                                                       {"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}}}};
  }
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", json::object{{"name", "pi"}, {"namespace", "default"}, {"uid", "job-uid"}}},
          {"spec", std::move(s)},
          {"status", *status}};
}

int serial = 0;
client::ObjectPtr make_pod(std::string_view phase, bool finalizer = true, std::optional<int> index = std::nullopt,
                           bool deleting = false, bool ready = false) {
  const std::string name = "pi-" + std::to_string(++serial);
  json::object meta{{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name},
                    {"creationTimestamp", api::format_rfc3339(kNow - std::chrono::seconds(1000 - serial))}};
  if (finalizer) meta["finalizers"] = json::array{std::string(kTrackingFinalizer)};
  if (index) meta["annotations"] = json::object{{kCompletionIndex, std::to_string(*index)}};
  if (deleting) meta["deletionTimestamp"] = api::format_rfc3339(kNow);
  json::object status{{"phase", phase}};
  if (ready) status["conditions"] = json::array{json::object{{"type", "Ready"}, {"status", "True"}}};
  return std::make_shared<const json::object>(json::object{{"metadata", std::move(meta)},
                                                           {"spec", json::object{{"nodeName", "n1"}}},
                                                           {"status", std::move(status)}});
}

std::string cond(const json::object& status, std::string_view type) {
  if (const json::array* cs = json::get_array(status, "conditions")) {
    for (const auto& c : *cs) {
      if (json::get_string(c.as_object(), "type") == type) {
        return std::string(json::get_string(c.as_object(), "status")) + "/" +
               std::string(json::get_string(c.as_object(), "reason"));
      }
    }
  }
  return "";
}

TEST(JobSync, StartsParallelismPodsAndSetsStartTime) {
  auto job = make_job(R"({"completions":5,"parallelism":2})");
  SyncPlan p = plan_sync(job, {}, kNow, {});
  EXPECT_EQ(p.create, 2);
  EXPECT_EQ(json::get_string(p.status, "startTime"), api::format_rfc3339(kNow));
  EXPECT_EQ(json::get_int_or(p.status, "active", -1), -1);  // omitted while 0, as upstream
  EXPECT_EQ(json::get_int_or(p.status, "ready", -1), 0);
  EXPECT_TRUE(p.remove_finalizer.empty());
}

TEST(JobSync, FinishedPodIsRecordedUncountedThenCounted) {
  auto job = make_job(R"({"completions":2,"parallelism":2})", R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto done = make_pod("Succeeded"), running = make_pod("Running", true, std::nullopt, false, true);
  SyncPlan p = plan_sync(job, {done, running}, kNow, {});
  const json::object* u = json::get_object(p.status_uncounted, "uncountedTerminatedPods");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(json::dump(*json::find(*u, "succeeded")), R"(["uid-)" + std::string(api::Meta(*done).name()) + R"("])");
  ASSERT_EQ(p.remove_finalizer.size(), 1u);
  EXPECT_EQ(p.remove_finalizer[0], done);
  EXPECT_EQ(json::get_int_or(p.status, "succeeded", 0), 1);
  EXPECT_EQ(json::get_int_or(p.status, "active", 0), 1);
  EXPECT_EQ(json::get_int_or(p.status, "ready", 0), 1);
  EXPECT_TRUE(json::get_object(p.status, "uncountedTerminatedPods")->empty());
  EXPECT_EQ(p.create, 0);  // 1 running + 1 succeeded = 2 completions

  // Next sync: the informer still shows the finalizer, the removal is known: not recounted.
  json::object job2 = job;
  job2["status"] = p.status;
  SyncPlan again = plan_sync(job2, {done, running}, kNow, {}, {std::string(api::Meta(*done).uid())});
  EXPECT_EQ(json::get_int_or(again.status, "succeeded", 0), 1);
  EXPECT_TRUE(again.remove_finalizer.empty());
}

TEST(JobSync, UncountedFromAnInterruptedSyncAreCountedOnce) {
  auto done = make_pod("Failed");
  const std::string uid(api::Meta(*done).uid());
  auto job = make_job(R"({"completions":1,"parallelism":1,"backoffLimit":6})",
                      R"({"failed":2,"startTime":"2027-01-15T08:00:00Z","uncountedTerminatedPods":{"failed":[")" + uid + R"("]}})");
  SyncPlan p = plan_sync(job, {done}, kNow, {});
  EXPECT_EQ(p.status_uncounted, api::object_or_empty(job, "status"));  // nothing new to record
  EXPECT_EQ(p.remove_finalizer.size(), 1u);
  EXPECT_EQ(json::get_int_or(p.status, "failed", 0), 3);
}

TEST(JobSync, CompletionsReachedThenComplete) {
  auto job = make_job(R"({"completions":2,"parallelism":2})", R"({"succeeded":1,"startTime":"2027-01-15T08:00:00Z"})");
  auto done = make_pod("Succeeded");
  SyncPlan p = plan_sync(job, {done}, kNow, {});
  EXPECT_EQ(cond(p.status, "SuccessCriteriaMet"), "True/CompletionsReached");
  EXPECT_EQ(cond(p.status, "Complete"), "True/CompletionsReached");
  EXPECT_EQ(json::get_string(p.status, "completionTime"), api::format_rfc3339(kNow));
  EXPECT_EQ(p.create, 0);
}

TEST(JobSync, CompleteWaitsForLingeringPods) {
  // A work queue: one success ends it; the other pod is stopped first, not counted failed.
  auto job = make_job(R"({"parallelism":2})", R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto done = make_pod("Succeeded");
  auto other = make_pod("Running");
  SyncPlan p = plan_sync(job, {done, other}, kNow, {});
  EXPECT_EQ(cond(p.status, "Complete"), "");  // a pod is still running
  // judge() waits for the running pod of a work queue; nothing new is started.
  EXPECT_EQ(p.create, 0);
  json::object job2 = job;
  job2["status"] = p.status;
  auto stopped = make_pod("Succeeded");
  SyncPlan q = plan_sync(job2, {stopped}, kNow, {});
  EXPECT_EQ(cond(q.status, "Complete"), "True/CompletionsReached");
  EXPECT_EQ(json::get_int_or(q.status, "succeeded", 0), 2);
}

TEST(JobSync, BackoffLimitExceededFailsAfterPodsStop) {
  auto job = make_job(R"({"completions":3,"parallelism":2,"backoffLimit":1})",
                      R"({"failed":1,"startTime":"2027-01-15T08:00:00Z"})");
  auto failed = make_pod("Failed"), running = make_pod("Running");
  SyncPlan p = plan_sync(job, {failed, running}, kNow, {});
  EXPECT_EQ(cond(p.status, "FailureTarget"), "True/BackoffLimitExceeded");
  EXPECT_EQ(cond(p.status, "Failed"), "");
  ASSERT_EQ(p.to_delete.size(), 1u);
  EXPECT_EQ(p.to_delete[0], running);
  EXPECT_EQ(p.create, 0);
  EXPECT_EQ(json::get_int_or(p.status, "terminating", -1), 1);
  // The deleted pod comes back being deleted: counted failed, then the Job is Failed.
  json::object job2 = job;
  job2["status"] = p.status;
  auto gone = make_pod("Running", true, std::nullopt, /*deleting=*/true);
  SyncPlan q = plan_sync(job2, {gone}, kNow, {});
  EXPECT_EQ(json::get_int_or(q.status, "failed", 0), 3);
  EXPECT_EQ(cond(q.status, "Failed"), "");  // still terminating
  json::object job3 = job;
  job3["status"] = q.status;
  SyncPlan r = plan_sync(job3, {}, kNow, {});
  EXPECT_EQ(cond(r.status, "Failed"), "True/BackoffLimitExceeded");
  EXPECT_EQ(json::get_string(r.status, "completionTime"), "");
}

TEST(JobSync, OnFailureRestartsCountTowardsBackoffLimit) {
  auto job = make_job(R"({"completions":1,"parallelism":1,"backoffLimit":2,"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}})",
                      R"({"startTime":"2027-01-15T08:00:00Z"})");
  json::object pod = *make_pod("Running");
  pod["status"].as_object()["containerStatuses"] = json::array{json::object{{"name", "c"}, {"restartCount", 1}}};
  SyncPlan p = plan_sync(job, {std::make_shared<const json::object>(pod)}, kNow, {});
  EXPECT_EQ(cond(p.status, "FailureTarget"), "");
  pod["status"].as_object()["containerStatuses"] = json::array{json::object{{"name", "c"}, {"restartCount", 2}}};
  SyncPlan q = plan_sync(job, {std::make_shared<const json::object>(pod)}, kNow, {});
  EXPECT_EQ(cond(q.status, "FailureTarget"), "True/BackoffLimitExceeded");
}

TEST(JobSync, PodFailurePolicy) {
  const std::string spec = R"({"completions":1,"parallelism":1,"backoffLimit":6,"podFailurePolicy":{"rules":[
      {"action":"FailJob","onExitCodes":{"containerName":"c","operator":"In","values":[42]}},
      {"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget"}]}]}})";
  auto job = make_job(spec, R"({"startTime":"2027-01-15T08:00:00Z"})");
  json::object exit42 = *make_pod("Failed");
  exit42["status"].as_object()["containerStatuses"] =
      json::array{json::object{{"name", "c"}, {"state", json::object{{"terminated", json::object{{"exitCode", 42}}}}}}};
  SyncPlan p = plan_sync(job, {std::make_shared<const json::object>(exit42)}, kNow, {});
  EXPECT_EQ(cond(p.status, "FailureTarget"), "True/PodFailurePolicy");
  EXPECT_EQ(cond(p.status, "Failed"), "True/PodFailurePolicy");
  const json::object* c = nullptr;
  for (const auto& v : *json::get_array(p.status, "conditions")) {
    if (json::get_string(v.as_object(), "type") == "Failed") c = &v.as_object();
  }
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(json::get_string(*c, "message"), "Container c for pod default/" + std::string(api::Meta(exit42).name()) +
                                                 " failed with exit code 42 matching FailJob rule at index 0");
  EXPECT_EQ(json::get_int_or(p.status, "failed", 0), 1);

  // Ignore: not counted, finalizer released, replaced without back-off.
  json::object disrupted = *make_pod("Failed");
  disrupted["status"].as_object()["conditions"] = json::array{json::object{{"type", "DisruptionTarget"}, {"status", "True"}}};
  SyncPlan q = plan_sync(job, {std::make_shared<const json::object>(disrupted)}, kNow, {});
  EXPECT_EQ(cond(q.status, "FailureTarget"), "");
  EXPECT_EQ(json::get_int_or(q.status, "failed", 0), 0);
  EXPECT_EQ(q.remove_finalizer.size(), 1u);
  EXPECT_EQ(q.create, 1);

  // A pod being deleted counts only once Failed, and is not replaced before.
  auto terminating = make_pod("Running", true, std::nullopt, /*deleting=*/true);
  SyncPlan r = plan_sync(job, {terminating}, kNow, {});
  EXPECT_EQ(json::get_int_or(r.status, "failed", 0), 0);
  EXPECT_TRUE(r.remove_finalizer.empty());
  EXPECT_EQ(r.create, 0);
  EXPECT_EQ(json::get_int_or(r.status, "terminating", 0), 1);
}

TEST(JobSync, FailedPodsAreReplacedAfterBackoff) {
  auto job = make_job(R"({"completions":1,"parallelism":1,"backoffLimit":6})", R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto failed = make_pod("Failed");
  SyncPlan p = plan_sync(job, {failed}, kNow, {});
  EXPECT_EQ(p.backoff.failures_since_success, 1);
  EXPECT_EQ(p.create, 0);
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, 10s);
  json::object job2 = job;
  job2["status"] = p.status;
  SyncPlan early = plan_sync(job2, {}, kNow + 9s, p.backoff);
  EXPECT_EQ(early.create, 0);
  EXPECT_EQ(*early.requeue_after, 1s);
  SyncPlan later = plan_sync(job2, {}, kNow + 10s, p.backoff);
  EXPECT_EQ(later.create, 1);
  // Doubling: the second failure waits 20 s.
  BackoffRecord two{.failures_since_success = 2, .last_failure = kNow};
  EXPECT_EQ(plan_sync(job2, {}, kNow + 19s, two).create, 0);
  EXPECT_EQ(plan_sync(job2, {}, kNow + 20s, two).create, 1);
}

TEST(JobSync, ActiveDeadlineExceeded) {
  auto job = make_job(R"({"completions":1,"parallelism":1,"activeDeadlineSeconds":30})",
                      R"({"startTime":")" + api::format_rfc3339(kNow - 10s) + R"("})");
  auto running = make_pod("Running");
  SyncPlan p = plan_sync(job, {running}, kNow, {});
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, 21s);
  SyncPlan late = plan_sync(job, {running}, kNow + 20s, {});
  EXPECT_EQ(cond(late.status, "FailureTarget"), "True/DeadlineExceeded");
  EXPECT_EQ(late.to_delete.size(), 1u);
}

TEST(JobSync, SuspendAndResume) {
  auto job = make_job(R"({"completions":3,"parallelism":2,"suspend":true})",
                      R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto a = make_pod("Running"), b = make_pod("Pending");
  SyncPlan p = plan_sync(job, {a, b}, kNow, {});
  EXPECT_EQ(p.to_delete.size(), 2u);
  EXPECT_EQ(p.create, 0);
  EXPECT_EQ(cond(p.status, "Suspended"), "True/JobSuspended");
  EXPECT_FALSE(p.status.contains("startTime"));
  json::object resumed = make_job(R"({"completions":3,"parallelism":2,"suspend":false})");
  resumed["status"] = p.status;
  SyncPlan q = plan_sync(resumed, {}, kNow + 5s, {});
  EXPECT_EQ(cond(q.status, "Suspended"), "False/JobResumed");
  EXPECT_EQ(json::get_string(q.status, "startTime"), api::format_rfc3339(kNow + 5s));
  EXPECT_EQ(q.create, 2);
}

TEST(JobSync, IndexedCreatesMissingIndexesAndRecordsCompleted) {
  auto job = make_job(R"({"completions":4,"parallelism":2,"completionMode":"Indexed"})",
                      R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto zero = make_pod("Succeeded", true, 0), one = make_pod("Running", true, 1), dup = make_pod("Running", true, 1);
  SyncPlan p = plan_sync(job, {zero, one, dup}, kNow, {});
  EXPECT_EQ(json::get_string(p.status, "completedIndexes"), "0");
  ASSERT_EQ(p.to_delete.size(), 1u);
  EXPECT_EQ(p.to_delete[0], dup);  // the newer of two pods for index 1
  EXPECT_EQ(p.create_indexes, (std::vector<int32_t>{2}));
}

// A cached Job may lag its own status write (a conflict, a slow watch): a succeeded pod
// whose finalizer is already gone still completes its index, which gets no second pod.
TEST(JobSync, IndexedSucceededPodWithoutFinalizerBlocksItsIndexUnderAStaleStatus) {
  auto job = make_job(R"({"completions":3,"parallelism":3,"completionMode":"Indexed"})",
                      R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto zero = make_pod("Succeeded", false, 0), one = make_pod("Running", true, 1);
  SyncPlan p = plan_sync(job, {zero, one}, kNow, {});
  EXPECT_EQ(p.create_indexes, (std::vector<int32_t>{2}));
  EXPECT_EQ(json::get_string(p.status, "completedIndexes"), "0");
}

TEST(JobSync, PodForIndexedJob) {
  auto job = make_job(R"({"completions":4,"parallelism":2,"completionMode":"Indexed"})");
  json::object pod = pod_for_job(job, 3);
  api::Meta m(pod);
  EXPECT_EQ(m.generate_name(), "pi-3-");
  EXPECT_EQ(m.annotation(kCompletionIndex), "3");
  EXPECT_EQ(m.label(kCompletionIndex), "3");
  EXPECT_TRUE(m.has_finalizer(kTrackingFinalizer));
  EXPECT_EQ(json::get_string(*json::get_object(pod, "spec"), "hostname"), "pi-3");
  const json::object& c = json::get_array(*json::get_object(pod, "spec"), "containers")->at(0).as_object();
  EXPECT_EQ(json::dump(c.at("env")),
            R"([{"name":"JOB_COMPLETION_INDEX","valueFrom":{"fieldRef":{"fieldPath":"metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}])");
  auto ref = api::Meta(pod).controller_ref();
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->kind, "Job");
  EXPECT_EQ(ref->uid, "job-uid");
  json::object plain = pod_for_job(job, std::nullopt);
  EXPECT_EQ(api::Meta(plain).generate_name(), "pi-");
  EXPECT_FALSE(api::Meta(plain).annotation(kCompletionIndex));
}

TEST(JobSync, FinishedJobOnlyReleasesFinalizers) {
  auto job = make_job(R"({"completions":1})",
                      R"({"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]})");
  auto p1 = make_pod("Succeeded");
  SyncPlan p = plan_sync(job, {p1}, kNow, {});
  EXPECT_EQ(p.remove_finalizer.size(), 1u);
  EXPECT_EQ(p.status, api::object_or_empty(job, "status"));
  EXPECT_EQ(p.create, 0);
}

TEST(JobSync, ParallelismDecreaseDeletesSurplus) {
  auto job = make_job(R"({"completions":10,"parallelism":1})", R"({"startTime":"2027-01-15T08:00:00Z"})");
  auto a = make_pod("Running", true, std::nullopt, false, true), b = make_pod("Pending");
  SyncPlan p = plan_sync(job, {a, b}, kNow, {});
  ASSERT_EQ(p.to_delete.size(), 1u);
  EXPECT_EQ(p.to_delete[0], b);  // the pending one goes first
  EXPECT_EQ(json::get_int_or(p.status, "active", 0), 1);
}

}  // namespace
}  // namespace kernlet::controllers::job
