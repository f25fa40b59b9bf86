#include "control/controllers/job_sync.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "api/object.h"
#include "api/objects/batch.h"
#include "api/objects/pod.h"
#include "api/time.h"
#include "control/controllers/controller.h"
#include "control/controllers/job_math.h"
#include "control/controllers/replicaset_controller.h"

namespace kernlet::controllers::job {
namespace {

using Clock = std::chrono::system_clock;

bool condition_true(const json::object& status, std::string_view type) {
  if (const json::array* cs = json::get_array(status, "conditions")) {
    for (const json::value& c : *cs) {
      if (c.is_object() && json::get_string(c.as_object(), "type") == type &&
          json::get_string(c.as_object(), "status") == "True") {
        return true;
      }
    }
  }
  return false;
}

const json::object* find_condition(const json::object& status, std::string_view type) {
  if (const json::array* cs = json::get_array(status, "conditions")) {
    for (const json::value& c : *cs) {
      if (c.is_object() && json::get_string(c.as_object(), "type") == type) return &c.as_object();
    }
  }
  return nullptr;
}

// Sets a condition: unchanged when type, status, reason and message are the same; the
// transition time moves only when the status does.
void set_condition(json::object& status, json::object cond) {
  json::array& cs = json::ensure_array(status, "conditions");
  const std::string_view type = json::get_string(cond, "type");
  for (json::value& c : cs) {
    if (!c.is_object() || json::get_string(c.as_object(), "type") != type) continue;
    json::object& old = c.as_object();
    const bool same_status = json::get_string(old, "status") == json::get_string(cond, "status");
    if (same_status && json::get_string(old, "reason") == json::get_string(cond, "reason") &&
        json::get_string(old, "message") == json::get_string(cond, "message")) {
      return;
    }
    if (same_status) cond["lastTransitionTime"] = old["lastTransitionTime"];
    old = std::move(cond);
    return;
  }
  cs.push_back(std::move(cond));
}

std::optional<int32_t> completion_index(const json::object& pod) {
  api::Meta m(pod);
  auto v = m.annotation(kCompletionIndex);
  if (!v) v = m.label(kCompletionIndex);
  if (!v) return std::nullopt;
  int32_t i = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), i);
  if (ec != std::errc() || p != v->data() + v->size() || i < 0) return std::nullopt;
  return i;
}

std::set<std::string> string_set(const json::object* o, std::string_view key) {
  std::set<std::string> out;
  if (o == nullptr) return out;
  if (const json::array* a = json::get_array(*o, key)) {
    for (const json::value& v : *a) {
      if (v.is_string()) out.emplace(v.as_string());
    }
  }
  return out;
}

json::array to_array(const std::set<std::string>& s) {
  json::array a;
  for (const auto& v : s) a.emplace_back(v);
  return a;
}

void set_or_omit(json::object& o, std::string_view key, int64_t v) {
  if (v == 0) {
    o.erase(key);
  } else {
    o[key] = v;
  }
}

// With restartPolicy OnFailure failures are container restarts in place: upstream fails
// the Job once the active pods' restarts reach backoffLimit (any restart when it is 0).
bool restarts_on_failure(const json::object& job, const std::vector<client::ObjectPtr>& active, int32_t limit) {
  const json::object* tmpl_spec = json::get_path(api::object_or_empty(job, "spec"), "template.spec");
  if (tmpl_spec == nullptr || json::get_string(*tmpl_spec, "restartPolicy") != "OnFailure") return false;
  int64_t restarts = 0;
  for (const auto& p : active) {
    api::PodStatusView st = api::PodView(*p).status();
    for (const json::array* cs : {st.init_container_statuses(), st.container_statuses()}) {
      if (cs == nullptr) continue;
      for (const json::value& c : *cs) {
        if (c.is_object()) restarts += json::get_int_or(c.as_object(), "restartCount", 0);
      }
    }
  }
  return limit == 0 ? restarts > 0 : restarts >= limit;
}

struct PolicyMatch {
  std::string action;   // FailJob, Ignore, Count, FailIndex
  std::string message;  // upstream's words, for FailJob
};

bool listed(const json::array* values, int64_t code) {
  if (values == nullptr) return false;
  return std::any_of(values->begin(), values->end(), [&](const json::value& v) {
    return (v.is_int64() && v.as_int64() == code) || (v.is_uint64() && static_cast<int64_t>(v.as_uint64()) == code);
  });
}

// The first podFailurePolicy rule a failed pod matches (upstream's matchPodFailurePolicy):
// onExitCodes over terminated containers with a non-zero code, or onPodConditions.
std::optional<PolicyMatch> match_pod_failure_policy(const json::object& policy, const json::object& pod) {
  const json::array* rules = json::get_array(policy, "rules");
  if (rules == nullptr) return std::nullopt;
  api::Meta m(pod);
  const std::string who = std::string(m.namespace_()) + "/" + std::string(m.name());
  const json::object& status = api::object_or_empty(pod, "status");
  for (std::size_t i = 0; i < rules->size(); ++i) {
    if (!(*rules)[i].is_object()) continue;
    const json::object& rule = (*rules)[i].as_object();
    const std::string action(json::get_string(rule, "action"));
    const std::string at = " matching " + action + " rule at index " + std::to_string(i);
    if (const json::object* on_codes = json::get_object(rule, "onExitCodes")) {
      const std::string_view container = json::get_string(*on_codes, "containerName");
      const bool in = json::get_string(*on_codes, "operator") == "In";
      for (std::string_view list : {"initContainerStatuses", "containerStatuses"}) {
        const json::array* cs = json::get_array(status, list);
        if (cs == nullptr) continue;
        for (const json::value& c : *cs) {
          if (!c.is_object()) continue;
          const json::object& co = c.as_object();
          if (!container.empty() && json::get_string(co, "name") != container) continue;
          const json::object* term = json::get_path(co, "state.terminated");
          if (term == nullptr) continue;
          const int64_t code = json::get_int_or(*term, "exitCode", 0);
          if (code == 0 || listed(json::get_array(*on_codes, "values"), code) != in) continue;
          return PolicyMatch{action, "Container " + std::string(json::get_string(co, "name")) + " for pod " + who +
                                         " failed with exit code " + std::to_string(code) + at};
        }
      }
    }
    if (const json::array* conds = json::get_array(rule, "onPodConditions")) {
      for (const json::value& want : *conds) {
        if (!want.is_object()) continue;
        const std::string_view type = json::get_string(want.as_object(), "type");
        const std::string_view st = json::get_string(want.as_object(), "status", "True");
        auto c = api::pod_condition(api::PodView(pod).status(), type);
        if (c && c->status() == st) {
          return PolicyMatch{action, "Pod " + who + " has condition " + std::string(type) + at};
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace

json::object job_condition(std::string_view type, std::string_view status, std::string_view reason,
                           std::string_view message, Clock::time_point now) {
  const std::string t = api::format_rfc3339(now);
  return {{"type", type},           {"status", status},         {"reason", reason},
          {"message", message},     {"lastProbeTime", t},       {"lastTransitionTime", t}};
}

json::object pod_for_job(const json::object& job, std::optional<int32_t> index) {
  const json::object* tmpl = json::get_object(api::object_or_empty(job, "spec"), "template");
  static const json::object kEmpty;
  json::object pod = pod_from_template(tmpl != nullptr ? *tmpl : kEmpty, job, "batch/v1", "Job");
  api::MutableMeta m(pod);
  m.add_finalizer(kTrackingFinalizer);
  if (!index) return pod;
  const std::string i = std::to_string(*index);
  const std::string base = std::string(api::Meta(job).name()) + "-" + i;
  m.set_annotation(kCompletionIndex, i);
  m.set_label(kCompletionIndex, i);
  m.set_generate_name(base + "-");
  json::object& spec = json::ensure_object(pod, "spec");
  if (json::get_string(spec, "hostname").empty()) spec["hostname"] = base;
  for (std::string_view list : {"initContainers", "containers"}) {
    json::array* cs = json::get_array(spec, list);
    if (cs == nullptr) continue;
    for (json::value& c : *cs) {
      if (!c.is_object()) continue;
      json::array& env = json::ensure_array(c.as_object(), "env");
      const bool has = std::any_of(env.begin(), env.end(), [](const json::value& e) {
        return e.is_object() && json::get_string(e.as_object(), "name") == "JOB_COMPLETION_INDEX";
      });
      if (has) continue;
      env.push_back(json::object{
          {"name", "JOB_COMPLETION_INDEX"},
          {"valueFrom",
           json::object{{"fieldRef", json::object{{"fieldPath", "metadata.annotations['" + std::string(kCompletionIndex) + "']"}}}}}});
    }
  }
  return pod;
}

SyncPlan plan_sync(const json::object& job, const std::vector<client::ObjectPtr>& pods, Clock::time_point now,
                   const BackoffRecord& backoff, const std::set<std::string>& finalizer_removed) {
  SyncPlan plan;
  plan.backoff = backoff;
  api::JobView jv(job);
  const api::JobSpecView spec = jv.spec();
  const json::object& old = api::object_or_empty(job, "status");
  plan.status_uncounted = old;
  plan.status = old;
  if (api::job_is_finished(jv)) {
    // Nothing more to decide; pods left with the finalizer (a crash between steps) lose it.
    for (const auto& p : pods) {
      if (api::Meta(*p).has_finalizer(kTrackingFinalizer) && !finalizer_removed.contains(std::string(api::Meta(*p).uid()))) {
        plan.remove_finalizer.push_back(p);
      }
    }
    return plan;
  }
  const bool indexed = spec.completion_mode() == "Indexed";
  const bool success_met = condition_true(old, "SuccessCriteriaMet");
  const json::object* uncounted = json::get_object(old, "uncountedTerminatedPods");
  std::set<std::string> unc_s = string_set(uncounted, "succeeded"), unc_f = string_set(uncounted, "failed");

  // With a podFailurePolicy a pod being deleted is judged only once it is Failed, and is
  // replaced only then (podReplacementPolicy Failed, upstream's default with a policy).
  const json::object* policy = spec.pod_failure_policy();
  std::vector<client::ObjectPtr> active, awaiting_phase;
  int64_t terminating = 0;
  std::set<int32_t> newly_succeeded_indexes;
  std::optional<PolicyMatch> fail_job;
  for (const auto& p : pods) {
    api::PodView pv(*p);
    const std::string uid(pv.meta().uid());
    const bool succeeded = pv.status().phase() == "Succeeded";
    const bool deleting = pv.meta().being_deleted();
    const bool failed = pv.status().phase() == "Failed" || (deleting && !succeeded && policy == nullptr);
    if (!succeeded && !failed) {
      if (deleting) {
        ++terminating;
        awaiting_phase.push_back(p);
      } else {
        active.push_back(p);
      }
      continue;
    }
    if (deleting && !api::pod_is_terminal(pv)) ++terminating;
    // A succeeded pod completes its index whether or not it has been counted yet: after a
    // status write conflicted, the cached Job may not show the index in completedIndexes
    // although the pod's finalizer is already gone, and the index must not get a new pod.
    if (succeeded && indexed) {
      if (auto i = completion_index(*p)) newly_succeeded_indexes.insert(*i);
    }
    if (!pv.meta().has_finalizer(kTrackingFinalizer) || finalizer_removed.contains(uid)) continue;
    std::optional<PolicyMatch> rule;
    if (failed && policy != nullptr && !success_met) rule = match_pod_failure_policy(*policy, *p);
    if (rule && rule->action == "FailJob" && !fail_job) fail_job = rule;
    if (!unc_s.contains(uid) && !unc_f.contains(uid)) {
      // Pods stopped after success criteria were met are not failures of the Job; nor
      // are those a podFailurePolicy Ignore rule matches.
      if (succeeded) {
        unc_s.insert(uid);
      } else if (!success_met && !(rule && rule->action == "Ignore")) {
        unc_f.insert(uid);
      }
    }
    plan.remove_finalizer.push_back(p);
  }
  if (!unc_s.empty() || !unc_f.empty() || uncounted == nullptr) {
    json::object u;
    if (!unc_s.empty()) u["succeeded"] = to_array(unc_s);
    if (!unc_f.empty()) u["failed"] = to_array(unc_f);
    plan.status_uncounted["uncountedTerminatedPods"] = std::move(u);
  }

  // After the finalizers are removed every uncounted pod is counted.
  json::object& st = plan.status = plan.status_uncounted;
  st["uncountedTerminatedPods"] = json::object{};
  const int64_t succeeded = api::JobStatusView(old).succeeded() + static_cast<int64_t>(unc_s.size());
  const int64_t failed = api::JobStatusView(old).failed() + static_cast<int64_t>(unc_f.size());
  set_or_omit(st, "succeeded", succeeded);
  set_or_omit(st, "failed", failed);
  if (!unc_s.empty()) plan.backoff.failures_since_success = 0;
  if (!unc_f.empty()) {
    plan.backoff.failures_since_success += static_cast<int32_t>(unc_f.size());
    plan.backoff.last_failure = now;
  }

  Spec js;
  if (auto c = spec.completions()) js.completions = static_cast<int32_t>(std::min<int64_t>(*c, INT32_MAX));
  js.parallelism = static_cast<int32_t>(std::min<int64_t>(spec.parallelism(), INT32_MAX));
  js.backoff_limit = static_cast<int32_t>(std::min<int64_t>(spec.backoff_limit(), INT32_MAX));
  js.active_deadline_seconds = spec.active_deadline_seconds();
  js.indexed = indexed && js.completions.has_value();
  js.suspend = spec.suspend();

  Counts counts;
  counts.active = static_cast<int32_t>(active.size());
  counts.succeeded = static_cast<int32_t>(succeeded);
  counts.failed = static_cast<int32_t>(failed);
  if (js.indexed) {
    auto done = parse_indexes(api::JobStatusView(old).completed_indexes(), *js.completions);
    if (done.ok()) counts.succeeded_indexes = std::move(*done);
    for (int32_t i : newly_succeeded_indexes) {
      if (i < *js.completions) counts.succeeded_indexes.insert(i);
    }
    const std::string text = format_indexes(counts.succeeded_indexes);
    if (text.empty()) {
      st.erase("completedIndexes");
    } else {
      st["completedIndexes"] = text;
    }
  }

  if (js.suspend) {
    st.erase("startTime");
  } else if (json::get_string(st, "startTime").empty()) {
    st["startTime"] = api::format_rfc3339(now);
  }
  std::chrono::seconds active_for{0};
  if (auto start = api::parse_rfc3339(json::get_string(st, "startTime")); start.ok()) {
    active_for = std::chrono::duration_cast<std::chrono::seconds>(now - *start);
  }

  bool failure_target = condition_true(old, "FailureTarget");
  bool success = success_met;
  if (fail_job && !failure_target && !success) {
    set_condition(st, job_condition("FailureTarget", "True", "PodFailurePolicy", fail_job->message, now));
    failure_target = true;
  }
  if (!failure_target && !success && !js.suspend) {
    Verdict v = judge(js, counts, active_for);
    if (v.outcome == Outcome::kRunning && restarts_on_failure(job, active, js.backoff_limit)) {
      v = {Outcome::kFailed, "BackoffLimitExceeded", "Job has reached the specified backoff limit"};
    }
    if (v.outcome == Outcome::kFailed) {
      set_condition(st, job_condition("FailureTarget", "True", v.reason, v.message, now));
      failure_target = true;
    } else if (v.outcome == Outcome::kComplete) {
      set_condition(st, job_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                      "Reached expected number of succeeded pods", now));
      success = true;
    }
  }

  std::set<const json::object*> deleting;
  auto delete_pod = [&](const client::ObjectPtr& p) {
    if (deleting.insert(p.get()).second) plan.to_delete.push_back(p);
  };
  if (failure_target || success || js.suspend) {
    for (const auto& p : active) delete_pod(p);
    if (js.suspend && !failure_target && !success) {
      set_condition(st, job_condition("Suspended", "True", "JobSuspended", "Job suspended", now));
    }
  } else {
    if (condition_true(old, "Suspended")) {
      set_condition(st, job_condition("Suspended", "False", "JobResumed", "Job resumed", now));
    }
    if (js.active_deadline_seconds) {
      plan.requeue_after = std::chrono::seconds(*js.active_deadline_seconds) - active_for + std::chrono::seconds(1);
    }
    if (js.indexed) {
      // One active pod per index not yet succeeded; extras, strays and surplus go.
      std::vector<client::ObjectPtr> sorted = active;
      std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return api::Meta(*a).creation_timestamp() < api::Meta(*b).creation_timestamp();
      });
      std::map<int32_t, client::ObjectPtr> by_index;
      for (const auto& p : sorted) {
        auto i = completion_index(*p);
        if (!i || *i >= *js.completions || counts.succeeded_indexes.contains(*i) || by_index.contains(*i)) {
          delete_pod(p);
        } else {
          by_index.emplace(*i, p);
        }
      }
      while (static_cast<int32_t>(by_index.size()) > js.parallelism) {
        delete_pod(std::prev(by_index.end())->second);
        by_index.erase(std::prev(by_index.end()));
      }
      for (const auto& [i, p] : by_index) counts.active_indexes.insert(i);
      for (const auto& p : awaiting_phase) {
        if (auto i = completion_index(*p)) counts.active_indexes.insert(*i);
      }
      plan.create_indexes = indexes_to_create(js, counts);
    } else {
      int64_t want = js.parallelism;
      if (js.completions) want = std::min<int64_t>(want, *js.completions - succeeded);
      if (static_cast<int64_t>(active.size()) > std::max<int64_t>(want, 0)) {
        std::vector<client::ObjectPtr> ranked = active;
        sort_for_deletion(ranked);
        for (int64_t i = 0; i < static_cast<int64_t>(active.size()) - std::max<int64_t>(want, 0); ++i) {
          delete_pod(ranked[static_cast<std::size_t>(i)]);
        }
      }
      Counts with_terminating = counts;
      with_terminating.active += static_cast<int32_t>(awaiting_phase.size());
      plan.create = pods_to_create(js, with_terminating);
    }
    if ((plan.create > 0 || !plan.create_indexes.empty()) && plan.backoff.failures_since_success > 0) {
      const auto ready_at = plan.backoff.last_failure + failure_backoff(plan.backoff.failures_since_success);
      if (ready_at > now) {
        const auto left = std::chrono::ceil<std::chrono::seconds>(ready_at - now);
        plan.requeue_after = plan.requeue_after ? std::min(*plan.requeue_after, left) : left;
        plan.create = 0;
        plan.create_indexes.clear();
      }
    }
  }

  int64_t still_active = 0, ready = 0;
  for (const auto& p : active) {
    if (deleting.contains(p.get())) continue;
    ++still_active;
    ready += util::pod_ready(*p);
  }
  set_or_omit(st, "active", still_active);
  st["ready"] = ready;
  st["terminating"] = terminating + static_cast<int64_t>(plan.to_delete.size());
  if ((failure_target || success) && still_active == 0 && st["terminating"].as_int64() == 0) {
    const json::object* target = find_condition(st, failure_target ? "FailureTarget" : "SuccessCriteriaMet");
    const std::string reason(target != nullptr ? json::get_string(*target, "reason") : "");
    const std::string message(target != nullptr ? json::get_string(*target, "message") : "");
    set_condition(st, job_condition(failure_target ? "Failed" : "Complete", "True", reason, message, now));
    if (success) st["completionTime"] = api::format_rfc3339(now);
  }
  return plan;
}

}  // namespace kernlet::controllers::job
