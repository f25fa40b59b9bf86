#include "control/controllers/job_controller.h"

#include "api/labels.h"
#include "api/object.h"
#include "api/objects/batch.h"
#include "api/time.h"
#include "control/controllers/claim.h"
#include "control/controllers/controller_events.h"

namespace kernlet::controllers {
namespace {

using Clock = std::chrono::system_clock;
constexpr int kBurst = 500;

client::ResourceRef jobs_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("batch", "v1", "jobs", std::move(ns), std::move(name));
}
client::ResourceRef pods_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("", "v1", "pods", std::move(ns), std::move(name));
}

}  // namespace

JobController::JobController(SharedInformers& informers, int workers)
    : Controller("job-controller", workers),
      client_(informers.client()),
      events_(informers.events("job-controller")),
      jobs_(informers.get(jobs_ref())),
      pods_(informers.get(pods_ref())) {
  auto enqueue_job = [this](const client::ObjectPtr& j) { enqueue(client::object_key(*j)); };
  jobs_.add_handler({.on_add = enqueue_job,
                     .on_update = [enqueue_job](const client::ObjectPtr&, const client::ObjectPtr& n) { enqueue_job(n); },
                     .on_delete =
                         [this](const client::ObjectPtr& j, bool) {
                           const std::string key = client::object_key(*j);
                           expectations_.forget(key);
                           {
                             std::lock_guard lk(mu_);
                             backoff_.erase(key);
                           }
                           enqueue(key);  // its pods' finalizers go
                         },
                     .on_synced = nullptr});
  pods_.add_handler({.on_add = [this](const client::ObjectPtr& p) { on_pod(p, false); },
                     .on_update =
                         [this](const client::ObjectPtr& old_pod, const client::ObjectPtr& p) {
                           // A pod being deleted keeps our finalizer until we count it:
                           // the deletionTimestamp is the deletion we wait for.
                           if (api::Meta(*p).being_deleted() && !api::Meta(*old_pod).being_deleted()) {
                             on_pod(p, true);
                           } else {
                             on_pod(p, std::nullopt);
                           }
                         },
                     .on_delete =
                         [this](const client::ObjectPtr& p, bool) {
                           {
                             std::lock_guard lk(mu_);
                             finalizer_removed_.erase(std::string(api::Meta(*p).uid()));
                           }
                           // Seen being deleted already: that was the observed deletion.
                           on_pod(p, api::Meta(*p).being_deleted() ? std::nullopt : std::optional<bool>(true));
                         },
                     .on_synced = nullptr});
}

void JobController::on_pod(const client::ObjectPtr& pod, std::optional<bool> deleted_event) {
  api::Meta pm(*pod);
  const bool deleted = deleted_event.value_or(false);
  if (!pm.has_finalizer(job::kTrackingFinalizer)) {
    std::lock_guard lk(mu_);
    finalizer_removed_.erase(std::string(pm.uid()));
  }
  auto ref = util::controller_of(*pod);
  if (!ref) {
    // An orphan a Job's selector may match.
    if (deleted) return;
    auto jobs = jobs_.cache().by_index("namespace", pm.namespace_());
    if (!jobs.ok()) return;
    for (const auto& j : *jobs) {
      auto sel = api::Selector::from_json(json::find(api::object_or_empty(*j, "spec"), "selector"),
                                          api::Selector::NullMeans::kNothing);
      if (sel.ok() && !sel->empty() && sel->matches(pm.labels())) enqueue(client::object_key(*j));
    }
    return;
  }
  if (ref->kind != "Job") return;
  const std::string key = std::string(pm.namespace_()) + "/" + ref->name;
  if (deleted_event == true) {
    expectations_.deletion_observed(key);
  } else if (deleted_event == false) {
    expectations_.creation_observed(key);
  }
  enqueue(key);
}

Result<void> JobController::release_orphans(const std::string& key, std::string_view job_uid) {
  // Pods of a Job that is gone (or of an older Job of that name) keep our finalizer
  // forever unless we remove it, as upstream's orphan-pod handling does.
  const std::size_t slash = key.find('/');
  const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  KL_ASSIGN_OR_RETURN(auto in_ns, pods_.cache().by_index("namespace", ns));
  for (const auto& p : in_ns) {
    api::Meta pm(*p);
    auto ref = util::controller_of(*p);
    if (!ref || ref->kind != "Job" || ref->name != name || ref->uid == job_uid) continue;
    if (!pm.has_finalizer(job::kTrackingFinalizer)) continue;
    json::array keep;
    for (std::string_view f : pm.finalizers()) {
      if (f != job::kTrackingFinalizer) keep.emplace_back(f);
    }
    // null, not []: the field goes, as it does upstream when the last finalizer is removed.
    json::value finalizers = keep.empty() ? json::value(nullptr) : json::value(std::move(keep));
    json::object patch{{"metadata", json::object{{"finalizers", std::move(finalizers)}, {"uid", pm.uid()}}}};
    auto r = client_->patch(pods_ref(ns, std::string(pm.name())), client::PatchType::kMerge, json::value(patch));
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("release pod of job " + key);
  }
  return Ok();
}

Result<void> JobController::reconcile(const std::string& key) {
  client::ObjectPtr job = jobs_.cache().get(key);
  if (!job) {
    expectations_.forget(key);
    return release_orphans(key, "");
  }
  KL_TRY(release_orphans(key, api::Meta(*job).uid()));
  api::Meta meta(*job);
  const std::string ns(meta.namespace_());
  auto selector = api::Selector::from_json(json::find(api::object_or_empty(*job, "spec"), "selector"),
                                           api::Selector::NullMeans::kNothing, "spec.selector");
  if (!selector.ok()) return Ok();
  KL_ASSIGN_OR_RETURN(auto in_ns, pods_.cache().by_index("namespace", ns));
  KL_ASSIGN_OR_RETURN(auto pods, claim_pods(*client_, *job, "batch/v1", "Job", *selector, in_ns));
  // Until our own creations and deletions have come back, decide nothing new about pod
  // counts (status still converges on the next event).
  if (!expectations_.satisfied(key)) return Ok();
  job::BackoffRecord backoff;
  std::set<std::string> removed;
  {
    std::lock_guard lk(mu_);
    backoff = backoff_[key];
    removed = finalizer_removed_;
  }
  job::SyncPlan plan = job::plan_sync(*job, pods, Clock::now(), backoff, removed);
  KL_TRY(execute(*job, key, plan));
  std::lock_guard lk(mu_);
  backoff_[key] = plan.backoff;
  return Ok();
}

Result<void> JobController::execute(const json::object& job, const std::string& key, job::SyncPlan& plan) {
  api::Meta meta(job);
  const std::string ns(meta.namespace_()), name(meta.name());
  const json::object& old = api::object_or_empty(job, "status");
  json::object current = job;
  // 1. Record finished pods as uncounted before their finalizer goes, so none is lost or
  //    counted twice if we stop in between.
  if (plan.status_uncounted != old) {
    current["status"] = plan.status_uncounted;
    auto r = client_->update_status(jobs_ref(ns, name), current);
    if (!r.ok()) {
      if (r.error().code() == ErrorCode::kNotFound) return Ok();
      return std::move(r).error().context("job " + key);
    }
    current = std::move(*r);
  }
  // 2. Remove the tracking finalizer from the recorded pods.
  for (const auto& p : plan.remove_finalizer) {
    api::Meta pm(*p);
    json::array keep;
    for (std::string_view f : pm.finalizers()) {
      if (f != job::kTrackingFinalizer) keep.emplace_back(f);
    }
    // null, not []: the field goes, as it does upstream when the last finalizer is removed.
    json::value finalizers = keep.empty() ? json::value(nullptr) : json::value(std::move(keep));
    json::object patch{{"metadata", json::object{{"finalizers", std::move(finalizers)}, {"uid", pm.uid()}}}};
    auto r = client_->patch(pods_ref(ns, std::string(pm.name())), client::PatchType::kMerge, json::value(patch));
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("job " + key);
    std::lock_guard lk(mu_);
    finalizer_removed_.emplace(pm.uid());
  }
  // 3. Pods.
  if (!plan.to_delete.empty()) {
    expectations_.expect(key, 0, static_cast<int>(plan.to_delete.size()));
    for (std::size_t i = 0; i < plan.to_delete.size(); ++i) {
      api::Meta pm(*plan.to_delete[i]);
      client::DeleteOptions opts;
      opts.precondition_uid = std::string(pm.uid());
      auto r = client_->remove(pods_ref(ns, std::string(pm.name())), opts);
      if (r.ok()) {
        events_->event(util::event_target(job, "batch/v1", "Job"), events::kNormal, events::kSuccessfulDelete,
                       events::deleted_pod(pm.name()));
      } else if (r.error().code() != ErrorCode::kNotFound) {
        events_->event(util::event_target(job, "batch/v1", "Job"), events::kWarning, events::kFailedDelete,
                       events::error_deleting(r.error().message()));
        for (std::size_t j = i; j < plan.to_delete.size(); ++j) expectations_.deletion_observed(key);
        return std::move(r).error().context("delete pod of job " + key);
      }
    }
  }
  std::vector<std::optional<int32_t>> creations;
  for (int i = 0; i < std::min(plan.create, kBurst); ++i) creations.emplace_back(std::nullopt);
  for (int32_t i : plan.create_indexes) {
    if (static_cast<int>(creations.size()) < kBurst) creations.emplace_back(i);
  }
  if (!creations.empty()) {
    expectations_.expect(key, static_cast<int>(creations.size()), 0);
    // Slow start, as the ReplicaSet controller: a template the API refuses fails once.
    std::size_t done = 0;
    for (std::size_t batch = 1; done < creations.size(); batch *= 2) {
      for (std::size_t k = 0; k < batch && done < creations.size(); ++k, ++done) {
        auto r = client_->create(pods_ref(ns), job::pod_for_job(job, creations[done]));
        if (r.ok()) {
          events_->event(util::event_target(job, "batch/v1", "Job"), events::kNormal, events::kSuccessfulCreate,
                         events::created_pod(api::Meta(*r).name()));
        } else {
          events_->event(util::event_target(job, "batch/v1", "Job"), events::kWarning, events::kFailedCreate,
                         events::error_creating(r.error().message()));
          for (std::size_t j = done; j < creations.size(); ++j) expectations_.creation_observed(key);
          return std::move(r).error().context("create pod for job " + key);
        }
      }
    }
  }
  if (plan.requeue_after && plan.requeue_after->count() > 0) enqueue_after(key, *plan.requeue_after);
  // 4. The counted status.
  if (plan.status != api::object_or_empty(current, "status")) {
    const json::object before = api::object_or_empty(current, "status");
    current["status"] = plan.status;
    auto r = client_->update_status(jobs_ref(ns, name), current);
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("job " + key);
    if (r.ok()) {
      for (const events::Event& e : events::job_status_events(before, plan.status)) {
        events_->event(util::event_target(job, "batch/v1", "Job"), e.type, e.reason, e.message);
      }
    }
  }
  return Ok();
}

std::optional<Clock::time_point> job_expires_at(const json::object& job) {
  api::JobView jv(job);
  auto ttl = jv.spec().ttl_seconds_after_finished();
  if (!ttl || !api::job_is_finished(jv)) return std::nullopt;
  std::string_view at = jv.status().completion_time();
  for (std::string_view type : {"Complete", "Failed"}) {
    if (auto c = jv.status().condition(type); c && c->is_true() && !c->last_transition_time().empty()) {
      at = c->last_transition_time();
    }
  }
  auto t = api::parse_rfc3339(at);
  if (!t.ok()) return std::nullopt;
  return *t + std::chrono::seconds(*ttl);
}

TtlAfterFinishedController::TtlAfterFinishedController(SharedInformers& informers, int workers)
    : Controller("ttl-after-finished-controller", workers), client_(informers.client()), jobs_(informers.get(jobs_ref())) {
  auto enqueue_job = [this](const client::ObjectPtr& j) {
    if (job_expires_at(*j)) enqueue(client::object_key(*j));
  };
  jobs_.add_handler({.on_add = enqueue_job,
                     .on_update = [enqueue_job](const client::ObjectPtr&, const client::ObjectPtr& n) { enqueue_job(n); },
                     .on_delete = nullptr,
                     .on_synced = nullptr});
}

Result<void> TtlAfterFinishedController::reconcile(const std::string& key) {
  client::ObjectPtr job = jobs_.cache().get(key);
  if (!job || api::Meta(*job).being_deleted()) return Ok();
  auto at = job_expires_at(*job);
  if (!at) return Ok();
  const auto now = Clock::now();
  if (*at > now) {
    enqueue_after(key, std::chrono::ceil<std::chrono::milliseconds>(*at - now));
    return Ok();
  }
  api::Meta m(*job);
  client::DeleteOptions opts;
  opts.precondition_uid = std::string(m.uid());
  opts.propagation = client::PropagationPolicy::kBackground;
  auto r = client_->remove(jobs_ref(std::string(m.namespace_()), std::string(m.name())), opts);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("ttl delete job " + key);
  return Ok();
}

}  // namespace kernlet::controllers
