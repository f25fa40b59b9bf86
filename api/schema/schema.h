// The shape of the built-in Kubernetes types: for every message reachable from the kinds
// kernlet serves, its fields with protobuf number, JSON name and type. One table serves the
// protobuf request decoder (api/schema/protobuf.h) and server-side field validation
// (api/schema/field_validation.h). The table is data (builtin_schema.inc, written by
// scripts/gen_api_schema.py); this is its in-memory form. Immutable and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kernlet::api::schema {

enum class Type : uint8_t {
  kString,
  kBool,
  kInt32,
  kInt64,
  kDouble,
  kBytes,         // base64 in JSON
  kTime,          // meta/v1 Time: RFC 3339, whole seconds
  kMicroTime,     // meta/v1 MicroTime: RFC 3339, six fractional digits
  kDuration,      // meta/v1 Duration: Go duration string ("1h0m0s")
  kQuantity,      // resource.Quantity: a string ("500m", "1Gi")
  kIntOrString,   // util/intstr IntOrString: a JSON number or string
  kRawExtension,  // runtime.RawExtension: any embedded JSON
  kFieldsV1,      // meta/v1 FieldsV1: any embedded JSON (managedFields)
  kMessage,
};

struct Message;

struct Field {
  uint32_t number = 0;
  // The JSON member name; empty for an embedded struct inlined into its parent (its own
  // fields appear as members of the parent object, e.g. Volume's VolumeSource).
  std::string json_name;
  Type type = Type::kString;
  bool list = false;        // repeated
  bool map = false;         // map<string, type>
  bool pointer = false;     // Go pointer: present on the wire only when set, even if zero
  bool omit_empty = false;  // Go json omitempty: a zero non-pointer value is left out of JSON
  const Message* message = nullptr;  // for kMessage

  bool is_inline() const { return json_name.empty(); }
};

struct Message {
  std::string name;           // "core.v1.Pod", "meta.v1.ObjectMeta"
  std::vector<Field> fields;  // ascending by number

  // The field with protobuf number `n`, or nullptr.
  const Field* by_number(uint32_t n) const;
  // The field JSON member `member` refers to, looking through inline fields; nullptr when the
  // type has no such member.
  const Field* by_json(std::string_view member) const;

  std::map<std::string, const Field*, std::less<>> json_index;  // built with the registry
};

// The message named `name` ("core.v1.PodSpec"), or nullptr.
const Message* find_message(std::string_view name);

// The message of a served kind: ("apps/v1", "Deployment") → apps.v1.Deployment, ("v1",
// "Pod") → core.v1.Pod, ("discovery.k8s.io/v1", "EndpointSlice") → discovery.v1.EndpointSlice.
// nullptr when the kind is not in the table.
const Message* message_for_kind(std::string_view api_version, std::string_view kind);

// Every message in the table (for tests and OpenAPI generation).
const std::vector<const Message*>& all_messages();

}  // namespace kernlet::api::schema
