// Server-side field validation (the fieldValidation query parameter of create, update and
// patch): members a type's schema does not have ("unknown fields") and members given twice
// in one JSON object ("duplicate fields"), found with the schema table of api/schema/schema.h.
// Unknown fields are dropped from the object in every mode, as upstream's decoder drops them;
// the mode only decides whether they fail the request (Strict), come back as warnings
// (Warn, the default) or pass silently (Ignore). Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "api/schema/schema.h"

namespace kernlet::api::schema {

enum class FieldValidation { kIgnore, kWarn, kStrict };

// The directive of a fieldValidation query value; empty means Warn (the server default
// since Kubernetes 1.27). Error for any other value, naming the supported ones.
Result<FieldValidation> parse_field_validation(std::string_view value);

// Removes every member of `obj` that `message` does not have, at any depth, and returns the
// paths of the removed members in document order, as upstream prints them: "spec.foo",
// "spec.template.spec.containers[0].imagePullPolcy", "metadata.labels" is never one (maps
// take any key). apiVersion and kind are allowed at the top level. Values of the wrong JSON
// type are left alone (validation reports those).
std::vector<std::string> drop_unknown_fields(const Message& message, json::object& obj);

// The paths of members that occur more than once in one object of the JSON document `text`
// ("metadata.name", "spec.containers[1].image"), in document order; each path once. Empty
// when there are none or `text` is not valid JSON (the JSON parser reports that).
std::vector<std::string> find_duplicate_fields(std::string_view text);

// What a field validation pass found, and the messages upstream gives for it.
struct FieldProblems {
  std::vector<std::string> duplicates;
  std::vector<std::string> unknown;

  bool empty() const { return duplicates.empty() && unknown.empty(); }
  // One message per problem: `duplicate field "metadata.name"`, `unknown field "spec.foo"`.
  std::vector<std::string> messages() const;
  // The Strict error text: `strict decoding error: duplicate field "a", unknown field "b"`.
  std::string strict_error() const;
};

}  // namespace kernlet::api::schema
