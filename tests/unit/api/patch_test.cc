#include "api/patch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kernlet::api {
namespace {

json::value J(std::string_view text) {
  auto v = json::parse(text);
  if (!v.ok()) ADD_FAILURE() << "bad test JSON: " << v.error().message() << ": " << text;
  return v.ok() ? *v : json::value();
}

struct Case {
  std::string name, original, patch, want;  // want is JSON, or "ERROR: <substring>"
};

std::string outcome(const Result<json::value>& r) {
  return r.ok() ? json::dump(*r) : "ERROR: " + r.error().message();
}

void expect(const Case& c, const Result<json::value>& got) {
  if (c.want.rfind("ERROR: ", 0) == 0) {
    ASSERT_FALSE(got.ok()) << c.name << ": got " << outcome(got);
    EXPECT_NE(got.error().message().find(c.want.substr(7)), std::string::npos)
        << c.name << ": " << got.error().message();
    return;
  }
  ASSERT_TRUE(got.ok()) << c.name << ": " << got.error().message();
  EXPECT_EQ(json::dump(*got), json::dump(J(c.want))) << c.name;
}

// RFC 7386 appendix A, every example.
TEST(MergePatch, Rfc7386AppendixA) {
  const std::vector<Case> cases = {
      {"1", R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {"2", R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {"3", R"({"a":"b"})", R"({"a":null})", R"({})"},
      {"4", R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {"5", R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {"6", R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {"7", R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {"8", R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {"9", R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {"10", R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {"11", R"({"a":"foo"})", "null", "null"},
      {"12", R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {"13", R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {"14", R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {"15", R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) expect(c, apply_merge_patch(J(c.original), J(c.patch)));
}

// The merge patches kubectl sends: scale (to the scale subresource), label, annotate.
TEST(MergePatch, KubectlShapes) {
  const std::string deploy =
      R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"annotations":{"a":"1"}},)"
      R"("spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}})";
  const std::vector<Case> cases = {
      {"scale", deploy, R"({"spec":{"replicas":3}})",
       R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"annotations":{"a":"1"}},)"
       R"("spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}})"},
      {"label add and overwrite", deploy, R"({"metadata":{"labels":{"env":"prod","tier":"be"}}})",
       R"({"metadata":{"name":"web","labels":{"app":"web","tier":"be","env":"prod"},)"
       R"("annotations":{"a":"1"}},"spec":{"replicas":1,"template":{"spec":{"containers":)"
       R"([{"name":"c","image":"x"}]}}}})"},
      {"label remove (tier-)", deploy, R"({"metadata":{"labels":{"tier":null}}})",
       R"({"metadata":{"name":"web","labels":{"app":"web"},"annotations":{"a":"1"}},)"
       R"("spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}})"},
      {"annotate", deploy, R"({"metadata":{"annotations":{"a":null,"b":"2"}}})",
       R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"annotations":{"b":"2"}},)"
       R"("spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}})"},
      // A merge patch replaces lists whole: this drops every other container.
      {"list replaced", deploy,
       R"({"spec":{"template":{"spec":{"containers":[{"name":"d","image":"y"}]}}}})",
       R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"annotations":{"a":"1"}},)"
       R"("spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"d","image":"y"}]}}}})"},
  };
  for (const auto& c : cases) expect(c, apply_merge_patch(J(c.original), J(c.patch)));
}

// RFC 6902 appendix A (A.13, a document with a duplicate member, cannot be expressed once
// parsed); errors carry the operation index and path.
TEST(JsonPatch, Rfc6902AppendixA) {
  const std::vector<Case> cases = {
      {"A.1 add object member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
       R"({"foo":"bar","baz":"qux"})"},
      {"A.2 add array element", R"({"foo":["bar","baz"]})",
       R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
      {"A.3 remove object member", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {"A.4 remove array element", R"({"foo":["bar","qux","baz"]})",
       R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {"A.5 replace", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
      {"A.6 move value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {"A.7 move array element", R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])", R"({"foo":["all","cows","eat","grass"]})"},
      {"A.8 test success", R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {"A.9 test failure", R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])",
       "ERROR: json patch operation 0 (test /baz): test failed"},
      {"A.10 add nested member", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {"A.11 unrecognized members ignored", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
      {"A.12 add to nonexistent target", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz/bat","value":"qux"}])",
       "ERROR: json patch operation 0 (add /baz/bat): path not found"},
      {"A.14 ~ escaping", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
       R"({"/":9,"~1":10})"},
      {"A.15 string is not number", R"({"/":9,"~1":10})",
       R"([{"op":"test","path":"/~01","value":"10"}])",
       "ERROR: json patch operation 0 (test /~01): test failed"},
      {"A.16 add array value", R"({"foo":["bar"]})",
       R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])", R"({"foo":["bar",["abc","def"]]})"},
  };
  for (const auto& c : cases) expect(c, apply_json_patch(J(c.original), J(c.patch)));
}

TEST(JsonPatch, EdgeCasesAndErrors) {
  const std::vector<Case> cases = {
      {"copy", R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
       R"({"a":{"b":1},"c":{"b":1}})"},
      {"replace root", R"({"a":1})", R"([{"op":"replace","path":"","value":[1]}])", "[1]"},
      {"numbers compare by value", R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])",
       R"({"a":1})"},
      {"objects compare regardless of order", R"({"a":{"x":1,"y":2}})",
       R"([{"op":"test","path":"/a","value":{"y":2,"x":1}}])", R"({"a":{"x":1,"y":2}})"},
      {"all or nothing", R"({"a":1})",
       R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/spec/foo"}])",
       "ERROR: json patch operation 1 (remove /spec/foo): path not found"},
      {"index past end", R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":2}])",
       "ERROR: json patch operation 0 (add /a/2): array index \"2\" out of range"},
      {"leading zero index", R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/01"}])",
       "ERROR: path not found"},
      {"remove - is not an index", R"({"a":[1]})", R"([{"op":"remove","path":"/a/-"}])",
       "ERROR: path not found"},
      {"move into own child", R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])",
       "ERROR: cannot move /a into its own child /a/b/c"},
      {"move from missing", R"({"a":1})", R"([{"op":"move","from":"/x","path":"/y"}])",
       "ERROR: json patch operation 0 (move /y): from \"/x\": path not found"},
      {"bad pointer", R"({"a":1})", R"([{"op":"remove","path":"a"}])",
       "ERROR: invalid JSON pointer \"a\""},
      {"bad escape", R"({"a":1})", R"([{"op":"remove","path":"/~2"}])",
       "ERROR: invalid JSON pointer"},
      {"not an array", R"({})", R"({"op":"add"})",
       "ERROR: json patch must be a JSON array of operations, got object"},
      {"unknown op", R"({})", R"([{"op":"frob","path":"/a"}])",
       "ERROR: json patch operation 0: unknown op \"frob\""},
      {"missing value", R"({})", R"([{"op":"add","path":"/a"}])",
       "ERROR: json patch operation 0 (add /a): missing \"value\""},
      {"missing from", R"({})", R"([{"op":"copy","path":"/a"}])", "ERROR: missing \"from\""},
  };
  for (const auto& c : cases) expect(c, apply_json_patch(J(c.original), J(c.patch)));
}

// Kubernetes answers 422 for any operation that does not apply, a failed test included;
// a malformed document is 400 and more than 10000 operations 413.
TEST(JsonPatch, ErrorCodesAndStatus) {
  auto test_failed = apply_json_patch(J(R"({"a":1})"), J(R"([{"op":"test","path":"/a","value":2}])"));
  ASSERT_FALSE(test_failed.ok());
  EXPECT_EQ(test_failed.error().code(), ErrorCode::kConflict);
  Status s = patch_error_status(test_failed.error());
  EXPECT_EQ(s.code(), 422);
  EXPECT_EQ(s.reason(), "Invalid");
  EXPECT_EQ(s.message(), "the server rejected our request due to an error in our request");
  ASSERT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.causes()[0].reason, "UnexpectedServerResponse");
  EXPECT_EQ(s.causes()[0].message, "json patch operation 0 (test /a): test failed");

  auto missing = apply_json_patch(J(R"({})"), J(R"([{"op":"remove","path":"/spec/foo"}])"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(patch_error_status(missing.error()).code(), 422);

  auto malformed = apply_json_patch(J(R"({})"), J(R"("x")"));
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(patch_error_status(malformed.error()).code(), 400);

  json::array many;
  for (int i = 0; i < 10001; ++i) many.push_back(J(R"({"op":"test","path":"","value":{}})"));
  auto too_many = apply_json_patch(J("{}"), json::value(many));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code(), ErrorCode::kResourceExhausted);
  Status big = patch_error_status(too_many.error());
  EXPECT_EQ(big.code(), 413);
  EXPECT_EQ(big.message(),
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
            "got 10001");
}

// Copies that double the document are stopped by the accumulated copy limit.
TEST(JsonPatch, CopyGrowthIsBounded) {
  json::array ops;
  ops.push_back(J(R"({"op":"add","path":"/a","value":"0123456789012345678901234567890123456789"})"));
  for (int i = 0; i < 40; ++i) {
    ops.push_back(J(R"({"op":"copy","from":"","path":"/k)" + std::to_string(i) + R"("})"));
  }
  auto r = apply_json_patch(J("{}"), json::value(ops));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("accumulated size increase of copy"), std::string::npos)
      << r.error().message();
}

Result<json::value> smp(const std::string& kind, std::string_view original, std::string_view patch) {
  std::string api_version = "v1";
  if (kind == "Deployment" || kind == "DaemonSet" || kind == "ReplicaSet" || kind == "StatefulSet") {
    api_version = "apps/v1";
  } else if (kind == "Job" || kind == "CronJob") {
    api_version = "batch/v1";
  } else if (kind == "PodDisruptionBudget") {
    api_version = "policy/v1";
  }
  return apply_strategic_merge_patch(J(original), J(patch), api_version, kind);
}

struct SmpCase {
  std::string name, kind, original, patch, want;
};

void run(const std::vector<SmpCase>& cases) {
  for (const auto& c : cases) {
    expect({c.name, c.original, c.patch, c.want}, smp(c.kind, c.original, c.patch));
  }
}

TEST(StrategicMergePatch, ListsMergeByKey) {
  run({
      {"containers merge by name", "Pod",
       R"({"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}})",
       R"({"spec":{"containers":[{"name":"b","image":"b:2"}]}})",
       R"({"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:2"}]}})"},
      // Without $setElementOrder, patch items lead and server-only items follow.
      {"new container without order", "Pod", R"({"spec":{"containers":[{"name":"a"}]}})",
       R"({"spec":{"containers":[{"name":"b"}]}})",
       R"({"spec":{"containers":[{"name":"b"},{"name":"a"}]}})"},
      {"nested ports and env", "Pod",
       R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http"}],)"
       R"("env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]}]}})",
       R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"protocol":"TCP"}],)"
       R"("env":[{"name":"Y","value":"3"}]}]}})",
       R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http",)"
       R"("protocol":"TCP"}],"env":[{"name":"X","value":"1"},{"name":"Y","value":"3"}]}]}})"},
      {"volumeMounts by mountPath, volumes by name", "Pod",
       R"({"spec":{"volumes":[{"name":"v","emptyDir":{}}],"containers":[{"name":"a",)"
       R"("volumeMounts":[{"name":"v","mountPath":"/d"}]}]}})",
       R"({"spec":{"volumes":[{"name":"v","emptyDir":{"medium":"Memory"}}],)"
       R"("containers":[{"name":"a","volumeMounts":[{"mountPath":"/d","readOnly":true}]}]}})",
       R"({"spec":{"volumes":[{"name":"v","emptyDir":{"medium":"Memory"}}],"containers":[{"name":"a",)"
       R"("volumeMounts":[{"name":"v","mountPath":"/d","readOnly":true}]}]}})"},
      {"tolerations have no strategy: replaced", "Pod",
       R"({"spec":{"tolerations":[{"key":"a"},{"key":"b"}]}})",
       R"({"spec":{"tolerations":[{"key":"c"}]}})", R"({"spec":{"tolerations":[{"key":"c"}]}})"},
      {"container args replaced", "Pod", R"({"spec":{"containers":[{"name":"a","args":["x","y"]}]}})",
       R"({"spec":{"containers":[{"name":"a","args":["z"]}]}})",
       R"({"spec":{"containers":[{"name":"a","args":["z"]}]}})"},
      {"pod conditions by type", "Pod",
       R"({"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})",
       R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})",
       R"({"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}]}})"},
      {"node addresses by type", "Node",
       R"({"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"Hostname","address":"n"}]}})",
       R"({"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}})",
       R"({"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"},{"type":"Hostname","address":"n"}]}})"},
      {"service ports by port", "Service",
       R"({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}})",
       R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})",
       R"({"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443}]}})"},
      {"ownerReferences by uid", "ConfigMap",
       R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b"}]}})",
       R"({"metadata":{"ownerReferences":[{"uid":"2","name":"c"}]}})",
       R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"c"}]}})"},
      {"deployment template containers", "Deployment",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b"}]}}}})",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"}]}}}})",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"},{"name":"b"}]}}}})"},
      {"cronjob template containers", "CronJob",
       R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b"}]}}}}}})",
       R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"}]}}}}}})",
       R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"2"},{"name":"b"}]}}}}}})"},
      {"job status conditions", "Job",
       R"({"status":{"conditions":[{"type":"Complete","status":"False"}]}})",
       R"({"status":{"conditions":[{"type":"Complete","status":"True"}]}})",
       R"({"status":{"conditions":[{"type":"Complete","status":"True"}]}})"},
  });
}

TEST(StrategicMergePatch, Directives) {
  run({
      {"$patch: delete removes the element", "Pod",
       R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
       R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})",
       R"({"spec":{"containers":[{"name":"b"}]}})"},
      {"$patch: replace replaces the list", "Pod",
       R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
       R"({"spec":{"containers":[{"name":"c","image":"x"},{"$patch":"replace"}]}})",
       R"({"spec":{"containers":[{"name":"c","image":"x"}]}})"},
      {"$patch: replace on a map", "Pod",
       R"({"spec":{"nodeSelector":{"a":"1","b":"2"}}})",
       R"({"spec":{"nodeSelector":{"c":"3","$patch":"replace"}}})",
       R"({"spec":{"nodeSelector":{"c":"3"}}})"},
      {"$patch: delete on a map empties it", "Pod", R"({"spec":{"nodeSelector":{"a":"1"}}})",
       R"({"spec":{"nodeSelector":{"$patch":"delete"}}})", R"({"spec":{"nodeSelector":{}}})"},
      {"$patch: merge on a list element is refused", "Pod", R"({"spec":{"containers":[{"name":"a"}]}})",
       R"({"spec":{"containers":[{"$patch":"merge"}]}})",
       "ERROR: merging lists cannot yet be specified in the patch"},
      {"null deletes", "Pod", R"({"spec":{"hostname":"h","subdomain":"s"}})",
       R"({"spec":{"hostname":null}})", R"({"spec":{"subdomain":"s"}})"},
      {"nulls in new members are dropped", "Pod", R"({"spec":{}})",
       R"({"spec":{"securityContext":{"runAsUser":1,"fsGroup":null}}})",
       R"({"spec":{"securityContext":{"runAsUser":1}}})"},
      {"finalizers merge as a set", "ConfigMap", R"({"metadata":{"finalizers":["a","b"]}})",
       R"({"metadata":{"finalizers":["b","c"]}})", R"({"metadata":{"finalizers":["a","b","c"]}})"},
      {"node podCIDRs merge as a set", "Node", R"({"spec":{"podCIDRs":["10.0.0.0/24"]}})",
       R"({"spec":{"podCIDRs":["10.0.0.0/24"]}})", R"({"spec":{"podCIDRs":["10.0.0.0/24"]}})"},
      // strategicpatch "$deleteFromPrimitiveList should delete item from a list with merge
      // patch strategy" and "... without merge patch strategy".
      {"$deleteFromPrimitiveList", "ConfigMap", R"({"metadata":{"finalizers":["1","2","3"]}})",
       R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["2"]}})",
       R"({"metadata":{"finalizers":["1","3"]}})"},
      {"$deleteFromPrimitiveList on a non-merging list", "Pod",
       R"({"spec":{"containers":[{"name":"a","args":["1","2","3"]}]}})",
       R"({"spec":{"containers":[{"name":"a","$deleteFromPrimitiveList/args":["2"]}]}})",
       R"({"spec":{"containers":[{"name":"a","args":["1","3"]}]}})"},
      {"$deleteFromPrimitiveList of a missing item", "ConfigMap",
       R"({"metadata":{"finalizers":["1","2"]}})",
       R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["3"]}})",
       R"({"metadata":{"finalizers":["1","2"]}})"},
      {"$deleteFromPrimitiveList does not create the list", "ConfigMap", R"({"metadata":{}})",
       R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["3"]}})", R"({"metadata":{}})"},
      {"$deleteFromPrimitiveList without a list name", "ConfigMap", R"({"metadata":{}})",
       R"({"metadata":{"$deleteFromPrimitiveListfinalizers":["3"]}})",
       "ERROR: metadata: invalid patch format of primitive list"},
      // strategicpatch "retainKeys map adds a field and clear a field", on a Deployment's
      // strategy (patchStrategy=retainKeys).
      {"$retainKeys clears unlisted keys", "Deployment",
       R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})",
       R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})",
       R"({"spec":{"strategy":{"type":"Recreate"}}})"},
      {"$retainKeys must list what the patch sets", "Deployment", R"({"spec":{"strategy":{}}})",
       R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}})",
       "ERROR: spec.strategy: invalid patch format of retainKeys"},
      {"$retainKeys in a volume", "Pod",
       R"({"spec":{"volumes":[{"name":"v","emptyDir":{}}]}})",
       R"({"spec":{"volumes":[{"name":"v","$retainKeys":["name","hostPath"],"hostPath":{"path":"/x"}}]}})",
       R"({"spec":{"volumes":[{"name":"v","hostPath":{"path":"/x"}}]}})"},
      {"PDB selector replaces", "PodDisruptionBudget",
       R"({"spec":{"selector":{"matchLabels":{"a":"1"}}}})",
       R"({"spec":{"selector":{"matchExpressions":[]}}})",
       R"({"spec":{"selector":{"matchExpressions":[]}}})"},
  });
}

// strategicpatch's "set elements order in a list ..." cases (three-way patch applied to
// the current object), on containers; and the primitive-list ones on finalizers.
TEST(StrategicMergePatch, SetElementOrder) {
  run({
      {"set elements order in a list", "Pod",
       R"({"spec":{"containers":[{"name":"1","other":"a"},{"name":"3","value":"3"},{"name":"4","value":"4"},{"name":"2","value":"2"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"4"},{"name":"2"},{"name":"3"},{"name":"1"}]}})",
       R"({"spec":{"containers":[{"name":"4","value":"4"},{"name":"2","value":"2"},{"name":"3","value":"3"},{"name":"1","other":"a"}]}})"},
      {"with server-only items", "Pod",
       R"({"spec":{"containers":[{"name":"1","other":"a"},{"name":"3"},{"name":"4"},{"name":"2"},{"name":"9"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"4"},{"name":"2"},{"name":"3"},{"name":"1"}]}})",
       R"({"spec":{"containers":[{"name":"4"},{"name":"2"},{"name":"3"},{"name":"1","other":"a"},{"name":"9"}]}})"},
      {"with server-only items 2", "Pod",
       R"({"spec":{"containers":[{"name":"1"},{"name":"2"},{"name":"9"},{"name":"3"},{"name":"4"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"2"},{"name":"1"},{"name":"4"},{"name":"3"}]}})",
       R"({"spec":{"containers":[{"name":"2"},{"name":"1"},{"name":"9"},{"name":"4"},{"name":"3"}]}})"},
      {"with server-only items 3", "Pod",
       R"({"spec":{"containers":[{"name":"1"},{"name":"2"},{"name":"7"},{"name":"9"},{"name":"8"},{"name":"3"},{"name":"4"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"2"},{"name":"1"},{"name":"4"},{"name":"3"}]}})",
       R"({"spec":{"containers":[{"name":"2"},{"name":"1"},{"name":"7"},{"name":"9"},{"name":"8"},{"name":"4"},{"name":"3"}]}})"},
      {"add an item in a list of primitives and preserve order", "ConfigMap",
       R"({"metadata":{"finalizers":["1","4","2"]}})",
       R"({"metadata":{"$setElementOrder/finalizers":["3","1","2"],"finalizers":["3"]}})",
       R"({"metadata":{"finalizers":["3","1","4","2"]}})"},
      {"add and delete items in lists of scalars", "ConfigMap",
       R"({"metadata":{"finalizers":["1","2","3","4"]}})",
       R"({"metadata":{"$setElementOrder/finalizers":["1","2","4"],"$deleteFromPrimitiveList/finalizers":["3"]}})",
       R"({"metadata":{"finalizers":["1","2","4"]}})"},
      {"order must match the patch list", "Pod", R"({"spec":{"containers":[{"name":"a"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"b"}]}})",
       "ERROR: spec.containers: the order in patch list"},
  });
}

// What kubectl sends: apply (three-way patch with $setElementOrder and the
// last-applied annotation) and rollout restart.
TEST(StrategicMergePatch, KubectlShapes) {
  run({
      {"kubectl apply changes an image", "Deployment",
       R"({"metadata":{"name":"web","annotations":{"deployment.kubernetes.io/revision":"1"}},)"
       R"("spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.24",)"
       R"("ports":[{"containerPort":80,"protocol":"TCP"}]},{"name":"sidecar","image":"s"}]}}}})",
       R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}\n"}},)"
       R"("spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],)"
       R"("containers":[{"image":"nginx:1.25","name":"nginx"}]}}}})",
       R"({"metadata":{"name":"web","annotations":{"deployment.kubernetes.io/revision":"1",)"
       R"("kubectl.kubernetes.io/last-applied-configuration":"{}\n"}},"spec":{"replicas":2,)"
       R"("template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25","ports":)"
       R"([{"containerPort":80,"protocol":"TCP"}]},{"name":"sidecar","image":"s"}]}}}})"},
      {"kubectl apply removes a container", "Deployment",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}}})",
       R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"}],)"
       R"("containers":[{"$patch":"delete","name":"b"}]}}}})",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"a"}]}}}})"},
      {"kubectl rollout restart", "Deployment",
       R"({"spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"a"}]}}}})",
       R"({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-05-01T10:00:00Z"}}}}})",
       R"({"spec":{"template":{"metadata":{"labels":{"app":"web"},"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-05-01T10:00:00Z"}},"spec":{"containers":[{"name":"a"}]}}}})"},
      {"kubectl label via strategic patch", "Pod", R"({"metadata":{"labels":{"a":"1"}}})",
       R"({"metadata":{"labels":{"a":null,"b":"2"}}})", R"({"metadata":{"labels":{"b":"2"}}})"},
  });
}

TEST(StrategicMergePatch, ErrorsAndUnsupportedKinds) {
  auto missing_key = smp("Pod", R"({"spec":{"containers":[{"name":"a"}]}})",
                         R"({"spec":{"containers":[{"image":"x"}]}})");
  ASSERT_FALSE(missing_key.ok());
  EXPECT_EQ(missing_key.error().message(),
            R"(spec.containers: map: {"image":"x"} does not contain declared merge key: name)");
  EXPECT_EQ(patch_error_status(missing_key.error()).code(), 500);

  auto lists_of_lists = smp("ConfigMap", R"({"metadata":{"finalizers":[["a"]]}})",
                            R"({"metadata":{"finalizers":[["b"]]}})");
  ASSERT_FALSE(lists_of_lists.ok());
  EXPECT_EQ(lists_of_lists.error().message(), "metadata.finalizers: lists of lists are not supported");
  EXPECT_EQ(patch_error_status(lists_of_lists.error()).code(), 422);

  auto not_object = apply_strategic_merge_patch(J("{}"), J("[1]"), "v1", "Pod");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(patch_error_status(not_object.error()).code(), 400);

  EXPECT_TRUE(strategic_merge_patch_supported("apps/v1", "Deployment"));
  EXPECT_TRUE(strategic_merge_patch_supported("v1", "ConfigMap"));
  EXPECT_FALSE(strategic_merge_patch_supported("example.com/v1", "Widget"));
  auto crd = apply_strategic_merge_patch(J("{}"), J("{}"), "example.com/v1", "Widget");
  ASSERT_FALSE(crd.ok());
  EXPECT_EQ(crd.error().message(), "strategic merge patch format is not supported");
}

// Big lists merge by hashed keys, not by scanning: 20000 elements stay quick.
TEST(StrategicMergePatch, LargeListsStayFast) {
  json::array live;
  json::array sent;
  json::array order;
  for (int i = 0; i < 20000; ++i) {
    live.push_back(J(R"({"name":")" + std::to_string(i) + R"(","image":"old"})"));
    if (i % 2 == 1) sent.push_back(J(R"({"name":")" + std::to_string(19999 - i) + R"(","image":"new"})"));
    order.push_back(J(R"({"name":")" + std::to_string(19999 - i) + R"("})"));
  }
  json::object original;
  original["spec"] = json::object{{"containers", live}};
  json::object patch;
  patch["spec"] = json::object{{"containers", sent}, {"$setElementOrder/containers", order}};
  auto r = apply_strategic_merge_patch(json::value(original), json::value(patch), "v1", "Pod");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const json::array& out = r->get_object().at("spec").get_object().at("containers").get_array();
  ASSERT_EQ(out.size(), 20000u);
  EXPECT_EQ(out[0].get_object().at("name").get_string(), "19999");
  EXPECT_EQ(out[0].get_object().at("image").get_string(), "old");
  EXPECT_EQ(out[19999].get_object().at("image").get_string(), "new");
}

TEST(PatchType, FromContentType) {
  EXPECT_EQ(*patch_type_from_content_type("application/json-patch+json"), PatchType::kJson);
  EXPECT_EQ(*patch_type_from_content_type("application/merge-patch+json; charset=utf-8"),
            PatchType::kMerge);
  EXPECT_EQ(*patch_type_from_content_type("application/strategic-merge-patch+json"),
            PatchType::kStrategicMerge);
  EXPECT_FALSE(patch_type_from_content_type("application/json").ok());
}

}  // namespace
}  // namespace kernlet::api
