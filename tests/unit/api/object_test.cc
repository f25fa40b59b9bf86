#include "api/object.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace kernlet::api {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(KERNLET_TESTDATA) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json::object decode_or_die(std::string_view text) {
  auto o = decode_object(text);
  EXPECT_TRUE(o.ok()) << o.error().message();
  return o.ok() ? *o : json::object{};
}

TEST(ObjectDecode, PodRoundTripsByteForByte) {
  std::string text = read_testdata("pod.json");
  json::object pod = decode_or_die(text);
  auto parsed = json::parse(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(encode_object(pod), json::dump(*parsed));
}

TEST(ObjectDecode, UnknownFieldsSurviveTheRoundTrip) {
  auto doc = json::parse_object(read_testdata("pod.json"));
  ASSERT_TRUE(doc.ok());
  // Fields from a newer Kubernetes, at the top, in metadata and deep in the spec.
  (*doc)["futureTopLevel"] = json::parse(R"({"a":[1,2.5,"x",null]})").value();
  json::ensure_object(*doc, "metadata")["futureMeta"] = "kept";
  json::object& spec = json::ensure_object(*doc, "spec");
  spec["containers"].as_array()[0].as_object()["futureContainerField"] = true;
  std::string text = json::dump(*doc);

  json::object pod = decode_or_die(text);
  EXPECT_EQ(encode_object(pod), text);
}

TEST(ObjectDecode, KindAndApiVersion) {
  json::object o = decode_or_die(R"({"apiVersion":"apps/v1","kind":"Deployment"})");
  EXPECT_EQ(api_version(o), "apps/v1");
  EXPECT_EQ(kind(o), "Deployment");
  EXPECT_EQ(api_group("apps/v1"), "apps");
  EXPECT_EQ(api_group("v1"), "");
  EXPECT_EQ(api_group("rbac.authorization.k8s.io/v1"), "rbac.authorization.k8s.io");
  EXPECT_EQ(api_group(""), "");
}

struct ShapeCase {
  const char* doc;
  const char* error;  // nullptr: accepted
};

TEST(ObjectDecode, ShapeErrorsNameTheField) {
  const ShapeCase cases[] = {
      {R"([1])", "expected a JSON object, got array"},
      {R"({"kind": 3})", "kind: expected string, got number"},
      {R"({"apiVersion": ["v1"]})", "apiVersion: expected string, got array"},
      {R"({"metadata": "x"})", "metadata: expected object, got string"},
      {R"({"metadata": {"name": 7}})", "metadata.name: expected string, got number"},
      {R"({"metadata": {"namespace": true}})", "metadata.namespace: expected string, got boolean"},
      {R"({"metadata": {"generation": "3"}})", "metadata.generation: expected integer, got string"},
      {R"({"metadata": {"generation": 1.5}})", "metadata.generation: expected integer, got number"},
      {R"({"metadata": {"labels": {"app": 1}}})", "metadata.labels[app]: expected string, got number"},
      {R"({"metadata": {"labels": {"app.kubernetes.io/name": {}}}})",
       "metadata.labels[app.kubernetes.io/name]: expected string, got object"},
      {R"({"metadata": {"annotations": []}})", "metadata.annotations: expected object, got array"},
      {R"({"metadata": {"finalizers": ["a", 2]}})", "metadata.finalizers[1]: expected string, got number"},
      {R"({"metadata": {"ownerReferences": [{"uid": "u"}, {"uid": 5}]}})",
       "metadata.ownerReferences[1].uid: expected string, got number"},
      {R"({"metadata": {"ownerReferences": [{"controller": "yes"}]}})",
       "metadata.ownerReferences[0].controller: expected boolean, got string"},
      {R"({"metadata": {"ownerReferences": ["x"]}})",
       "metadata.ownerReferences[0]: expected object, got string"},
      {R"({"metadata": {"creationTimestamp": "yesterday"}})",
       "metadata.creationTimestamp: invalid RFC 3339 time \"yesterday\": expected "
       "YYYY-MM-DDTHH:MM:SS"},
      // Accepted: null reads as unset (kubectl writes "creationTimestamp": null), 3.0 is 3,
      // unknown metadata fields are not checked.
      {R"({"metadata": {"creationTimestamp": null, "name": null, "labels": null}})", nullptr},
      {R"({"metadata": {"generation": 3.0, "somethingNew": 5}})", nullptr},
      {R"({"metadata": {"deletionTimestamp": "2026-11-20T08:14:03.5+01:00"}})", nullptr},
      {R"({})", nullptr},
  };
  for (const ShapeCase& c : cases) {
    auto r = decode_object(c.doc);
    if (c.error == nullptr) {
      EXPECT_TRUE(r.ok()) << c.doc << ": " << r.error().message();
    } else {
      ASSERT_FALSE(r.ok()) << c.doc;
      EXPECT_EQ(r.error().message(), c.error) << c.doc;
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(ObjectDecode, InvalidJsonIsInvalidArgument) {
  auto r = decode_object("{\"kind\": ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("invalid JSON"), std::string::npos);
}

TEST(Meta, ReadsPodMetadata) {
  json::object pod = decode_or_die(read_testdata("pod.json"));
  Meta m(pod);
  EXPECT_EQ(m.name(), "web-7d4b9c8f6d-x2kq9");
  EXPECT_EQ(m.generate_name(), "web-7d4b9c8f6d-");
  EXPECT_EQ(m.namespace_(), "shop");
  EXPECT_EQ(m.uid(), "5b0e9f42-7a3c-4d1e-9c2a-1f8e6b3d7a90");
  EXPECT_EQ(m.resource_version(), "184467");
  EXPECT_EQ(m.generation(), 0);
  EXPECT_EQ(m.creation_timestamp(), "2026-11-20T08:14:03Z");
  EXPECT_EQ(m.deletion_timestamp(), "");
  EXPECT_FALSE(m.being_deleted());
  EXPECT_EQ(m.deletion_grace_period_seconds(), std::nullopt);
  ASSERT_NE(m.labels(), nullptr);
  EXPECT_EQ(m.labels()->size(), 4u);
  EXPECT_EQ(m.label("tier"), "frontend");
  EXPECT_EQ(m.label("app.kubernetes.io/name"), "web");
  EXPECT_EQ(m.label("missing"), std::nullopt);
  EXPECT_EQ(m.annotation("prometheus.io/port"), "9102");
  ASSERT_EQ(m.owner_references().size(), 1u);
  OwnerReference expected{"apps/v1", "ReplicaSet", "web-7d4b9c8f6d",
                          "0c7d2e1a-3b4f-4a5e-8d6c-9e0f1a2b3c4d", true, true};
  EXPECT_EQ(m.owner_references()[0], expected);
  ASSERT_TRUE(m.controller_ref().has_value());
  EXPECT_EQ(m.controller_ref()->name, "web-7d4b9c8f6d");
  EXPECT_EQ(m.finalizers(), std::vector<std::string_view>{"shop.example.com/drain"});
  EXPECT_TRUE(m.has_finalizer("shop.example.com/drain"));
  EXPECT_FALSE(m.has_finalizer("kubernetes"));
}

TEST(Meta, MissingOrMistypedMetadataReadsEmpty) {
  for (const char* text : {R"({"kind":"Pod"})", R"({"metadata":{"labels":{"a":1},"finalizers":"x"}})"}) {
    auto o = json::parse_object(text);
    ASSERT_TRUE(o.ok());
    Meta m(*o);
    EXPECT_EQ(m.name(), "");
    EXPECT_EQ(m.label("a"), std::nullopt);
    EXPECT_TRUE(m.finalizers().empty());
    EXPECT_TRUE(m.owner_references().empty());
    EXPECT_FALSE(m.controller_ref().has_value());
  }
}

TEST(Meta, ControllerRefIgnoresNonControllers) {
  json::object o = decode_or_die(R"({"metadata":{"ownerReferences":[
      {"apiVersion":"v1","kind":"Node","name":"n","uid":"1"},
      {"apiVersion":"apps/v1","kind":"DaemonSet","name":"ds","uid":"2","controller":true}]}})");
  Meta m(o);
  EXPECT_EQ(m.owner_references().size(), 2u);
  ASSERT_TRUE(m.controller_ref().has_value());
  EXPECT_EQ(m.controller_ref()->kind, "DaemonSet");
}

TEST(MutableMeta, EditsTouchOnlyTheirFields) {
  json::object original = decode_or_die(read_testdata("pod.json"));
  json::object pod = original;
  MutableMeta m(pod);
  m.set_label("tier", "backend");
  m.set_label("new", "yes");
  EXPECT_TRUE(m.remove_annotation("prometheus.io/scrape"));
  EXPECT_FALSE(m.remove_annotation("prometheus.io/scrape"));
  m.add_finalizer("kernlet.io/cleanup");
  m.add_finalizer("kernlet.io/cleanup");
  m.set_resource_version("184468");
  m.set_deletion_timestamp("2026-11-20T09:00:00Z");

  EXPECT_EQ(m.label("tier"), "backend");
  EXPECT_EQ(m.label("new"), "yes");
  EXPECT_EQ(m.annotation("prometheus.io/scrape"), std::nullopt);
  EXPECT_EQ(m.finalizers(),
            (std::vector<std::string_view>{"shop.example.com/drain", "kernlet.io/cleanup"}));
  EXPECT_TRUE(m.being_deleted());

  // Everything outside the edited members is untouched, including their siblings.
  EXPECT_EQ(pod.at("spec"), original.at("spec"));
  EXPECT_EQ(pod.at("status"), original.at("status"));
  const json::object& before = original.at("metadata").as_object();
  const json::object& after = pod.at("metadata").as_object();
  for (const auto& kv : before) {
    std::string_view k = kv.key();
    if (k == "labels" || k == "annotations" || k == "finalizers" || k == "resourceVersion") continue;
    EXPECT_EQ(kv.value(), after.at(k)) << k;
  }
  EXPECT_EQ(after.size(), before.size() + 1);  // + deletionTimestamp
  EXPECT_EQ(after.at("labels").as_object().at("app.kubernetes.io/name"), "web");
  EXPECT_EQ(after.at("annotations").as_object().size(), 2u);
}

TEST(MutableMeta, CreatesMetadataAndDropsEmptiedMembers) {
  json::object o;
  o["kind"] = "ConfigMap";
  MutableMeta m(o);
  EXPECT_FALSE(m.remove_label("a"));
  EXPECT_FALSE(m.remove_finalizer("f"));
  EXPECT_FALSE(o.contains("metadata"));  // removals never create it

  m.set_name("cm");
  m.set_namespace("default");
  m.set_label("a", "1");
  m.add_finalizer("f");
  EXPECT_EQ(json::dump(o),
            R"({"kind":"ConfigMap","metadata":{"name":"cm","namespace":"default","labels":{"a":"1"},"finalizers":["f"]}})");
  EXPECT_EQ(Meta(o).name(), "cm");

  EXPECT_TRUE(m.remove_label("a"));
  EXPECT_TRUE(m.remove_finalizer("f"));
  EXPECT_EQ(json::dump(o), R"({"kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"}})");
}

TEST(MutableMeta, OwnerReferencesRoundTrip) {
  json::object o;
  MutableMeta m(o);
  std::vector<OwnerReference> refs = {
      {"apps/v1", "ReplicaSet", "rs", "u1", true, true},
      {"v1", "Node", "n1", "u2", false, false},
  };
  m.set_owner_references(refs);
  EXPECT_EQ(m.owner_references(), refs);
  EXPECT_EQ(json::dump(o.at("metadata").as_object().at("ownerReferences").as_array()[1]),
            R"({"apiVersion":"v1","kind":"Node","name":"n1","uid":"u2"})");
  m.set_owner_references({});
  EXPECT_FALSE(o.at("metadata").as_object().contains("ownerReferences"));
}

TEST(MutableMeta, ViewStaysValidWhenTopLevelMembersAreAdded) {
  json::object o;
  MutableMeta m(o);
  m.set_name("a");
  for (int i = 0; i < 100; ++i) o["field" + std::to_string(i)] = i;  // rehashes o
  m.set_label("k", "v");
  EXPECT_EQ(m.name(), "a");
  EXPECT_EQ(m.label("k"), "v");
}

TEST(ResourceListView, ReadsQuantitiesAndNamesBadOnes) {
  auto o = json::parse_object(R"({"cpu":"250m","memory":"64Mi","pods":110,"bad":"12Q"})");
  ASSERT_TRUE(o.ok());
  ResourceListView v(&*o, "status.allocatable");
  EXPECT_TRUE(v.has("cpu"));
  EXPECT_FALSE(v.has("nvidia.com/gpu"));
  ASSERT_TRUE(v.get("cpu").ok());
  EXPECT_EQ(v.get("cpu")->milli_value().value(), 250);
  EXPECT_EQ(v.get("pods")->value().value(), 110);
  EXPECT_TRUE(v.get("nvidia.com/gpu")->is_zero());
  auto bad = v.get("bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message().rfind("status.allocatable[bad]: ", 0), 0u) << bad.error().message();
  EXPECT_FALSE(v.to_list().ok());

  ResourceListView absent(nullptr, "x");
  EXPECT_TRUE(absent.empty());
  EXPECT_TRUE(absent.get("cpu")->is_zero());
  EXPECT_TRUE(absent.to_list()->empty());
}

TEST(IntOrString, ReadsBothForms) {
  auto o = json::parse_object(R"({"a":8080,"b":"http","c":true})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(get_int_or_string(*o, "a"), (IntOrString{true, 8080, {}}));
  EXPECT_EQ(get_int_or_string(*o, "b"), (IntOrString{false, 0, "http"}));
  EXPECT_EQ(get_int_or_string(*o, "c"), std::nullopt);
  EXPECT_EQ(get_int_or_string(*o, "d"), std::nullopt);
}

}  // namespace
}  // namespace kernlet::api
