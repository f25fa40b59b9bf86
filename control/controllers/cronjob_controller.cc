#include "control/controllers/cronjob_controller.h"

#include <cstdio>

#include "api/object.h"

namespace kernlet::controllers {
namespace {

client::ResourceRef cronjobs_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("batch", "v1", "cronjobs", std::move(ns), std::move(name));
}
client::ResourceRef jobs_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("batch", "v1", "jobs", std::move(ns), std::move(name));
}

}  // namespace

CronJobController::CronJobController(SharedInformers& informers, int workers,
                                     std::function<std::chrono::system_clock::time_point()> now)
    : Controller("cronjob-controller", workers),
      client_(informers.client()),
      events_(informers.events("cronjob-controller")),
      cronjobs_(informers.get(cronjobs_ref())),
      jobs_(informers.get(jobs_ref())),
      now_(now ? std::move(now) : [] { return std::chrono::system_clock::now(); }) {
  auto enqueue_cj = [this](const client::ObjectPtr& cj) { enqueue(client::object_key(*cj)); };
  cronjobs_.add_handler({.on_add = enqueue_cj,
                         .on_update = [enqueue_cj](const client::ObjectPtr&, const client::ObjectPtr& n) { enqueue_cj(n); },
                         .on_delete = nullptr,
                         .on_synced = nullptr});
  auto job_changed = [this](const client::ObjectPtr& j) {
    auto ref = util::controller_of(*j);
    if (ref && ref->kind == "CronJob") enqueue(std::string(api::Meta(*j).namespace_()) + "/" + ref->name);
  };
  jobs_.add_handler({.on_add = job_changed,
                     .on_update = [job_changed](const client::ObjectPtr&, const client::ObjectPtr& n) { job_changed(n); },
                     .on_delete = [job_changed](const client::ObjectPtr& j, bool) { job_changed(j); },
                     .on_synced = nullptr});
}

Result<void> CronJobController::reconcile(const std::string& key) {
  client::ObjectPtr cj = cronjobs_.cache().get(key);
  if (!cj) return Ok();
  api::Meta cm(*cj);
  const std::string ns(cm.namespace_()), name(cm.name());
  auto schedule = cronjob::schedule_of(*cj);
  if (!schedule.ok()) {
    // Nothing to run until the CronJob is edited (which enqueues it again).
    std::fprintf(stderr, "warning cronjob-controller: %s: %s\n", key.c_str(), schedule.error().to_string().c_str());
    return Ok();
  }
  KL_ASSIGN_OR_RETURN(auto in_ns, jobs_.cache().by_index("namespace", ns));
  std::vector<client::ObjectPtr> owned;
  for (const auto& j : in_ns) {
    auto ref = util::controller_of(*j);
    if (ref && ref->uid == cm.uid()) owned.push_back(j);
  }
  cronjob::Plan plan = cronjob::plan_sync(*cj, *schedule, owned, now_());
  if (!plan.warning.empty()) std::fprintf(stderr, "warning cronjob-controller: %s: %s\n", key.c_str(), plan.warning.c_str());
  const json::object target = util::event_target(*cj, "batch/v1", "CronJob");
  for (const events::Event& e : plan.events) events_->event(target, e.type, e.reason, e.message);
  for (const auto& j : plan.delete_jobs) {
    api::Meta jm(*j);
    client::DeleteOptions opts;
    opts.precondition_uid = std::string(jm.uid());
    opts.propagation = client::PropagationPolicy::kBackground;
    auto r = client_->remove(jobs_ref(ns, std::string(jm.name())), opts);
    if (r.ok()) events_->event(target, events::kNormal, events::kSuccessfulDelete, events::deleted_job(jm.name()));
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) {
      events_->event(target, events::kWarning, events::kFailedDelete, events::error_deleting(r.error().message()));
      return std::move(r).error().context("cronjob " + key);
    }
  }
  if (plan.create) {
    auto r = client_->create(jobs_ref(ns), *plan.create);
    if (r.ok()) {
      api::Meta jm(*r);
      events_->event(target, events::kNormal, events::kSuccessfulCreate, events::created_job(jm.name()));
      json::array& active = json::ensure_array(plan.status, "active");
      active.push_back(json::object{{"kind", "Job"},
                                    {"namespace", jm.namespace_()},
                                    {"name", jm.name()},
                                    {"uid", jm.uid()},
                                    {"apiVersion", "batch/v1"},
                                    {"resourceVersion", jm.resource_version()}});
    } else if (r.error().code() != ErrorCode::kAlreadyExists) {
      events_->event(target, events::kWarning, events::kFailedCreate, "Error creating job: " + r.error().message());
      return std::move(r).error().context("cronjob " + key);
    }
  }
  if (plan.status != api::object_or_empty(*cj, "status")) {
    json::object updated = *cj;
    updated["status"] = plan.status;
    auto r = client_->update_status(cronjobs_ref(ns, name), updated);
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("cronjob " + key);
  }
  if (plan.requeue_after) enqueue_after(key, *plan.requeue_after);
  return Ok();
}

}  // namespace kernlet::controllers
