// Field selectors (`--field-selector` / `?fieldSelector=`): Kubernetes' fields.ParseSelector
// syntax, the per-resource set of fields the apiserver accepts, and how each field's value
// is read from an object (k8s.io/apimachinery pkg/fields, and the field-label conversion
// functions and GetAttrs of kubernetes/pkg/apis and pkg/registry).
//
// Syntax: terms joined by ",", each `field=value`, `field==value` or `field!=value`. In
// values a backslash escapes `\`, `,` and `=`; the field name takes no escapes and ends at
// the first operator. Empty terms are skipped.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::api {

using FieldSet = std::map<std::string, std::string, std::less<>>;

struct FieldTerm {
  std::string field;
  bool equals = true;  // false: !=
  std::string value;   // unescaped

  bool operator==(const FieldTerm&) const = default;
};

class FieldSelector {
 public:
  // The empty selector: matches everything.
  FieldSelector() = default;
  static FieldSelector everything() { return FieldSelector(); }
  // Matches no object; prints as "".
  static FieldSelector nothing();

  // Parses without checking field names. Errors read as Kubernetes' do:
  // `invalid selector: 'a'; can't understand 'a'`,
  // `invalid field selector: invalid escape sequence: \x`,
  // `invalid field selector: unescaped character in value: 61` (the rune's number).
  static Result<FieldSelector> parse(std::string_view text);
  // Parses for a resource ("pods", "events", ...): every field must be one the apiserver
  // supports for it (see supported_fields); old aliases are rewritten (pods: spec.host
  // becomes spec.nodeName). The error is the apiserver's, e.g.
  // `field label not supported: spec.foo`.
  static Result<FieldSelector> parse_for(std::string_view resource, std::string_view text);

  // One term selector.
  static FieldSelector one_term(std::string field, std::string value, bool equals = true);

  // True when every term holds for `fields`; a field missing from the set reads as "".
  bool matches(const FieldSet& fields) const;
  // Matches an object of `resource` (the whole object: metadata, spec, status...),
  // reading fields as the apiserver does (see selectable_fields).
  bool matches(std::string_view resource, const json::object& obj) const;
  bool empty() const { return !nothing_ && terms_.empty(); }
  bool matches_nothing() const { return nothing_; }
  // Canonical text: `field=value` / `field!=value` with values escaped, terms sorted.
  std::string to_string() const;
  const std::vector<FieldTerm>& terms() const { return terms_; }
  // The value an `=` term pins `field` to, if any (e.g. spec.nodeName for a node's watch).
  std::optional<std::string_view> requires_exact_match(std::string_view field) const;

  bool operator==(const FieldSelector&) const = default;

 private:
  std::vector<FieldTerm> terms_;
  bool nothing_ = false;
};

// Backslash-escapes `\`, `,` and `=` (fields.EscapeValue).
std::string escape_field_value(std::string_view value);
// Reverses escape_field_value; errors as FieldSelector::parse reports them.
Result<std::string> unescape_field_value(std::string_view value);

// The field names the apiserver accepts in a field selector for `resource` (plural,
// lowercase). Resources without their own list accept metadata.name and
// metadata.namespace.
std::vector<std::string_view> supported_fields(std::string_view resource);
// Checks one field name for `resource` and returns the name to match on (an alias
// resolves to its target), or the apiserver's error for an unsupported field.
Result<std::string> convert_field_label(std::string_view resource, std::string_view field);
// The values a selector on `resource` is matched against, read from the object as the
// apiserver's GetAttrs does: strings as they are, booleans "true"/"false", integers in
// decimal, a missing field as its Go zero value ("", "false", "0").
FieldSet selectable_fields(std::string_view resource, const json::object& obj);

}  // namespace kernlet::api
