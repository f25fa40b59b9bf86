#include "control/controllers/daemonset_history.h"

#include <algorithm>
#include <set>

#include "api/object.h"
#include "control/controllers/controller.h"
#include "control/controllers/daemonset_sync.h"
#include "control/controllers/rollout.h"

namespace kernlet::controllers::daemonset {
namespace {

const json::object& template_of(const json::object& ds) {
  return api::object_or_empty(api::object_or_empty(ds, "spec"), "template");
}

int64_t number_of(const json::object& revision) { return json::get_int_or(revision, "revision", 0); }

bool lower_revision(const client::ObjectPtr& a, const client::ObjectPtr& b) {
  if (number_of(*a) != number_of(*b)) return number_of(*a) < number_of(*b);
  return api::Meta(*a).name() < api::Meta(*b).name();
}

}  // namespace

json::object revision_data(const json::object& ds) {
  json::object t = template_of(ds);
  t["$patch"] = "replace";
  return json::object{{"spec", json::object{{"template", std::move(t)}}}};
}

bool revision_matches(const json::object& ds, const json::object& revision) {
  const json::object* data = json::get_object(revision, "data");
  if (data == nullptr) return false;
  const json::object* t = json::get_object(api::object_or_empty(*data, "spec"), "template");
  if (t == nullptr) return false;
  json::object recorded = *t;
  recorded.erase("$patch");
  return rollout::same_template(recorded, template_of(ds));
}

std::string revision_hash(const json::object& revision) {
  if (auto h = api::Meta(revision).label(kRevisionHash); h && !h->empty()) return std::string(*h);
  return std::string(api::Meta(revision).name());
}

json::object new_revision(const json::object& ds, int64_t number) {
  api::Meta dm(ds);
  const std::string hash = current_hash(ds);
  json::object labels;
  if (const json::object* l = json::get_object(api::object_or_empty(template_of(ds), "metadata"), "labels")) labels = *l;
  labels[kRevisionHash] = hash;
  json::object meta{{"name", std::string(dm.name()) + "-" + hash},
                    {"namespace", dm.namespace_()},
                    {"labels", std::move(labels)},
                    {"ownerReferences", json::array{util::controller_ref_json(ds, "apps/v1", "DaemonSet")}}};
  if (const json::object* a = dm.annotations(); a != nullptr && !a->empty()) meta["annotations"] = *a;
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "ControllerRevision"},
                      {"metadata", std::move(meta)},
                      {"data", revision_data(ds)},
                      {"revision", number}};
}

HistoryPlan plan_history(const json::object& ds, const std::vector<client::ObjectPtr>& revisions,
                         const std::vector<client::ObjectPtr>& pods) {
  HistoryPlan plan;
  std::vector<client::ObjectPtr> current;
  for (const auto& r : revisions) {
    if (!api::Meta(*r).label(kRevisionHash)) plan.relabel.push_back(r);
    (revision_matches(ds, *r) ? current : plan.old).push_back(r);
  }
  int64_t top = 0;
  for (const auto& r : plan.old) top = std::max(top, number_of(*r));
  const int64_t next = top + 1;
  if (current.empty()) {
    plan.create = new_revision(ds, next);
    return plan;
  }
  // Several revisions hold this template (two controllers raced, or a collision bump):
  // the highest stays.
  std::sort(current.begin(), current.end(), lower_revision);
  plan.current = current.back();
  current.pop_back();
  const std::string keep = revision_hash(*plan.current);
  std::set<std::string> dup_hashes;
  for (const auto& r : current) {
    plan.delete_duplicates.push_back(r);
    dup_hashes.insert(revision_hash(*r));
  }
  for (const auto& p : pods) {
    auto h = api::Meta(*p).label(kRevisionHash);
    if (h && *h != keep && dup_hashes.contains(std::string(*h))) plan.relabel_pods.push_back(p);
  }
  if (number_of(*plan.current) < next) plan.renumber_to = next;
  return plan;
}

std::vector<client::ObjectPtr> prune_history(const json::object& ds, std::vector<client::ObjectPtr> old,
                                             const std::vector<client::ObjectPtr>& pods) {
  const int64_t limit = std::max<int64_t>(
      0, json::get_int_or(api::object_or_empty(ds, "spec"), "revisionHistoryLimit", kDefaultRevisionHistoryLimit));
  int64_t to_kill = static_cast<int64_t>(old.size()) - limit;
  std::vector<client::ObjectPtr> out;
  if (to_kill <= 0) return out;
  std::set<std::string, std::less<>> live;
  for (const auto& p : pods) {
    if (auto h = api::Meta(*p).label(kRevisionHash); h && !h->empty()) live.emplace(*h);
  }
  std::sort(old.begin(), old.end(), lower_revision);
  for (const auto& r : old) {
    if (to_kill <= 0) break;
    if (live.contains(revision_hash(*r))) continue;
    out.push_back(r);
    --to_kill;
  }
  return out;
}

}  // namespace kernlet::controllers::daemonset
