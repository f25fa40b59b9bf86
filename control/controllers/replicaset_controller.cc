#include "control/controllers/replicaset_controller.h"

#include <algorithm>

#include "api/object.h"
#include "api/objects/pod.h"
#include "control/controllers/controller_events.h"

namespace kernlet::controllers {
namespace {

constexpr int kBurst = 500;  // at most this many creations or deletions per sync
constexpr std::string_view kApiVersion = "apps/v1";
constexpr std::string_view kKind = "ReplicaSet";

client::ResourceRef rs_ref(std::string ns = {}, std::string name = {}, std::string sub = {}) {
  return client::ResourceRef("apps", "v1", "replicasets", std::move(ns), std::move(name), std::move(sub));
}
client::ResourceRef pods_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("", "v1", "pods", std::move(ns), std::move(name));
}

int phase_rank(std::string_view phase) {
  if (phase == "Pending") return 0;
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 3;
}

int64_t restarts(const json::object& pod) {
  int64_t n = 0;
  if (const json::array* cs = api::PodView(pod).status().container_statuses()) {
    for (const json::value& c : *cs) {
      if (c.is_object()) n += json::get_int_or(c.as_object(), "restartCount", 0);
    }
  }
  return n;
}

std::string_view ready_since(const json::object& pod) {
  auto c = api::pod_condition(api::PodView(pod).status(), "Ready");
  return c ? c->last_transition_time() : std::string_view{};
}

}  // namespace

json::object pod_from_template(const json::object& pod_template, const json::object& owner, std::string_view api_version,
                               std::string_view kind) {
  api::Meta om(owner);
  const json::object& tmeta = api::object_or_empty(pod_template, "metadata");
  json::object meta{{"generateName", std::string(om.name()) + "-"}, {"namespace", om.namespace_()}};
  for (std::string_view k : {"labels", "annotations", "finalizers"}) {
    if (const json::value* v = json::find(tmeta, k)) meta[k] = *v;
  }
  meta["ownerReferences"] = json::array{util::controller_ref_json(owner, api_version, kind)};
  json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}};
  if (const json::value* spec = json::find(pod_template, "spec")) pod["spec"] = *spec;
  return pod;
}

void sort_for_deletion(std::vector<client::ObjectPtr>& pods) {
  std::stable_sort(pods.begin(), pods.end(), [](const client::ObjectPtr& a, const client::ObjectPtr& b) {
    api::PodView pa(*a), pb(*b);
    const bool sa = !pa.spec().node_name().empty(), sb = !pb.spec().node_name().empty();
    if (sa != sb) return !sa;  // unscheduled first
    const int ra = phase_rank(pa.status().phase()), rb = phase_rank(pb.status().phase());
    if (ra != rb) return ra < rb;
    const bool ya = util::pod_ready(*a), yb = util::pod_ready(*b);
    if (ya != yb) return !ya;  // not ready first
    if (ya && yb && ready_since(*a) != ready_since(*b)) return ready_since(*a) > ready_since(*b);
    if (restarts(*a) != restarts(*b)) return restarts(*a) > restarts(*b);
    return pa.meta().creation_timestamp() > pb.meta().creation_timestamp();  // newer first
  });
}

ReplicaSetController::ReplicaSetController(SharedInformers& informers, int workers)
    : Controller("replicaset-controller", workers),
      client_(informers.client()),
      events_(informers.events("replicaset-controller")),
      rss_(informers.get(rs_ref())),
      pods_(informers.get(pods_ref())) {
  auto enqueue_rs = [this](const client::ObjectPtr& rs) { enqueue(client::object_key(*rs)); };
  rss_.add_handler({.on_add = enqueue_rs,
                    .on_update = [enqueue_rs](const client::ObjectPtr&, const client::ObjectPtr& n) { enqueue_rs(n); },
                    .on_delete = [this](const client::ObjectPtr& rs, bool) {
                      expectations_.forget(client::object_key(*rs));
                    },
                    .on_synced = nullptr});
  pods_.add_handler({.on_add = [this](const client::ObjectPtr& p) { on_pod(p, PodChange::kAdded); },
                     .on_update =
                         [this](const client::ObjectPtr& old_pod, const client::ObjectPtr& p) {
                           // Labels changed: the old owner may have to release it, others adopt it.
                           if (api::Meta(*old_pod).labels() != nullptr && api::Meta(*p).labels() != nullptr &&
                               *api::Meta(*old_pod).labels() != *api::Meta(*p).labels()) {
                             enqueue_matching(*old_pod);
                           }
                           if (!api::Meta(*old_pod).being_deleted() && api::Meta(*p).being_deleted()) {
                             on_pod(p, PodChange::kTerminating);
                           } else if (auto ref = util::controller_of(*p); ref && ref->kind == kKind) {
                             enqueue(std::string(api::Meta(*p).namespace_()) + "/" + ref->name);
                           } else if (!ref) {
                             enqueue_matching(*p);
                           }
                         },
                     .on_delete = [this](const client::ObjectPtr& p, bool) { on_pod(p, PodChange::kGone); },
                     .on_synced = nullptr});
}

void ReplicaSetController::on_pod(const client::ObjectPtr& pod, PodChange change) {
  auto ref = util::controller_of(*pod);
  if (!ref) {
    if (change == PodChange::kAdded) enqueue_matching(*pod);  // an orphan someone may adopt
    return;
  }
  if (ref->kind != kKind) return;
  const std::string key = std::string(api::Meta(*pod).namespace_()) + "/" + ref->name;
  const std::string uid(api::Meta(*pod).uid());
  switch (change) {
    case PodChange::kAdded:
      expectations_.creation_observed(key);
      break;
    case PodChange::kTerminating: {
      std::lock_guard<std::mutex> lock(terminating_mu_);
      if (terminating_.insert(uid).second) expectations_.deletion_observed(key);
      break;
    }
    case PodChange::kGone: {
      std::lock_guard<std::mutex> lock(terminating_mu_);
      if (terminating_.erase(uid) == 0) expectations_.deletion_observed(key);
      break;
    }
  }
  enqueue(key);
}

void ReplicaSetController::enqueue_matching(const json::object& pod) {
  auto rss = rss_.cache().by_index("namespace", api::Meta(pod).namespace_());
  if (!rss.ok()) return;
  for (const auto& rs : *rss) {
    auto sel = api::Selector::from_json(json::find(api::object_or_empty(*rs, "spec"), "selector"),
                                        api::Selector::NullMeans::kNothing);
    if (sel.ok() && !sel->empty() && sel->matches(api::Meta(pod).labels())) enqueue(client::object_key(*rs));
  }
}

Result<void> ReplicaSetController::reconcile(const std::string& key) {
  client::ObjectPtr rs = rss_.cache().get(key);
  if (!rs) {
    expectations_.forget(key);
    return Ok();
  }
  api::Meta meta(*rs);
  const json::object& spec = api::object_or_empty(*rs, "spec");
  auto selector = api::Selector::from_json(json::find(spec, "selector"), api::Selector::NullMeans::kNothing,
                                           "spec.selector");
  if (!selector.ok()) return Ok();  // invalid objects are refused by the API; nothing to converge
  const std::string ns(meta.namespace_());
  KL_ASSIGN_OR_RETURN(auto in_ns, pods_.cache().by_index("namespace", ns));

  // Claim: ours by controller reference and labels; adopt matching orphans; release the rest.
  std::vector<client::ObjectPtr> owned;
  for (const auto& pod : in_ns) {
    api::Meta pm(*pod);
    const bool matches = selector->matches(pm.labels());
    auto ref = util::controller_of(*pod);
    if (ref && ref->uid == meta.uid()) {
      if (matches || meta.being_deleted()) {
        owned.push_back(pod);
        continue;
      }
      // Release: drop our controller reference, precondition on the pod's uid.
      json::array keep;
      for (const api::OwnerReference& o : pm.owner_references()) {
        if (o.uid != meta.uid()) keep.push_back(o.to_json());
      }
      json::object patch{{"metadata", json::object{{"ownerReferences", std::move(keep)}, {"uid", pm.uid()}}}};
      auto r = client_->patch(pods_ref(ns, std::string(pm.name())), client::PatchType::kMerge, json::value(patch));
      if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
      continue;
    }
    if (ref || !matches || meta.being_deleted() || pm.being_deleted() || !util::pod_active(*pod)) continue;
    json::array refs;
    for (const api::OwnerReference& o : pm.owner_references()) refs.push_back(o.to_json());
    refs.push_back(util::controller_ref_json(*rs, kApiVersion, kKind));
    json::object patch{{"metadata", json::object{{"ownerReferences", std::move(refs)}, {"uid", pm.uid()}}}};
    auto adopted = client_->patch(pods_ref(ns, std::string(pm.name())), client::PatchType::kMerge, json::value(patch));
    if (adopted.ok()) {
      owned.push_back(std::make_shared<const json::object>(std::move(*adopted)));
    } else if (adopted.error().code() != ErrorCode::kNotFound) {
      return adopted.error();
    }
  }

  std::vector<client::ObjectPtr> active;
  for (const auto& p : owned) {
    if (util::pod_active(*p)) active.push_back(p);
  }
  if (expectations_.satisfied(key) && !meta.being_deleted()) KL_TRY(manage(*rs, key, active));
  return write_status(*rs, owned);
}

Result<void> ReplicaSetController::manage(const json::object& rs, const std::string& key,
                                          std::vector<client::ObjectPtr>& active) {
  api::Meta meta(rs);
  const std::string ns(meta.namespace_());
  const int64_t want = json::get_int_or(api::object_or_empty(rs, "spec"), "replicas", 1);
  const int64_t diff = static_cast<int64_t>(active.size()) - want;
  if (diff < 0) {
    const int n = static_cast<int>(std::min<int64_t>(-diff, kBurst));
    expectations_.expect(key, n, 0);
    const json::object* tmpl = json::get_object(api::object_or_empty(rs, "spec"), "template");
    if (tmpl == nullptr) return Error(ErrorCode::kInvalidArgument, "replicaset " + key + " has no spec.template");
    const json::object pod = pod_from_template(*tmpl, rs, kApiVersion, kKind);
    // Slow start: 1, 2, 4, … so that a template the API refuses fails once, not 500 times.
    int created = 0;
    for (int batch = 1; created < n; batch *= 2) {
      const int size = std::min(batch, n - created);
      for (int i = 0; i < size; ++i) {
        auto r = client_->create(pods_ref(ns), pod);
        if (r.ok()) {
          events_->event(util::event_target(rs, kApiVersion, kKind), events::kNormal, events::kSuccessfulCreate,
                         events::created_pod(api::Meta(*r).name()));
        } else {
          events_->event(util::event_target(rs, kApiVersion, kKind), events::kWarning, events::kFailedCreate,
                         events::error_creating(r.error().message()));
          // The ones not created will never be observed: stop expecting them.
          for (int j = created; j < n; ++j) expectations_.creation_observed(key);
          return std::move(r).error().context("create pod for replicaset " + key);
        }
        ++created;
      }
    }
    return Ok();
  }
  if (diff > 0) {
    const int n = static_cast<int>(std::min<int64_t>(diff, kBurst));
    sort_for_deletion(active);
    expectations_.expect(key, 0, n);
    for (int i = 0; i < n; ++i) {
      api::Meta pm(*active[static_cast<std::size_t>(i)]);
      client::DeleteOptions opts;
      opts.precondition_uid = std::string(pm.uid());
      auto r = client_->remove(pods_ref(ns, std::string(pm.name())), opts);
      if (r.ok()) {
        events_->event(util::event_target(rs, kApiVersion, kKind), events::kNormal, events::kSuccessfulDelete,
                       events::deleted_pod(pm.name()));
      } else {
        if (r.error().code() == ErrorCode::kNotFound) continue;  // gone already: observed below
        events_->event(util::event_target(rs, kApiVersion, kKind), events::kWarning, events::kFailedDelete,
                       events::error_deleting(r.error().message()));
        for (int j = i; j < n; ++j) expectations_.deletion_observed(key);
        return std::move(r).error().context("delete pod for replicaset " + key);
      }
    }
  }
  return Ok();
}

Result<void> ReplicaSetController::write_status(const json::object& rs, const std::vector<client::ObjectPtr>& owned) {
  api::Meta meta(rs);
  const json::object& spec = api::object_or_empty(rs, "spec");
  const int64_t min_ready = json::get_int_or(spec, "minReadySeconds", 0);
  const json::object* tmpl_labels = json::get_path(spec, "template.metadata.labels");
  const auto now = std::chrono::system_clock::now();
  int64_t replicas = 0, fully_labeled = 0, ready = 0, available = 0;
  bool waiting_for_availability = false;
  for (const auto& p : owned) {
    if (!util::pod_active(*p)) continue;
    ++replicas;
    const json::object* labels = api::Meta(*p).labels();
    bool all = true;
    if (tmpl_labels != nullptr) {
      for (const auto& [k, v] : *tmpl_labels) {
        const json::value* have = labels != nullptr ? json::find(*labels, k) : nullptr;
        if (have == nullptr || *have != v) all = false;
      }
    }
    fully_labeled += all;
    if (util::pod_ready(*p)) {
      ++ready;
      if (util::pod_available(*p, min_ready, now)) {
        ++available;
      } else {
        waiting_for_availability = true;
      }
    }
  }
  if (waiting_for_availability) enqueue_after(client::object_key(rs), std::chrono::seconds(std::max<int64_t>(1, min_ready)));
  const json::object& old = api::object_or_empty(rs, "status");
  json::object status = old;
  status["replicas"] = replicas;
  status["fullyLabeledReplicas"] = fully_labeled;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["observedGeneration"] = meta.generation();
  if (status == old) return Ok();
  json::object updated = rs;
  updated["status"] = std::move(status);
  auto r = client_->update_status(rs_ref(std::string(meta.namespace_()), std::string(meta.name())), updated);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
  return Ok();
}

}  // namespace kernlet::controllers
