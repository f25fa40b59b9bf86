// A DaemonSet's ControllerRevisions (daemonset_history.h): the data kubectl's undo patches
// with, naming and labels, the current revision (new, existing, renumbered after an undo,
// duplicates), and pruning to revisionHistoryLimit without dropping live pods' revisions.
#include "control/controllers/daemonset_history.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "control/controllers/daemonset_sync.h"

namespace kernlet::controllers::daemonset {
namespace {

json::object make_ds(std::string_view image, std::string_view extra_spec = "{}") {
  json::object spec = *json::parse_object(extra_spec);
  spec["selector"] = json::object{{"matchLabels", json::object{{"app", "agent"}}}};
  spec["template"] = json::object{
      {"metadata", json::object{{"labels", json::object{{"app", "agent"}}}}},
      {"spec", json::object{{"containers", json::array{json::object{{"name", "a"}, {"image", image}}}}}}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"metadata", json::object{{"name", "agent"},
                                    {"namespace", "kube-system"},
                                    {"uid", "ds-uid"},
                                    {"generation", 3},
                                    {"annotations", json::object{{"kubernetes.io/change-cause", "set image"}}}}},
          {"spec", std::move(spec)}};
}

client::ObjectPtr stored(json::object o) { return std::make_shared<const json::object>(std::move(o)); }

client::ObjectPtr pod_with_hash(const std::string& hash) {
  return stored(json::object{{"metadata", json::object{{"name", "p-" + hash}, {"labels", json::object{{kRevisionHash, hash}}}}}});
}

TEST(DaemonSetHistory, RevisionDataIsTheReplacePatchKubectlUndoSends) {
  json::object ds = make_ds("agent:1");
  json::object data = revision_data(ds);
  const json::object& t = *json::get_object(*json::get_object(data, "spec"), "template");
  EXPECT_EQ(json::get_string(t, "$patch"), "replace");
  json::object without = t;
  without.erase("$patch");
  EXPECT_EQ(without, *json::get_path(ds, "spec.template"));
  EXPECT_EQ(data.size(), 1u);  // nothing but spec.template: undo must not touch anything else
}

TEST(DaemonSetHistory, NewRevisionNameLabelsOwnerAndAnnotations) {
  json::object ds = make_ds("agent:1");
  json::object r = new_revision(ds, 4);
  api::Meta m(r);
  EXPECT_EQ(m.name(), "agent-" + current_hash(ds));
  EXPECT_EQ(m.namespace_(), "kube-system");
  EXPECT_EQ(m.label("app"), std::optional<std::string_view>("agent"));  // kubectl lists by the selector
  EXPECT_EQ(m.label(kRevisionHash), std::optional<std::string_view>(current_hash(ds)));
  EXPECT_EQ(m.annotation("kubernetes.io/change-cause"), std::optional<std::string_view>("set image"));
  auto ref = m.controller_ref();
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->uid, "ds-uid");
  EXPECT_EQ(ref->kind, "DaemonSet");
  EXPECT_EQ(json::get_int_or(r, "revision", 0), 4);
  EXPECT_TRUE(revision_matches(ds, r));
  EXPECT_FALSE(revision_matches(make_ds("agent:2"), r));
  // Null fields, as kubectl may send them back in an undo, equal absent ones.
  json::object with_null = ds;
  json::ensure_object(*json::get_object(with_null, "spec"), "template")["spec"].as_object()["nodeSelector"] = nullptr;
  EXPECT_TRUE(revision_matches(with_null, r));
}

TEST(DaemonSetHistory, FirstSyncCreatesRevisionOne) {
  HistoryPlan p = plan_history(make_ds("agent:1"), {}, {});
  ASSERT_TRUE(p.create.has_value());
  EXPECT_EQ(json::get_int_or(*p.create, "revision", 0), 1);
  EXPECT_EQ(p.current, nullptr);
}

TEST(DaemonSetHistory, TemplateChangeCreatesTheNextRevision) {
  auto r1 = stored(new_revision(make_ds("agent:1"), 1));
  auto r2 = stored(new_revision(make_ds("agent:2"), 2));
  HistoryPlan p = plan_history(make_ds("agent:3"), {r1, r2}, {});
  ASSERT_TRUE(p.create.has_value());
  EXPECT_EQ(json::get_int_or(*p.create, "revision", 0), 3);
  EXPECT_EQ(p.old.size(), 2u);
}

TEST(DaemonSetHistory, UndoReusesTheOldRevisionRenumberedToTheTop) {
  auto r1 = stored(new_revision(make_ds("agent:1"), 1));
  auto r2 = stored(new_revision(make_ds("agent:2"), 2));
  // `kubectl rollout undo` restored revision 1's template.
  HistoryPlan p = plan_history(make_ds("agent:1"), {r1, r2}, {});
  EXPECT_FALSE(p.create.has_value());
  EXPECT_EQ(p.current, r1);
  ASSERT_TRUE(p.renumber_to.has_value());
  EXPECT_EQ(*p.renumber_to, 3);
  // Already on top: nothing to renumber.
  HistoryPlan again = plan_history(make_ds("agent:2"), {r1, r2}, {});
  EXPECT_EQ(again.current, r2);
  EXPECT_FALSE(again.renumber_to.has_value());
}

TEST(DaemonSetHistory, DuplicatesKeepTheHighestAndMoveTheirPods) {
  json::object a = new_revision(make_ds("agent:1"), 1);
  json::object b = new_revision(make_ds("agent:1"), 5);
  api::MutableMeta(b).set_name("agent-other");
  api::MutableMeta(b).set_label(kRevisionHash, "other");
  auto ra = stored(a), rb = stored(b);
  auto on_dup = pod_with_hash(current_hash(make_ds("agent:1")));
  auto on_kept = pod_with_hash("other");
  HistoryPlan p = plan_history(make_ds("agent:1"), {ra, rb}, {on_dup, on_kept});
  EXPECT_EQ(p.current, rb);
  ASSERT_EQ(p.delete_duplicates.size(), 1u);
  EXPECT_EQ(p.delete_duplicates[0], ra);
  ASSERT_EQ(p.relabel_pods.size(), 1u);
  EXPECT_EQ(p.relabel_pods[0], on_dup);
  EXPECT_EQ(revision_hash(*p.current), "other");
}

TEST(DaemonSetHistory, RevisionWithoutHashLabelUsesItsNameAndIsRelabelled) {
  json::object r = new_revision(make_ds("agent:1"), 1);
  json::get_object(*json::get_object(r, "metadata"), "labels")->erase(kRevisionHash);
  auto rp = stored(r);
  EXPECT_EQ(revision_hash(r), std::string(api::Meta(r).name()));
  HistoryPlan p = plan_history(make_ds("agent:1"), {rp}, {});
  ASSERT_EQ(p.relabel.size(), 1u);
  EXPECT_EQ(p.current, rp);
}

TEST(DaemonSetHistory, PruneBeyondTheLimitOldestFirstSparingLivePods) {
  std::vector<client::ObjectPtr> old;
  for (int i = 1; i <= 5; ++i) old.push_back(stored(new_revision(make_ds("agent:" + std::to_string(i)), i)));
  json::object ds = make_ds("agent:9", R"({"revisionHistoryLimit": 2})");
  // A pod still runs revision 1 (OnDelete, say): its revision stays.
  auto live = pod_with_hash(revision_hash(*old[0]));
  std::vector<client::ObjectPtr> gone = prune_history(ds, old, {live});
  ASSERT_EQ(gone.size(), 3u);
  EXPECT_EQ(json::get_int_or(*gone[0], "revision", 0), 2);
  EXPECT_EQ(json::get_int_or(*gone[1], "revision", 0), 3);
  EXPECT_EQ(json::get_int_or(*gone[2], "revision", 0), 4);
  // The default limit is 10.
  EXPECT_TRUE(prune_history(make_ds("agent:9"), old, {}).empty());
  EXPECT_EQ(prune_history(make_ds("agent:9", R"({"revisionHistoryLimit": 0})"), old, {}).size(), 5u);
}

TEST(DaemonSetHistory, PodsCarryTheCurrentRevisionsHashAndGeneration) {
  json::object ds = make_ds("agent:1");
  json::object pod = pod_for_node(ds, "n1", "fromrevision");
  EXPECT_EQ(api::Meta(pod).label(kRevisionHash), std::optional<std::string_view>("fromrevision"));
  EXPECT_EQ(api::Meta(pod).label("pod-template-generation"), std::optional<std::string_view>("3"));
  EXPECT_EQ(api::Meta(pod_for_node(ds, "n1")).label(kRevisionHash), std::optional<std::string_view>(current_hash(ds)));
}

}  // namespace
}  // namespace kernlet::controllers::daemonset
