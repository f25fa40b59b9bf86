#include "control/controllers/daemonset_sync.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "api/object.h"
#include "api/objects/pod.h"
#include "api/objects/workloads.h"
#include "control/controllers/controller.h"
#include "control/controllers/replicaset_controller.h"
#include "control/controllers/rollout.h"
#include "control/scheduler/pod_info.h"

namespace kernlet::controllers::daemonset {
namespace {

using Clock = std::chrono::system_clock;

const json::object& template_of(const json::object& ds) {
  static const json::object kEmpty;
  const json::object* t = json::get_object(api::object_or_empty(ds, "spec"), "template");
  return t != nullptr ? *t : kEmpty;
}

// An IntOrString against `total`: percentages rounded up, as upstream's DaemonSet does
// for both maxSurge and maxUnavailable.
int64_t scaled(const std::optional<api::IntOrString>& v, int64_t total, int64_t fallback) {
  if (!v) return fallback;
  if (v->is_int) return v->int_value;
  std::string_view s = v->str_value;
  if (!s.ends_with('%')) return fallback;
  int64_t pct = 0;
  std::from_chars(s.data(), s.data() + s.size() - 1, pct);
  return static_cast<int64_t>(std::ceil(static_cast<double>(pct) * static_cast<double>(total) / 100.0));
}

bool older(const client::ObjectPtr& a, const client::ObjectPtr& b) {
  auto ca = api::Meta(*a).creation_timestamp(), cb = api::Meta(*b).creation_timestamp();
  if (ca != cb) return ca < cb;
  return api::Meta(*a).name() < api::Meta(*b).name();
}

bool updated(const json::object& pod, const std::string& hash) {
  return api::Meta(pod).label(kRevisionHash) == std::optional<std::string_view>(hash);
}

void set_or_omit(json::object& o, std::string_view key, int64_t v) {
  if (v == 0) {
    o.erase(key);
  } else {
    o[key] = v;
  }
}

}  // namespace

std::string current_hash(const json::object& ds) {
  const int64_t collisions = json::get_int_or(api::object_or_empty(ds, "status"), "collisionCount", 0);
  return rollout::pod_template_hash(template_of(ds), static_cast<int32_t>(collisions));
}

void add_daemon_tolerations(json::object& spec) {
  struct T {
    std::string_view key, effect;
  };
  std::vector<T> want = {{"node.kubernetes.io/not-ready", "NoExecute"},
                         {"node.kubernetes.io/unreachable", "NoExecute"},
                         {"node.kubernetes.io/disk-pressure", "NoSchedule"},
                         {"node.kubernetes.io/memory-pressure", "NoSchedule"},
                         {"node.kubernetes.io/pid-pressure", "NoSchedule"},
                         {"node.kubernetes.io/unschedulable", "NoSchedule"}};
  if (json::get_bool_or(spec, "hostNetwork", false)) want.push_back({"node.kubernetes.io/network-unavailable", "NoSchedule"});
  json::array& tolerations = json::ensure_array(spec, "tolerations");
  for (const T& t : want) {
    // Upstream replaces a toleration with the same key and effect (dropping, e.g., a
    // tolerationSeconds the user set): the daemon pod must stay forever.
    json::object add{{"key", t.key}, {"operator", "Exists"}, {"effect", t.effect}};
    bool replaced = false;
    for (json::value& have : tolerations) {
      if (have.is_object() && json::get_string(have.as_object(), "key") == t.key &&
          json::get_string(have.as_object(), "effect") == t.effect) {
        have = add;
        replaced = true;
      }
    }
    if (!replaced) tolerations.push_back(std::move(add));
  }
}

std::string target_node(const json::object& pod) {
  api::PodView pv(pod);
  if (!pv.spec().node_name().empty()) return std::string(pv.spec().node_name());
  const json::object* req = json::get_path(api::object_or_empty(pod, "spec"),
                                           "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  if (req == nullptr) return "";
  const json::array* terms = json::get_array(*req, "nodeSelectorTerms");
  if (terms == nullptr) return "";
  for (const json::value& term : *terms) {
    if (!term.is_object()) continue;
    const json::array* fields = json::get_array(term.as_object(), "matchFields");
    if (fields == nullptr) continue;
    for (const json::value& f : *fields) {
      if (!f.is_object() || json::get_string(f.as_object(), "key") != "metadata.name" ||
          json::get_string(f.as_object(), "operator") != "In") {
        continue;
      }
      const json::array* vals = json::get_array(f.as_object(), "values");
      if (vals != nullptr && vals->size() == 1 && vals->front().is_string()) return std::string(vals->front().as_string());
    }
  }
  return "";
}

NodeFit node_fit(const json::object& ds, const json::object& node) {
  json::object pod{{"metadata", json::object{{"name", "probe"}, {"namespace", "default"}}},
                   {"spec", api::object_or_empty(template_of(ds), "spec")}};
  add_daemon_tolerations(json::ensure_object(pod, "spec"));
  auto pi = scheduler::parse_pod(pod);
  auto ni = scheduler::parse_node(node);
  if (!pi.ok() || !ni.ok()) return {};
  if (!pi->node_name.empty() && pi->node_name != ni->name) return {};
  const json::object* labels = &ni->labels;
  for (const auto& [k, v] : pi->node_selector) {
    if (ni->label(k) != std::optional<std::string_view>(v)) return {};
  }
  if (pi->has_required_node_affinity) {
    const bool any = std::any_of(pi->required_node_affinity.begin(), pi->required_node_affinity.end(),
                                 [&](const scheduler::NodeSelectorTerm& t) { return t.matches(labels, ni->name); });
    if (!any) return {};
  }
  bool no_schedule = false, no_execute = false;
  for (const scheduler::Taint& t : ni->taints) {
    if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
    const bool tolerated = std::any_of(pi->tolerations.begin(), pi->tolerations.end(),
                                       [&](const scheduler::Toleration& tol) { return tol.tolerates(t.key, t.value, t.effect); });
    if (tolerated) continue;
    (t.effect == "NoExecute" ? no_execute : no_schedule) = true;
  }
  if (no_schedule || no_execute) return {false, !no_execute};
  return {true, true};
}

json::object pod_for_node(const json::object& ds, const std::string& node, std::string_view hash) {
  json::object pod = pod_from_template(template_of(ds), ds, "apps/v1", "DaemonSet");
  api::MutableMeta m(pod);
  m.set_label(kRevisionHash, hash.empty() ? current_hash(ds) : std::string(hash));
  m.set_label("pod-template-generation", std::to_string(api::Meta(ds).generation()));
  json::object& spec = json::ensure_object(pod, "spec");
  add_daemon_tolerations(spec);
  json::object term{{"matchFields", json::array{json::object{
                                        {"key", "metadata.name"}, {"operator", "In"}, {"values", json::array{json::value(node)}}}}}};
  json::object& na = json::ensure_object(json::ensure_object(spec, "affinity"), "nodeAffinity");
  json::ensure_object(na, "requiredDuringSchedulingIgnoredDuringExecution")["nodeSelectorTerms"] = json::array{std::move(term)};
  return pod;
}

Plan plan_sync(const json::object& ds, const std::vector<client::ObjectPtr>& nodes,
               const std::vector<client::ObjectPtr>& pods, Clock::time_point now, std::string_view current_revision_hash) {
  Plan plan;
  api::DaemonSetSpecView spec(api::object_or_empty(ds, "spec"));
  const std::string hash = current_revision_hash.empty() ? current_hash(ds) : std::string(current_revision_hash);
  const int64_t min_ready = spec.min_ready_seconds();
  const bool rolling = spec.update_strategy_type() != "OnDelete";

  std::map<std::string, std::vector<client::ObjectPtr>> by_node;
  std::set<std::string> terminating;  // nodes with a daemon pod still going away
  for (const auto& p : pods) {
    if (api::Meta(*p).being_deleted()) {
      terminating.insert(target_node(*p));
      continue;
    }
    by_node[target_node(*p)].push_back(p);
  }
  for (auto& [n, ps] : by_node) std::sort(ps.begin(), ps.end(), older);

  std::map<std::string, NodeFit> fits;
  for (const auto& n : nodes) fits[std::string(api::Meta(*n).name())] = node_fit(ds, *n);
  int64_t desired = 0;
  for (const auto& [n, f] : fits) desired += f.should_run;
  const int64_t max_surge = rolling ? std::max<int64_t>(0, scaled(spec.max_surge(), desired, 0)) : 0;
  int64_t max_unavailable = rolling ? std::max<int64_t>(0, scaled(spec.max_unavailable(), desired, 1)) : 0;
  if (rolling && max_surge == 0 && max_unavailable == 0) max_unavailable = 1;

  // manage: create where missing, delete where not wanted, failed or duplicated.
  std::set<const json::object*> deleting;
  auto remove = [&](const client::ObjectPtr& p) {
    if (deleting.insert(p.get()).second) plan.to_delete.push_back(p);
  };
  for (const auto& [node, ps] : by_node) {
    auto f = fits.find(node);
    if (f == fits.end() || !f->second.should_continue) {
      for (const auto& p : ps) remove(p);  // not wanted here, or the node is gone
      continue;
    }
    std::vector<client::ObjectPtr> running;
    for (const auto& p : ps) {
      if (api::PodView(*p).status().phase() == "Failed") {
        remove(p);  // the next sync creates a replacement
      } else {
        running.push_back(p);
      }
    }
    if (running.size() <= 1) continue;
    if (max_surge > 0) {
      // Keep the oldest updated pod and the oldest old one; the surge settles it.
      bool kept_new = false, kept_old = false;
      for (const auto& p : running) {
        bool& kept = updated(*p, hash) ? kept_new : kept_old;
        if (kept) {
          remove(p);
        } else {
          kept = true;
        }
      }
    } else {
      for (std::size_t i = 1; i < running.size(); ++i) remove(running[i]);
    }
  }
  // A node gets its pod once the previous one is gone (failed, replaced or surplus pods
  // are deleted first), as upstream: the new pod may need the old one's host ports.
  for (const auto& [node, f] : fits) {
    if (f.should_run && !by_node.contains(node) && !terminating.contains(node)) plan.create_on.push_back(node);
  }

  // Rolling update over the nodes whose pods survived manage.
  bool waiting_ready = false;
  auto available = [&](const json::object& p) {
    const bool ready = util::pod_ready(p);
    const bool avail = util::pod_available(p, min_ready, now);
    if (ready && !avail) waiting_ready = true;
    return avail;
  };
  if (rolling) {
    int64_t unavailable = 0, surge = 0;
    std::vector<client::ObjectPtr> allowed, candidates;
    std::vector<std::string> allowed_nodes, candidate_nodes;
    for (const auto& [node, ps] : by_node) {
      auto f = fits.find(node);
      if (f == fits.end() || !f->second.should_continue) continue;
      client::ObjectPtr new_pod, old_pod;
      bool ok = true;
      for (const auto& p : ps) {
        if (deleting.contains(p.get())) continue;
        client::ObjectPtr& slot = updated(*p, hash) ? new_pod : old_pod;
        if (slot) ok = false;
        slot = p;
      }
      if (max_surge == 0) {
        if (!ok || (!new_pod && !old_pod) || (new_pod && old_pod)) {
          ++unavailable;
        } else if (new_pod) {
          if (!available(*new_pod)) ++unavailable;
        } else if (!available(*old_pod)) {
          allowed.push_back(old_pod);  // replaced at once; it was unavailable anyway
          ++unavailable;
        } else if (unavailable < max_unavailable) {
          candidates.push_back(old_pod);
        }
      } else {
        if (!ok) {
          ++surge;
        } else if (!old_pod) {
          // the manage step handles it
        } else if (!new_pod) {
          if (!available(*old_pod)) {
            allowed_nodes.push_back(node);
            ++surge;
          } else if (surge < max_surge) {
            candidate_nodes.push_back(node);
          }
        } else if (!available(*new_pod)) {
          ++surge;
        } else {
          remove(old_pod);
        }
      }
    }
    if (max_surge == 0) {
      const int64_t room = std::clamp<int64_t>(max_unavailable - unavailable, 0, static_cast<int64_t>(candidates.size()));
      for (const auto& p : allowed) remove(p);
      for (int64_t i = 0; i < room; ++i) remove(candidates[static_cast<std::size_t>(i)]);
    } else {
      const int64_t room = std::clamp<int64_t>(max_surge - surge, 0, static_cast<int64_t>(candidate_nodes.size()));
      for (const auto& n : allowed_nodes) plan.create_on.push_back(n);
      for (int64_t i = 0; i < room; ++i) plan.create_on.push_back(candidate_nodes[static_cast<std::size_t>(i)]);
    }
  }

  // Status, per node over the pods that remain (the oldest counts, as upstream).
  int64_t current = 0, misscheduled = 0, ready = 0, avail = 0, updated_n = 0;
  for (const auto& [node, ps] : by_node) {
    if (ps.empty()) continue;
    auto f = fits.find(node);
    const bool should_run = f != fits.end() && f->second.should_run;
    if (!should_run) {
      if (f != fits.end()) ++misscheduled;
      continue;
    }
    ++current;
    const json::object& first = *ps.front();
    if (util::pod_ready(first)) {
      ++ready;
      if (available(first)) ++avail;
    }
    if (std::any_of(ps.begin(), ps.end(), [&](const auto& p) { return updated(*p, hash); })) ++updated_n;
  }
  const json::object& old = api::object_or_empty(ds, "status");
  json::object& st = plan.status = old;
  st["desiredNumberScheduled"] = desired;
  st["currentNumberScheduled"] = current;
  st["numberMisscheduled"] = misscheduled;
  st["numberReady"] = ready;
  set_or_omit(st, "numberAvailable", avail);
  set_or_omit(st, "updatedNumberScheduled", updated_n);
  set_or_omit(st, "numberUnavailable", std::max<int64_t>(0, desired - avail));
  st["observedGeneration"] = api::Meta(ds).generation();
  if (waiting_ready) plan.requeue_after = std::chrono::seconds(std::max<int64_t>(1, min_ready));
  return plan;
}

}  // namespace kernlet::controllers::daemonset
