#include "control/apiserver/request_info.h"

#include <gtest/gtest.h>

namespace kernlet::apiserver {
namespace {

struct Case {
  const char* method;
  const char* target;
  const char* verb;
  const char* group;
  const char* version;
  const char* ns;
  const char* resource;
  const char* name;
  const char* subresource;
};

class RequestInfoTable : public ::testing::TestWithParam<Case> {};

TEST_P(RequestInfoTable, ParsesLikeKubernetes) {
  const Case& c = GetParam();
  auto r = parse_request_info(c.method, c.target);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->is_resource_request) << c.target;
  EXPECT_EQ(r->verb, c.verb) << c.target;
  EXPECT_EQ(r->api_group, c.group) << c.target;
  EXPECT_EQ(r->api_version, c.version) << c.target;
  EXPECT_EQ(r->namespace_, c.ns) << c.target;
  EXPECT_EQ(r->resource, c.resource) << c.target;
  EXPECT_EQ(r->name, c.name) << c.target;
  EXPECT_EQ(r->subresource, c.subresource) << c.target;
}

INSTANTIATE_TEST_SUITE_P(Paths, RequestInfoTable, ::testing::Values(
    Case{"GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", ""},
    Case{"GET", "/api/v1/namespaces/default/pods", "list", "", "v1", "default", "pods", "", ""},
    Case{"GET", "/api/v1/namespaces/default/pods?watch=1", "watch", "", "v1", "default", "pods", "", ""},
    Case{"GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=10", "watch", "", "v1", "default", "pods", "", ""},
    Case{"GET", "/api/v1/watch/namespaces/default/pods", "watch", "", "v1", "default", "pods", "", ""},
    Case{"GET", "/api/v1/namespaces/default/pods/web", "get", "", "v1", "default", "pods", "web", ""},
    Case{"PUT", "/api/v1/namespaces/default/pods/web/status", "update", "", "v1", "default", "pods", "web", "status"},
    Case{"PATCH", "/api/v1/namespaces/default/pods/web/status", "patch", "", "v1", "default", "pods", "web", "status"},
    Case{"POST", "/api/v1/namespaces/default/pods/web/binding", "create", "", "v1", "default", "pods", "web", "binding"},
    Case{"POST", "/api/v1/namespaces/default/pods", "create", "", "v1", "default", "pods", "", ""},
    Case{"DELETE", "/api/v1/namespaces/default/pods/web", "delete", "", "v1", "default", "pods", "web", ""},
    Case{"DELETE", "/api/v1/namespaces/default/pods", "deletecollection", "", "v1", "default", "pods", "", ""},
    Case{"GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", ""},
    Case{"GET", "/api/v1/namespaces/kube-system", "get", "", "v1", "", "namespaces", "kube-system", ""},
    Case{"PUT", "/api/v1/namespaces/kube-system/finalize", "update", "", "v1", "", "namespaces", "kube-system", "finalize"},
    Case{"GET", "/api/v1/namespaces/kube-system/status", "get", "", "v1", "", "namespaces", "kube-system", "status"},
    Case{"GET", "/api/v1/nodes/node-1", "get", "", "v1", "", "nodes", "node-1", ""},
    Case{"GET", "/apis/apps/v1/namespaces/shop/deployments/web/scale", "get", "apps", "v1", "shop", "deployments", "web", "scale"},
    Case{"GET", "/apis/apps/v1/deployments", "list", "apps", "v1", "", "deployments", "", ""},
    Case{"GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", "get", "coordination.k8s.io", "v1", "kube-node-lease", "leases", "node-1", ""}));

TEST(RequestInfo, DiscoveryAndOtherPathsAreNotResourceRequests) {
  for (const char* p : {"/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/healthz", "/"}) {
    auto r = parse_request_info("GET", p);
    ASSERT_TRUE(r.ok()) << p;
    EXPECT_FALSE(r->is_resource_request) << p;
    EXPECT_EQ(r->verb, "get") << p;
  }
}

TEST(RequestInfo, QueryParametersAreDecoded) {
  auto r = parse_request_info(
      "GET", "/api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&limit=500&continue=abc%3D%3D");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->param("labelSelector"), "app=web,tier in (a,b)");
  EXPECT_EQ(r->param("continue"), "abc==");
  auto limit = r->int_param("limit");
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(*limit, 500);
  EXPECT_EQ(r->param("missing"), std::nullopt);
}

TEST(RequestInfo, WatchOfOneObjectFiltersByName) {
  auto r = parse_request_info("GET", "/api/v1/watch/namespaces/default/pods/web");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verb, "watch");
  EXPECT_EQ(r->param("fieldSelector"), "metadata.name=web");
}

TEST(RequestInfo, BadInputIsNamed) {
  auto bad_escape = parse_request_info("GET", "/api/v1/pods?labelSelector=%zz");
  ASSERT_FALSE(bad_escape.ok());
  EXPECT_EQ(bad_escape.error().message(), "invalid URL escape \"%zz\"");
  auto truncated = parse_request_info("GET", "/api/v1/pods?x=%4");
  ASSERT_FALSE(truncated.ok());
  auto too_deep = parse_request_info("GET", "/api/v1/namespaces/a/pods/b/status/extra");
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().code(), ErrorCode::kInvalidArgument);
  auto bad_bool = parse_request_info("GET", "/api/v1/pods?watch=maybe");
  ASSERT_FALSE(bad_bool.ok());
  EXPECT_NE(bad_bool.error().message().find("watch"), std::string::npos);
  auto r = parse_request_info("GET", "/api/v1/pods?limit=ten");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->int_param("limit").ok());
}

}  // namespace
}  // namespace kernlet::apiserver
