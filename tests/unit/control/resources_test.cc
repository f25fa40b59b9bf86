#include "control/apiserver/resources.h"

#include <gtest/gtest.h>

#include <set>

namespace kernlet::apiserver {
namespace {

TEST(Resources, ShortNamesAndCategoriesKubectlUses) {
  const auto* pods = find_resource("", "v1", "pods");
  ASSERT_NE(pods, nullptr);
  EXPECT_EQ(pods->kind, "Pod");
  EXPECT_TRUE(pods->namespaced);
  EXPECT_EQ(pods->short_names, std::vector<std::string>{"po"});
  EXPECT_EQ(pods->categories, std::vector<std::string>{"all"});
  ASSERT_NE(pods->subresource("binding"), nullptr);
  const auto* deploy = find_resource("apps", "v1", "deployments");
  ASSERT_NE(deploy, nullptr);
  ASSERT_NE(deploy->subresource("scale"), nullptr);
  EXPECT_EQ(deploy->subresource("scale")->group, "autoscaling");
  const auto* nodes = find_resource("", "v1", "nodes");
  ASSERT_NE(nodes, nullptr);
  EXPECT_FALSE(nodes->namespaced);
  EXPECT_EQ(find_resource("apps", "v1", "pods"), nullptr);
  EXPECT_FALSE(find_resource("", "v1", "namespaces")->has_verb("deletecollection"));
}

TEST(Resources, EveryResourceTheIssueNamesIsServed) {
  const std::set<std::string> want = {
      "/v1/namespaces", "/v1/pods", "/v1/nodes", "/v1/services", "/v1/endpoints", "/v1/configmaps",
      "/v1/secrets", "/v1/serviceaccounts", "/v1/events", "/v1/persistentvolumes",
      "/v1/persistentvolumeclaims", "apps/v1/deployments", "apps/v1/replicasets", "apps/v1/daemonsets",
      "batch/v1/jobs", "batch/v1/cronjobs", "autoscaling/v2/horizontalpodautoscalers",
      "discovery.k8s.io/v1/endpointslices", "coordination.k8s.io/v1/leases",
      "storage.k8s.io/v1/storageclasses", "storage.k8s.io/v1/csidrivers", "storage.k8s.io/v1/csinodes",
      "storage.k8s.io/v1/volumeattachments", "events.k8s.io/v1/events"};
  std::set<std::string> have;
  for (const auto& r : builtin_resources()) have.insert(r.group + "/" + r.version + "/" + r.resource);
  for (const auto& w : want) EXPECT_TRUE(have.count(w)) << w;
}

TEST(Resources, FindKindUsesApiVersion) {
  ASSERT_NE(find_kind("apps/v1", "Deployment"), nullptr);
  EXPECT_EQ(find_kind("apps/v1", "Deployment")->resource, "deployments");
  EXPECT_EQ(find_kind("v1", "Event")->group, "");
  EXPECT_EQ(find_kind("events.k8s.io/v1", "Event")->group, "events.k8s.io");
  EXPECT_EQ(find_kind("v1", "Deployment"), nullptr);
}

TEST(Resources, DiscoveryDocuments) {
  auto groups = api_group_list();
  EXPECT_EQ(groups["kind"], "APIGroupList");
  bool apps = false;
  for (const auto& g : groups["groups"].as_array()) {
    if (g.as_object().at("name") == "apps") {
      apps = true;
      EXPECT_EQ(g.as_object().at("preferredVersion").as_object().at("groupVersion"), "apps/v1");
    }
  }
  EXPECT_TRUE(apps);
  auto core = api_resource_list("", "v1");
  EXPECT_EQ(core["groupVersion"], "v1");
  bool pod_status = false;
  for (const auto& r : core["resources"].as_array()) {
    if (r.as_object().at("name") == "pods/status") pod_status = true;
  }
  EXPECT_TRUE(pod_status);
  auto scale_list = api_resource_list("apps", "v1");
  bool scale = false;
  for (const auto& r : scale_list["resources"].as_array()) {
    const auto& o = r.as_object();
    if (o.at("name") == "deployments/scale") {
      scale = true;
      EXPECT_EQ(o.at("kind"), "Scale");
      EXPECT_EQ(o.at("group"), "autoscaling");
    }
  }
  EXPECT_TRUE(scale);
  EXPECT_TRUE(api_resource_list("nope", "v1").empty());
  EXPECT_TRUE(api_group("nope").empty());
  EXPECT_EQ(core_api_versions("127.0.0.1:6443")["versions"].as_array()[0], "v1");
}

}  // namespace
}  // namespace kernlet::apiserver
