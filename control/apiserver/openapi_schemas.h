// OpenAPI v3 component schemas of the built-in kinds, written from the schema table of
// api/schema/schema.h (the same table that decodes protobuf bodies and finds unknown
// fields), so `kubectl explain pods.spec.containers` lists real fields and types.
//
// Shapes follow upstream's documents: definitions named io.k8s.api.<group>.<version>.<Type>
// and io.k8s.apimachinery.pkg.apis.meta.v1.<Type>; a struct-valued field is
// {"allOf": [{"$ref": ...}]}; lists are arrays, maps are objects with additionalProperties;
// Quantity, IntOrString, Time, MicroTime, RawExtension and FieldsV1 are definitions of their
// own as upstream has them. The table carries no descriptions, so fields have none.
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "api/json.h"
#include "api/schema/schema.h"

namespace kernlet::apiserver {

// The definition name of a table message: "core.v1.PodSpec" -> "io.k8s.api.core.v1.PodSpec",
// "meta.v1.ObjectMeta" -> "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".
std::string openapi_definition_name(std::string_view message_name);

// Adds to `schemas` (a components.schemas object) the schema of `message` under its
// definition name and, once each, the schemas of every message and special type it reaches.
// The kind's own schema gets `description` and `gvk` (an x-kubernetes-group-version-kind
// array); it returns the definition name used.
std::string add_kind_schema(json::object& schemas, const api::schema::Message& message, std::string_view description,
                            const json::array& gvk);

// The schema of a <Kind>List: apiVersion, kind, metadata (ListMeta) and items referring to
// `item_definition`.
json::object list_schema(std::string_view item_definition, std::string_view description, const json::array& gvk,
                         json::object& schemas);

}  // namespace kernlet::apiserver
