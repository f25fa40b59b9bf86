// Name, label and annotation validation with Kubernetes' rules and message texts.
//
// The is_* checks return the list of problems (empty = valid), worded exactly as the
// Kubernetes apiserver words them (release 1.35+, where label keys and values report
// "must be no more than 63 bytes" and DNS names "must be no more than 63 characters"),
// because users paste these messages into searches and scripts grep for them.
//
// FieldError mirrors Kubernetes' field.Error: the API server turns each one into a
// Status details.causes entry {reason: type, message: body(), field: field} and joins
// error() texts into the Status message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"

namespace kernlet::api {

inline constexpr std::size_t kDns1123LabelMaxLength = 63;
inline constexpr std::size_t kDns1123SubdomainMaxLength = 253;
inline constexpr std::size_t kDns1035LabelMaxLength = 63;
inline constexpr std::size_t kLabelValueMaxLength = 63;
inline constexpr std::size_t kLabelKeyNameMaxLength = 63;
inline constexpr std::size_t kTotalAnnotationSizeLimitBytes = 256 * 1024;

// Lowercase RFC 1123 label ("my-name"): at most 63 characters.
std::vector<std::string> is_dns1123_label(std::string_view value);
// Lowercase RFC 1123 subdomain ("example.com"): at most 253 characters.
std::vector<std::string> is_dns1123_subdomain(std::string_view value);
// RFC 1035 label: like a 1123 label but must start with a letter.
std::vector<std::string> is_dns1035_label(std::string_view value);
// A qualified name, i.e. a label or annotation key: [prefix/]name, prefix a DNS
// subdomain, name at most 63 bytes of [-A-Za-z0-9_.] starting and ending alphanumeric.
std::vector<std::string> is_qualified_name(std::string_view value);
// A label value: empty, or at most 63 bytes shaped like a qualified name's name part.
std::vector<std::string> is_valid_label_value(std::string_view value);

// Kubernetes' field.ErrorType strings, which are also Status CauseType strings.
namespace field_error_type {
inline constexpr std::string_view kNotFound = "FieldValueNotFound";
inline constexpr std::string_view kRequired = "FieldValueRequired";
inline constexpr std::string_view kDuplicate = "FieldValueDuplicate";
inline constexpr std::string_view kInvalid = "FieldValueInvalid";
inline constexpr std::string_view kNotSupported = "FieldValueNotSupported";
inline constexpr std::string_view kForbidden = "FieldValueForbidden";
inline constexpr std::string_view kTooLong = "FieldValueTooLong";
inline constexpr std::string_view kTooMany = "FieldValueTooMany";
inline constexpr std::string_view kInternal = "InternalError";
inline constexpr std::string_view kTypeInvalid = "FieldValueTypeInvalid";
}  // namespace field_error_type

// One field-level validation failure (Kubernetes' field.Error).
struct FieldError {
  std::string type;      // a field_error_type string
  std::string field;     // "metadata.labels", "spec.selector.matchExpressions[1].operator"
  json::value bad_value; // shown in the message for Invalid/NotSupported/...; null if none
  std::string detail;    // "a lowercase RFC 1123 subdomain must consist of ..."

  // The message without the field: `Invalid value: "Foo": a lowercase RFC 1123 ...`.
  // Strings are quoted as Go's %q does, numbers and booleans bare, the rest as JSON.
  std::string body() const;
  // `metadata.name: Invalid value: "Foo": a lowercase RFC 1123 ...`.
  std::string error() const { return field + ": " + body(); }

  bool operator==(const FieldError&) const = default;
};
using FieldErrors = std::vector<FieldError>;

// Constructors named after Kubernetes' field.Invalid & co.
FieldError field_invalid(std::string field, json::value bad_value, std::string detail);
FieldError field_required(std::string field, std::string detail);
FieldError field_forbidden(std::string field, std::string detail);
// detail: `supported values: "a", "b"` (empty list: no detail).
FieldError field_not_supported(std::string field, json::value bad_value,
                               const std::vector<std::string>& supported);
// detail: "may not be more than N bytes".
FieldError field_too_long(std::string field, std::size_t max_bytes);
FieldError field_type_invalid(std::string field, json::value bad_value, std::string detail);

// Joins errors the way Kubernetes' errors.Aggregate prints them: one error alone as
// itself, several as "[e1, e2]", duplicates dropped; "" for none.
std::string aggregate_message(const FieldErrors& errors);

// Child path helpers: join_path("spec", "selector") = "spec.selector" ("" parent: "selector"),
// index_path("x", 2) = "x[2]", key_path("x", "k") = "x[k]".
std::string join_path(std::string_view parent, std::string_view child);
std::string index_path(std::string_view parent, std::size_t index);
std::string key_path(std::string_view parent, std::string_view key);

// Validates one label key as metadata.labels keys are validated: one Invalid per problem.
FieldErrors validate_label_name(std::string_view key, std::string_view field_path);
// Validates metadata.labels (nullptr = none). Errors carry field_path itself (as in
// Kubernetes, not the key) and the offending key or value; a non-string value is a
// FieldValueTypeInvalid at field_path[key].
FieldErrors validate_labels(const json::object* labels, std::string_view field_path);
// Validates metadata.annotations (nullptr = none): keys are qualified names compared
// case-insensitively, and keys plus values total at most 256 KiB.
FieldErrors validate_annotations(const json::object* annotations, std::string_view field_path);

// Go's strconv.Quote, as %q prints a string in Kubernetes' messages.
std::string go_quote(std::string_view s);

}  // namespace kernlet::api
