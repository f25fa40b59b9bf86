#include "control/controllers/daemonset_controller.h"

#include "api/labels.h"
#include "api/object.h"
#include "control/controllers/claim.h"

namespace kernlet::controllers {
namespace {

constexpr int kBurst = 500;

client::ResourceRef ds_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("apps", "v1", "daemonsets", std::move(ns), std::move(name));
}
client::ResourceRef pods_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("", "v1", "pods", std::move(ns), std::move(name));
}

}  // namespace

DaemonSetController::DaemonSetController(SharedInformers& informers, int workers)
    : Controller("daemonset-controller", workers),
      client_(informers.client()),
      daemonsets_(informers.get(ds_ref())),
      nodes_(informers.get(client::ResourceRef("", "v1", "nodes"))),
      pods_(informers.get(pods_ref())) {
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
  const std::vector<client::ObjectPtr> nodes = nodes_.cache().list();
  daemonset::Plan plan = daemonset::plan_sync(*ds, nodes, pods, std::chrono::system_clock::now());
  if (expectations_.satisfied(key) && !meta.being_deleted()) {
    if (!plan.to_delete.empty()) {
      const int n = std::min<int>(static_cast<int>(plan.to_delete.size()), kBurst);
      expectations_.expect(key, 0, n);
      for (int i = 0; i < n; ++i) {
        api::Meta pm(*plan.to_delete[static_cast<std::size_t>(i)]);
        client::DeleteOptions opts;
        opts.precondition_uid = std::string(pm.uid());
        auto r = client_->remove(pods_ref(ns, std::string(pm.name())), opts);
        if (!r.ok() && r.error().code() != ErrorCode::kNotFound) {
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
          auto r = client_->create(pods_ref(ns), daemonset::pod_for_node(*ds, plan.create_on[static_cast<std::size_t>(done)]));
          if (!r.ok()) {
            for (int j = done; j < n; ++j) expectations_.creation_observed(key);
            return std::move(r).error().context("create pod of daemonset " + key);
          }
        }
      }
    }
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
