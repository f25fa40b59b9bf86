// The object model: every Kubernetes object is one JSON document (json::object).
//
// Components read it through typed views (Meta here, PodView & co. in api/objects/) that
// point into the document, and write it through MutableMeta or direct JSON edits. Nothing
// is copied into structs, so fields kernlet does not interpret round-trip unchanged.
//
// Views hold a pointer into a document they do not own: the document must outlive the
// view and must not be restructured (members added/removed on the viewed path) while the
// view is in use. Views are cheap to copy; const methods never allocate unless they
// return std::string/containers.
//
// How a view is written (api/objects/pod.h is the model to copy):
//  - it wraps `const json::object&`; a missing or mistyped sub-object reads as empty, so
//    accessors never fail: a member of the wrong JSON type reads as absent;
//  - scalar accessors return std::string_view / int64_t / bool, with Kubernetes' API
//    default when the field is unset, or std::optional when "unset" means something;
//  - sub-objects kernlet interprets get their own view; those it passes through are
//    returned raw as `const json::object*` (nullptr when absent);
//  - lists come back as std::vector of views (non-object elements are skipped);
//  - quantities are parsed on access (ResourceListView), so a malformed one is an error
//    where it is used, naming the resource.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/quantity.h"
#include "api/result.h"

namespace kernlet::api {

// ---- helpers for writing views ----------------------------------------------------------

// Shared empty object/array that views fall back to; never modified.
const json::object& empty_object();
const json::array& empty_array();

// o[key] as an object, or empty_object() when absent or not an object.
const json::object& object_or_empty(const json::object& o, std::string_view key);
// The string elements of the array o[key] (others skipped); empty when absent.
std::vector<std::string_view> get_string_array(const json::object& o, std::string_view key);
// The object elements of the array o[key] (others skipped); empty when absent.
std::vector<const json::object*> get_object_array(const json::object& o, std::string_view key);

// An IntOrString field (a port number or a port name), as Kubernetes' intstr.IntOrString.
struct IntOrString {
  bool is_int = true;
  int64_t int_value = 0;
  std::string_view str_value;

  bool operator==(const IntOrString&) const = default;
};
// o[key] as IntOrString; nullopt when absent or neither an integer nor a string.
std::optional<IntOrString> get_int_or_string(const json::object& o, std::string_view key);

// A resource name -> quantity map ("cpu" -> 250m), ordered by name.
using ResourceList = std::map<std::string, Quantity, std::less<>>;

// One quantity as it appears in JSON (Quantity::from_json: a string, a bare number or
// null). Errors name the value.
Result<Quantity> quantity_from_json(const json::value& v);

// View of a ResourceList member such as resources.requests or status.allocatable.
class ResourceListView {
 public:
  // `path` names the member in errors ("resources.requests"); it must outlive the view
  // (pass a string literal).
  ResourceListView(const json::object* list, std::string_view path);

  // True when the resource is listed (even as "0").
  bool has(std::string_view resource) const;
  // The quantity of `resource`, zero when it is not listed (Kubernetes reads absent
  // resources as zero). Errors name the path and resource: `resources.requests[cpu]: ...`.
  Result<Quantity> get(std::string_view resource) const;
  // Every listed resource, parsed. Errors as get().
  Result<ResourceList> to_list() const;
  bool empty() const { return list_ == nullptr || list_->empty(); }
  // The JSON object; nullptr when absent.
  const json::object* raw() const { return list_; }

 private:
  const json::object* list_;
  std::string_view path_;
};

// One entry of a status.conditions list (Pod, Node, and metav1.Condition alike).
class ConditionView {
 public:
  explicit ConditionView(const json::object& c) : c_(&c) {}

  std::string_view type() const;
  std::string_view status() const;  // "True", "False" or "Unknown"
  bool is_true() const { return status() == "True"; }
  std::string_view reason() const;
  std::string_view message() const;
  std::string_view last_transition_time() const;  // RFC 3339, "" when unset
  std::string_view last_probe_time() const;       // pods only
  std::string_view last_heartbeat_time() const;   // nodes only
  const json::object& raw() const { return *c_; }

 private:
  const json::object* c_;
};

// The conditions in o["conditions"], and the one of a given type.
std::vector<ConditionView> get_conditions(const json::object& status);
std::optional<ConditionView> find_condition(const json::object& status, std::string_view type);

// ---- metadata ---------------------------------------------------------------------------

// metadata.ownerReferences[i]
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;

  // The JSON form; controller/blockOwnerDeletion only when true (Go's omitempty on *bool
  // would keep an explicit false, but nothing reads a false differently from absent).
  json::object to_json() const;
  bool operator==(const OwnerReference&) const = default;
};

// Read-only view of an object's `metadata`. A missing metadata reads as empty.
// Looks `metadata` up on each call, so it stays valid while top-level members are added.
class Meta {
 public:
  explicit Meta(const json::object& obj);

  std::string_view name() const;
  std::string_view generate_name() const;
  std::string_view namespace_() const;
  std::string_view uid() const;
  std::string_view resource_version() const;
  int64_t generation() const;                       // 0 when unset
  std::string_view creation_timestamp() const;      // RFC 3339, "" when unset
  std::string_view deletion_timestamp() const;      // RFC 3339, "" when unset
  std::optional<int64_t> deletion_grace_period_seconds() const;
  bool being_deleted() const { return !deletion_timestamp().empty(); }

  // labels / annotations: the JSON objects themselves (nullptr when absent), and lookups.
  const json::object* labels() const;
  const json::object* annotations() const;
  std::optional<std::string_view> label(std::string_view key) const;
  std::optional<std::string_view> annotation(std::string_view key) const;

  std::vector<OwnerReference> owner_references() const;
  // The ownerReference with controller=true, if any.
  std::optional<OwnerReference> controller_ref() const;
  std::vector<std::string_view> finalizers() const;
  bool has_finalizer(std::string_view f) const;

  const json::object& raw() const;

 protected:
  const json::object* obj_;
};

// Writable view of `metadata`; creates it on first write. Removing the last label,
// annotation, finalizer or owner reference drops the emptied member, as Go's omitempty
// would when the object is next written.
class MutableMeta : public Meta {
 public:
  explicit MutableMeta(json::object& obj);

  void set_name(std::string_view v);
  void set_generate_name(std::string_view v);
  void set_namespace(std::string_view v);
  void set_uid(std::string_view v);
  void set_resource_version(std::string_view v);
  void set_generation(int64_t v);
  void set_creation_timestamp(std::string_view rfc3339);
  void set_deletion_timestamp(std::string_view rfc3339);
  void set_deletion_grace_period_seconds(int64_t v);
  void set_label(std::string_view key, std::string_view value);
  bool remove_label(std::string_view key);       // true if it was there
  void set_annotation(std::string_view key, std::string_view value);
  bool remove_annotation(std::string_view key);  // true if it was there
  void add_finalizer(std::string_view f);     // no-op if present
  bool remove_finalizer(std::string_view f);  // true if it was there
  void set_owner_references(const std::vector<OwnerReference>& refs);  // empty: removes

  using Meta::raw;
  // The metadata object, created if absent.
  json::object& raw();

 private:
  json::object* mobj_;
};

// ---- decoding ---------------------------------------------------------------------------

// Decodes an object from JSON text and checks the shape of what kernlet interprets:
// apiVersion and kind, when present, are strings; metadata is an object, and each
// metadata field it has is of the right JSON type (null reads as unset, as in Go), and
// its timestamps parse as RFC 3339. Errors (ErrorCode::kInvalidArgument) name the field
// in Kubernetes' path style, map keys in brackets:
// `metadata.labels[app]: expected string, got number`,
// `metadata.ownerReferences[0].uid: expected string, got number`.
// Unknown fields are kept untouched.
Result<json::object> decode_object(std::string_view text);
// The same checks on an already-parsed value.
Result<void> check_object_shape(const json::value& v);
// Compact JSON text of an object; decode_object(text) then encode_object gives back
// json::dump of the parsed text, byte for byte.
std::string encode_object(const json::object& obj);

// apiVersion/kind accessors.
std::string_view api_version(const json::object& obj);
std::string_view kind(const json::object& obj);
// "<group>" of an apiVersion: "" for "v1", "apps" for "apps/v1".
std::string_view api_group(std::string_view api_version);

}  // namespace kernlet::api
