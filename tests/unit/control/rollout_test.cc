#include "control/controllers/rollout.h"

#include <gtest/gtest.h>

namespace kernlet::controllers::rollout {
namespace {

api::IntOrString pct(std::string_view s) { return api::IntOrString{false, 0, s}; }
api::IntOrString num(int64_t v) { return api::IntOrString{true, v, {}}; }

TEST(Rollout, Fenceposts) {
  auto f = resolve_fenceposts(std::nullopt, std::nullopt, 10);  // 25 % / 25 %
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->max_surge, 3);        // 2.5 rounded up
  EXPECT_EQ(f->max_unavailable, 2);  // 2.5 rounded down
  f = resolve_fenceposts(num(0), num(0), 3);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->max_unavailable, 1);  // never stuck
  f = resolve_fenceposts(pct("100%"), num(0), 3);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->max_surge, 3);
  auto bad = resolve_fenceposts(pct("ten"), std::nullopt, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "spec.strategy.rollingUpdate.maxSurge: invalid value \"ten\": must be an integer or a percentage");
}

// Runs a whole rolling update where pods become available at once, checking the
// guarantees users rely on at every step.
void simulate(int32_t replicas, std::optional<api::IntOrString> surge, std::optional<api::IntOrString> unavailable) {
  auto f = resolve_fenceposts(surge, unavailable, replicas);
  ASSERT_TRUE(f.ok());
  ReplicaSetState new_rs{"new", 0, 0, "2026-11-26T10:00:02Z"};
  std::vector<ReplicaSetState> old{{"older", replicas / 2, replicas / 2, "2026-11-26T10:00:00Z"},
                                   {"old", replicas - replicas / 2, replicas - replicas / 2, "2026-11-26T10:00:01Z"}};
  for (int step = 0; step < 100; ++step) {
    new_rs.replicas = new_replicas(replicas, *f, new_rs, old);
    int32_t total = new_rs.replicas;
    for (auto& rs : old) total += rs.replicas;
    EXPECT_LE(total, replicas + f->max_surge) << "step " << step;
    auto scaled = scale_down_old(replicas, *f, new_rs, old);
    int32_t available = new_rs.available;
    for (std::size_t i = 0; i < old.size(); ++i) {
      old[i].replicas = scaled[i];
      old[i].available = std::min(old[i].available, scaled[i]);
      available += old[i].available;
    }
    EXPECT_GE(available, replicas - f->max_unavailable) << "step " << step;
    new_rs.available = new_rs.replicas;  // the new pods become ready
    if (new_rs.replicas == replicas && old[0].replicas == 0 && old[1].replicas == 0) return;
  }
  FAIL() << "the rollout did not finish";
}

TEST(Rollout, RollingUpdatesKeepTheirPromises) {
  simulate(4, std::nullopt, std::nullopt);
  simulate(10, pct("30%"), pct("0%"));
  simulate(10, num(0), num(3));
  simulate(3, num(1), num(0));
  simulate(1, std::nullopt, std::nullopt);
  simulate(25, pct("100%"), pct("100%"));
}

TEST(Rollout, UnavailableOldReplicasGoFirstOldestFirst) {
  Fenceposts f{1, 1};
  ReplicaSetState new_rs{"new", 2, 0, "c"};
  // Old ones: 3 replicas with 1 available, and 2 with 2 available; 4 wanted.
  std::vector<ReplicaSetState> old{{"b", 2, 2, "b"}, {"a", 3, 1, "a"}};
  auto out = scale_down_old(4, f, new_rs, old);
  // all 7, minAvailable 3, new unavailable 2 → at most 2 down; both from the unhealthy "a".
  EXPECT_EQ(out, (std::vector<int32_t>{2, 1}));
}

TEST(Rollout, TemplateHashIgnoresOrderAndItsOwnLabel) {
  auto t1 = json::parse(R"({"metadata":{"labels":{"app":"web","tier":"fe"}},"spec":{"containers":[{"name":"c","image":"nginx:1.25"}]}})");
  auto t2 = json::parse(R"({"spec":{"containers":[{"image":"nginx:1.25","name":"c"}]},"metadata":{"labels":{"tier":"fe","app":"web","pod-template-hash":"x"}}})");
  auto t3 = json::parse(R"({"metadata":{"labels":{"app":"web","tier":"fe"}},"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}})");
  ASSERT_TRUE(t1.ok() && t2.ok() && t3.ok());
  const auto h1 = pod_template_hash(t1->as_object(), 0);
  EXPECT_EQ(h1, pod_template_hash(t2->as_object(), 0));
  EXPECT_NE(h1, pod_template_hash(t3->as_object(), 0));
  EXPECT_NE(h1, pod_template_hash(t1->as_object(), 1));  // a collision moves it
  EXPECT_EQ(h1.find_first_of("aeiou013"), std::string::npos);
  EXPECT_TRUE(same_template(t1->as_object(), t2->as_object()));
  EXPECT_FALSE(same_template(t1->as_object(), t3->as_object()));
}

TEST(Rollout, TemplateWithNullFieldsEqualsItselfWithout) {
  // `kubectl rollout undo` writes the ReplicaSet's template back with Go's null fields.
  auto stored = json::parse(R"({"metadata":{"labels":{"app":"web","pod-template-hash":"h"}},"spec":{"containers":[{"name":"c","image":"b:1","resources":{}}]}})");
  auto undone = json::parse(R"({"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"b:1","resources":{},"securityContext":null}]}})");
  auto other = json::parse(R"({"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"b:2","resources":{}}]}})");
  ASSERT_TRUE(stored.ok() && undone.ok() && other.ok());
  EXPECT_TRUE(same_template(stored->as_object(), undone->as_object()));
  EXPECT_EQ(pod_template_hash(stored->as_object(), 0), pod_template_hash(undone->as_object(), 0));
  EXPECT_FALSE(same_template(stored->as_object(), other->as_object()));
}

TEST(Rollout, Revisions) {
  EXPECT_EQ(next_revision({}), 1);
  EXPECT_EQ(next_revision({"1", "3", "2"}), 4);
  EXPECT_EQ(next_revision({"x", "2"}), 3);
}

}  // namespace
}  // namespace kernlet::controllers::rollout
