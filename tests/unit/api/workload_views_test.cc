// Views of Deployment, ReplicaSet, DaemonSet, Job, CronJob and HorizontalPodAutoscaler, read
// from realistic manifests, with Kubernetes' defaults for absent fields; and the
// int-or-percent arithmetic of rolling updates.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "api/objects/autoscaling.h"
#include "api/objects/batch.h"
#include "api/objects/workloads.h"

namespace kernlet::api {
namespace {

json::object load(std::string_view file) {
  std::ifstream in(std::string(KERNLET_TESTDATA) + "/" + std::string(file));
  std::stringstream ss;
  ss << in.rdbuf();
  auto o = decode_object(ss.str());
  EXPECT_TRUE(o.ok()) << file << ": " << o.error().message();
  return o.ok() ? *o : json::object{};
}

json::object obj(std::string_view text) {
  auto o = decode_object(text);
  EXPECT_TRUE(o.ok()) << text << ": " << o.error().message();
  return o.ok() ? *o : json::object{};
}

Quantity q(std::string_view text) { return *Quantity::parse(text); }

IntOrString pct(std::string_view s) { return IntOrString{false, 0, s}; }
IntOrString num(int64_t v) { return IntOrString{true, v, {}}; }

// ---- scaled_value_from_int_or_percent ---------------------------------------------------

TEST(ScaledValueFromIntOrPercent, FollowsKubernetes) {
  struct Case {
    IntOrString v;
    int64_t total;
    bool round_up;
    int64_t want;
  };
  const Case cases[] = {
      {pct("25%"), 10, true, 3},    // 2.5 rounds up
      {pct("25%"), 10, false, 2},   // 2.5 rounds down
      {pct("0%"), 10, true, 0},
      {pct("100%"), 7, false, 7},
      {pct("100%"), 7, true, 7},
      {pct("33%"), 3, true, 1},     // 0.99
      {pct("33%"), 3, false, 0},
      {pct("150%"), 4, true, 6},    // more than the total is allowed here
      {pct("50%"), 0, true, 0},
      {pct("+10%"), 10, true, 1},   // strconv.Atoi accepts a sign
      {pct("-10%"), 15, true, -1},  // ceil(-1.5)
      {pct("-10%"), 15, false, -2},
      {pct("25%"), 4, true, 1},     // exact: no rounding either way
      {pct("25%"), 4, false, 1},
      {num(5), 100, true, 5},       // an int is taken as is
      {num(0), 100, false, 0},
  };
  for (const Case& c : cases) {
    auto r = scaled_value_from_int_or_percent(c.v, c.total, c.round_up);
    ASSERT_TRUE(r.ok()) << c.v.str_value << " of " << c.total << ": " << r.error().message();
    EXPECT_EQ(*r, c.want) << (c.v.is_int ? std::to_string(c.v.int_value)
                                          : std::string(c.v.str_value))
                          << " of " << c.total << (c.round_up ? " up" : " down");
  }
}

TEST(ScaledValueFromIntOrPercent, RejectsWhatKubernetesRejects) {
  auto not_percent = scaled_value_from_int_or_percent(pct("25"), 10, true);
  ASSERT_FALSE(not_percent.ok());
  EXPECT_EQ(not_percent.error().message(),
            "invalid value for IntOrString: invalid type: string is not a percentage");
  EXPECT_EQ(not_percent.error().code(), ErrorCode::kInvalidArgument);
  auto abc = scaled_value_from_int_or_percent(pct("abc%"), 10, true);
  ASSERT_FALSE(abc.ok());
  EXPECT_NE(abc.error().message().find("\"abc%\""), std::string::npos) << abc.error().message();
  for (std::string_view bad : {"", "%", "2.5%", " 25%", "25 %", "25%%", "+-5%", "0x10%"}) {
    EXPECT_FALSE(scaled_value_from_int_or_percent(pct(bad), 10, true).ok()) << bad;
  }
}

// ---- Deployment -------------------------------------------------------------------------

TEST(DeploymentView, ReadsADeployment) {
  json::object doc = load("deployment.json");
  DeploymentView d(doc);
  EXPECT_EQ(d.meta().generation(), 7);
  DeploymentSpecView spec = d.spec();
  EXPECT_EQ(spec.replicas(), 4);
  ASSERT_NE(spec.selector(), nullptr);
  EXPECT_NE(json::get_object(*spec.selector(), "matchLabels"), nullptr);
  EXPECT_EQ(spec.template_().meta().label("tier"), "frontend");
  ASSERT_EQ(spec.template_().spec().containers().size(), 1u);
  EXPECT_EQ(spec.template_().spec().containers()[0].image(), "registry.example.com/shop/web:2.14.1");
  EXPECT_EQ(spec.template_().spec().restart_policy(), "Always");  // pod defaults apply too
  EXPECT_EQ(spec.strategy_type(), "RollingUpdate");
  EXPECT_EQ(spec.max_surge(), num(1));
  EXPECT_EQ(spec.max_unavailable(), pct("10%"));
  EXPECT_EQ(spec.min_ready_seconds(), 5);
  EXPECT_EQ(spec.revision_history_limit(), 3);
  EXPECT_EQ(spec.progress_deadline_seconds(), 300);
  EXPECT_FALSE(spec.paused());

  DeploymentStatusView st = d.status();
  EXPECT_EQ(st.observed_generation(), 7);
  EXPECT_EQ(st.replicas(), 5);
  EXPECT_EQ(st.updated_replicas(), 2);
  EXPECT_EQ(st.ready_replicas(), 4);
  EXPECT_EQ(st.available_replicas(), 3);
  EXPECT_EQ(st.unavailable_replicas(), 2);
  EXPECT_EQ(st.terminating_replicas(), 1);
  EXPECT_EQ(st.collision_count(), 1);
  ASSERT_EQ(st.conditions().size(), 2u);
  auto progressing = st.condition("Progressing");
  ASSERT_TRUE(progressing.has_value());
  EXPECT_TRUE(progressing->is_true());
  EXPECT_EQ(progressing->reason(), "ReplicaSetUpdated");
  EXPECT_FALSE(st.condition("ReplicaFailure").has_value());

  // maxUnavailable 10% of 4 replicas rounds down to 0; maxSurge stays 1.
  EXPECT_EQ(*scaled_value_from_int_or_percent(*spec.max_unavailable(), spec.replicas(), false), 0);
}

TEST(DeploymentView, DefaultsOfAMinimalDeployment) {
  json::object doc = obj(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},
    "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}})");
  DeploymentView d(doc);
  DeploymentSpecView spec = d.spec();
  EXPECT_EQ(spec.replicas(), 1);
  EXPECT_EQ(spec.strategy_type(), "RollingUpdate");
  EXPECT_EQ(spec.max_surge(), pct("25%"));
  EXPECT_EQ(spec.max_unavailable(), pct("25%"));
  EXPECT_EQ(spec.min_ready_seconds(), 0);
  EXPECT_EQ(spec.revision_history_limit(), 10);
  EXPECT_EQ(spec.progress_deadline_seconds(), 600);
  EXPECT_FALSE(spec.paused());
  DeploymentStatusView st = d.status();
  EXPECT_EQ(st.observed_generation(), 0);
  EXPECT_EQ(st.replicas(), 0);
  EXPECT_EQ(st.available_replicas(), 0);
  EXPECT_EQ(st.terminating_replicas(), std::nullopt);
  EXPECT_EQ(st.collision_count(), std::nullopt);
  EXPECT_TRUE(st.conditions().empty());
}

TEST(DeploymentView, ExplicitZeroReplicasAndRecreate) {
  json::object doc = obj(R"({"spec":{"replicas":0,"paused":true,"strategy":{"type":"Recreate"},
    "revisionHistoryLimit":0}})");
  DeploymentSpecView spec = DeploymentView(doc).spec();
  EXPECT_EQ(spec.replicas(), 0);  // scaled to zero, not defaulted
  EXPECT_EQ(spec.revision_history_limit(), 0);
  EXPECT_TRUE(spec.paused());
  EXPECT_EQ(spec.strategy_type(), "Recreate");
  EXPECT_EQ(spec.max_surge(), std::nullopt);
  EXPECT_EQ(spec.max_unavailable(), std::nullopt);
}

TEST(DeploymentView, PartialRollingUpdateDefaultsTheOtherField) {
  json::object doc = obj(R"({"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":0}}}})");
  DeploymentSpecView spec = DeploymentView(doc).spec();
  EXPECT_EQ(spec.max_unavailable(), num(0));
  EXPECT_EQ(spec.max_surge(), pct("25%"));
}

// ---- ReplicaSet / DaemonSet -------------------------------------------------------------

TEST(ReplicaSetView, ReadsAndDefaults) {
  json::object doc = obj(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
    "metadata":{"name":"web-7d4b9c8f6d","ownerReferences":[{"apiVersion":"apps/v1",
      "kind":"Deployment","name":"web","uid":"d-1","controller":true}]},
    "spec":{"replicas":3,"minReadySeconds":10,
      "selector":{"matchLabels":{"app":"web","pod-template-hash":"7d4b9c8f6d"}},
      "template":{"metadata":{"labels":{"app":"web","pod-template-hash":"7d4b9c8f6d"}},
                  "spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}},
    "status":{"replicas":3,"fullyLabeledReplicas":3,"readyReplicas":2,"availableReplicas":2,
              "observedGeneration":4}})");
  ReplicaSetView rs(doc);
  EXPECT_EQ(rs.meta().controller_ref()->kind, "Deployment");
  EXPECT_EQ(rs.spec().replicas(), 3);
  EXPECT_EQ(rs.spec().min_ready_seconds(), 10);
  ASSERT_NE(rs.spec().selector(), nullptr);
  EXPECT_EQ(rs.spec().template_().meta().label("pod-template-hash"), "7d4b9c8f6d");
  EXPECT_EQ(rs.spec().template_().spec().containers()[0].name(), "web");
  EXPECT_EQ(rs.status().replicas(), 3);
  EXPECT_EQ(rs.status().fully_labeled_replicas(), 3);
  EXPECT_EQ(rs.status().ready_replicas(), 2);
  EXPECT_EQ(rs.status().available_replicas(), 2);
  EXPECT_EQ(rs.status().observed_generation(), 4);
  EXPECT_EQ(rs.status().terminating_replicas(), std::nullopt);
  EXPECT_TRUE(rs.status().conditions().empty());

  json::object minimal = obj(R"({"kind":"ReplicaSet","spec":{}})");
  EXPECT_EQ(ReplicaSetView(minimal).spec().replicas(), 1);
  EXPECT_EQ(ReplicaSetView(minimal).spec().selector(), nullptr);
  EXPECT_EQ(ReplicaSetView(minimal).spec().min_ready_seconds(), 0);
  EXPECT_EQ(ReplicaSetView(minimal).status().ready_replicas(), 0);
}

TEST(DaemonSetView, ReadsAndDefaults) {
  json::object doc = obj(R"({"apiVersion":"apps/v1","kind":"DaemonSet",
    "metadata":{"name":"node-exporter","namespace":"monitoring"},
    "spec":{"selector":{"matchLabels":{"app":"node-exporter"}},
      "template":{"metadata":{"labels":{"app":"node-exporter"}},
        "spec":{"hostNetwork":true,"containers":[{"name":"exporter","image":"prom/node-exporter:v1.8.2"}]}}},
    "status":{"currentNumberScheduled":3,"numberMisscheduled":1,"desiredNumberScheduled":3,
      "numberReady":2,"observedGeneration":2,"updatedNumberScheduled":3,"numberAvailable":2,
      "numberUnavailable":1}})");
  DaemonSetView ds(doc);
  DaemonSetSpecView spec = ds.spec();
  ASSERT_NE(spec.selector(), nullptr);
  EXPECT_TRUE(spec.template_().spec().host_network());
  EXPECT_EQ(spec.update_strategy_type(), "RollingUpdate");
  EXPECT_EQ(spec.max_unavailable(), num(1));
  EXPECT_EQ(spec.max_surge(), num(0));
  EXPECT_EQ(spec.min_ready_seconds(), 0);
  EXPECT_EQ(spec.revision_history_limit(), 10);
  DaemonSetStatusView st = ds.status();
  EXPECT_EQ(st.current_number_scheduled(), 3);
  EXPECT_EQ(st.number_misscheduled(), 1);
  EXPECT_EQ(st.desired_number_scheduled(), 3);
  EXPECT_EQ(st.number_ready(), 2);
  EXPECT_EQ(st.observed_generation(), 2);
  EXPECT_EQ(st.updated_number_scheduled(), 3);
  EXPECT_EQ(st.number_available(), 2);
  EXPECT_EQ(st.number_unavailable(), 1);
  EXPECT_EQ(st.collision_count(), std::nullopt);
  EXPECT_TRUE(st.conditions().empty());
}

TEST(DaemonSetView, StrategyVariants) {
  json::object on_delete = obj(R"({"spec":{"updateStrategy":{"type":"OnDelete"}}})");
  EXPECT_EQ(DaemonSetView(on_delete).spec().update_strategy_type(), "OnDelete");
  EXPECT_EQ(DaemonSetView(on_delete).spec().max_unavailable(), std::nullopt);
  EXPECT_EQ(DaemonSetView(on_delete).spec().max_surge(), std::nullopt);
  json::object surge = obj(R"({"spec":{"updateStrategy":{"type":"RollingUpdate",
    "rollingUpdate":{"maxSurge":"10%","maxUnavailable":0}}}})");
  EXPECT_EQ(DaemonSetView(surge).spec().max_surge(), pct("10%"));
  EXPECT_EQ(DaemonSetView(surge).spec().max_unavailable(), num(0));
}

// ---- Job / CronJob ----------------------------------------------------------------------

TEST(JobView, ReadsAnIndexedJob) {
  json::object doc = load("job.json");
  JobView job(doc);
  JobSpecView spec = job.spec();
  EXPECT_EQ(spec.parallelism(), 3);
  EXPECT_EQ(spec.completions(), 10);
  EXPECT_EQ(spec.completion_mode(), "Indexed");
  // backoffLimit unset with a per-index limit: effectively unlimited.
  EXPECT_EQ(spec.backoff_limit(), 2147483647);
  EXPECT_EQ(spec.backoff_limit_per_index(), 2);
  EXPECT_EQ(spec.max_failed_indexes(), 3);
  EXPECT_EQ(spec.active_deadline_seconds(), 3600);
  EXPECT_EQ(spec.ttl_seconds_after_finished(), 600);
  EXPECT_FALSE(spec.suspend());
  EXPECT_EQ(spec.pod_replacement_policy(), "Failed");
  ASSERT_NE(spec.pod_failure_policy(), nullptr);
  EXPECT_EQ(json::get_array(*spec.pod_failure_policy(), "rules")->size(), 1u);
  EXPECT_EQ(spec.success_policy(), nullptr);
  ASSERT_NE(spec.selector(), nullptr);
  EXPECT_FALSE(spec.manual_selector());
  EXPECT_EQ(spec.managed_by(), std::nullopt);
  EXPECT_EQ(spec.template_().spec().restart_policy(), "Never");
  EXPECT_EQ(spec.template_().meta().label("batch.kubernetes.io/job-name"), "reindex-29384750");

  JobStatusView st = job.status();
  EXPECT_EQ(st.active(), 3);
  EXPECT_EQ(st.succeeded(), 6);
  EXPECT_EQ(st.failed(), 1);
  EXPECT_EQ(st.terminating(), 0);
  EXPECT_EQ(st.ready(), 2);
  EXPECT_EQ(st.start_time(), "2026-11-20T09:00:04Z");
  EXPECT_EQ(st.completion_time(), "");
  EXPECT_EQ(st.completed_indexes(), "0-4,6");
  EXPECT_EQ(st.failed_indexes(), "");  // tracked, none failed: not the same as unset
  ASSERT_NE(st.uncounted_terminated_pods(), nullptr);
  ASSERT_EQ(st.conditions().size(), 1u);
  ASSERT_TRUE(st.condition("Suspended").has_value());
  EXPECT_FALSE(st.condition("Suspended")->is_true());
  EXPECT_FALSE(job_is_finished(job));
}

TEST(JobView, DefaultsOfAOnePodJob) {
  json::object doc = obj(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},
    "spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"pi","image":"perl:5.34"}]}}}})");
  JobView job(doc);
  JobSpecView spec = job.spec();
  EXPECT_EQ(spec.parallelism(), 1);
  EXPECT_EQ(spec.completions(), 1);  // both unset: one pod, one completion
  EXPECT_EQ(spec.completion_mode(), "NonIndexed");
  EXPECT_EQ(spec.backoff_limit(), 6);
  EXPECT_EQ(spec.backoff_limit_per_index(), std::nullopt);
  EXPECT_EQ(spec.max_failed_indexes(), std::nullopt);
  EXPECT_EQ(spec.active_deadline_seconds(), std::nullopt);
  EXPECT_EQ(spec.ttl_seconds_after_finished(), std::nullopt);
  EXPECT_FALSE(spec.suspend());
  EXPECT_EQ(spec.pod_replacement_policy(), "TerminatingOrFailed");
  EXPECT_EQ(spec.pod_failure_policy(), nullptr);
  EXPECT_EQ(spec.selector(), nullptr);
  EXPECT_FALSE(spec.manual_selector());
  JobStatusView st = job.status();
  EXPECT_EQ(st.active(), 0);
  EXPECT_EQ(st.succeeded(), 0);
  EXPECT_EQ(st.failed(), 0);
  EXPECT_EQ(st.terminating(), std::nullopt);
  EXPECT_EQ(st.ready(), std::nullopt);
  EXPECT_EQ(st.start_time(), "");
  EXPECT_EQ(st.failed_indexes(), std::nullopt);
  EXPECT_EQ(st.uncounted_terminated_pods(), nullptr);
}

TEST(JobView, CompletionsAndParallelismDefaultsInteract) {
  // A work queue: parallelism set, completions unset stays unset.
  json::object queue = obj(R"({"spec":{"parallelism":5}})");
  EXPECT_EQ(JobView(queue).spec().parallelism(), 5);
  EXPECT_EQ(JobView(queue).spec().completions(), std::nullopt);
  json::object fixed = obj(R"({"spec":{"completions":8}})");
  EXPECT_EQ(JobView(fixed).spec().parallelism(), 1);
  EXPECT_EQ(JobView(fixed).spec().completions(), 8);
  json::object zero = obj(R"({"spec":{"parallelism":0,"suspend":true,"backoffLimit":0,
    "podFailurePolicy":{"rules":[]}}})");
  EXPECT_EQ(JobView(zero).spec().parallelism(), 0);
  EXPECT_EQ(JobView(zero).spec().completions(), std::nullopt);
  EXPECT_TRUE(JobView(zero).spec().suspend());
  EXPECT_EQ(JobView(zero).spec().backoff_limit(), 0);
  EXPECT_EQ(JobView(zero).spec().pod_replacement_policy(), "Failed");
}

TEST(JobView, FinishedMeansCompleteOrFailedTrue) {
  json::object complete = obj(R"({"status":{"succeeded":1,
    "completionTime":"2026-11-20T09:05:00Z","conditions":[
      {"type":"SuccessCriteriaMet","status":"True"},{"type":"Complete","status":"True"}]}})");
  EXPECT_TRUE(job_is_finished(JobView(complete)));
  EXPECT_EQ(JobView(complete).status().completion_time(), "2026-11-20T09:05:00Z");
  json::object failed = obj(R"({"status":{"conditions":[{"type":"Failed","status":"True",
    "reason":"BackoffLimitExceeded"}]}})");
  EXPECT_TRUE(job_is_finished(JobView(failed)));
  json::object target = obj(R"({"status":{"conditions":[{"type":"FailureTarget","status":"True"},
    {"type":"Failed","status":"False"}]}})");
  EXPECT_FALSE(job_is_finished(JobView(target)));
}

TEST(CronJobView, ReadsACronJob) {
  json::object doc = load("cronjob.json");
  CronJobView cj(doc);
  CronJobSpecView spec = cj.spec();
  EXPECT_EQ(spec.schedule(), "30 */2 * * *");
  EXPECT_EQ(spec.time_zone(), "Europe/Paris");
  EXPECT_EQ(spec.concurrency_policy(), "Forbid");
  EXPECT_FALSE(spec.suspend());
  EXPECT_EQ(spec.starting_deadline_seconds(), 120);
  EXPECT_EQ(spec.successful_jobs_history_limit(), 5);
  EXPECT_EQ(spec.failed_jobs_history_limit(), 1);  // defaulted
  JobTemplateView jt = spec.job_template();
  EXPECT_EQ(jt.meta().label("app.kubernetes.io/name"), "reindex");
  EXPECT_EQ(jt.spec().backoff_limit(), 2);
  EXPECT_EQ(jt.spec().template_().spec().restart_policy(), "OnFailure");
  EXPECT_EQ(jt.spec().template_().spec().containers()[0].name(), "reindex");

  CronJobStatusView st = cj.status();
  auto active = st.active();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].kind(), "Job");
  EXPECT_EQ(active[0].name(), "reindex-29384750");
  EXPECT_EQ(active[0].uid(), "7f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6");
  EXPECT_EQ(st.last_schedule_time(), "2026-11-20T08:30:00Z");
  EXPECT_EQ(st.last_successful_time(), "2026-11-20T06:41:17Z");
}

TEST(CronJobView, Defaults) {
  json::object doc = obj(R"({"kind":"CronJob","spec":{"schedule":"@hourly",
    "jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}}})");
  CronJobSpecView spec = CronJobView(doc).spec();
  EXPECT_EQ(spec.schedule(), "@hourly");
  EXPECT_EQ(spec.time_zone(), std::nullopt);
  EXPECT_EQ(spec.concurrency_policy(), "Allow");
  EXPECT_FALSE(spec.suspend());
  EXPECT_EQ(spec.starting_deadline_seconds(), std::nullopt);
  EXPECT_EQ(spec.successful_jobs_history_limit(), 3);
  EXPECT_EQ(spec.failed_jobs_history_limit(), 1);
  EXPECT_EQ(spec.job_template().spec().parallelism(), 1);
  EXPECT_TRUE(CronJobView(doc).status().active().empty());
  EXPECT_EQ(CronJobView(doc).status().last_schedule_time(), "");
  json::object zero = obj(R"({"spec":{"successfulJobsHistoryLimit":0,"failedJobsHistoryLimit":0,
    "suspend":true}})");
  EXPECT_EQ(CronJobView(zero).spec().successful_jobs_history_limit(), 0);
  EXPECT_EQ(CronJobView(zero).spec().failed_jobs_history_limit(), 0);
  EXPECT_TRUE(CronJobView(zero).spec().suspend());
}

// ---- HorizontalPodAutoscaler ------------------------------------------------------------

TEST(HorizontalPodAutoscalerView, ReadsEveryMetricType) {
  json::object doc = load("hpa.json");
  HorizontalPodAutoscalerView hpa(doc);
  HorizontalPodAutoscalerSpecView spec = hpa.spec();
  EXPECT_EQ(spec.scale_target_ref().kind(), "Deployment");
  EXPECT_EQ(spec.scale_target_ref().name(), "web");
  EXPECT_EQ(spec.scale_target_ref().api_version(), "apps/v1");
  EXPECT_EQ(spec.min_replicas(), 2);
  EXPECT_EQ(spec.max_replicas(), 12);

  auto m = spec.metrics();
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].type(), "Resource");
  EXPECT_EQ(m[0].resource_name(), "cpu");
  EXPECT_EQ(m[0].container(), "");
  EXPECT_EQ(m[0].metric_name(), "");
  EXPECT_EQ(m[0].target().type(), "Utilization");
  EXPECT_EQ(m[0].target().average_utilization(), 65);
  EXPECT_EQ(*m[0].target().average_value(), std::nullopt);

  EXPECT_EQ(m[1].resource_name(), "memory");
  EXPECT_EQ(m[1].target().type(), "AverageValue");
  EXPECT_EQ(m[1].target().average_utilization(), std::nullopt);
  EXPECT_EQ(*m[1].target().average_value(), q("512Mi"));

  EXPECT_EQ(m[2].type(), "ContainerResource");
  EXPECT_EQ(m[2].resource_name(), "cpu");
  EXPECT_EQ(m[2].container(), "web");
  EXPECT_EQ(m[2].target().average_utilization(), 70);

  EXPECT_EQ(m[3].type(), "Pods");
  EXPECT_EQ(m[3].resource_name(), "");
  EXPECT_EQ(m[3].metric_name(), "http_requests_per_second");
  EXPECT_EQ(m[3].metric_selector(), nullptr);
  EXPECT_EQ(*m[3].target().average_value(), q("1500m"));

  EXPECT_EQ(m[4].type(), "Object");
  EXPECT_EQ(m[4].metric_name(), "requests-per-second");
  ASSERT_TRUE(m[4].described_object().has_value());
  EXPECT_EQ(m[4].described_object()->kind(), "Ingress");
  EXPECT_EQ(m[4].described_object()->name(), "main-route");
  EXPECT_EQ(m[4].target().type(), "Value");
  EXPECT_EQ(*m[4].target().value(), q("10k"));
  EXPECT_FALSE(m[3].described_object().has_value());

  EXPECT_EQ(m[5].type(), "External");
  EXPECT_EQ(m[5].metric_name(), "queue_messages_ready");
  ASSERT_NE(m[5].metric_selector(), nullptr);
  EXPECT_EQ(*m[5].target().average_value(), Quantity::from_int(30));  // a bare JSON number

  ASSERT_NE(spec.behavior(), nullptr);
  HpaScalingRulesView down = spec.scale_down();
  EXPECT_EQ(down.stabilization_window_seconds(), std::nullopt);  // the controller's flag
  EXPECT_EQ(down.select_policy(), "Min");
  EXPECT_EQ(down.policies(),
            (std::vector<HpaScalingPolicy>{{"Pods", 2, 60}, {"Percent", 10, 60}}));
  EXPECT_EQ(*down.tolerance(), std::nullopt);
  HpaScalingRulesView up = spec.scale_up();
  EXPECT_EQ(up.stabilization_window_seconds(), 30);
  EXPECT_EQ(up.select_policy(), "Max");
  EXPECT_EQ(up.policies(),
            (std::vector<HpaScalingPolicy>{{"Pods", 4, 15}, {"Percent", 100, 15}}));
  EXPECT_EQ(*up.tolerance(), q("50m"));

  HorizontalPodAutoscalerStatusView st = hpa.status();
  EXPECT_EQ(st.observed_generation(), 3);
  EXPECT_EQ(st.last_scale_time(), "2026-11-20T09:12:40Z");
  EXPECT_EQ(st.current_replicas(), 4);
  EXPECT_EQ(st.desired_replicas(), 5);
  auto cur = st.current_metrics();
  ASSERT_EQ(cur.size(), 2u);
  EXPECT_EQ(cur[0].resource_name(), "cpu");
  EXPECT_EQ(cur[0].current().type(), "");
  EXPECT_EQ(cur[0].current().average_utilization(), 81);
  EXPECT_EQ(*cur[0].current().average_value(), q("405m"));
  EXPECT_EQ(cur[1].metric_name(), "queue_messages_ready");
  EXPECT_EQ(*cur[1].current().average_value(), q("28"));
  EXPECT_EQ(*cur[1].current().value(), std::nullopt);
  ASSERT_EQ(st.conditions().size(), 3u);
  ASSERT_TRUE(st.condition("ScalingLimited").has_value());
  EXPECT_FALSE(st.condition("ScalingLimited")->is_true());
  EXPECT_EQ(st.condition("AbleToScale")->reason(), "SucceededRescale");
}

TEST(HorizontalPodAutoscalerView, Defaults) {
  json::object doc = obj(R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
    "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},
            "maxReplicas":5}})");
  HorizontalPodAutoscalerSpecView spec = HorizontalPodAutoscalerView(doc).spec();
  EXPECT_EQ(spec.min_replicas(), 1);
  EXPECT_EQ(spec.max_replicas(), 5);
  // No metrics: Kubernetes' cpu utilization 80%.
  auto m = spec.metrics();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].type(), "Resource");
  EXPECT_EQ(m[0].resource_name(), "cpu");
  EXPECT_EQ(m[0].target().type(), "Utilization");
  EXPECT_EQ(m[0].target().average_utilization(), 80);
  EXPECT_EQ(spec.behavior(), nullptr);
  EXPECT_EQ(spec.scale_up().stabilization_window_seconds(), 0);
  EXPECT_EQ(spec.scale_up().select_policy(), "Max");
  EXPECT_EQ(spec.scale_down().stabilization_window_seconds(), std::nullopt);
  EXPECT_EQ(spec.scale_down().select_policy(), "Max");
  EXPECT_EQ(spec.scale_down().policies(), (std::vector<HpaScalingPolicy>{{"Percent", 100, 15}}));
  HorizontalPodAutoscalerStatusView st = HorizontalPodAutoscalerView(doc).status();
  EXPECT_EQ(st.observed_generation(), std::nullopt);
  EXPECT_EQ(st.current_replicas(), 0);
  EXPECT_TRUE(st.current_metrics().empty());
  EXPECT_TRUE(st.conditions().empty());

  json::object zero_min = obj(R"({"spec":{"minReplicas":0,"maxReplicas":3,
    "behavior":{"scaleDown":{"stabilizationWindowSeconds":0,"selectPolicy":"Disabled"}}}})");
  HorizontalPodAutoscalerSpecView z = HorizontalPodAutoscalerView(zero_min).spec();
  EXPECT_EQ(z.min_replicas(), 0);  // scale-to-zero (alpha): explicit, not defaulted
  EXPECT_EQ(z.scale_down().stabilization_window_seconds(), 0);
  EXPECT_EQ(z.scale_down().select_policy(), "Disabled");
  EXPECT_EQ(z.scale_down().policies(), (std::vector<HpaScalingPolicy>{{"Percent", 100, 15}}));
}

TEST(HorizontalPodAutoscalerView, MalformedQuantityNamesTheField) {
  json::object doc = obj(R"({"spec":{"metrics":[{"type":"Pods","pods":{
    "metric":{"name":"rps"},"target":{"type":"AverageValue","averageValue":"12Q"}}}],
    "behavior":{"scaleUp":{"tolerance":"x"}}}})");
  HorizontalPodAutoscalerSpecView spec = HorizontalPodAutoscalerView(doc).spec();
  auto v = spec.metrics()[0].target().average_value();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message().rfind("pods.target.averageValue: ", 0), 0u) << v.error().message();
  EXPECT_EQ(v.error().code(), ErrorCode::kInvalidArgument);
  auto t = spec.scale_up().tolerance();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message().rfind("behavior.scaleUp.tolerance: ", 0), 0u) << t.error().message();
}

}  // namespace
}  // namespace kernlet::api
