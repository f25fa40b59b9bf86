// The CronJob controller's decisions (cronjob_sync.h) with an injected clock.
#include "control/controllers/cronjob_sync.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::controllers::cronjob {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

Clock::time_point at(std::string_view rfc3339) {
  auto t = api::parse_rfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return *t;
}

json::object make_cj(std::string_view extra_spec = "{}", std::string_view status = "{}",
                     std::string_view created = "2027-01-15T08:00:30Z") {
  json::object spec = *json::parse_object(extra_spec);
  if (!spec.contains("schedule")) spec["schedule"] = "*/5 * * * *";
  spec["jobTemplate"] = *json::parse_object(
      R"({"metadata":{"labels":{"team":"a"}},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})");
  return {{"apiVersion", "batch/v1"},
          {"kind", "CronJob"},
          {"metadata", json::object{{"name", "tick"}, {"namespace", "default"}, {"uid", "cj-uid"},
                                    {"creationTimestamp", created}}},
          {"spec", std::move(spec)},
          {"status", *json::parse_object(status)}};
}

client::ObjectPtr make_job(std::string name, std::string uid, std::string_view finished = "",
                           std::string_view start = "2027-01-15T08:00:00Z") {
  json::object status{{"startTime", start}};
  if (!finished.empty()) {
    status["conditions"] = json::array{json::object{{"type", finished}, {"status", "True"}}};
    if (finished == "Complete") status["completionTime"] = "2027-01-15T09:00:00Z";
  }
  return std::make_shared<const json::object>(json::object{
      {"metadata", json::object{{"name", name}, {"namespace", "default"}, {"uid", uid}}}, {"status", std::move(status)}});
}

Schedule sched(const json::object& cj) {
  auto s = schedule_of(cj);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return *s;
}

TEST(CronJobSync, NothingDueRequeuesAtNextTime) {
  auto cj = make_cj();
  Plan p = plan_sync(cj, sched(cj), {}, at("2027-01-15T08:03:00Z"));
  EXPECT_FALSE(p.create);
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, 120s + 100ms);  // 08:05 plus a little
}

TEST(CronJobSync, DueTimeCreatesNamedJob) {
  auto cj = make_cj();
  const auto now = at("2027-01-15T08:05:02Z");
  Plan p = plan_sync(cj, sched(cj), {}, now);
  ASSERT_TRUE(p.create);
  api::Meta m(*p.create);
  const int64_t minutes = std::chrono::duration_cast<std::chrono::minutes>(at("2027-01-15T08:05:00Z").time_since_epoch()).count();
  EXPECT_EQ(m.name(), "tick-" + std::to_string(minutes));
  EXPECT_EQ(m.label("team"), "a");
  EXPECT_EQ(m.annotation(kScheduledTimestamp), "2027-01-15T08:05:00Z");
  ASSERT_TRUE(m.controller_ref());
  EXPECT_EQ(m.controller_ref()->kind, "CronJob");
  EXPECT_EQ(json::get_string(p.status, "lastScheduleTime"), "2027-01-15T08:05:00Z");
  EXPECT_EQ(*p.requeue_after, 298s + 100ms);
}

TEST(CronJobSync, RunsOnlyTheMostRecentMissedTime) {
  auto cj = make_cj("{}", R"({"lastScheduleTime":"2027-01-15T08:05:00Z"})");
  Plan p = plan_sync(cj, sched(cj), {}, at("2027-01-15T08:31:00Z"));
  ASSERT_TRUE(p.create);
  EXPECT_EQ(api::Meta(*p.create).annotation(kScheduledTimestamp), "2027-01-15T08:30:00Z");
  EXPECT_TRUE(p.warning.empty());
}

TEST(CronJobSync, TooManyMissedStartTimes) {
  auto cj = make_cj(R"({"schedule":"* * * * *"})", R"({"lastScheduleTime":"2027-01-15T08:00:00Z"})");
  Plan p = plan_sync(cj, sched(cj), {}, at("2027-01-15T10:00:30Z"));
  EXPECT_EQ(p.warning.rfind("too many missed start times: 120.", 0), 0u) << p.warning;
  ASSERT_TRUE(p.create);  // the most recent one still runs
  EXPECT_EQ(api::Meta(*p.create).annotation(kScheduledTimestamp), "2027-01-15T10:00:00Z");
}

TEST(CronJobSync, StartingDeadlineSkipsLateRuns) {
  auto cj = make_cj(R"({"startingDeadlineSeconds":30})", R"({"lastScheduleTime":"2027-01-15T08:00:00Z"})");
  Plan late = plan_sync(cj, sched(cj), {}, at("2027-01-15T08:05:40Z"));
  EXPECT_FALSE(late.create);
  Plan in_time = plan_sync(cj, sched(cj), {}, at("2027-01-15T08:05:20Z"));
  EXPECT_TRUE(in_time.create);
  // The deadline also bounds the search: a day of missed runs is not "too many".
  auto old = make_cj(R"({"schedule":"* * * * *","startingDeadlineSeconds":200})",
                     R"({"lastScheduleTime":"2027-01-14T08:00:00Z"})");
  Plan p = plan_sync(old, sched(old), {}, at("2027-01-15T08:00:10Z"));
  EXPECT_TRUE(p.warning.empty()) << p.warning;
  EXPECT_TRUE(p.create);
  EXPECT_TRUE(p.events.empty());
}

TEST(CronJobSync, ConcurrencyPolicies) {
  const std::string status = R"({"lastScheduleTime":"2027-01-15T08:00:00Z","active":[{"kind":"Job","name":"tick-1","uid":"j1"}]})";
  auto running = make_job("tick-1", "j1");
  auto forbid = make_cj(R"({"concurrencyPolicy":"Forbid"})", status);
  Plan f = plan_sync(forbid, sched(forbid), {running}, at("2027-01-15T08:05:01Z"));
  EXPECT_FALSE(f.create);
  EXPECT_EQ(json::get_string(f.status, "lastScheduleTime"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(json::get_array(f.status, "active")->size(), 1u);
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0], (events::Event{events::kNormal, "JobAlreadyActive",
                                        "Not starting job because prior execution is running and concurrency policy is Forbid"}));
  auto replace = make_cj(R"({"concurrencyPolicy":"Replace"})", status);
  Plan r = plan_sync(replace, sched(replace), {running}, at("2027-01-15T08:05:01Z"));
  EXPECT_TRUE(r.create);
  ASSERT_EQ(r.delete_jobs.size(), 1u);
  EXPECT_EQ(r.delete_jobs[0], running);
  EXPECT_FALSE(r.status.contains("active"));  // the new Job is added once created
  auto allow = make_cj("{}", status);
  Plan a = plan_sync(allow, sched(allow), {running}, at("2027-01-15T08:05:01Z"));
  EXPECT_TRUE(a.create);
  EXPECT_TRUE(a.delete_jobs.empty());
}

TEST(CronJobSync, FinishedJobsLeaveActiveAndHistoryIsTrimmed) {
  auto cj = make_cj("{}", R"({"lastScheduleTime":"2027-01-15T08:00:00Z","active":[{"name":"tick-5","uid":"j5"},{"name":"gone","uid":"j9"}]})");
  std::vector<client::ObjectPtr> jobs;
  for (int i = 1; i <= 5; ++i) {
    jobs.push_back(make_job("tick-" + std::to_string(i), "j" + std::to_string(i), "Complete",
                            "2027-01-15T08:0" + std::to_string(i) + ":00Z"));
  }
  auto f1 = make_job("tick-6", "j6", "Failed", "2027-01-15T08:06:00Z");
  auto f2 = make_job("tick-7", "j7", "Failed", "2027-01-15T08:07:00Z");
  jobs.push_back(f1);
  jobs.push_back(f2);
  Plan p = plan_sync(cj, sched(cj), jobs, at("2027-01-15T08:04:00Z"));
  EXPECT_FALSE(p.status.contains("active"));
  EXPECT_EQ(json::get_string(p.status, "lastSuccessfulTime"), "2027-01-15T09:00:00Z");
  std::vector<std::string> deleted;
  for (const auto& j : p.delete_jobs) deleted.emplace_back(api::Meta(*j).name());
  EXPECT_EQ(deleted, (std::vector<std::string>{"tick-1", "tick-2", "tick-6"}));  // keep 3 complete, 1 failed
  // The active Job that finished is seen once; the vanished one says nothing.
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0], (events::Event{events::kNormal, "SawCompletedJob", "Saw completed job: tick-5, condition: Complete"}));
}

TEST(CronJobSync, SuspendedCreatesNothing) {
  auto cj = make_cj(R"({"suspend":true})");
  Plan p = plan_sync(cj, sched(cj), {}, at("2027-01-15T08:05:01Z"));
  EXPECT_FALSE(p.create);
  EXPECT_FALSE(p.requeue_after);
}

TEST(CronJobSync, AlreadyCreatedJobIsNotCreatedAgain) {
  auto cj = make_cj();
  const int64_t minutes = std::chrono::duration_cast<std::chrono::minutes>(at("2027-01-15T08:05:00Z").time_since_epoch()).count();
  auto existing = make_job("tick-" + std::to_string(minutes), "jx");
  Plan p = plan_sync(cj, sched(cj), {existing}, at("2027-01-15T08:05:01Z"));
  EXPECT_FALSE(p.create);
  EXPECT_EQ(json::get_array(p.status, "active")->size(), 1u);  // and it is listed as active
}

TEST(CronJobSync, TimeZones) {
  auto berlin = make_cj(R"({"schedule":"0 9 * * *","timeZone":"Europe/Berlin"})", "{}", "2027-01-14T00:00:00Z");
  auto s = schedule_of(berlin);
  if (!s.ok()) GTEST_SKIP() << "no zoneinfo on this machine: " << s.error().message();
  Plan p = plan_sync(berlin, *s, {}, at("2027-01-15T08:00:05Z"));  // 09:00 in Berlin (UTC+1)
  ASSERT_TRUE(p.create);
  EXPECT_EQ(api::Meta(*p.create).annotation(kScheduledTimestamp), "2027-01-15T09:00:00+01:00");
  auto prefixed = make_cj(R"({"schedule":"CRON_TZ=Europe/Berlin 0 9 * * *"})", "{}", "2027-01-14T00:00:00Z");
  Plan q = plan_sync(prefixed, sched(prefixed), {}, at("2027-01-15T08:00:05Z"));
  EXPECT_TRUE(q.create);
  auto bad = make_cj(R"({"timeZone":"Mars/Olympus_Mons"})");
  EXPECT_FALSE(schedule_of(bad).ok());
  auto unparseable = make_cj(R"({"schedule":"61 * * * *"})");
  EXPECT_FALSE(schedule_of(unparseable).ok());
}

}  // namespace
}  // namespace kernlet::controllers::cronjob
