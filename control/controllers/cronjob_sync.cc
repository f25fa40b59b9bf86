#include "control/controllers/cronjob_sync.h"

#include <algorithm>
#include <cstdio>

#include "api/object.h"
#include "api/objects/batch.h"
#include "api/time.h"
#include "control/controllers/controller.h"

namespace kernlet::controllers::cronjob {
namespace {

using Clock = std::chrono::system_clock;
constexpr int kMaxMissed = 100;

bool job_finished(const json::object& job, std::string_view* type) {
  for (std::string_view t : {"Complete", "Failed"}) {
    if (auto c = api::JobView(job).status().condition(t); c && c->is_true()) {
      if (type != nullptr) *type = t;
      return true;
    }
  }
  return false;
}

// RFC 3339 in the zone's offset at that instant ("Z" for UTC), as Go's time.Format does.
std::string format_in_zone(SysSeconds t, const TimeZone& zone) {
  const int64_t off = zone.offset_at(t);
  std::string s = api::format_rfc3339(Clock::time_point(t) + std::chrono::seconds(off));
  if (off == 0) return s;
  s.pop_back();  // the "Z"
  const int64_t a = off < 0 ? -off : off;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", off < 0 ? '-' : '+', static_cast<int>(a / 3600),
                static_cast<int>(a % 3600 / 60));
  return s + buf;
}

// The last schedule time in (earliest, now], and how many there were (counting stops a
// little past the limit, so a years-old CronJob costs no more than a young one).
struct Missed {
  std::optional<SysSeconds> most_recent;
  int64_t count = 0;
};
Missed missed_times(const Schedule& s, SysSeconds earliest, SysSeconds now) {
  Missed m;
  auto t = s.cron.next(earliest, s.zone);
  while (t && *t <= now) {
    m.most_recent = t;
    if (++m.count > kMaxMissed) break;
    t = s.cron.next(*t, s.zone);
  }
  if (m.count <= kMaxMissed || !m.most_recent) return m;
  // Too many: find the last one by searching back from now in growing windows.
  for (std::chrono::seconds back{60}; back < std::chrono::hours(24 * 366 * 5); back *= 2) {
    auto u = s.cron.next(now - back, s.zone);
    if (!u || *u > now) continue;
    while (true) {
      auto v = s.cron.next(*u, s.zone);
      if (!v || *v > now) break;
      u = v;
    }
    m.most_recent = u;
    // Estimate the total as upstream does, from the interval between two runs.
    auto second = s.cron.next(*s.cron.next(earliest, s.zone), s.zone);
    auto first = s.cron.next(earliest, s.zone);
    if (first && second && *second > *first) m.count = (now - *first) / (*second - *first) + 1;
    break;
  }
  return m;
}

SysSeconds to_sys(Clock::time_point t) { return std::chrono::floor<std::chrono::seconds>(t); }

}  // namespace

Result<Schedule> schedule_of(const json::object& cronjob, std::string_view zoneinfo_dir) {
  api::CronJobSpecView spec = api::CronJobView(cronjob).spec();
  std::string_view text = spec.schedule();
  std::string zone_name(spec.time_zone().value_or(""));
  // A CRON_TZ= or TZ= prefix names the zone in older manifests.
  for (std::string_view prefix : {"CRON_TZ=", "TZ="}) {
    if (text.starts_with(prefix)) {
      const std::size_t sp = text.find(' ');
      if (sp == std::string_view::npos) {
        return Error(ErrorCode::kInvalidArgument, "spec.schedule: \"" + std::string(text) + "\": no schedule after the zone");
      }
      if (zone_name.empty()) zone_name = std::string(text.substr(prefix.size(), sp - prefix.size()));
      text = text.substr(sp + 1);
      break;
    }
  }
  auto cron = CronSchedule::parse(text);
  if (!cron.ok()) return std::move(cron).error().context("spec.schedule");
  Schedule s{*cron, TimeZone::utc()};
  if (!zone_name.empty() && zone_name != "UTC" && zone_name != "Etc/UTC") {
    auto zone = TimeZone::load(zone_name, zoneinfo_dir);
    if (!zone.ok()) return std::move(zone).error().context("spec.timeZone");
    s.zone = std::move(*zone);
  }
  return s;
}

json::object job_for(const json::object& cronjob, const Schedule& schedule, SysSeconds scheduled) {
  api::Meta cm(cronjob);
  const json::object& tmpl = api::object_or_empty(api::object_or_empty(cronjob, "spec"), "jobTemplate");
  const json::object& tmeta = api::object_or_empty(tmpl, "metadata");
  const int64_t minutes = scheduled.time_since_epoch().count() / 60;
  json::object meta{{"name", std::string(cm.name()) + "-" + std::to_string(minutes)}, {"namespace", cm.namespace_()}};
  if (const json::value* l = json::find(tmeta, "labels")) meta["labels"] = *l;
  json::object annotations = api::object_or_empty(tmeta, "annotations");
  annotations[kScheduledTimestamp] = format_in_zone(scheduled, schedule.zone);
  meta["annotations"] = std::move(annotations);
  meta["ownerReferences"] = json::array{util::controller_ref_json(cronjob, "batch/v1", "CronJob")};
  json::object job{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", std::move(meta)}};
  job["spec"] = api::object_or_empty(tmpl, "spec");
  return job;
}

Plan plan_sync(const json::object& cronjob, const Schedule& schedule, const std::vector<client::ObjectPtr>& jobs,
               Clock::time_point now_tp) {
  Plan plan;
  api::CronJobView cv(cronjob);
  const api::CronJobSpecView spec = cv.spec();
  const json::object& old = api::object_or_empty(cronjob, "status");
  json::object& st = plan.status = old;
  const SysSeconds now = to_sys(now_tp);

  // Active list: drop finished and vanished Jobs; note successes of Jobs we started.
  json::array active;
  auto last_success = api::parse_rfc3339(json::get_string(old, "lastSuccessfulTime"));
  // A flag beside the time, not std::optional: GCC 12 -O2 misreads the optional as
  // maybe uninitialized.
  bool have_success = last_success.ok();
  Clock::time_point success_at = have_success ? *last_success : Clock::time_point{};
  if (const json::array* a = json::get_array(old, "active")) {
    for (const json::value& ref : *a) {
      if (!ref.is_object()) continue;
      const std::string_view uid = json::get_string(ref.as_object(), "uid");
      auto it = std::find_if(jobs.begin(), jobs.end(), [&](const auto& j) { return api::Meta(*j).uid() == uid; });
      if (it == jobs.end()) continue;
      std::string_view type;
      if (!job_finished(**it, &type)) {
        active.push_back(ref);
        continue;
      }
      plan.events.push_back({events::kNormal, std::string(events::kSawCompletedJob),
                             events::saw_completed_job(api::Meta(**it).name(), type)});
      if (type == "Complete") {
        auto done = api::parse_rfc3339(api::JobView(**it).status().completion_time());
        if (done.ok() && (!have_success || *done > success_at)) {
          success_at = *done;
          have_success = true;
        }
      }
    }
  }
  if (have_success) st["lastSuccessfulTime"] = api::format_rfc3339(success_at);

  // History limits: the oldest finished Jobs beyond them go.
  auto trim = [&](std::string_view type, int64_t limit) {
    std::vector<client::ObjectPtr> done;
    for (const auto& j : jobs) {
      std::string_view t;
      if (job_finished(*j, &t) && t == type && !api::Meta(*j).being_deleted()) done.push_back(j);
    }
    std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) {
      auto sa = api::JobView(*a).status().start_time(), sb = api::JobView(*b).status().start_time();
      if (sa != sb) return sa < sb;
      return api::Meta(*a).creation_timestamp() < api::Meta(*b).creation_timestamp();
    });
    for (std::size_t i = 0; static_cast<int64_t>(done.size() - i) > limit; ++i) plan.delete_jobs.push_back(done[i]);
  };
  trim("Complete", spec.successful_jobs_history_limit());
  trim("Failed", spec.failed_jobs_history_limit());

  auto requeue_next = [&] {
    if (auto next = schedule.cron.next(now, schedule.zone)) {
      // A little past the minute, so the sync finds the time due.
      plan.requeue_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point(*next) - now_tp) +
                           std::chrono::milliseconds(100);
    }
  };
  auto finish = [&] {
    st["active"] = active;
    if (active.empty()) st.erase("active");
  };
  if (spec.suspend() || api::Meta(cronjob).being_deleted()) {
    finish();
    return plan;
  }

  // The most recent schedule time not yet run.
  SysSeconds earliest = now;
  auto last = api::parse_rfc3339(json::get_string(old, "lastScheduleTime"));
  auto created = api::parse_rfc3339(api::Meta(cronjob).creation_timestamp());
  if (last.ok()) {
    earliest = to_sys(*last);
  } else if (created.ok()) {
    earliest = to_sys(*created);
  }
  const auto deadline = spec.starting_deadline_seconds();
  if (deadline && now - std::chrono::seconds(*deadline) > earliest) earliest = now - std::chrono::seconds(*deadline);
  const Missed missed = missed_times(schedule, earliest, now);
  requeue_next();
  if (!missed.most_recent) {
    finish();
    return plan;
  }
  if (missed.count > kMaxMissed) {
    plan.warning = "too many missed start times: " + std::to_string(missed.count) +
                   ". Set or decrease .spec.startingDeadlineSeconds or check clock skew";
    plan.events.push_back({events::kWarning, "TooManyMissedTimes", plan.warning});
  }
  const SysSeconds scheduled = *missed.most_recent;
  if (deadline && scheduled < now - std::chrono::seconds(*deadline)) {
    plan.warning = "Missed scheduled time to start a job: " + format_in_zone(scheduled, schedule.zone);
    plan.events.push_back({events::kWarning, "MissSchedule", plan.warning});
    finish();
    return plan;
  }
  json::object job = job_for(cronjob, schedule, scheduled);
  const std::string name(json::get_string(api::object_or_empty(job, "metadata"), "name"));
  const bool exists = std::any_of(jobs.begin(), jobs.end(), [&](const auto& j) { return api::Meta(*j).name() == name; });
  if (exists) {  // already run: our status write after creating it was lost
    st["lastScheduleTime"] = api::format_rfc3339(Clock::time_point(scheduled));
    for (const auto& j : jobs) {
      api::Meta jm(*j);
      if (jm.name() != name || job_finished(*j, nullptr)) continue;
      const bool listed = std::any_of(active.begin(), active.end(), [&](const json::value& r) {
        return json::get_string(r.as_object(), "uid") == jm.uid();
      });
      if (!listed) {
        active.push_back(json::object{{"kind", "Job"}, {"namespace", jm.namespace_()}, {"name", jm.name()},
                                      {"uid", jm.uid()}, {"apiVersion", "batch/v1"},
                                      {"resourceVersion", jm.resource_version()}});
      }
    }
    finish();
    return plan;
  }
  const std::string_view policy = spec.concurrency_policy();
  if (policy == "Forbid" && !active.empty()) {
    plan.events.push_back({events::kNormal, std::string(events::kJobAlreadyActive), std::string(events::kJobAlreadyActiveMessage)});
    finish();
    return plan;
  }
  if (policy == "Replace") {
    for (const json::value& ref : active) {
      const std::string_view uid = json::get_string(ref.as_object(), "uid");
      for (const auto& j : jobs) {
        if (api::Meta(*j).uid() == uid) plan.delete_jobs.push_back(j);
      }
    }
    active.clear();
  }
  plan.create = std::move(job);
  st["lastScheduleTime"] = api::format_rfc3339(Clock::time_point(scheduled));
  finish();
  return plan;
}

}  // namespace kernlet::controllers::cronjob
