#include "api/schema/field_validation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/json.h"
#include "api/schema/schema.h"

namespace kernlet::api::schema {
namespace {

using Strings = std::vector<std::string>;

json::object parse(std::string_view text) { return json::parse_object(text).value(); }

TEST(FieldValidation, DirectiveDefaultsToWarn) {
  EXPECT_EQ(parse_field_validation("").value(), FieldValidation::kWarn);
  EXPECT_EQ(parse_field_validation("Warn").value(), FieldValidation::kWarn);
  EXPECT_EQ(parse_field_validation("Strict").value(), FieldValidation::kStrict);
  EXPECT_EQ(parse_field_validation("Ignore").value(), FieldValidation::kIgnore);
  auto bad = parse_field_validation("strict");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
}

TEST(FieldValidation, UnknownFieldsAtAnyDepthAreReportedAndDropped) {
  json::object obj = parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment", "dta": 1,
    "metadata": {"name": "web", "labels": {"any-key": "ok"}, "annotations": {"x": "y"}},
    "spec": {
      "replica": 3,
      "selector": {"matchLabels": {"app": "web"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
          "containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "nginx", "imagePullPolcy": "Always",
             "resources": {"limits": {"cpu": "1"}},
             "livenessProbe": {"httpGet": {"port": 8080, "path": "/", "bogus": true}}}
          ],
          "volumes": [{"name": "v", "configMap": {"name": "cm", "itms": []}}]
        }
      }
    },
    "status": {}
  })");
  Strings unknown = drop_unknown_fields(*message_for_kind("apps/v1", "Deployment"), obj);
  EXPECT_EQ(unknown, (Strings{"dta", "spec.replica", "spec.template.spec.containers[1].imagePullPolcy",
                              "spec.template.spec.containers[1].livenessProbe.httpGet.bogus",
                              "spec.template.spec.volumes[0].configMap.itms"}));
  // Dropped from the object; everything known stays, in order.
  EXPECT_EQ(json::value(obj), json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"any-key": "ok"}, "annotations": {"x": "y"}},
    "spec": {
      "selector": {"matchLabels": {"app": "web"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
          "containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "nginx", "resources": {"limits": {"cpu": "1"}},
             "livenessProbe": {"httpGet": {"port": 8080, "path": "/"}}}
          ],
          "volumes": [{"name": "v", "configMap": {"name": "cm"}}]
        }
      }
    },
    "status": {}
  })").value());
}

TEST(FieldValidation, EveryServedKindAcceptsItsOwnFields) {
  json::object svc = parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"d",
    "uid":"u","resourceVersion":"1","creationTimestamp":"2026-01-01T00:00:00Z","generation":1,
    "ownerReferences":[{"apiVersion":"v1","kind":"X","name":"n","uid":"u","controller":true}],
    "managedFields":[{"manager":"kubectl","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]},
    "spec":{"type":"NodePort","ports":[{"port":80,"targetPort":"http","nodePort":30080,"protocol":"TCP"}],
            "selector":{"app":"x"},"clusterIP":"10.0.0.1","clusterIPs":["10.0.0.1"],"ipFamilies":["IPv4"],
            "sessionAffinity":"None","externalTrafficPolicy":"Cluster"},
    "status":{"loadBalancer":{}}})");
  EXPECT_TRUE(drop_unknown_fields(*message_for_kind("v1", "Service"), svc).empty());
  json::object cj = parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},
    "spec":{"schedule":"* * * * *","jobTemplate":{"metadata":{},"spec":{"backoffLimit":6,
      "template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox",
        "command":["date"],"env":[{"name":"A","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}}}}}})");
  EXPECT_TRUE(drop_unknown_fields(*message_for_kind("batch/v1", "CronJob"), cj).empty());
  json::object ev = parse(R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e"},
    "eventTime":"2026-01-01T00:00:00.000000Z","reportingController":"c","reportingInstance":"i",
    "action":"A","reason":"R","regarding":{"kind":"Pod","name":"p"},"note":"n","type":"Normal",
    "series":{"count":2,"lastObservedTime":"2026-01-01T00:00:00.000000Z"}})");
  EXPECT_TRUE(drop_unknown_fields(*message_for_kind("events.k8s.io/v1", "Event"), ev).empty());
  json::object hpa = parse(R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},
    "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"minReplicas":1,"maxReplicas":3,
      "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}]}})");
  EXPECT_TRUE(drop_unknown_fields(*message_for_kind("autoscaling/v2", "HorizontalPodAutoscaler"), hpa).empty());
}

// Every realistic object in tests/testdata (upstream-shaped, with status) is fully known.
TEST(FieldValidation, TestdataObjectsHaveNoUnknownFields) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(KERNLET_TESTDATA)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    auto obj = json::parse_object(text.str());
    ASSERT_TRUE(obj.ok()) << entry.path();
    const Message* m = message_for_kind(json::get_string(*obj, "apiVersion"), json::get_string(*obj, "kind"));
    if (m == nullptr) continue;
    EXPECT_EQ(drop_unknown_fields(*m, *obj), Strings{}) << entry.path();
    ++checked;
  }
  EXPECT_GT(checked, 5);
}

TEST(FieldValidation, DuplicateFieldsWithTheirPaths) {
  EXPECT_EQ(find_duplicate_fields(R"({"metadata":{"name":"a","name":"b"},"data":{"k":"1","k":"2"}})"),
            (Strings{"metadata.name", "data.k"}));
  EXPECT_EQ(find_duplicate_fields(R"({"spec":{"containers":[{"name":"a"},{"name":"b","image":"x","image":"y"}]},)"
                                  R"("spec":{}})"),
            (Strings{"spec.containers[1].image", "spec"}));
  EXPECT_EQ(find_duplicate_fields(R"({"a":[1,[2,{"b":1,"b":2}]],"c":1})"), (Strings{"a[1][1].b"}));
  EXPECT_TRUE(find_duplicate_fields(R"({"a":{"b":1},"c":{"b":1}})").empty());
  EXPECT_TRUE(find_duplicate_fields("{not json").empty());
  // Each duplicated path is reported once.
  EXPECT_EQ(find_duplicate_fields(R"({"x":1,"x":2,"x":3})"), (Strings{"x"}));
}

TEST(FieldValidation, MessagesAsUpstreamWordsThem) {
  FieldProblems p{{"metadata.name"}, {"dta", "spec.foo"}};
  EXPECT_EQ(p.messages(),
            (Strings{"duplicate field \"metadata.name\"", "unknown field \"dta\"", "unknown field \"spec.foo\""}));
  EXPECT_EQ(p.strict_error(),
            "strict decoding error: duplicate field \"metadata.name\", unknown field \"dta\", unknown field \"spec.foo\"");
}

}  // namespace
}  // namespace kernlet::api::schema
