#include <gtest/gtest.h>

#include "api/client/rest_client.h"

namespace kernlet::client {
namespace {

const std::string kStream =
    R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"5"}}})" "\n"
    R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"6"}}})" "\n"
    R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})"
    R"({"type":"DELETED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"10"}}})" "\n";

std::vector<std::string> drain(WatchDecoder& d) {
  std::vector<std::string> out;
  while (auto ev = d.pop()) {
    if (!ev->ok()) {
      out.push_back("error: " + ev->error().message());
      continue;
    }
    out.push_back(std::string(to_string((*ev)->type)) + " " +
                  std::string(json::get_string(*json::get_object(*(*ev)->object, "metadata"), "resourceVersion")));
  }
  return out;
}

const std::vector<std::string> kWant = {"ADDED 5", "MODIFIED 6", "BOOKMARK 9", "DELETED 10"};

TEST(WatchDecoder, WholeStream) {
  WatchDecoder d;
  ASSERT_TRUE(d.feed(kStream).ok());
  EXPECT_EQ(drain(d), kWant);
  EXPECT_FALSE(d.mid_event());
}

TEST(WatchDecoder, EveryChunkSplitGivesTheSameEvents) {
  // Chunk boundaries fall anywhere: inside strings, numbers, between events.
  for (std::size_t step : {1u, 2u, 3u, 7u, 64u}) {
    WatchDecoder d;
    std::vector<std::string> got;
    for (std::size_t i = 0; i < kStream.size(); i += step) {
      ASSERT_TRUE(d.feed(std::string_view(kStream).substr(i, step)).ok()) << step;
      for (auto& e : drain(d)) got.push_back(e);
    }
    EXPECT_EQ(got, kWant) << "chunks of " << step;
    EXPECT_FALSE(d.mid_event());
  }
}

TEST(WatchDecoder, PartialEventIsReported) {
  WatchDecoder d;
  ASSERT_TRUE(d.feed(R"({"type":"ADDED","obj)").ok());
  EXPECT_TRUE(d.mid_event());
  EXPECT_FALSE(d.pop().has_value());
}

TEST(WatchDecoder, ErrorEventBecomesACodedError) {
  WatchDecoder d;
  ASSERT_TRUE(d.feed(R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)"
                     R"j("message":"too old resource version: 5 (120)","reason":"Expired","code":410}})j")
                  .ok());
  auto ev = d.pop();
  ASSERT_TRUE(ev.has_value());
  ASSERT_FALSE(ev->ok());
  EXPECT_EQ(ev->error().code(), ErrorCode::kCompacted);
  EXPECT_EQ(ev->error().message(), "too old resource version: 5 (120)");
}

TEST(WatchDecoder, MalformedInputIsAnError) {
  WatchDecoder bad_json;
  EXPECT_FALSE(bad_json.feed("{\"type\":]").ok());
  WatchDecoder bad_type;
  ASSERT_TRUE(bad_type.feed(R"({"type":"EXPLODED","object":{}})").ok());
  auto ev = bad_type.pop();
  ASSERT_TRUE(ev && !ev->ok());
  EXPECT_EQ(ev->error().message(), "watch stream: unknown event type \"EXPLODED\"");
  WatchDecoder no_object;
  ASSERT_TRUE(no_object.feed(R"({"type":"ADDED"} [1])").ok());
  auto e1 = no_object.pop();
  ASSERT_TRUE(e1 && !e1->ok());
  EXPECT_EQ(e1->error().message(), "watch stream: ADDED event without an object");
  auto e2 = no_object.pop();
  ASSERT_TRUE(e2 && !e2->ok());
  EXPECT_EQ(e2->error().message(), "watch stream: event is not a JSON object");
}

TEST(ErrorFromResponse, StatusReasonsMapToCodes) {
  struct Case {
    int http;
    const char* reason;
    ErrorCode want;
  };
  for (const auto& c : std::vector<Case>{{404, "NotFound", ErrorCode::kNotFound},
                                         {409, "AlreadyExists", ErrorCode::kAlreadyExists},
                                         {409, "Conflict", ErrorCode::kConflict},
                                         {410, "Expired", ErrorCode::kCompacted},
                                         {410, "Gone", ErrorCode::kCompacted},
                                         {422, "Invalid", ErrorCode::kInvalidArgument},
                                         {400, "BadRequest", ErrorCode::kInvalidArgument},
                                         {401, "Unauthorized", ErrorCode::kUnauthenticated},
                                         {403, "Forbidden", ErrorCode::kPermissionDenied},
                                         {429, "TooManyRequests", ErrorCode::kUnavailable},
                                         {500, "InternalError", ErrorCode::kInternal},
                                         {503, "ServiceUnavailable", ErrorCode::kUnavailable},
                                         {504, "Timeout", ErrorCode::kDeadlineExceeded}}) {
    std::string body = std::string(R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"the msg",)") +
                       R"("reason":")" + c.reason + R"(","code":)" + std::to_string(c.http) + "}";
    Error e = error_from_response(c.http, body);
    EXPECT_EQ(e.code(), c.want) << c.http << " " << c.reason;
    EXPECT_EQ(e.message(), "the msg");
  }
  Error plain = error_from_response(502, "<html>bad gateway</html>\n");
  EXPECT_EQ(plain.code(), ErrorCode::kInternal);
  EXPECT_EQ(plain.message(), "HTTP 502: <html>bad gateway</html>");
}

TEST(ResourceRef, PathsForCoreGroupedNamespacedAndSubresources) {
  EXPECT_EQ((ResourceRef{"", "v1", "pods", "default", "web", "status"}.path()),
            "/api/v1/namespaces/default/pods/web/status");
  EXPECT_EQ((ResourceRef{"apps", "v1", "deployments"}.path()), "/apis/apps/v1/deployments");
  EXPECT_EQ((ResourceRef{"", "v1", "nodes", "", "n1"}.path()), "/api/v1/nodes/n1");
  EXPECT_EQ((ResourceRef{"coordination.k8s.io", "v1", "leases"}.in("kube-node-lease").named("n1").path()),
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1");
  EXPECT_EQ((ResourceRef{"", "v1", "pods", "default", "web"}.describe()), "pods default/web");
}

TEST(ListQuery, EncodesSelectorsAndPaging) {
  ListOptions o;
  o.label_selector = "app=web,tier in (a,b)";
  o.field_selector = "spec.nodeName=n1";
  o.limit = 50;
  o.continue_token = "eyJ2Ijoia2VybmxldC4xIn0=";
  o.resource_version = "10";
  o.resource_version_match = "NotOlderThan";
  EXPECT_EQ(list_query(o),
            "?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&fieldSelector=spec.nodeName%3Dn1&limit=50"
            "&continue=eyJ2Ijoia2VybmxldC4xIn0%3D&resourceVersion=10&resourceVersionMatch=NotOlderThan");
  EXPECT_EQ(list_query({}), "");
}

TEST(DeleteOptions, BodyCarriesGracePropagationAndPreconditions) {
  DeleteOptions d;
  EXPECT_TRUE(d.to_json().empty());
  d.grace_period_seconds = 0;
  d.propagation = PropagationPolicy::kForeground;
  d.precondition_uid = "u-1";
  d.precondition_resource_version = "42";
  EXPECT_EQ(json::dump(d.to_json()),
            R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,"propagationPolicy":"Foreground",)"
            R"("preconditions":{"uid":"u-1","resourceVersion":"42"}})");
  EXPECT_EQ(patch_content_type(PatchType::kStrategicMerge), "application/strategic-merge-patch+json");
  EXPECT_EQ(patch_content_type(PatchType::kJson), "application/json-patch+json");
  EXPECT_EQ(patch_content_type(PatchType::kMerge), "application/merge-patch+json");
}

}  // namespace
}  // namespace kernlet::client
