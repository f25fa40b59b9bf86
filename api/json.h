// JSON for kernlet: Boost.JSON everywhere (chosen by measurement, docs/benchmarks.md).
//
// Objects are kept as JSON documents; typed views (api/objects/) read and write them in
// place, so fields kernlet does not interpret survive a round trip unchanged.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::json {

using boost::json::array;
using boost::json::object;
using boost::json::string;
using boost::json::value;

// Parses one JSON document. Errors name the line and column of the first bad byte:
// `invalid JSON at line 3, column 14: syntax error`. Trailing garbage is an error; so is
// nesting deeper than 100 levels (Kubernetes objects are far shallower).
Result<value> parse(std::string_view text);

// Parses a document that must be a JSON object; `what` names it in errors.
Result<object> parse_object(std::string_view text, std::string_view what = "object");

// Compact serialization.
std::string dump(const value& v);

// Read accessors: the member if it exists with the right type, else the fallback.
// None throws; a member of the wrong type reads as absent.
const value* find(const object& o, std::string_view key);
value* find(object& o, std::string_view key);
const object* get_object(const object& o, std::string_view key);
object* get_object(object& o, std::string_view key);
const array* get_array(const object& o, std::string_view key);
array* get_array(object& o, std::string_view key);
std::string_view get_string(const object& o, std::string_view key, std::string_view fallback = {});
std::optional<int64_t> get_int(const object& o, std::string_view key);
std::optional<bool> get_bool(const object& o, std::string_view key);
int64_t get_int_or(const object& o, std::string_view key, int64_t fallback);
bool get_bool_or(const object& o, std::string_view key, bool fallback);

// Returns o[key] as an object, creating it (or replacing a non-object) when needed.
object& ensure_object(object& o, std::string_view key);
// Returns o[key] as an array, creating it (or replacing a non-array) when needed.
array& ensure_array(object& o, std::string_view key);

// Follows a dotted path of object members ("spec.template.metadata"); nullptr if any
// step is missing or not an object.
const object* get_path(const object& o, std::string_view dotted);

}  // namespace kernlet::json
