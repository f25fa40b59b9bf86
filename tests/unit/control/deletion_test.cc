#include "control/apiserver/deletion.h"

#include <gtest/gtest.h>

namespace kernlet::apiserver {
namespace {

RequestInfo info_for(const char* target) {
  auto r = parse_request_info("DELETE", target);
  EXPECT_TRUE(r.ok());
  return *r;
}

DeleteOptions must_parse(const char* target, const char* body = nullptr) {
  std::optional<json::value> b;
  if (body != nullptr) b = *json::parse(body);
  auto o = parse_delete_options(info_for(target), b ? &*b : nullptr);
  EXPECT_TRUE(std::holds_alternative<DeleteOptions>(o)) << std::get<api::Status>(o).message();
  return std::get<DeleteOptions>(o);
}

api::Status must_fail(const char* target, const char* body = nullptr) {
  std::optional<json::value> b;
  if (body != nullptr) b = *json::parse(body);
  auto o = parse_delete_options(info_for(target), b ? &*b : nullptr);
  EXPECT_TRUE(std::holds_alternative<api::Status>(o));
  return std::holds_alternative<api::Status>(o) ? std::get<api::Status>(o) : api::Status(0, "", "");
}

TEST(DeleteOptions, KubectlBodyIsRead) {
  auto o = must_parse("/api/v1/namespaces/ns/pods/p",
                      R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground",
                          "gracePeriodSeconds":5,"preconditions":{"uid":"u1","resourceVersion":"7"}})");
  EXPECT_EQ(o.propagation, Propagation::kForeground);
  EXPECT_EQ(o.grace_period_seconds, 5);
  EXPECT_EQ(o.precondition_uid, "u1");
  EXPECT_EQ(o.precondition_resource_version, "7");
  EXPECT_FALSE(o.dry_run);
}

TEST(DeleteOptions, QueryOverridesBody) {
  auto o = must_parse("/api/v1/namespaces/ns/pods/p?propagationPolicy=Orphan&gracePeriodSeconds=0&dryRun=All",
                      R"({"propagationPolicy":"Background","gracePeriodSeconds":30})");
  EXPECT_EQ(o.propagation, Propagation::kOrphan);
  EXPECT_EQ(o.grace_period_seconds, 0);
  EXPECT_TRUE(o.dry_run);
}

TEST(DeleteOptions, OrphanDependentsMapsToAPolicy) {
  EXPECT_EQ(must_parse("/api/v1/namespaces/ns/pods/p?orphanDependents=true").propagation, Propagation::kOrphan);
  EXPECT_EQ(must_parse("/api/v1/namespaces/ns/pods/p", R"({"orphanDependents":false})").propagation,
            Propagation::kBackground);
  EXPECT_EQ(must_parse("/api/v1/namespaces/ns/pods/p").propagation, Propagation::kUnset);
}

TEST(DeleteOptions, BadInputIsNamed) {
  auto both = must_fail("/api/v1/namespaces/ns/pods/p?orphanDependents=true&propagationPolicy=Orphan");
  EXPECT_EQ(both.code(), 422);
  EXPECT_NE(both.message().find("orphanDependents and propagationPolicy cannot both be set"), std::string::npos);
  auto policy = must_fail("/api/v1/namespaces/ns/pods/p?propagationPolicy=Later");
  EXPECT_EQ(policy.code(), 422);
  EXPECT_NE(policy.message().find("Unsupported value: \"Later\""), std::string::npos);
  EXPECT_EQ(must_fail("/api/v1/namespaces/ns/pods/p?gracePeriodSeconds=-1").code(), 422);
  EXPECT_EQ(must_fail("/api/v1/namespaces/ns/pods/p?gracePeriodSeconds=soon").code(), 400);
  EXPECT_EQ(must_fail("/api/v1/namespaces/ns/pods/p?dryRun=Some").code(), 422);
  auto kind = must_fail("/api/v1/namespaces/ns/pods/p", R"({"kind":"Pod"})");
  EXPECT_EQ(kind.code(), 400);
  EXPECT_NE(kind.message().find("DeleteOptions"), std::string::npos);
  EXPECT_EQ(must_fail("/api/v1/namespaces/ns/pods/p", R"({"gracePeriodSeconds":"5"})").code(), 400);
  EXPECT_EQ(must_fail("/api/v1/namespaces/ns/pods/p", R"([1])").code(), 400);
}

TEST(DeleteOptions, DefaultPolicyFollowsKubernetes) {
  const ResourceInfo* jobs = find_resource("batch", "v1", "jobs");
  const ResourceInfo* deployments = find_resource("apps", "v1", "deployments");
  ASSERT_NE(jobs, nullptr);
  ASSERT_NE(deployments, nullptr);
  json::object plain{{"metadata", json::object{{"name", "x"}}}};
  EXPECT_EQ(effective_propagation(*jobs, plain, Propagation::kUnset), Propagation::kOrphan);
  EXPECT_EQ(effective_propagation(*jobs, plain, Propagation::kBackground), Propagation::kBackground);
  EXPECT_EQ(effective_propagation(*deployments, plain, Propagation::kUnset), Propagation::kBackground);
  json::object fg{{"metadata", json::object{{"finalizers", json::array{"foregroundDeletion"}}}}};
  EXPECT_EQ(effective_propagation(*deployments, fg, Propagation::kUnset), Propagation::kForeground);
  EXPECT_TRUE(delete_warning(*jobs, Propagation::kUnset).has_value());
  EXPECT_FALSE(delete_warning(*jobs, Propagation::kOrphan).has_value());
  EXPECT_FALSE(delete_warning(*deployments, Propagation::kUnset).has_value());
}

TEST(DeleteOptions, PodGracePeriod) {
  auto pod = [](const char* node, const char* phase, int tgps) {
    json::object spec{{"containers", json::array{}}};
    if (node != nullptr) spec["nodeName"] = node;
    if (tgps >= 0) spec["terminationGracePeriodSeconds"] = tgps;
    return json::object{{"spec", spec}, {"status", json::object{{"phase", phase}}}};
  };
  EXPECT_EQ(pod_grace_period(pod("n1", "Running", -1), std::nullopt, true), 30);
  EXPECT_EQ(pod_grace_period(pod("n1", "Running", 60), std::nullopt, true), 60);
  EXPECT_EQ(pod_grace_period(pod("n1", "Running", 60), 3, true), 3);
  EXPECT_EQ(pod_grace_period(pod(nullptr, "Pending", 60), std::nullopt, false), 0);  // unscheduled
  EXPECT_EQ(pod_grace_period(pod("n1", "Running", 60), std::nullopt, false), 0);     // node gone
  EXPECT_EQ(pod_grace_period(pod("n1", "Succeeded", 60), std::nullopt, true), 0);
  EXPECT_EQ(pod_grace_period(pod("n1", "Failed", 60), 10, true), 0);
}

TEST(StoreKeys, RoundTrip) {
  const ResourceInfo* pods = find_resource("", "v1", "pods");
  const ResourceInfo* nodes = find_resource("", "v1", "nodes");
  const ResourceInfo* ev = find_resource("events.k8s.io", "v1", "events");
  ASSERT_TRUE(pods && nodes && ev);
  // KeyParts views into the key: keep the keys alive.
  const std::string pk = object_key(*pods, "ns", "web"), nk = object_key(*nodes, "", "n1"),
                    ek = object_key(*ev, "ns", "e1");
  auto p = parse_key(pk);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->resource, pods);
  EXPECT_EQ(p->namespace_, "ns");
  EXPECT_EQ(p->name, "web");
  auto n = parse_key(nk);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->resource, nodes);
  EXPECT_EQ(n->name, "n1");
  auto e = parse_key(ek);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->resource, ev);
  EXPECT_FALSE(parse_key("/registry/pods/ns"));
  EXPECT_FALSE(parse_key("/registry/widgets/ns/x"));
  EXPECT_FALSE(parse_key("/elsewhere/pods/ns/x"));
}

}  // namespace
}  // namespace kernlet::apiserver
