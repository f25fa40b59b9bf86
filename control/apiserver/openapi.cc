#include "control/apiserver/openapi.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "api/status.h"
#include "api/schema/schema.h"
#include "control/apiserver/openapi_schemas.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {
namespace {

// Matches gitVersion in /version.
constexpr std::string_view kApiVersion = "v1.30.0-kernlet";
// Asked for as "...spec.v2@v1.0+protobuf", but answered without the '@': client-go parses the
// Content-Type with Go's mime.ParseMediaType, which rejects '@' (a tspecial) and fails.
constexpr std::string_view kProtobufV2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
constexpr std::string_view kStatusDefinition = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";

// ---- the model both encodings are written from ---------------------------------------

struct Gvk {
  std::string group, version, kind;
};

struct Param {
  std::string name;
  std::string in;    // "path" or "query"
  std::string type;  // "string", "boolean", "integer"
  std::string description;
  bool required = false;
};

struct Operation {
  std::string method;  // "get", "put", "post", "delete", "patch"
  std::string action;  // x-kubernetes-action: "get", "list", "post", "put", "patch", ...
  std::string operation_id;
  std::string description;
  std::vector<Param> params;
  std::string body_definition;      // request body schema; empty = none
  std::string response_definition;  // 200 response schema
  Gvk gvk;
};

struct PathItem {
  std::string path;
  std::vector<Param> params;
  std::vector<Operation> ops;
};

struct Definition {
  std::string name;  // "io.k8s.api.core.v1.Pod"
  std::string description;
  Gvk gvk;
};

struct GroupVersionSpec {
  std::string api_path;  // "api/v1", "apis/apps/v1"
  std::vector<PathItem> paths;
  std::vector<Definition> definitions;
};

std::string camel(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

// The first label of a group: "" → "core", "discovery.k8s.io" → "discovery".
std::string group_short(std::string_view group) {
  if (group.empty()) return "core";
  return std::string(group.substr(0, group.find('.')));
}

std::string definition_name(const ResourceInfo& r, std::string_view kind) {
  return "io.k8s.api." + group_short(r.group) + "." + r.version + "." + std::string(kind);
}

Param path_param(std::string name, std::string description) {
  return {std::move(name), "path", "string", std::move(description), true};
}
Param query_param(std::string name, std::string type, std::string description) {
  return {std::move(name), "query", std::move(type), std::move(description), false};
}

Param pretty() { return query_param("pretty", "string", "If 'true', the output is pretty printed."); }

// The parameters of a write. fieldValidation is what kubectl looks for to decide that the
// server validates fields itself.
std::vector<Param> write_params() {
  return {query_param("dryRun", "string", "When present (All), the request is processed but nothing is persisted."),
          query_param("fieldManager", "string", "The name of the actor making the change."),
          query_param("fieldValidation", "string",
                      "How to treat unknown or duplicate fields in the object: Ignore, Warn or Strict.")};
}

std::vector<Param> list_params() {
  return {query_param("labelSelector", "string", "Only objects whose labels match this selector."),
          query_param("fieldSelector", "string", "Only objects whose fields match this selector."),
          query_param("limit", "integer", "The most objects to return; the rest follow with continue."),
          query_param("continue", "string", "The continue token of the previous page."),
          query_param("resourceVersion", "string", "The resource version to list or watch from."),
          query_param("resourceVersionMatch", "string", "How resourceVersion applies to a list."),
          query_param("timeoutSeconds", "integer", "How long a list or watch may take."),
          query_param("watch", "boolean", "Stream changes instead of listing."),
          query_param("allowWatchBookmarks", "boolean", "Send BOOKMARK events while watching.")};
}

// Operation id as Kubernetes names them:
// verb + Group + Version + [Collection] + [Namespaced] + Kind + suffix.
std::string op_id(std::string_view verb, const ResourceInfo& r, bool namespaced, std::string_view suffix,
                  std::string_view infix = "") {
  return std::string(verb) + camel(group_short(r.group)) + camel(r.version) + std::string(infix) +
         (namespaced ? "Namespaced" : "") + r.kind + std::string(suffix);
}

Operation op(std::string method, std::string action, std::string id, std::string description, const ResourceInfo& r,
             std::vector<Param> params, std::string response) {
  Operation o;
  o.method = std::move(method);
  o.action = std::move(action);
  o.operation_id = std::move(id);
  o.description = std::move(description);
  o.params = std::move(params);
  o.response_definition = std::move(response);
  o.gvk = {r.group, r.version, r.kind};
  return o;
}

void add_resource(GroupVersionSpec& spec, const ResourceInfo& r) {
  const std::string base = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  const std::string collection = base + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.resource;
  const std::string def = definition_name(r, r.kind);
  const std::string list_def = definition_name(r, r.kind + "List");
  const Param ns = path_param("namespace", "The object's namespace.");
  const Param name = path_param("name", "The name of the " + r.kind + ".");

  PathItem coll{collection, {}, {}};
  if (r.namespaced) coll.params.push_back(ns);
  coll.params.push_back(pretty());
  if (r.has_verb("list")) {
    coll.ops.push_back(op("get", "list", op_id("list", r, r.namespaced, ""), "List or watch " + r.kind + " objects.",
                          r, list_params(), list_def));
  }
  if (r.has_verb("create")) {
    Operation o = op("post", "post", op_id("create", r, r.namespaced, ""), "Create a " + r.kind + ".", r,
                     write_params(), def);
    o.body_definition = def;
    coll.ops.push_back(std::move(o));
  }
  if (r.has_verb("deletecollection")) {
    std::vector<Param> params = list_params();
    params.push_back(write_params()[0]);
    coll.ops.push_back(op("delete", "deletecollection", op_id("delete", r, r.namespaced, "", "Collection"),
                          "Delete a collection of " + r.kind + " objects.", r, std::move(params),
                          std::string(kStatusDefinition)));
  }
  if (!coll.ops.empty()) spec.paths.push_back(std::move(coll));

  PathItem item{collection + "/{name}", {name}, {}};
  if (r.namespaced) item.params.push_back(ns);
  item.params.push_back(pretty());
  if (r.has_verb("get")) {
    item.ops.push_back(op("get", "get", op_id("read", r, r.namespaced, ""), "Read the specified " + r.kind + ".", r,
                          {}, def));
  }
  if (r.has_verb("update")) {
    Operation o = op("put", "put", op_id("replace", r, r.namespaced, ""), "Replace the specified " + r.kind + ".", r,
                     write_params(), def);
    o.body_definition = def;
    item.ops.push_back(std::move(o));
  }
  if (r.has_verb("patch")) {
    // No request body content types on purpose: kubectl 1.29+ would otherwise build its
    // strategic merge patches from these (permissive) schemas, which carry no merge keys.
    item.ops.push_back(op("patch", "patch", op_id("patch", r, r.namespaced, ""),
                          "Partially update the specified " + r.kind + ".", r, write_params(), def));
  }
  if (r.has_verb("delete")) {
    item.ops.push_back(op("delete", "delete", op_id("delete", r, r.namespaced, ""),
                          "Delete the specified " + r.kind + ".", r, {write_params()[0]},
                          std::string(kStatusDefinition)));
  }
  if (!item.ops.empty()) spec.paths.push_back(std::move(item));

  // /status: the only subresource the server serves. Its operations carry the parent's kind,
  // and kubectl takes the first PATCH it finds for a kind, so /status must agree with the
  // object's own path about fieldValidation.
  if (const Subresource* st = r.subresource("status")) {
    PathItem status{collection + "/{name}/status", {name}, {}};
    if (r.namespaced) status.params.push_back(ns);
    status.params.push_back(pretty());
    auto has = [&](std::string_view v) { return std::find(st->verbs.begin(), st->verbs.end(), v) != st->verbs.end(); };
    if (has("get")) {
      status.ops.push_back(op("get", "get", op_id("read", r, r.namespaced, "Status"),
                              "Read the status of the specified " + r.kind + ".", r, {}, def));
    }
    if (has("update")) {
      Operation o = op("put", "put", op_id("replace", r, r.namespaced, "Status"),
                       "Replace the status of the specified " + r.kind + ".", r, write_params(), def);
      o.body_definition = def;
      status.ops.push_back(std::move(o));
    }
    if (has("patch")) {
      status.ops.push_back(op("patch", "patch", op_id("patch", r, r.namespaced, "Status"),
                              "Partially update the status of the specified " + r.kind + ".", r, write_params(),
                              def));
    }
    spec.paths.push_back(std::move(status));
  }

  if (r.namespaced && r.has_verb("list")) {
    PathItem all{base + "/" + r.resource, {pretty()}, {}};
    all.ops.push_back(op("get", "list", op_id("list", r, false, "ForAllNamespaces"),
                         "List or watch " + r.kind + " objects in all namespaces.", r, list_params(), list_def));
    spec.paths.push_back(std::move(all));
  }

  const std::string note = "";
  spec.definitions.push_back({def, r.kind + " (" + r.api_version() + ")." + note, {r.group, r.version, r.kind}});
  spec.definitions.push_back(
      {list_def, "A list of " + r.kind + " objects." + note, {r.group, r.version, r.kind + "List"}});
}

std::vector<GroupVersionSpec> build_specs() {
  std::vector<GroupVersionSpec> specs;
  for (const auto& r : builtin_resources()) {
    // metrics.k8s.io is read-only and computed (metrics_collector.h): kubectl top needs
    // only discovery, and kubectl never validates a manifest against it.
    if (r.group == "metrics.k8s.io") continue;
    std::string api_path = r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
    auto it = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.api_path == api_path; });
    if (it == specs.end()) {
      specs.push_back({api_path, {}, {}});
      it = specs.end() - 1;
    }
    add_resource(*it, r);
  }
  for (auto& s : specs) {
    s.definitions.push_back({std::string(kStatusDefinition), "The result of an operation that returns no object.",
                             {"", "v1", "Status"}});
  }
  return specs;
}

const std::vector<GroupVersionSpec>& specs() {
  static const std::vector<GroupVersionSpec> s = build_specs();
  return s;
}

// ---- JSON (v3 and v2) ----------------------------------------------------------------

json::object gvk_json(const Gvk& g) { return {{"group", g.group}, {"kind", g.kind}, {"version", g.version}}; }

json::object schema_json(const Definition& d) {
  return {{"description", d.description},
          {"type", "object"},
          {"x-kubernetes-preserve-unknown-fields", true},
          {"x-kubernetes-group-version-kind", json::array{gvk_json(d.gvk)}}};
}

json::object v3_param(const Param& p) {
  json::object schema{{"type", p.type}, {"uniqueItems", true}};
  json::object o{{"name", p.name}, {"in", p.in}, {"description", p.description}, {"schema", std::move(schema)}};
  if (p.required) o["required"] = true;
  return o;
}

json::object v3_ref(std::string_view def) {
  return {{"$ref", "#/components/schemas/" + std::string(def)}};
}

json::object v3_operation(const Operation& o) {
  json::array params;
  for (const auto& p : o.params) params.push_back(v3_param(p));
  json::object content{{"application/json", json::object{{"schema", v3_ref(o.response_definition)}}}};
  json::object out{{"description", o.description},
                   {"operationId", o.operation_id},
                   {"responses", json::object{{"200", json::object{{"description", "OK"}, {"content", std::move(content)}}}}},
                   {"x-kubernetes-action", o.action},
                   {"x-kubernetes-group-version-kind", gvk_json(o.gvk)}};
  if (!params.empty()) out["parameters"] = std::move(params);
  if (!o.body_definition.empty()) {
    json::object body{{"*/*", json::object{{"schema", v3_ref(o.body_definition)}}}};
    out["requestBody"] = json::object{{"content", std::move(body)}, {"required", true}};
  }
  return out;
}

json::object v3_document(const GroupVersionSpec& s) {
  json::object paths;
  for (const auto& p : s.paths) {
    json::object item;
    json::array params;
    for (const auto& q : p.params) params.push_back(v3_param(q));
    item["parameters"] = std::move(params);
    for (const auto& o : p.ops) item[o.method] = v3_operation(o);
    paths[p.path] = std::move(item);
  }
  // Kinds in the schema table get their real field schemas (for `kubectl explain`); the
  // rest (Status) stay permissive.
  json::object schemas;
  for (const auto& d : s.definitions) {
    const std::string api_version = d.gvk.group.empty() ? d.gvk.version : d.gvk.group + "/" + d.gvk.version;
    const json::array gvk{gvk_json(d.gvk)};
    if (const auto* m = api::schema::message_for_kind(api_version, d.gvk.kind)) {
      const std::string name = add_kind_schema(schemas, *m, d.description, gvk);
      if (name != d.name) schemas[d.name] = json::object{{"allOf", json::array{v3_ref(name)}}};
      continue;
    }
    const std::string_view kind = d.gvk.kind;
    if (kind.size() > 4 && kind.substr(kind.size() - 4) == "List" &&
        api::schema::message_for_kind(api_version, kind.substr(0, kind.size() - 4)) != nullptr) {
      const std::string item = d.name.substr(0, d.name.size() - 4);
      schemas[d.name] = list_schema(item, d.description, gvk, schemas);
      continue;
    }
    schemas[d.name] = schema_json(d);
  }
  return {{"openapi", "3.0.0"},
          {"info", json::object{{"title", "Kubernetes"}, {"version", kApiVersion}}},
          {"paths", std::move(paths)},
          {"components", json::object{{"schemas", std::move(schemas)}}}};
}

json::object v2_param(const Param& p) {
  json::object o{{"name", p.name}, {"in", p.in}, {"description", p.description}, {"type", p.type}, {"uniqueItems", true}};
  if (p.required) o["required"] = true;
  return o;
}

json::object v2_ref(std::string_view def) { return {{"$ref", "#/definitions/" + std::string(def)}}; }

json::object v2_operation(const Operation& o) {
  json::array params;
  if (!o.body_definition.empty()) {
    params.push_back(json::object{{"name", "body"}, {"in", "body"}, {"required", true}, {"schema", v2_ref(o.body_definition)}});
  }
  for (const auto& p : o.params) params.push_back(v2_param(p));
  json::object out{{"description", o.description},
                   {"operationId", o.operation_id},
                   {"produces", json::array{"application/json"}},
                   {"schemes", json::array{"https"}},
                   {"responses", json::object{{"200", json::object{{"description", "OK"}, {"schema", v2_ref(o.response_definition)}}}}},
                   {"x-kubernetes-action", o.action},
                   {"x-kubernetes-group-version-kind", gvk_json(o.gvk)}};
  if (!o.body_definition.empty()) out["consumes"] = json::array{"*/*"};
  if (!params.empty()) out["parameters"] = std::move(params);
  return out;
}

// ---- protobuf (gnostic openapi.v2) -----------------------------------------------------

// A protobuf message under construction: only the wire types the document needs (varint
// for bools, length-delimited for strings and messages). Field numbers are gnostic's
// openapiv2/OpenAPIv2.proto.
class Proto {
 public:
  Proto& str(int field, std::string_view s) {
    if (s.empty()) return *this;  // proto3: the default is not written
    tag(field, 2);
    varint(s.size());
    out_.append(s);
    return *this;
  }
  Proto& boolean(int field, bool b) {
    if (!b) return *this;
    tag(field, 0);
    varint(1);
    return *this;
  }
  // Always written, even empty: presence selects a oneof member.
  Proto& msg(int field, const Proto& m) {
    tag(field, 2);
    varint(m.out_.size());
    out_.append(m.out_);
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  void tag(int field, int wire_type) { varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// NamedAny{name=1, value=2: Any{yaml=2}}; JSON is YAML, so values are written as JSON.
Proto named_any(std::string_view name, const json::value& v) {
  Proto any;
  any.str(2, json::dump(v));
  Proto p;
  p.str(1, name).msg(2, any);
  return p;
}

Proto pb_ref_schema(std::string_view def) {  // Schema{_ref=1}
  Proto s;
  s.str(1, "#/definitions/" + std::string(def));
  return s;
}

// ParametersItem{parameter=1: Parameter{non_body_parameter=2: NonBodyParameter{
//   query_parameter_sub_schema=3 | path_parameter_sub_schema=4}}}
Proto pb_param(const Param& p) {
  Proto sub;
  sub.boolean(1, p.required).str(2, p.in).str(3, p.description).str(4, p.name);
  if (p.in == "path") {
    sub.str(5, p.type).boolean(19, true);
  } else {
    sub.str(6, p.type).boolean(20, true);
  }
  Proto non_body;
  non_body.msg(p.in == "path" ? 4 : 3, sub);
  Proto param;
  param.msg(2, non_body);
  Proto item;
  item.msg(1, param);
  return item;
}

// ParametersItem{parameter=1: Parameter{body_parameter=1: BodyParameter{name=2, in=3, required=4, schema=5}}}
Proto pb_body_param(std::string_view def) {
  Proto body;
  body.str(2, "body").str(3, "body").boolean(4, true).msg(5, pb_ref_schema(def));
  Proto param;
  param.msg(1, body);
  Proto item;
  item.msg(1, param);
  return item;
}

Proto pb_operation(const Operation& o) {
  Proto out;
  out.str(3, o.description).str(5, o.operation_id).str(6, "application/json");
  if (!o.body_definition.empty()) out.str(7, "*/*");
  if (!o.body_definition.empty()) out.msg(8, pb_body_param(o.body_definition));
  for (const auto& p : o.params) out.msg(8, pb_param(p));
  // responses=9: Responses{response_code=1: NamedResponseValue{name=1, value=2:
  //   ResponseValue{response=1: Response{description=1, schema=2: SchemaItem{schema=1}}}}}
  Proto schema_item;
  schema_item.msg(1, pb_ref_schema(o.response_definition));
  Proto response;
  response.str(1, "OK").msg(2, schema_item);
  Proto value;
  value.msg(1, response);
  Proto named;
  named.str(1, "200").msg(2, value);
  Proto responses;
  responses.msg(1, named);
  out.msg(9, responses).str(10, "https");
  out.msg(13, named_any("x-kubernetes-action", json::value(o.action)));
  out.msg(13, named_any("x-kubernetes-group-version-kind", gvk_json(o.gvk)));
  return out;
}

int pb_method_field(std::string_view method) {  // PathItem fields
  if (method == "get") return 2;
  if (method == "put") return 3;
  if (method == "post") return 4;
  if (method == "delete") return 5;
  return 8;  // patch
}

// Schema{description=4, type=22: TypeItem{value=1}, vendor_extension=31}
Proto pb_schema(const Definition& d) {
  Proto type;
  type.str(1, "object");
  Proto s;
  s.str(4, d.description).msg(22, type);
  s.msg(31, named_any("x-kubernetes-preserve-unknown-fields", true));
  s.msg(31, named_any("x-kubernetes-group-version-kind", json::array{gvk_json(d.gvk)}));
  return s;
}

std::string build_v2_protobuf() {
  Proto info;
  info.str(1, "Kubernetes").str(2, kApiVersion);
  Proto paths;         // Paths{path=2: NamedPathItem{name=1, value=2: PathItem}}
  Proto definitions;   // Definitions{additional_properties=1: NamedSchema{name=1, value=2}}
  for (const auto& s : specs()) {
    for (const auto& p : s.paths) {
      Proto item;
      for (const auto& o : p.ops) item.msg(pb_method_field(o.method), pb_operation(o));
      for (const auto& q : p.params) item.msg(9, pb_param(q));
      Proto named;
      named.str(1, p.path).msg(2, item);
      paths.msg(2, named);
    }
  }
  std::vector<std::string> seen;
  for (const auto& s : specs()) {
    for (const auto& d : s.definitions) {
      if (std::find(seen.begin(), seen.end(), d.name) != seen.end()) continue;
      seen.push_back(d.name);
      Proto named;
      named.str(1, d.name).msg(2, pb_schema(d));
      definitions.msg(1, named);
    }
  }
  Proto doc;
  doc.str(1, "2.0").msg(2, info).msg(8, paths).msg(9, definitions);
  return doc.bytes();
}

// ---- serving -----------------------------------------------------------------------------

// FNV-1a, 64 bits, as 16 hex digits: names a document's content in its URL so clients may
// cache it for good.
std::string content_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(h));
  return buf;
}

struct Served {
  std::string body;
  std::string hash;
};

struct Documents {
  std::string v2_json;
  std::string v2_protobuf;
  std::string v3_root;
  std::map<std::string, Served, std::less<>> v3;  // by api path
};

const Documents& documents() {
  static const Documents d = [] {
    Documents out;
    out.v2_json = json::dump(openapi_v2_json());
    out.v2_protobuf = build_v2_protobuf();
    for (const auto& s : specs()) {
      std::string body = json::dump(v3_document(s));
      std::string hash = content_hash(body);
      out.v3[s.api_path] = {std::move(body), std::move(hash)};
    }
    json::object paths;
    for (const auto& [api_path, served] : out.v3) {
      paths[api_path] = json::object{{"serverRelativeURL", "/openapi/v3/" + api_path + "?hash=" + served.hash}};
    }
    out.v3_root = json::dump(json::object{{"paths", std::move(paths)}});
    return out;
  }();
  return d;
}

// Whether an Accept header admits `type` ("application/json"): empty, */*, application/*
// or the type itself, with any parameters.
bool accepts(std::string_view accept, std::string_view type) {
  if (accept.empty()) return true;
  std::string_view family = type.substr(0, type.find('/') + 1);
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view one = accept.substr(0, comma);
    one = one.substr(0, one.find(';'));
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one == type || one == "*/*" || (one.size() == family.size() + 1 && one.substr(0, family.size()) == family &&
                                        one.back() == '*')) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return false;
}

Response not_acceptable(std::string_view accept) {
  api::Status s = api::Status::not_acceptable(accept);
  return {static_cast<unsigned>(s.code()), "application/json", json::dump(s.to_json()), {}};
}

}  // namespace

bool is_openapi_path(std::string_view path) {
  return path == "/openapi/v2" || path == "/openapi/v3" || path.starts_with("/openapi/v3/");
}

json::object openapi_v3_root() { return json::parse_object(documents().v3_root).value(); }

json::object openapi_v3_document(std::string_view api_path) {
  for (const auto& s : specs())
    if (s.api_path == api_path) return v3_document(s);
  return {};
}

json::object openapi_v2_json() {
  json::object paths;
  json::object definitions;
  for (const auto& s : specs()) {
    for (const auto& p : s.paths) {
      json::object item;
      json::array params;
      for (const auto& q : p.params) params.push_back(v2_param(q));
      item["parameters"] = std::move(params);
      for (const auto& o : p.ops) item[o.method] = v2_operation(o);
      paths[p.path] = std::move(item);
    }
    for (const auto& d : s.definitions) definitions[d.name] = schema_json(d);
  }
  return {{"swagger", "2.0"},
          {"info", json::object{{"title", "Kubernetes"}, {"version", kApiVersion}}},
          {"paths", std::move(paths)},
          {"definitions", std::move(definitions)}};
}

std::string openapi_v2_protobuf() { return documents().v2_protobuf; }

Response serve_openapi(std::string_view path, std::string_view hash, std::string_view accept) {
  const Documents& docs = documents();
  if (path == "/openapi/v2") {
    // kubectl asks for the protobuf only; anything that takes JSON gets JSON.
    if (accept.find("com.github.proto-openapi.spec.v2") != std::string_view::npos) {
      return {200, std::string(kProtobufV2), docs.v2_protobuf, {}};
    }
    if (!accepts(accept, "application/json")) return not_acceptable(accept);
    return {200, "application/json", docs.v2_json, {}};
  }
  if (!accepts(accept, "application/json")) return not_acceptable(accept);
  if (path == "/openapi/v3" || path == "/openapi/v3/") return {200, "application/json", docs.v3_root, {}};
  auto it = docs.v3.find(path.substr(std::string_view("/openapi/v3/").size()));
  if (it == docs.v3.end()) {
    api::Status s(404, "NotFound", "the server could not find the requested resource");
    return {404, "application/json", json::dump(s.to_json()), {}};
  }
  Response res{200, "application/json", it->second.body, {}};
  res.headers.emplace_back("ETag", "\"" + it->second.hash + "\"");
  // The hash names this content: a URL with the current hash never changes meaning.
  if (hash == it->second.hash) {
    res.headers.emplace_back("Cache-Control", "public, immutable");
  } else {
    res.headers.emplace_back("Cache-Control", "no-cache, private");
  }
  return res;
}

}  // namespace kernlet::apiserver
