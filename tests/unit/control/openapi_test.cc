#include "control/apiserver/openapi.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "control/apiserver/resources.h"

namespace kernlet::apiserver {
namespace {

// A protobuf message read back: length-delimited fields as bytes, varints as numbers.
// Enough to walk the gnostic openapi.v2 messages the server writes.
struct Fields {
  std::multimap<int, std::string> bytes;
  std::multimap<int, uint64_t> varints;

  std::vector<std::string> all(int field) const {
    std::vector<std::string> out;
    for (auto [it, end] = bytes.equal_range(field); it != end; ++it) out.push_back(it->second);
    return out;
  }
  std::string one(int field) const {
    auto v = all(field);
    return v.empty() ? std::string() : v.front();
  }
};

uint64_t read_varint(std::string_view& in) {
  uint64_t v = 0;
  for (int shift = 0; !in.empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  ADD_FAILURE() << "truncated varint";
  return v;
}

Fields decode(std::string_view in) {
  Fields f;
  while (!in.empty()) {
    uint64_t key = read_varint(in);
    int field = static_cast<int>(key >> 3);
    switch (key & 7) {
      case 0:
        f.varints.emplace(field, read_varint(in));
        break;
      case 2: {
        uint64_t n = read_varint(in);
        if (n > in.size()) {
          ADD_FAILURE() << "field " << field << " overruns the message";
          return f;
        }
        f.bytes.emplace(field, std::string(in.substr(0, n)));
        in.remove_prefix(n);
        break;
      }
      default:
        ADD_FAILURE() << "unexpected wire type " << (key & 7) << " for field " << field;
        return f;
    }
  }
  return f;
}

// Vendor extensions (NamedAny{name=1, value=2: Any{yaml=2}}) of a message, by name.
std::map<std::string, std::string> extensions(const Fields& msg, int field) {
  std::map<std::string, std::string> out;
  for (const auto& raw : msg.all(field)) {
    Fields named = decode(raw);
    out[named.one(1)] = decode(named.one(2)).one(2);
  }
  return out;
}

// Query parameter names of an Operation (parameters=8 → Parameter=1 → NonBodyParameter=2 → query=3).
std::set<std::string> query_params(const Fields& op) {
  std::set<std::string> out;
  for (const auto& raw : op.all(8)) {
    Fields param = decode(decode(raw).one(1));
    Fields query = decode(decode(param.one(2)).one(3));
    if (query.one(2) == "query") out.insert(query.one(4));
  }
  return out;
}

std::string item_path(const ResourceInfo& r) {
  std::string base = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  return base + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.resource + "/{name}";
}

TEST(OpenApi, V2ProtobufHasFieldValidationOnEveryPatchOperation) {
  Fields doc = decode(openapi_v2_protobuf());
  EXPECT_EQ(doc.one(1), "2.0");
  EXPECT_EQ(decode(doc.one(2)).one(1), "Kubernetes");
  std::map<std::string, Fields> paths;  // Paths{path=2: NamedPathItem{name=1, value=2}}
  for (const auto& raw : decode(doc.one(8)).all(2)) {
    Fields named = decode(raw);
    paths[named.one(1)] = decode(named.one(2));
  }
  int patched = 0;
  for (const auto& r : builtin_resources()) {
    if (!r.has_verb("patch")) continue;
    auto it = paths.find(item_path(r));
    ASSERT_NE(it, paths.end()) << item_path(r);
    Fields patch = decode(it->second.one(8));
    auto ext = extensions(patch, 13);
    json::object gvk = json::parse_object(ext["x-kubernetes-group-version-kind"]).value();
    EXPECT_EQ(json::get_string(gvk, "group"), r.group);
    EXPECT_EQ(json::get_string(gvk, "version"), r.version);
    EXPECT_EQ(json::get_string(gvk, "kind"), r.kind);
    EXPECT_EQ(ext["x-kubernetes-action"], "\"patch\"");
    EXPECT_TRUE(query_params(patch).count("fieldValidation")) << r.kind;
    // No consumes: kubectl apply then builds strategic merge patches from its own types.
    EXPECT_TRUE(patch.all(7).empty()) << r.kind;
    ++patched;
  }
  EXPECT_GE(patched, 20);
  // Status paths carry the parent kind, so they must agree about fieldValidation.
  Fields status = decode(paths.at("/api/v1/namespaces/{namespace}/pods/{name}/status").one(8));
  EXPECT_TRUE(query_params(status).count("fieldValidation"));
  // The create-only Binding has a POST and no PATCH.
  ASSERT_TRUE(paths.count("/api/v1/namespaces/{namespace}/bindings"));
  EXPECT_TRUE(paths["/api/v1/namespaces/{namespace}/bindings"].one(4).size() > 0);
  EXPECT_FALSE(paths.count("/api/v1/namespaces/{namespace}/bindings/{name}"));
}

TEST(OpenApi, V2ProtobufDefinitionsNameTheirKinds) {
  Fields doc = decode(openapi_v2_protobuf());
  std::map<std::string, Fields> defs;  // Definitions{additional_properties=1: NamedSchema{name=1, value=2}}
  for (const auto& raw : decode(doc.one(9)).all(1)) {
    Fields named = decode(raw);
    EXPECT_FALSE(defs.count(named.one(1))) << "duplicate definition " << named.one(1);
    defs[named.one(1)] = decode(named.one(2));
  }
  ASSERT_TRUE(defs.count("io.k8s.api.apps.v1.Deployment"));
  ASSERT_TRUE(defs.count("io.k8s.api.core.v1.Event"));
  ASSERT_TRUE(defs.count("io.k8s.api.events.v1.Event"));
  ASSERT_TRUE(defs.count("io.k8s.api.discovery.v1.EndpointSlice"));
  const Fields& deploy = defs["io.k8s.api.apps.v1.Deployment"];
  EXPECT_EQ(decode(deploy.one(22)).one(1), "object");
  auto ext = extensions(deploy, 31);
  EXPECT_EQ(ext["x-kubernetes-preserve-unknown-fields"], "true");
  json::array gvks = json::parse(ext["x-kubernetes-group-version-kind"]).value().as_array();
  ASSERT_EQ(gvks.size(), 1u);
  EXPECT_EQ(json::get_string(gvks[0].as_object(), "kind"), "Deployment");
  EXPECT_TRUE(deploy.all(25).empty()) << "no properties: kubectl's v2 validation must accept any field";
}

TEST(OpenApi, V2JsonAndProtobufDescribeTheSamePaths) {
  json::object v2 = openapi_v2_json();
  EXPECT_EQ(json::get_string(v2, "swagger"), "2.0");
  std::set<std::string> json_paths;
  for (const auto& [k, v] : *json::get_object(v2, "paths")) json_paths.insert(std::string(k));
  std::set<std::string> pb_paths;
  for (const auto& raw : decode(decode(openapi_v2_protobuf()).one(8)).all(2)) pb_paths.insert(decode(raw).one(1));
  EXPECT_EQ(json_paths, pb_paths);
  const json::object* patch =
      json::get_path(v2, "paths./apis/apps/v1/namespaces/{namespace}/deployments/{name}.patch");
  ASSERT_NE(patch, nullptr);
  EXPECT_EQ(json::get_string(*json::get_object(*patch, "x-kubernetes-group-version-kind"), "kind"), "Deployment");
}

TEST(OpenApi, V3RootListsEveryGroupVersionWithItsHash) {
  json::object root = openapi_v3_root();
  const json::object* paths = json::get_object(root, "paths");
  ASSERT_NE(paths, nullptr);
  for (const char* gv : {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/autoscaling/v2",
                         "apis/discovery.k8s.io/v1", "apis/coordination.k8s.io/v1", "apis/storage.k8s.io/v1",
                         "apis/events.k8s.io/v1"}) {
    const json::object* entry = json::get_object(*paths, gv);
    ASSERT_NE(entry, nullptr) << gv;
    std::string url(json::get_string(*entry, "serverRelativeURL"));
    std::string prefix = "/openapi/v3/" + std::string(gv) + "?hash=";
    ASSERT_EQ(url.substr(0, prefix.size()), prefix) << url;
    std::string hash = url.substr(prefix.size());
    Response res = serve_openapi("/openapi/v3/" + std::string(gv), hash, "application/json");
    EXPECT_EQ(res.status, 200u);
    bool immutable = false;
    for (const auto& [k, v] : res.headers) immutable |= (k == "Cache-Control" && v == "public, immutable");
    EXPECT_TRUE(immutable) << gv;
  }
  EXPECT_EQ(paths->size(), 8u);
}

TEST(OpenApi, V3PatchOperationsCarryKindAndFieldValidation) {
  for (const auto& r : builtin_resources()) {
    if (r.group == "metrics.k8s.io") continue;  // read-only and computed: not in OpenAPI
    std::string api_path = r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
    json::object doc = openapi_v3_document(api_path);
    ASSERT_FALSE(doc.empty()) << api_path;
    const json::object* paths = json::get_object(doc, "paths");
    ASSERT_NE(paths, nullptr);
    const json::object* item = json::get_object(*paths, item_path(r));
    if (!r.has_verb("patch")) continue;
    ASSERT_NE(item, nullptr) << item_path(r);
    const json::object* patch = json::get_object(*item, "patch");
    ASSERT_NE(patch, nullptr);
    const json::object* gvk = json::get_object(*patch, "x-kubernetes-group-version-kind");
    ASSERT_NE(gvk, nullptr);
    EXPECT_EQ(json::get_string(*gvk, "group"), r.group);
    EXPECT_EQ(json::get_string(*gvk, "kind"), r.kind);
    bool field_validation = false;
    for (const auto& p : *json::get_array(*patch, "parameters")) {
      const auto& po = p.as_object();
      field_validation |= json::get_string(po, "name") == "fieldValidation" && json::get_string(po, "in") == "query";
    }
    EXPECT_TRUE(field_validation) << r.kind;
    EXPECT_EQ(json::find(*patch, "requestBody"), nullptr) << "kubectl would build patches from our schemas";
    // The kind's schema names it.
    std::string def = "io.k8s.api." + (r.group.empty() ? std::string("core") : r.group.substr(0, r.group.find('.'))) +
                      "." + r.version + "." + r.kind;
    const json::object* schema = json::get_path(doc, "components.schemas");
    ASSERT_NE(schema, nullptr);
    schema = json::get_object(*schema, def);
    ASSERT_NE(schema, nullptr) << def;
    // A real field schema (kubectl explain reads it): metadata and the type fields at least.
    const json::object* props = json::get_object(*schema, "properties");
    ASSERT_NE(props, nullptr) << def;
    EXPECT_NE(json::find(*props, "metadata"), nullptr) << def;
    EXPECT_NE(json::find(*props, "kind"), nullptr) << def;
    const json::array* gvks = json::get_array(*schema, "x-kubernetes-group-version-kind");
    ASSERT_NE(gvks, nullptr);
    EXPECT_EQ(json::get_string((*gvks)[0].as_object(), "kind"), r.kind);
  }
  EXPECT_TRUE(openapi_v3_document("apis/nope/v1").empty());
}

// Collects every "$ref" in a JSON value.
void collect_refs(const json::value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object()) {
      if (k == "$ref" && child.is_string()) out.emplace_back(child.as_string());
      collect_refs(child, out);
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) collect_refs(child, out);
  }
}

TEST(OpenApi, V3SchemasHaveRealFieldsAndNoDanglingReferences) {
  json::object doc = openapi_v3_document("api/v1");
  const json::object* schemas = json::get_path(doc, "components.schemas");
  ASSERT_NE(schemas, nullptr);
  const json::object* spec = json::get_object(*schemas, "io.k8s.api.core.v1.PodSpec");
  ASSERT_NE(spec, nullptr);
  const json::object* containers = json::get_path(*spec, "properties.containers");
  ASSERT_NE(containers, nullptr);
  EXPECT_EQ(json::get_string(*containers, "type"), "array");
  EXPECT_EQ(json::get_string(*json::get_object(*containers, "items"), "$ref"),
            "#/components/schemas/io.k8s.api.core.v1.Container");
  // An inlined struct (Volume's VolumeSource) contributes its members to the parent.
  const json::object* volume = json::get_object(*schemas, "io.k8s.api.core.v1.Volume");
  ASSERT_NE(volume, nullptr);
  EXPECT_NE(json::get_path(*volume, "properties.configMap"), nullptr);
  for (std::string_view api_path : {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/autoscaling/v2"}) {
    json::object d = openapi_v3_document(api_path);
    std::vector<std::string> refs;
    collect_refs(d, refs);
    ASSERT_FALSE(refs.empty()) << api_path;
    const json::object* defs = json::get_path(d, "components.schemas");
    for (const auto& r : refs) {
      const std::string prefix = "#/components/schemas/";
      ASSERT_EQ(r.rfind(prefix, 0), 0u) << r;
      EXPECT_NE(json::find(*defs, r.substr(prefix.size())), nullptr) << api_path << ": dangling " << r;
    }
  }
}

TEST(OpenApi, ServesByPathAndAcceptHeader) {
  EXPECT_TRUE(is_openapi_path("/openapi/v2"));
  EXPECT_TRUE(is_openapi_path("/openapi/v3"));
  EXPECT_TRUE(is_openapi_path("/openapi/v3/apis/apps/v1"));
  EXPECT_FALSE(is_openapi_path("/openapi/v4"));
  EXPECT_FALSE(is_openapi_path("/openapi/v3x"));

  // What kubectl sends for v2: protobuf only.
  Response pb = serve_openapi("/openapi/v2", "", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
  EXPECT_EQ(pb.status, 200u);
  // Without the '@', which Go's mime.ParseMediaType (client-go) rejects.
  EXPECT_EQ(pb.content_type, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
  EXPECT_EQ(pb.body, openapi_v2_protobuf());

  for (const char* accept : {"", "application/json", "*/*", "application/json, */*;q=0.8", "application/*"}) {
    Response js = serve_openapi("/openapi/v2", "", accept);
    EXPECT_EQ(js.status, 200u) << accept;
    EXPECT_EQ(js.content_type, "application/json") << accept;
    EXPECT_TRUE(json::parse_object(js.body).ok()) << accept;
  }
  EXPECT_EQ(serve_openapi("/openapi/v2", "", "application/yaml").status, 406u);
  EXPECT_EQ(serve_openapi("/openapi/v3", "", "text/html").status, 406u);

  Response root = serve_openapi("/openapi/v3", "", "application/json");
  EXPECT_EQ(root.status, 200u);
  EXPECT_EQ(json::parse_object(root.body).value(), openapi_v3_root());

  Response missing = serve_openapi("/openapi/v3/apis/nope/v1", "", "application/json");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_NE(missing.body.find("NotFound"), std::string::npos);

  // A stale hash still gets the document, but not as cacheable forever.
  Response stale = serve_openapi("/openapi/v3/api/v1", "0000", "application/json");
  EXPECT_EQ(stale.status, 200u);
  for (const auto& [k, v] : stale.headers) {
    if (k == "Cache-Control") {
      EXPECT_NE(v, "public, immutable");
    }
  }
}

}  // namespace
}  // namespace kernlet::apiserver
