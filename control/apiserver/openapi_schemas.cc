#include "control/apiserver/openapi_schemas.h"

namespace kernlet::apiserver {
namespace {

namespace schema = api::schema;

constexpr std::string_view kMetaPrefix = "io.k8s.apimachinery.pkg.apis.meta.v1.";

std::string ref_path(std::string_view def) { return "#/components/schemas/" + std::string(def); }

json::object schema_ref(std::string_view def) { return {{"$ref", ref_path(def)}}; }

// A struct-valued member, as upstream writes it (allOf keeps room for a description).
json::object struct_member(std::string_view def) { return {{"allOf", json::array{schema_ref(def)}}}; }

// The special types upstream publishes as definitions of their own.
struct SpecialType {
  std::string_view name;
  const char* json;  // its schema
};

const SpecialType* special(schema::Type t) {
  static const SpecialType kQuantity{"io.k8s.apimachinery.pkg.api.resource.Quantity",
                                     R"({"description":"A fixed-point number: \"500m\", \"1Gi\", \"2\".","type":"string"})"};
  static const SpecialType kIntOrString{
      "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
      R"({"description":"An int32 or a string.","format":"int-or-string","type":"string","x-kubernetes-int-or-string":true})"};
  static const SpecialType kTime{"io.k8s.apimachinery.pkg.apis.meta.v1.Time",
                                 R"({"description":"RFC 3339 time, whole seconds.","format":"date-time","type":"string"})"};
  static const SpecialType kMicroTime{
      "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
      R"({"description":"RFC 3339 time with microseconds.","format":"date-time","type":"string"})"};
  static const SpecialType kRawExtension{
      "io.k8s.apimachinery.pkg.runtime.RawExtension",
      R"({"description":"An embedded object.","type":"object","x-kubernetes-preserve-unknown-fields":true})"};
  static const SpecialType kFieldsV1{
      "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
      R"({"description":"The set of fields a manager owns, in the FieldsV1 format.","type":"object"})"};
  switch (t) {
    case schema::Type::kQuantity: return &kQuantity;
    case schema::Type::kIntOrString: return &kIntOrString;
    case schema::Type::kTime: return &kTime;
    case schema::Type::kMicroTime: return &kMicroTime;
    case schema::Type::kRawExtension: return &kRawExtension;
    case schema::Type::kFieldsV1: return &kFieldsV1;
    default: return nullptr;
  }
}

class Writer {
 public:
  explicit Writer(json::object& schemas) : schemas_(schemas) {}

  // The schema object of `m` (its properties), adding what it references.
  json::object message_schema(const schema::Message& m) {
    json::object props;
    add_properties(m, props);
    return {{"type", "object"}, {"properties", std::move(props)}};
  }

  // Adds `m` under its definition name unless present; returns the name.
  std::string add_message(const schema::Message& m) {
    std::string name = openapi_definition_name(m.name);
    if (schemas_.contains(name)) return name;
    schemas_[name] = json::object{};  // reserve first: messages may refer to themselves
    json::object s = message_schema(m);
    schemas_[name] = std::move(s);
    return name;
  }

 private:
  void add_properties(const schema::Message& m, json::object& props) {
    for (const auto& f : m.fields) {
      if (f.is_inline()) {
        // An embedded struct: its members are the parent's (Volume's VolumeSource).
        if (f.message != nullptr) add_properties(*f.message, props);
        continue;
      }
      json::object value = scalar_or_ref(f);
      if (f.list) {
        value = json::object{{"type", "array"}, {"items", std::move(value)}};
      } else if (f.map) {
        value = json::object{{"type", "object"}, {"additionalProperties", std::move(value)}};
      }
      props[f.json_name] = std::move(value);
    }
  }

  json::object scalar_or_ref(const schema::Field& f) {
    if (const SpecialType* s = special(f.type)) {
      if (!schemas_.contains(s->name)) schemas_[s->name] = json::parse_object(s->json).value();
      return f.list || f.map ? schema_ref(s->name) : struct_member(s->name);
    }
    switch (f.type) {
      case schema::Type::kString: return {{"type", "string"}};
      case schema::Type::kDuration: return {{"type", "string"}};
      case schema::Type::kBool: return {{"type", "boolean"}};
      case schema::Type::kInt32: return {{"type", "integer"}, {"format", "int32"}};
      case schema::Type::kInt64: return {{"type", "integer"}, {"format", "int64"}};
      case schema::Type::kDouble: return {{"type", "number"}, {"format", "double"}};
      case schema::Type::kBytes: return {{"type", "string"}, {"format", "byte"}};
      case schema::Type::kMessage: {
        if (f.message == nullptr) return {{"type", "object"}};
        std::string def = add_message(*f.message);
        return f.list || f.map ? schema_ref(def) : struct_member(def);
      }
      default: return {{"type", "string"}};
    }
  }

  json::object& schemas_;
};

}  // namespace

std::string openapi_definition_name(std::string_view message_name) {
  if (message_name.rfind("meta.v1.", 0) == 0) return std::string(kMetaPrefix) + std::string(message_name.substr(8));
  return "io.k8s.api." + std::string(message_name);
}

std::string add_kind_schema(json::object& schemas, const api::schema::Message& message, std::string_view description,
                            const json::array& gvk) {
  Writer w(schemas);
  std::string name = w.add_message(message);
  json::object& s = schemas[name].as_object();
  // apiVersion and kind are type metadata, not table fields.
  json::object& props = s["properties"].as_object();
  props["apiVersion"] = json::object{{"type", "string"},
                                     {"description", "The versioned schema of this representation of an object."}};
  props["kind"] = json::object{{"type", "string"}, {"description", "The REST resource this object represents."}};
  s["description"] = description;
  s["x-kubernetes-group-version-kind"] = gvk;
  return name;
}

json::object list_schema(std::string_view item_definition, std::string_view description, const json::array& gvk,
                         json::object& schemas) {
  const std::string list_meta = std::string(kMetaPrefix) + "ListMeta";
  if (!schemas.contains(list_meta)) {
    schemas[list_meta] = json::object{
        {"description", "Metadata of a list: its resourceVersion and the continue token of the next page."},
        {"type", "object"},
        {"properties",
         json::object{{"continue", json::object{{"type", "string"}}},
                      {"remainingItemCount", json::object{{"type", "integer"}, {"format", "int64"}}},
                      {"resourceVersion", json::object{{"type", "string"}}},
                      {"selfLink", json::object{{"type", "string"}}}}}};
  }
  return {{"description", description},
          {"type", "object"},
          {"required", json::array{"items"}},
          {"properties",
           json::object{{"apiVersion", json::object{{"type", "string"}}},
                        {"items", json::object{{"type", "array"}, {"items", schema_ref(item_definition)}}},
                        {"kind", json::object{{"type", "string"}}},
                        {"metadata", struct_member(list_meta)}}},
          {"x-kubernetes-group-version-kind", gvk}};
}

}  // namespace kernlet::apiserver
