#include "control/controllers/node_lifecycle_controller.h"

#include <cstdio>

#include "api/object.h"
#include "api/objects/node.h"
#include "api/objects/pod.h"
#include "api/time.h"
#include "control/controllers/controller_events.h"

namespace kernlet::controllers {
namespace {

using namespace std::chrono_literals;

client::ResourceRef nodes_ref(std::string name = {}, std::string sub = {}) {
  return client::ResourceRef("", "v1", "nodes", "", std::move(name), std::move(sub));
}
client::ResourceRef leases_ref() { return client::ResourceRef("coordination.k8s.io", "v1", "leases"); }
client::ResourceRef pods_ref(std::string ns = {}, std::string name = {}, std::string sub = {}) {
  return client::ResourceRef("", "v1", "pods", std::move(ns), std::move(name), std::move(sub));
}

constexpr std::string_view kNodeLeaseNamespace = "kube-node-lease";

bool ours(std::string_view key) { return key == lifecycle::kUnreachableTaint || key == lifecycle::kNotReadyTaint; }

std::string_view ready_status(const json::object& node) {
  auto c = api::NodeView(node).status().condition("Ready");
  return c ? c->status() : std::string_view{};
}

std::string zone_of(const json::object& node) {
  const json::object* labels = api::Meta(node).labels();
  if (labels == nullptr) return "";
  for (std::string_view k : {"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"}) {
    if (const json::value* v = json::find(*labels, k); v != nullptr && v->is_string()) return std::string(v->as_string());
  }
  return "";
}

void add_node_index(client::Informer& pods) {
  (void)pods.add_index("node", client::index_by_node_name());  // shared: the first adder wins
}

}  // namespace

namespace lifecycle {

Clock::time_point HealthTracker::observe(const std::string& node, std::string_view heartbeat,
                                         std::string_view lease_renew, Clock::time_point now) {
  auto [it, inserted] = probes_.try_emplace(node, Probe{std::string(heartbeat), std::string(lease_renew), now});
  Probe& p = it->second;
  if (!inserted && (p.heartbeat != heartbeat || p.renew != lease_renew)) {
    p.heartbeat = heartbeat;
    p.renew = lease_renew;
    p.at = now;
  }
  return p.at;
}

void HealthTracker::forget(const std::string& node) { probes_.erase(node); }

std::optional<json::array> unknown_conditions(const json::object& node, std::string_view now) {
  const json::object& status = api::object_or_empty(node, "status");
  const json::array* conds = json::get_array(status, "conditions");
  json::array out;
  bool changed = false;
  bool have_ready = false;
  if (conds != nullptr) {
    for (const json::value& v : *conds) {
      if (!v.is_object()) continue;
      json::object c = v.as_object();
      const bool ready = json::get_string(c, "type") == "Ready";
      have_ready = have_ready || ready;
      if (json::get_string(c, "status") != "Unknown") {
        c["status"] = "Unknown";
        c["reason"] = "NodeStatusUnknown";
        c["message"] = "Kubelet stopped posting node status.";
        c["lastTransitionTime"] = now;
        changed = true;
      }
      out.push_back(std::move(c));
    }
  }
  if (!have_ready) {
    // The kubelet never posted a status: say so, as upstream does.
    out.push_back(json::object{{"type", "Ready"},
                               {"status", "Unknown"},
                               {"reason", "NodeStatusNeverUpdated"},
                               {"message", "Kubelet never posted node status."},
                               {"lastHeartbeatTime", api::Meta(node).creation_timestamp()},
                               {"lastTransitionTime", now}});
    changed = true;
  }
  if (!changed) return std::nullopt;
  return out;
}

std::string_view taint_for_ready(std::string_view ready_status) {
  if (ready_status == "Unknown") return kUnreachableTaint;
  if (ready_status == "False") return kNotReadyTaint;
  return {};
}

bool has_our_no_execute(const json::array* taints) {
  if (taints == nullptr) return false;
  for (const json::value& v : *taints) {
    if (!v.is_object()) continue;
    api::TaintView t(v.as_object());
    if (ours(t.key()) && t.effect() == "NoExecute") return true;
  }
  return false;
}

json::array reconcile_taints(const json::array* current, std::string_view want, bool may_add_no_execute,
                             std::string_view now) {
  json::array out;
  bool have_sched = false, have_exec = false;
  const bool had_exec = has_our_no_execute(current);
  if (current != nullptr) {
    for (const json::value& v : *current) {
      if (!v.is_object()) continue;
      api::TaintView t(v.as_object());
      if (!ours(t.key())) {
        out.push_back(v);
        continue;
      }
      if (want.empty() || t.key() != want) continue;  // the wrong one of ours goes
      if (t.effect() == "NoSchedule") have_sched = true;
      if (t.effect() == "NoExecute") have_exec = true;
      out.push_back(v);
    }
  }
  if (want.empty()) return out;
  if (!have_sched) out.push_back(json::object{{"key", want}, {"effect", "NoSchedule"}});
  if (!have_exec && (may_add_no_execute || had_exec)) {
    out.push_back(json::object{{"key", want}, {"effect", "NoExecute"}, {"timeAdded", now}});
  }
  return out;
}

std::vector<NoExecuteTaint> no_execute_taints(const json::object& node, std::chrono::system_clock::time_point fallback) {
  std::vector<NoExecuteTaint> out;
  for (const api::TaintView& t : api::NodeView(node).spec().taints()) {
    if (t.effect() != "NoExecute") continue;
    auto added = api::parse_rfc3339(t.time_added());
    out.push_back({std::string(t.key()), std::string(t.value()), added.ok() ? *added : fallback});
  }
  return out;
}

std::vector<PodToleration> pod_tolerations(const json::object& pod) {
  std::vector<PodToleration> out;
  for (const api::TolerationView& t : api::PodView(pod).spec().tolerations()) {
    out.push_back({std::string(t.key()), std::string(t.operator_()), std::string(t.value()), std::string(t.effect()),
                   t.toleration_seconds()});
  }
  return out;
}

}  // namespace lifecycle

NodeLifecycleController::NodeLifecycleController(SharedInformers& informers, NodeLifecycleOptions opts)
    : Controller("node-lifecycle-controller", 1),
      client_(informers.client()),
      events_(informers.events("node-controller")),
      nodes_(informers.get(nodes_ref())),
      leases_(informers.get(leases_ref())),
      pods_(informers.get(pods_ref())),
      opts_(opts) {
  add_node_index(pods_);
  auto by_node = [this](const client::ObjectPtr& n) { enqueue(std::string(api::Meta(*n).name())); };
  nodes_.add_handler({.on_add = by_node,
                      .on_update = [by_node](const client::ObjectPtr&, const client::ObjectPtr& n) { by_node(n); },
                      .on_delete = [by_node](const client::ObjectPtr& n, bool) { by_node(n); },
                      .on_synced = nullptr});
  auto by_lease = [this](const client::ObjectPtr& l) {
    api::Meta m(*l);
    if (m.namespace_() == kNodeLeaseNamespace) enqueue(std::string(m.name()));
  };
  leases_.add_handler({.on_add = by_lease,
                       .on_update = [by_lease](const client::ObjectPtr&, const client::ObjectPtr& l) { by_lease(l); },
                       .on_delete = nullptr,
                       .on_synced = nullptr});
}

bool NodeLifecycleController::may_taint_no_execute(const json::object& node, lifecycle::Clock::time_point now) {
  // Zone health from the cache as it is now (our own Unknown marks included).
  std::map<std::string, std::pair<int, int>> zones;  // zone -> (ready, not ready)
  for (const auto& n : nodes_.cache().list()) {
    auto& z = zones[zone_of(*n)];
    (ready_status(*n) == "True" ? z.first : z.second)++;
  }
  bool all_down = !zones.empty();
  for (const auto& [zone, counts] : zones) {
    if (lifecycle::zone_state(counts.first, counts.second, opts_.thresholds) != lifecycle::ZoneState::kFullDisruption) {
      all_down = false;
    }
  }
  const std::string zone = zone_of(node);
  const auto [ready, not_ready] = zones[zone];
  const double rate = lifecycle::eviction_rate(lifecycle::zone_state(ready, not_ready, opts_.thresholds),
                                               ready + not_ready, all_down, opts_.thresholds);
  auto it = buckets_.find(zone);
  if (it == buckets_.end()) {
    it = buckets_.emplace(zone, lifecycle::TokenBucket(rate, 1, now)).first;
  } else {
    it->second.set_rate(rate, now);
  }
  return it->second.try_take(now);
}

Result<void> NodeLifecycleController::reconcile(const std::string& key) {
  client::ObjectPtr node = nodes_.cache().get(key);
  if (!node) {
    health_.forget(key);
    return Ok();
  }
  const auto now = lifecycle::Clock::now();
  const std::string stamp = api::now_rfc3339();
  // Check again a monitor period from now whatever happens (level-triggered, and the
  // only way to notice silence).
  enqueue_after(key, opts_.monitor_period);

  json::object current = *node;
  const auto ready = api::NodeView(current).status().condition("Ready");
  client::ObjectPtr lease = leases_.cache().get(std::string(kNodeLeaseNamespace) + "/" + key);
  const std::string_view renew =
      lease ? json::get_string(api::object_or_empty(*lease, "spec"), "renewTime") : std::string_view{};
  const auto last = health_.observe(key, ready ? ready->last_heartbeat_time() : std::string_view{}, renew, now);

  if (now - last > opts_.grace_period) {
    if (auto conds = lifecycle::unknown_conditions(current, stamp)) {
      std::fprintf(stderr, "node-lifecycle-controller: node %s: no heartbeat for %llds, marking it Unknown\n",
                   key.c_str(),
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(now - last).count()));
      json::object patch{{"metadata", json::object{{"resourceVersion", api::Meta(current).resource_version()}}},
                         {"status", json::object{{"conditions", std::move(*conds)}}}};
      KL_ASSIGN_OR_RETURN(current, client_->patch(nodes_ref(key, "status"), client::PatchType::kMerge,
                                                  json::value(std::move(patch))));
      events_->event(util::event_target(current, "v1", "Node"), events::kNormal, events::kNodeNotReady,
                     events::node_status_now(key, events::kNodeNotReady));
    }
    // Upstream marks the pods NotReady on each pass while the node is Unknown.
    KL_TRY(mark_pods_not_ready(key));
  }

  const std::string_view want = lifecycle::taint_for_ready(ready_status(current));
  const json::array* taints = json::get_array(api::object_or_empty(current, "spec"), "taints");
  const bool need_token = !want.empty() && !lifecycle::has_our_no_execute(taints);
  const bool may_add = need_token && may_taint_no_execute(current, now);
  json::array next = lifecycle::reconcile_taints(taints, want, may_add, stamp);
  const json::array empty;
  if (next != (taints != nullptr ? *taints : empty)) {
    json::object patch{{"metadata", json::object{{"resourceVersion", api::Meta(current).resource_version()}}},
                       {"spec", json::object{{"taints", std::move(next)}}}};
    auto r = client_->patch(nodes_ref(key), client::PatchType::kMerge, json::value(std::move(patch)));
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) return std::move(r).error().context("taint node " + key);
  }
  return Ok();
}

Result<void> NodeLifecycleController::mark_pods_not_ready(const std::string& node) {
  KL_ASSIGN_OR_RETURN(auto pods, pods_.cache().by_index("node", node));
  const std::string now = api::now_rfc3339();
  for (const auto& pod : pods) {
    const json::array* conds = json::get_array(api::object_or_empty(*pod, "status"), "conditions");
    if (conds == nullptr || !util::pod_ready(*pod)) continue;
    json::array next;
    for (const json::value& v : *conds) {
      json::object c = v.is_object() ? v.as_object() : json::object{};
      if (json::get_string(c, "type") == "Ready") {
        c["status"] = "False";
        c["lastTransitionTime"] = now;
      }
      next.push_back(std::move(c));
    }
    api::Meta pm(*pod);
    json::object patch{{"metadata", json::object{{"uid", pm.uid()}}}, {"status", json::object{{"conditions", std::move(next)}}}};
    auto r = client_->patch(pods_ref(std::string(pm.namespace_()), std::string(pm.name()), "status"),
                            client::PatchType::kMerge, json::value(std::move(patch)));
    if (!r.ok() && r.error().code() != ErrorCode::kNotFound) {
      return std::move(r).error().context("mark pod " + client::object_key(*pod) + " not ready");
    }
    if (r.ok()) {
      events_->event(util::event_target(*pod, "v1", "Pod"), events::kWarning, events::kNodeNotReady,
                     std::string(events::kPodNodeNotReadyMessage));
    }
  }
  return Ok();
}

TaintEvictionController::TaintEvictionController(SharedInformers& informers, int workers)
    : Controller("taint-eviction-controller", workers),
      client_(informers.client()),
      events_(informers.events("taint-eviction-controller")),
      nodes_(informers.get(nodes_ref())),
      pods_(informers.get(pods_ref())) {
  add_node_index(pods_);
  auto on_pod = [this](const client::ObjectPtr& p) {
    if (!api::PodView(*p).spec().node_name().empty()) enqueue(client::object_key(*p));
  };
  pods_.add_handler({.on_add = on_pod,
                     .on_update = [on_pod](const client::ObjectPtr&, const client::ObjectPtr& p) { on_pod(p); },
                     .on_delete = nullptr,
                     .on_synced = nullptr});
  nodes_.add_handler({.on_add = [this](const client::ObjectPtr& n) { enqueue_pods_on(*n); },
                      .on_update =
                          [this](const client::ObjectPtr& old_node, const client::ObjectPtr& n) {
                            const auto epoch = std::chrono::system_clock::time_point{};
                            auto a = lifecycle::no_execute_taints(*old_node, epoch);
                            auto b = lifecycle::no_execute_taints(*n, epoch);
                            auto same = [](const auto& x, const auto& y) {
                              return x.key == y.key && x.value == y.value && x.added == y.added;
                            };
                            if (!std::equal(a.begin(), a.end(), b.begin(), b.end(), same)) enqueue_pods_on(*n);
                          },
                      .on_delete = nullptr,
                      .on_synced = nullptr});
}

void TaintEvictionController::enqueue_pods_on(const json::object& node) {
  if (lifecycle::no_execute_taints(node, {}).empty()) return;
  auto pods = pods_.cache().by_index("node", api::Meta(node).name());
  if (!pods.ok()) return;
  for (const auto& p : *pods) enqueue(client::object_key(*p));
}

Result<void> TaintEvictionController::reconcile(const std::string& key) {
  client::ObjectPtr pod = pods_.cache().get(key);
  if (!pod) return Ok();
  api::PodView pv(*pod);
  if (pv.meta().being_deleted() || pv.spec().node_name().empty()) return Ok();
  client::ObjectPtr node = nodes_.cache().get(pv.spec().node_name());
  if (!node) return Ok();
  const auto now = std::chrono::system_clock::now();
  auto deadline = lifecycle::eviction_deadline(lifecycle::no_execute_taints(*node, now), lifecycle::pod_tolerations(*pod));
  if (!deadline) return Ok();
  if (*deadline > now) {
    // Look again when the toleration runs out (a taint removed before then makes this a no-op).
    enqueue_after(key, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now) + 10ms);
    return Ok();
  }
  std::fprintf(stderr, "taint-eviction-controller: deleting pod %s: node %s has a NoExecute taint it no longer tolerates\n",
               key.c_str(), std::string(pv.spec().node_name()).c_str());
  events_->event(util::event_target(*pod, "v1", "Pod"), events::kNormal, events::kTaintManagerEviction,
                 events::marking_for_deletion(pv.meta().namespace_(), pv.meta().name()));
  client::DeleteOptions opts;
  opts.precondition_uid = std::string(pv.meta().uid());
  auto r = client_->remove(pods_ref(std::string(pv.meta().namespace_()), std::string(pv.meta().name())), opts);
  if (!r.ok() && r.error().code() != ErrorCode::kNotFound && r.error().code() != ErrorCode::kConflict) {
    return std::move(r).error().context("evict pod " + key);
  }
  return Ok();
}

}  // namespace kernlet::controllers
