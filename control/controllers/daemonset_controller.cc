#include "control/controllers/daemonset_controller.h"

#include "api/labels.h"
#include "api/object.h"
#include "control/controllers/claim.h"
#include "control/controllers/controller_events.h"
#include "control/controllers/daemonset_history.h"

namespace kernlet::controllers {
namespace {

constexpr int kBurst = 500;

client::ResourceRef ds_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("apps", "v1", "daemonsets", std::move(ns), std::move(name));
}
client::ResourceRef pods_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("", "v1", "pods", std::move(ns), std::move(name));
}
client::ResourceRef revisions_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("apps", "v1", "controllerrevisions", std::move(ns), std::move(name));
}

}  // namespace

DaemonSetController::DaemonSetController(SharedInformers& informers, int workers)
    : Controller("daemonset-controller", workers),
      client_(informers.client()),
      events_(informers.events("daemonset-controller")),
      daemonsets_(informers.get(ds_ref())),
      nodes_(informers.get(client::ResourceRef("", "v1", "nodes"))),
      pods_(informers.get(pods_ref())),
      revisions_(informers.get(revisions_ref())) {
  auto enqueue_ds = [this](const client::ObjectPtr& ds) { enqueue(client::object_key(*ds)); };
  daemonsets_.add_handler({.on_add = enqueue_ds,
                           .on_update = [enqueue_ds](const client::ObjectPtr&, const client::ObjectPtr& n) { enqueue_ds(n); },
                           .on_delete = [this](const client::ObjectPtr& ds, bool) { expectations_.forget(client::object_key(*ds)); },
                           .on_synced = nullptr});
  nodes_.add_handler({.on_add = [this](const client::ObjectPtr&) { enqueue_all(); },
                      .on_update =
                          [this](const client::ObjectPtr& o, const client::ObjectPtr& n) {
                            // Heartbeats change only status; labels, taints and the like live elsewhere.
                            if (json::find(*o, "metadata") == nullptr || json::find(*n, "metadata") == nullptr) return;
                            api::Meta om(*o), nm(*n);
                            const bool labels_same = (om.labels() == nullptr) == (nm.labels() == nullptr) &&
                                                     (om.labels() == nullptr || *om.labels() == *nm.labels());
                            if (!labels_same || api::object_or_empty(*o, "spec") != api::object_or_empty(*n, "spec")) enqueue_all();
                          },
                      .on_delete = [this](const client::ObjectPtr&, bool) { enqueue_all(); },
                      .on_synced = nullptr});
  pods_.add_handler({.on_add = [this](const client::ObjectPtr& p) { on_pod(p, false); },
                     .on_update =
                         [this](const client::ObjectPtr& o, const client::ObjectPtr& p) {
                           const bool now_deleting = api::Meta(*p).being_deleted() && !api::Meta(*o).being_deleted();
                           on_pod(p, now_deleting ? std::optional<bool>(true) : std::nullopt);
                         },
                     .on_delete =
                         [this](const client::ObjectPtr& p, bool) {
                           on_pod(p, api::Meta(*p).being_deleted() ? std::nullopt : std::optional<bool>(true));
                         },
                     .on_synced = nullptr});
  revisions_.add_handler({.on_add = [this](const client::ObjectPtr& r) { on_revision(r); },
                          .on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& r) { on_revision(r); },
                          .on_delete = [this](const client::ObjectPtr& r, bool) { on_revision(r); },
                          .on_synced = nullptr});
}

void DaemonSetController::on_revision(const client::ObjectPtr& revision) {
  auto ref = util::controller_of(*revision);
  if (ref && ref->kind == "DaemonSet") enqueue(std::string(api::Meta(*revision).namespace_()) + "/" + ref->name);
}

Result<std::vector<client::ObjectPtr>> DaemonSetController::claim_revisions(const json::object& ds) {
  // As ClaimControllerRevisions: owned and matching stay, owned but no longer matching
  // are released, matching orphans adopted.
  api::Meta dm(ds);
  const std::string ns(dm.namespace_());
  auto selector = api::Selector::from_json(json::find(api::object_or_empty(ds, "spec"), "selector"),
                                           api::Selector::NullMeans::kNothing, "spec.selector");
  if (!selector.ok()) return selector.error();
  KL_ASSIGN_OR_RETURN(auto in_ns, revisions_.cache().by_index("namespace", ns));
  std::vector<client::ObjectPtr> owned;
  for (const auto& r : in_ns) {
    api::Meta rm(*r);
    const bool matches = !selector->empty() && selector->matches(rm.labels());
    auto ref = util::controller_of(*r);
    const auto rev_ref = revisions_ref(ns, std::string(rm.name()));
    if (ref && ref->uid == dm.uid()) {
      if (matches) {
        owned.push_back(r);
        continue;
      }
      json::array keep;
      for (const api::OwnerReference& o : rm.owner_references()) {
        if (o.uid != dm.uid()) keep.push_back(o.to_json());
      }
      auto res = client_->patch(rev_ref, client::PatchType::kMerge,
                                json::object{{"metadata", json::object{{"ownerReferences", std::move(keep)}, {"uid", rm.uid()}}}});
      if (!res.ok() && res.error().code() != ErrorCode::kNotFound) return std::move(res).error().context("release revision");
      continue;
    }
    if (ref || !matches || dm.being_deleted() || rm.being_deleted()) continue;
    json::array refs;
    for (const api::OwnerReference& o : rm.owner_references()) refs.push_back(o.to_json());
    refs.push_back(util::controller_ref_json(ds, "apps/v1", "DaemonSet"));
    auto adopted = client_->patch(rev_ref, client::PatchType::kMerge,
                                  json::object{{"metadata", json::object{{"ownerReferences", std::move(refs)}, {"uid", rm.uid()}}}});
    if (adopted.ok()) {
      owned.push_back(std::make_shared<const json::object>(std::move(*adopted)));
    } else if (adopted.error().code() != ErrorCode::kNotFound) {
      return std::move(adopted).error().context("adopt revision");
    }
  }
  return owned;
}

Result<std::pair<std::string, std::vector<client::ObjectPtr>>> DaemonSetController::sync_history(
    const json::object& ds, const std::vector<client::ObjectPtr>& pods) {
  api::Meta dm(ds);
  const std::string ns(dm.namespace_()), key = ns + "/" + std::string(dm.name());
  KL_ASSIGN_OR_RETURN(auto revisions, claim_revisions(ds));
  daemonset::HistoryPlan plan = daemonset::plan_history(ds, revisions, pods);
  for (const auto& r : plan.relabel) {
    api::Meta rm(*r);
    json::object patch{{"metadata", json::object{{"labels", json::object{{daemonset::kRevisionHash, rm.name()}}}}}};
    auto res = client_->patch(revisions_ref(ns, std::string(rm.name())), client::PatchType::kMerge, patch);
    if (!res.ok() && res.error().code() != ErrorCode::kNotFound) return std::move(res).error().context("label revision");
  }
  if (plan.create) {
    const std::string name(api::Meta(*plan.create).name());
    auto created = client_->create(revisions_ref(ns), *plan.create);
    if (created.ok()) return std::pair(daemonset::revision_hash(*created), std::move(plan.old));
    if (created.error().code() != ErrorCode::kAlreadyExists) return std::move(created).error().context("create revision");
    // Ours already (the informer lags), or a hash collision with another template.
    auto existing = client_->get(revisions_ref(ns, name));
    if (!existing.ok()) return std::move(existing).error().context("get revision " + name);
    if (daemonset::revision_matches(ds, *existing)) return std::pair(daemonset::revision_hash(*existing), std::move(plan.old));
    auto fresh = client_->get(ds_ref(ns, std::string(dm.name())));
    if (!fresh.ok()) return std::move(fresh).error().context("daemonset " + key);
    const int64_t seen = json::get_int_or(api::object_or_empty(ds, "status"), "collisionCount", 0);
    const int64_t now = json::get_int_or(api::object_or_empty(*fresh, "status"), "collisionCount", 0);
    if (now == seen) {
      json::ensure_object(*fresh, "status")["collisionCount"] = now + 1;
      auto r = client_->update_status(ds_ref(ns, std::string(dm.name())), *fresh);
      if (!r.ok()) return std::move(r).error().context("bump collisionCount of daemonset " + key);
    }
    return Error(ErrorCode::kAlreadyExists, "revision " + ns + "/" + name + " holds another template (hash collision)");
  }
  const std::string hash = daemonset::revision_hash(*plan.current);
  for (const auto& p : plan.relabel_pods) {
    api::Meta pm(*p);
    json::object patch{{"metadata", json::object{{"labels", json::object{{daemonset::kRevisionHash, hash}}}}}};
    auto res = client_->patch(pods_ref(ns, std::string(pm.name())), client::PatchType::kMerge, patch);
    if (!res.ok() && res.error().code() != ErrorCode::kNotFound) return std::move(res).error().context("relabel pod");
  }
  for (const auto& r : plan.delete_duplicates) {
    auto res = client_->remove(revisions_ref(ns, std::string(api::Meta(*r).name())));
    if (!res.ok() && res.error().code() != ErrorCode::kNotFound) return std::move(res).error().context("delete revision");
  }
  if (plan.renumber_to) {
    auto res = client_->patch(revisions_ref(ns, std::string(api::Meta(*plan.current).name())), client::PatchType::kMerge,
                              json::object{{"revision", *plan.renumber_to}});
    if (!res.ok()) return std::move(res).error().context("renumber revision");
  }
  return std::pair(hash, std::move(plan.old));
}

void DaemonSetController::enqueue_all() {
  for (const auto& ds : daemonsets_.cache().list()) enqueue(client::object_key(*ds));
}

void DaemonSetController::on_pod(const client::ObjectPtr& pod, std::optional<bool> deleted_event) {
  api::Meta pm(*pod);
  auto ref = util::controller_of(*pod);
  if (!ref) {
    if (deleted_event == true) return;
    auto dss = daemonsets_.cache().by_index("namespace", pm.namespace_());
    if (!dss.ok()) return;
    for (const auto& ds : *dss) {
      auto sel = api::Selector::from_json(json::find(api::object_or_empty(*ds, "spec"), "selector"),
                                          api::Selector::NullMeans::kNothing);
      if (sel.ok() && !sel->empty() && sel->matches(pm.labels())) enqueue(client::object_key(*ds));
    }
    return;
  }
  if (ref->kind != "DaemonSet") return;
  const std::string key = std::string(pm.namespace_()) + "/" + ref->name;
  if (deleted_event == true) {
    expectations_.deletion_observed(key);
  } else if (deleted_event == false) {
    expectations_.creation_observed(key);
  }
  enqueue(key);
}

Result<void> DaemonSetController::reconcile(const std::string& key) {
  client::ObjectPtr ds = daemonsets_.cache().get(key);
  if (!ds) {
    expectations_.forget(key);
    return Ok();
  }
  api::Meta meta(*ds);
  const std::string ns(meta.namespace_()), name(meta.name());
  auto selector = api::Selector::from_json(json::find(api::object_or_empty(*ds, "spec"), "selector"),
                                           api::Selector::NullMeans::kNothing, "spec.selector");
  if (!selector.ok()) return Ok();
  KL_ASSIGN_OR_RETURN(auto in_ns, pods_.cache().by_index("namespace", ns));
  KL_ASSIGN_OR_RETURN(auto pods, claim_pods(*client_, *ds, "apps/v1", "DaemonSet", *selector, in_ns));
  if (meta.being_deleted()) return Ok();  // as upstream: the garbage collector takes it from here
  KL_ASSIGN_OR_RETURN(auto history, sync_history(*ds, pods));
  const std::string& hash = history.first;
  const std::vector<client::ObjectPtr> nodes = nodes_.cache().list();
  daemonset::Plan plan = daemonset::plan_sync(*ds, nodes, pods, std::chrono::system_clock::now(), hash);
  if (expectations_.satisfied(key) && !meta.being_deleted()) {
    if (!plan.to_delete.empty()) {
      const int n = std::min<int>(static_cast<int>(plan.to_delete.size()), kBurst);
      expectations_.expect(key, 0, n);
      for (int i = 0; i < n; ++i) {
        api::Meta pm(*plan.to_delete[static_cast<std::size_t>(i)]);
        client::DeleteOptions opts;
        opts.precondition_uid = std::string(pm.uid());
        auto r = client_->remove(pods_ref(ns, std::string(pm.name())), opts);
        if (r.ok()) {
          events_->event(util::event_target(*ds, "apps/v1", "DaemonSet"), events::kNormal, events::kSuccessfulDelete,
                         events::deleted_pod(pm.name()));
        } else if (r.error().code() != ErrorCode::kNotFound) {
          events_->event(util::event_target(*ds, "apps/v1", "DaemonSet"), events::kWarning, events::kFailedDelete,
                         events::error_deleting(r.error().message()));
          for (int j = i; j < n; ++j) expectations_.deletion_observed(key);
          return std::move(r).error().context("delete pod of daemonset " + key);
        }
      }
    }
    if (!plan.create_on.empty()) {
      const int n = std::min<int>(static_cast<int>(plan.create_on.size()), kBurst);
      expectations_.expect(key, n, 0);
      // Slow start: a template the API refuses fails once, not once per node.
      int done = 0;
      for (int batch = 1; done < n; batch *= 2) {
        for (int k = 0; k < batch && done < n; ++k, ++done) {
          auto r = client_->create(pods_ref(ns), daemonset::pod_for_node(*ds, plan.create_on[static_cast<std::size_t>(done)], hash));
          if (r.ok()) {
            events_->event(util::event_target(*ds, "apps/v1", "DaemonSet"), events::kNormal, events::kSuccessfulCreate,
                           events::created_pod(api::Meta(*r).name()));
          } else {
            events_->event(util::event_target(*ds, "apps/v1", "DaemonSet"), events::kWarning, events::kFailedCreate,
                           events::error_creating(r.error().message()));
            for (int j = done; j < n; ++j) expectations_.creation_observed(key);
            return std::move(r).error().context("create pod of daemonset " + key);
          }
        }
      }
    }
  }
  // Old revisions beyond the limit go once the pods no longer carry their hash.
  for (const auto& r : daemonset::prune_history(*ds, std::move(history.second), pods)) {
    auto res = client_->remove(revisions_ref(ns, std::string(api::Meta(*r).name())));
    if (!res.ok() && res.error().code() != ErrorCode::kNotFound) return std::move(res).error().context("prune revision");
  }
  if (plan.requeue_after) enqueue_after(key, *plan.requeue_after);
  if (plan.status != api::object_or_empty(*ds, "status")) {
    json::object updated = *ds;
    updated["status"] = plan.status;
    auto r = client_->update_status(ds_ref(ns, name), updated);
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("daemonset " + key);
  }
  return Ok();
}

}  // namespace kernlet::controllers
