// Pod specs -> cgroup Resources.
#include "runtime/cgroups/pod_resources.h"

#include <gtest/gtest.h>

#include "api/json.h"

namespace kernlet::cgroups {
namespace {

json::object obj(std::string_view text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return o.ok() ? *o : json::object{};
}

TEST(PodResources, FromASpec) {
  json::object doc = obj(R"({"spec": {
    "initContainers": [
      {"name": "migrate", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2", "memory": "1Gi"}}},
      {"name": "proxy", "restartPolicy": "Always",
       "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}
    ],
    "containers": [
      {"name": "web", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"}}},
      {"name": "log", "resources": {"limits": {"cpu": "0.1", "memory": "32Mi"}}}
    ]}})");
  api::PodView pod(doc);
  auto web = container_resources(pod.spec().containers()[0]);
  ASSERT_TRUE(web.ok()) << web.error().to_string();
  EXPECT_EQ(web->cpu_request_milli, 250);
  EXPECT_EQ(web->cpu_limit_milli, 500);
  EXPECT_EQ(web->memory_request_bytes, 128 << 20);
  EXPECT_EQ(web->memory_limit_bytes, 256 << 20);
  auto log = container_resources(pod.spec().containers()[1]);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->cpu_request_milli, 100);  // unset request reads as the limit
  EXPECT_EQ(log->memory_request_bytes, 32 << 20);

  auto p = pod_cgroup_resources(pod, 4096);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  // app + sidecar: 250m + 100m + 100m = 450m, below the 2-CPU init container -> 2000m.
  EXPECT_EQ(p->cpu_request_milli, 2000);
  EXPECT_EQ(p->cpu_limit_milli, 2000);
  // memory: the init container has no memory request but a limit (request := limit, 1Gi).
  EXPECT_EQ(p->memory_request_bytes, 1 << 30);
  EXPECT_EQ(p->memory_limit_bytes, 1 << 30);
  EXPECT_EQ(p->pids_limit, 4096);
}

TEST(PodResources, BestEffortAndErrors) {
  json::object doc = obj(R"({"spec": {"containers": [{"name": "a"}]}})");
  auto p = pod_cgroup_resources(api::PodView(doc), std::nullopt);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, Resources{});

  json::object bad = obj(R"({"spec": {"containers": [
    {"name": "a", "resources": {"limits": {"memory": "12Q"}}}]}})");
  auto e = pod_cgroup_resources(api::PodView(bad), std::nullopt);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("container a resources"), std::string::npos)
      << e.error().message();
  EXPECT_NE(e.error().message().find("12Q"), std::string::npos) << e.error().message();

  json::object neg = obj(R"({"spec": {"containers": [
    {"name": "a", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}})");
  auto n = pod_cgroup_resources(api::PodView(neg), std::nullopt);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().message(),
            "container a resources: cpu request 2000m: must be less than or equal to cpu limit "
            "1000m");
}

}  // namespace
}  // namespace kernlet::cgroups
