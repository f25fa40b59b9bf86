#include "control/controllers/deployment_controller.h"

#include <algorithm>
#include <charconv>

#include "api/labels.h"
#include "api/object.h"
#include "api/time.h"
#include "control/controllers/controller_events.h"
#include "control/controllers/rollout.h"

namespace kernlet::controllers {
namespace {

constexpr std::string_view kRevision = "deployment.kubernetes.io/revision";
constexpr std::string_view kRevisionHistory = "deployment.kubernetes.io/revision-history";
constexpr std::string_view kDesired = "deployment.kubernetes.io/desired-replicas";
constexpr std::string_view kMax = "deployment.kubernetes.io/max-replicas";
constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

client::ResourceRef deployments_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("apps", "v1", "deployments", std::move(ns), std::move(name));
}
client::ResourceRef rs_ref(std::string ns = {}, std::string name = {}) {
  return client::ResourceRef("apps", "v1", "replicasets", std::move(ns), std::move(name));
}

int64_t spec_replicas(const json::object& o) { return json::get_int_or(api::object_or_empty(o, "spec"), "replicas", 1); }
int64_t status_int(const json::object& o, std::string_view f) { return json::get_int_or(api::object_or_empty(o, "status"), f, 0); }

int64_t revision_of(const json::object& rs) {
  auto v = api::Meta(rs).annotation(kRevision);
  int64_t r = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), r);
  return r;
}

const json::object& template_of(const json::object& o) {
  static const json::object kEmpty;
  const json::object* t = json::get_object(api::object_or_empty(o, "spec"), "template");
  return t != nullptr ? *t : kEmpty;
}

rollout::ReplicaSetState state_of(const json::object& rs) {
  return {std::string(api::Meta(rs).name()), static_cast<int32_t>(spec_replicas(rs)),
          static_cast<int32_t>(status_int(rs, "availableReplicas")), std::string(api::Meta(rs).creation_timestamp())};
}

json::object condition(std::string_view type, std::string_view status, std::string_view reason, std::string_view message,
                       const json::object* previous, bool progressed) {
  const std::string now = api::now_rfc3339();
  json::object c{{"type", type}, {"status", status}, {"reason", reason}, {"message", message}};
  const bool same = previous != nullptr && json::get_string(*previous, "status") == status;
  const bool same_text = same && json::get_string(*previous, "reason") == reason &&
                         json::get_string(*previous, "message") == message;
  c["lastTransitionTime"] = same ? json::value(json::get_string(*previous, "lastTransitionTime")) : json::value(now);
  c["lastUpdateTime"] = same_text && !progressed ? json::value(json::get_string(*previous, "lastUpdateTime")) : json::value(now);
  return c;
}

}  // namespace

DeploymentController::DeploymentController(SharedInformers& informers, int workers)
    : Controller("deployment-controller", workers),
      client_(informers.client()),
      events_(informers.events("deployment-controller")),
      deployments_(informers.get(deployments_ref())),
      rss_(informers.get(rs_ref())),
      pods_(informers.get(client::ResourceRef("", "v1", "pods"))) {
  auto enqueue_d = [this](const client::ObjectPtr& d) { enqueue(client::object_key(*d)); };
  deployments_.add_handler({.on_add = enqueue_d,
                            .on_update = [enqueue_d](const client::ObjectPtr&, const client::ObjectPtr& n) { enqueue_d(n); },
                            .on_delete = nullptr,
                            .on_synced = nullptr});
  auto rs_changed = [this](const client::ObjectPtr& rs) { enqueue_owner(*rs); };
  rss_.add_handler({.on_add = rs_changed,
                    .on_update = [rs_changed](const client::ObjectPtr&, const client::ObjectPtr& n) { rs_changed(n); },
                    .on_delete = [rs_changed](const client::ObjectPtr& rs, bool) { rs_changed(rs); },
                    .on_synced = nullptr});
  // A Recreate rollout waits for the old pods to be gone.
  pods_.add_handler({.on_add = nullptr,
                     .on_update = nullptr,
                     .on_delete =
                         [this](const client::ObjectPtr& pod, bool) {
                           auto ref = util::controller_of(*pod);
                           if (!ref || ref->kind != "ReplicaSet") return;
                           auto rs = rss_.cache().get(std::string(api::Meta(*pod).namespace_()) + "/" + ref->name);
                           if (rs) enqueue_owner(*rs);
                         },
                     .on_synced = nullptr});
}

void DeploymentController::enqueue_owner(const json::object& rs) {
  const std::string ns(api::Meta(rs).namespace_());
  if (auto ref = util::controller_of(rs)) {
    if (ref->kind == "Deployment") enqueue(ns + "/" + ref->name);
    return;
  }
  auto ds = deployments_.cache().by_index("namespace", ns);
  if (!ds.ok()) return;
  for (const auto& d : *ds) {
    auto sel = api::Selector::from_json(json::find(api::object_or_empty(*d, "spec"), "selector"),
                                        api::Selector::NullMeans::kNothing);
    if (sel.ok() && !sel->empty() && sel->matches(api::Meta(rs).labels())) enqueue(client::object_key(*d));
  }
}

Result<client::ObjectPtr> DeploymentController::create_new_rs(const json::object& d, int64_t revision, int64_t replicas) {
  api::Meta dm(d);
  const json::object& spec = api::object_or_empty(d, "spec");
  const int32_t collisions = static_cast<int32_t>(status_int(d, "collisionCount"));
  const std::string hash = rollout::pod_template_hash(template_of(d), collisions);
  json::object tmpl = template_of(d);
  json::ensure_object(json::ensure_object(tmpl, "metadata"), "labels")["pod-template-hash"] = hash;
  json::object selector = api::object_or_empty(spec, "selector");
  json::ensure_object(selector, "matchLabels")["pod-template-hash"] = hash;
  json::object annotations;
  if (const json::object* a = dm.annotations()) {
    for (const auto& [k, v] : *a) {
      if (k != kLastApplied && k != kRevision && k != kRevisionHistory && k != kDesired && k != kMax) annotations[k] = v;
    }
  }
  annotations[kRevision] = std::to_string(revision);
  annotations[kDesired] = std::to_string(spec_replicas(d));
  json::object meta{{"name", std::string(dm.name()) + "-" + hash},
                    {"namespace", dm.namespace_()},
                    {"labels", api::object_or_empty(api::object_or_empty(tmpl, "metadata"), "labels")},
                    {"annotations", std::move(annotations)},
                    {"ownerReferences", json::array{util::controller_ref_json(d, "apps/v1", "Deployment")}}};
  json::object rs_spec{{"replicas", replicas}, {"selector", std::move(selector)}, {"template", std::move(tmpl)}};
  if (const json::value* mrs = json::find(spec, "minReadySeconds")) rs_spec["minReadySeconds"] = *mrs;
  json::object rs{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"metadata", std::move(meta)}, {"spec", std::move(rs_spec)}};
  auto created = client_->create(rs_ref(std::string(dm.namespace_())), rs);
  if (!created.ok()) return std::move(created).error().context("create replicaset for deployment " + std::string(dm.name()));
  if (replicas > 0) {
    events_->event(util::event_target(d, "apps/v1", "Deployment"), events::kNormal, events::kScalingReplicaSet,
                   events::scaled_new_replica_set(api::Meta(*created).name(), replicas));
  }
  return std::make_shared<const json::object>(std::move(*created));
}

Result<void> DeploymentController::scale(const json::object& rs, int64_t replicas, const json::object& d,
                                         std::optional<int64_t> revision) {
  json::object updated = rs;
  bool changed = false;
  json::object& spec = json::ensure_object(updated, "spec");
  const int64_t was = json::get_int_or(spec, "replicas", 1);
  if (was != replicas) {
    spec["replicas"] = replicas;
    changed = true;
  }
  api::MutableMeta m(updated);
  const std::string desired = std::to_string(spec_replicas(d));
  if (m.annotation(kDesired) != std::optional<std::string_view>(desired)) {
    m.set_annotation(kDesired, desired);
    changed = true;
  }
  if (revision) {
    const std::string rev = std::to_string(*revision);
    auto old = m.annotation(kRevision);
    if (old != std::optional<std::string_view>(rev)) {
      // A rollback makes an old ReplicaSet new again: it takes the next revision and
      // remembers the ones it had.
      if (old && !old->empty()) {
        std::string history(m.annotation(kRevisionHistory).value_or(""));
        m.set_annotation(kRevisionHistory, history.empty() ? std::string(*old) : history + "," + std::string(*old));
      }
      m.set_annotation(kRevision, rev);
      changed = true;
    }
  }
  if (!changed) return Ok();
  auto r = client_->update(rs_ref(std::string(m.namespace_()), std::string(m.name())), updated);
  if (!r.ok()) return std::move(r).error().context("scale replicaset " + std::string(m.name()));
  if (was != replicas) {
    events_->event(util::event_target(d, "apps/v1", "Deployment"), events::kNormal, events::kScalingReplicaSet,
                   events::scaled_replica_set(m.name(), replicas, was));
  }
  return Ok();
}

Result<void> DeploymentController::set_deployment_revision(const json::object& d, int64_t revision) {
  // The Deployment carries its current revision too (`kubectl rollout undo` patches its
  // annotations, and users read it there).
  const std::string rev = std::to_string(revision);
  api::Meta dm(d);
  if (dm.annotation(kRevision) == std::optional<std::string_view>(rev)) return Ok();
  json::object patch{{"metadata", json::object{{"annotations", json::object{{kRevision, rev}}}}}};
  // Through /status, as upstream: an annotation change on the main resource would bump a
  // Deployment's generation.
  auto r = client_->patch(deployments_ref(std::string(dm.namespace_()), std::string(dm.name())).sub("status"),
                          client::PatchType::kMerge, json::value(std::move(patch)));
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("annotate deployment");
  return Ok();
}

Result<void> DeploymentController::reconcile(const std::string& key) {
  client::ObjectPtr d = deployments_.cache().get(key);
  if (!d || api::Meta(*d).being_deleted()) return Ok();
  api::Meta dm(*d);
  const std::string ns(dm.namespace_());
  const json::object& spec = api::object_or_empty(*d, "spec");
  auto selector = api::Selector::from_json(json::find(spec, "selector"), api::Selector::NullMeans::kNothing);
  if (!selector.ok()) return Ok();
  KL_ASSIGN_OR_RETURN(auto in_ns, rss_.cache().by_index("namespace", ns));

  // Claim ReplicaSets: ours by controller reference; adopt matching orphans.
  std::vector<client::ObjectPtr> owned;
  for (const auto& rs : in_ns) {
    api::Meta rm(*rs);
    auto ref = util::controller_of(*rs);
    if (ref && ref->uid == dm.uid()) {
      owned.push_back(rs);
    } else if (!ref && !rm.being_deleted() && !selector->empty() && selector->matches(rm.labels())) {
      json::array refs;
      for (const api::OwnerReference& o : rm.owner_references()) refs.push_back(o.to_json());
      refs.push_back(util::controller_ref_json(*d, "apps/v1", "Deployment"));
      json::object patch{{"metadata", json::object{{"ownerReferences", std::move(refs)}, {"uid", rm.uid()}}}};
      auto adopted = client_->patch(rs_ref(ns, std::string(rm.name())), client::PatchType::kMerge, json::value(patch));
      if (adopted.ok()) owned.push_back(std::make_shared<const json::object>(std::move(*adopted)));
    }
  }
  client::ObjectPtr new_rs;
  std::vector<client::ObjectPtr> old;
  for (const auto& rs : owned) {
    if (!new_rs && rollout::same_template(template_of(*rs), template_of(*d))) {
      new_rs = rs;
    } else {
      old.push_back(rs);
    }
  }
  std::vector<std::string_view> old_revisions;
  std::vector<std::string> keep_alive;
  for (const auto& rs : old) {
    keep_alive.emplace_back(api::Meta(*rs).annotation(kRevision).value_or("0"));
  }
  for (const auto& s : keep_alive) old_revisions.emplace_back(s);
  const int64_t next_rev = rollout::next_revision(old_revisions);
  const int64_t replicas = spec_replicas(*d);
  const bool paused = json::get_bool_or(spec, "paused", false);
  const json::object& strategy = api::object_or_empty(spec, "strategy");
  const bool recreate = json::get_string(strategy, "type") == "Recreate";
  const json::object& ru = api::object_or_empty(strategy, "rollingUpdate");
  KL_ASSIGN_OR_RETURN(rollout::Fenceposts f, rollout::resolve_fenceposts(api::get_int_or_string(ru, "maxSurge"),
                                                                       api::get_int_or_string(ru, "maxUnavailable"),
                                                                       static_cast<int32_t>(replicas)));
  std::vector<rollout::ReplicaSetState> old_states;
  for (const auto& rs : old) old_states.push_back(state_of(*rs));
  int32_t old_total = 0;
  for (const auto& s : old_states) old_total += s.replicas;

  bool created = false;
  if (!new_rs && !paused) {
    int64_t initial = 0;
    if (recreate) {
      initial = old_total == 0 ? replicas : 0;
    } else {
      initial = rollout::new_replicas(static_cast<int32_t>(replicas), f, {"", 0, 0, ""}, old_states);
    }
    KL_ASSIGN_OR_RETURN(new_rs, create_new_rs(*d, next_rev, initial));
    created = true;
    KL_TRY(set_deployment_revision(*d, next_rev));
  } else if (new_rs && !paused) {
    const int64_t rev = revision_of(*new_rs) >= next_rev ? revision_of(*new_rs) : next_rev;
    rollout::ReplicaSetState ns_state = state_of(*new_rs);
    int64_t target = ns_state.replicas;
    if (recreate) {
      if (old_total > 0) {
        for (const auto& rs : old) KL_TRY(scale(*rs, 0, *d, std::nullopt));
      } else {
        // Wait until the old ReplicaSets' pods are gone before starting new ones.
        bool old_pods = false;
        KL_ASSIGN_OR_RETURN(auto pods, pods_.cache().by_index("namespace", ns));
        for (const auto& p : pods) {
          auto ref = util::controller_of(*p);
          if (!ref || !util::pod_active(*p)) continue;
          for (const auto& rs : old) old_pods = old_pods || ref->uid == api::Meta(*rs).uid();
        }
        if (!old_pods) target = replicas;
      }
    } else {
      if (old_total == 0 || ns_state.replicas > replicas) {
        target = replicas;  // a scaling event, or the rollout is done
      } else {
        target = rollout::new_replicas(static_cast<int32_t>(replicas), f, ns_state, old_states);
      }
      ns_state.replicas = static_cast<int32_t>(target);
      auto scaled = rollout::scale_down_old(static_cast<int32_t>(replicas), f, ns_state, old_states);
      for (std::size_t i = 0; i < old.size(); ++i) {
        if (scaled[i] != old_states[i].replicas) KL_TRY(scale(*old[i], scaled[i], *d, std::nullopt));
      }
    }
    KL_TRY(scale(*new_rs, target, *d, rev));
    KL_TRY(set_deployment_revision(*d, rev));
  } else if (new_rs && paused && old_total == 0 && spec_replicas(*new_rs) != replicas) {
    KL_TRY(scale(*new_rs, replicas, *d, std::nullopt));  // paused: scaling still applies
  }

  // History: keep revisionHistoryLimit old ReplicaSets that are scaled to zero.
  const int64_t limit = json::get_int_or(spec, "revisionHistoryLimit", 10);
  std::vector<client::ObjectPtr> idle;
  for (const auto& rs : old) {
    if (spec_replicas(*rs) == 0 && status_int(*rs, "replicas") == 0 && !api::Meta(*rs).being_deleted()) idle.push_back(rs);
  }
  std::sort(idle.begin(), idle.end(), [](const auto& a, const auto& b) { return revision_of(*a) < revision_of(*b); });
  for (std::size_t i = 0; static_cast<int64_t>(idle.size() - i) > limit; ++i) {
    api::Meta rm(*idle[i]);
    client::DeleteOptions opts;
    opts.precondition_uid = std::string(rm.uid());
    auto r = client_->remove(rs_ref(ns, std::string(rm.name())), opts);
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
  }
  return write_status(*d, owned, new_rs, created);
}

Result<void> DeploymentController::write_status(const json::object& d, const std::vector<client::ObjectPtr>& rss,
                                                const client::ObjectPtr& new_rs, bool created_new) {
  api::Meta dm(d);
  const json::object& spec = api::object_or_empty(d, "spec");
  const int64_t desired = spec_replicas(d);
  int64_t replicas = 0, ready = 0, available = 0;
  for (const auto& rs : rss) {
    replicas += status_int(*rs, "replicas");
    ready += status_int(*rs, "readyReplicas");
    available += status_int(*rs, "availableReplicas");
  }
  const int64_t updated = new_rs ? status_int(*new_rs, "replicas") : 0;
  const json::object& ru = api::object_or_empty(api::object_or_empty(spec, "strategy"), "rollingUpdate");
  auto f = rollout::resolve_fenceposts(api::get_int_or_string(ru, "maxSurge"), api::get_int_or_string(ru, "maxUnavailable"),
                                       static_cast<int32_t>(desired));
  const int64_t max_unavailable =
      json::get_string(api::object_or_empty(spec, "strategy"), "type") == "Recreate" ? desired : (f.ok() ? f->max_unavailable : 0);

  const json::object& old = api::object_or_empty(d, "status");
  json::object status = old;
  status["observedGeneration"] = dm.generation();
  status["replicas"] = replicas;
  status["updatedReplicas"] = updated;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["unavailableReplicas"] = std::max<int64_t>(0, desired - available);
  const bool progressed = json::get_int_or(old, "replicas", -1) != replicas ||
                          json::get_int_or(old, "updatedReplicas", -1) != updated ||
                          json::get_int_or(old, "availableReplicas", -1) != available;

  const json::object* prev_available = nullptr;
  const json::object* prev_progressing = nullptr;
  if (const json::array* cs = json::get_array(old, "conditions")) {
    for (const json::value& c : *cs) {
      if (!c.is_object()) continue;
      if (json::get_string(c.as_object(), "type") == "Available") prev_available = &c.as_object();
      if (json::get_string(c.as_object(), "type") == "Progressing") prev_progressing = &c.as_object();
    }
  }
  json::array conditions;
  if (available >= desired - max_unavailable) {
    conditions.push_back(condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                                   prev_available, false));
  } else {
    conditions.push_back(condition("Available", "False", "MinimumReplicasUnavailable",
                                   "Deployment does not have minimum availability.", prev_available, false));
  }
  const std::string rs_name = new_rs ? std::string(api::Meta(*new_rs).name()) : std::string();
  const bool complete = new_rs && updated == desired && replicas == updated && available == updated;
  const int64_t deadline = json::get_int_or(spec, "progressDeadlineSeconds", 600);
  if (json::get_bool_or(spec, "paused", false)) {
    conditions.push_back(condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", prev_progressing, false));
  } else if (created_new) {
    conditions.push_back(condition("Progressing", "True", "NewReplicaSetCreated",
                                   "Created new replica set \"" + rs_name + "\"", prev_progressing, true));
  } else if (complete) {
    conditions.push_back(condition("Progressing", "True", "NewReplicaSetAvailable",
                                   "ReplicaSet \"" + rs_name + "\" has successfully progressed.", prev_progressing, progressed));
  } else {
    json::object c = condition("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"" + rs_name + "\" is progressing.",
                               prev_progressing, progressed);
    auto last = api::parse_rfc3339(json::get_string(c, "lastUpdateTime"));
    const bool timed_out = prev_progressing != nullptr &&
                           json::get_string(*prev_progressing, "reason") == "ProgressDeadlineExceeded" && !progressed;
    if (timed_out || (last.ok() && *last + std::chrono::seconds(deadline) < std::chrono::system_clock::now())) {
      c = condition("Progressing", "False", "ProgressDeadlineExceeded",
                    "ReplicaSet \"" + rs_name + "\" has timed out progressing.", prev_progressing, false);
    } else {
      enqueue_after(client::object_key(d), std::chrono::seconds(deadline + 1));
    }
    conditions.push_back(std::move(c));
  }
  status["conditions"] = std::move(conditions);
  if (status == old) return Ok();
  json::object next = d;
  next["status"] = std::move(status);
  auto r = client_->update_status(deployments_ref(std::string(dm.namespace_()), std::string(dm.name())), next);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return r.error();
  return Ok();
}

}  // namespace kernlet::controllers
