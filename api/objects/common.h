// Helpers shared by the typed views of api/objects/ beyond those in api/object.h: object
// references, pod templates, optional strings and quantities, string maps, base64.
// Thread-safety: views are safe to use concurrently as long as nobody writes the document;
// the free functions are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/pod.h"
#include "api/result.h"

namespace kernlet::api {

// o[key] when it is a non-empty string, else `fallback`: Kubernetes defaults a string field
// that is unset or "" alike.
std::string_view string_or_default(const json::object& o, std::string_view key,
                                   std::string_view fallback);

// o[key] as a string; nullopt when absent or not a string, for *string fields where unset
// and "" mean different things.
std::optional<std::string_view> get_optional_string(const json::object& o, std::string_view key);

// The quantity o[key] (a string or a bare number); nullopt when absent or null. Errors name
// `path` (the field's full path, e.g. "spec.metrics[0].resource.target.averageValue").
Result<std::optional<Quantity>> get_optional_quantity(const json::object& o, std::string_view key,
                                                      std::string_view path);

// map[key] of a string->string map (selector, data, parameters); nullopt when the map is
// null, the key absent or its value not a string.
std::optional<std::string_view> map_value(const json::object* map, std::string_view key);
// The string-valued entries of a map, in document order (others skipped).
std::vector<std::pair<std::string_view, std::string_view>> string_entries(const json::object* map);

// The View of every object element of o[key] (others skipped).
template <class View>
std::vector<View> object_views(const json::object& o, std::string_view key) {
  std::vector<View> out;
  for (const json::object* e : get_object_array(o, key)) out.emplace_back(*e);
  return out;
}

// The View of o[key]; nullopt when absent or not an object.
template <class View>
std::optional<View> optional_object_view(const json::object& o, std::string_view key) {
  const json::object* sub = json::get_object(o, key);
  if (sub == nullptr) return std::nullopt;
  return View(*sub);
}

// Decodes standard base64 with padding, as Go's encoding/json decodes []byte fields (the
// data of Secrets and ConfigMap binaryData): '\r' and '\n' are skipped, anything else
// outside the alphabet or misplaced padding is an error (ErrorCode::kInvalidArgument)
// naming the offending byte: `illegal base64 data at input byte 4`.
Result<std::string> decode_base64(std::string_view text);

// A core/v1 ObjectReference (endpoint targetRef, event involvedObject, PV claimRef, ...).
class ObjectReferenceView {
 public:
  explicit ObjectReferenceView(const json::object& r) : r_(&r) {}
  std::string_view kind() const;
  std::string_view namespace_() const;
  std::string_view name() const;
  std::string_view uid() const;
  std::string_view api_version() const;
  std::string_view resource_version() const;
  std::string_view field_path() const;  // e.g. "spec.containers{web}" in events
  const json::object& raw() const { return *r_; }

 private:
  const json::object* r_;
};

// A PodTemplateSpec (spec.template of workloads and jobs): the pods' metadata and spec.
class PodTemplateView {
 public:
  explicit PodTemplateView(const json::object& t) : t_(&t) {}
  Meta meta() const { return Meta(*t_); }
  PodSpecView spec() const { return PodSpecView(object_or_empty(*t_, "spec")); }
  const json::object& raw() const { return *t_; }

 private:
  const json::object* t_;
};

}  // namespace kernlet::api
