#include "api/json.h"

#include <algorithm>
#include <cmath>

namespace kernlet::json {
namespace {

constexpr std::size_t kMaxDepth = 100;

std::string position(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1;
  std::size_t col = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Boost.JSON 1.81 reads a number beyond the double range (1e400) as infinity and then
// writes it as `Infinity`, which is not JSON. Kubernetes (Go) refuses such numbers, and so
// do we; the error names where the number is. Returns false and fills `where` if found.
bool find_non_finite(const value& v, std::string& where) {
  if (v.is_double()) return !std::isfinite(v.get_double());
  if (v.is_array()) {
    const array& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (find_non_finite(a[i], where)) {
        std::string index = "[" + std::to_string(i) + "]";
        where.insert(0, where.empty() || where[0] == '[' ? index : index + ".");
        return true;
      }
    }
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (find_non_finite(kv.value(), where)) {
        std::string key(kv.key());
        where.insert(0, where.empty() || where[0] == '[' ? key : key + ".");
        return true;
      }
    }
  }
  return false;
}

}  // namespace

Result<value> parse(std::string_view text) {
  boost::json::parse_options opts;
  opts.max_depth = kMaxDepth;
  boost::json::stream_parser p({}, opts);
  boost::system::error_code ec;
  std::size_t consumed = p.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = boost::json::error::extra_data;
  if (!ec) p.finish(ec);
  if (ec) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return Error("invalid JSON: empty document");
    }
    return Error("invalid JSON at " + position(text, consumed) + ": " + ec.message());
  }
  value v = p.release();
  if (std::string where; find_non_finite(v, where)) {
    return Error("invalid JSON: number out of range at " + (where.empty() ? std::string("the top level") : where));
  }
  return v;
}

Result<object> parse_object(std::string_view text, std::string_view what) {
  KL_ASSIGN_OR_RETURN(value v, parse(text));
  if (!v.is_object()) {
    return Error(std::string(what) + ": expected a JSON object, got " +
                 std::string(boost::json::to_string(v.kind())));
  }
  return std::move(v.as_object());
}

std::string dump(const value& v) { return boost::json::serialize(v); }

const value* find(const object& o, std::string_view key) { return o.if_contains(key); }
value* find(object& o, std::string_view key) { return o.if_contains(key); }

const object* get_object(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}
object* get_object(object& o, std::string_view key) {
  value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

const array* get_array(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  return v != nullptr ? v->if_array() : nullptr;
}
array* get_array(object& o, std::string_view key) {
  value* v = o.if_contains(key);
  return v != nullptr ? v->if_array() : nullptr;
}

std::string_view get_string(const object& o, std::string_view key, std::string_view fallback) {
  const value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return fallback;
  const string& s = v->get_string();
  return {s.data(), s.size()};
}

std::optional<int64_t> get_int(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  // JSON has one number type: 3.0 is the integer 3 (clients in JavaScript send it so).
  if (v->is_double()) {
    double d = v->get_double();
    if (d >= -9.2e18 && d <= 9.2e18 && static_cast<double>(static_cast<int64_t>(d)) == d) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

std::optional<bool> get_bool(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

int64_t get_int_or(const object& o, std::string_view key, int64_t fallback) {
  return get_int(o, key).value_or(fallback);
}
bool get_bool_or(const object& o, std::string_view key, bool fallback) {
  return get_bool(o, key).value_or(fallback);
}

object& ensure_object(object& o, std::string_view key) {
  value& v = o[key];
  if (!v.is_object()) v.emplace_object();
  return v.get_object();
}

array& ensure_array(object& o, std::string_view key) {
  value& v = o[key];
  if (!v.is_array()) v.emplace_array();
  return v.get_array();
}

const object* get_path(const object& o, std::string_view dotted) {
  const object* cur = &o;
  while (cur != nullptr && !dotted.empty()) {
    std::size_t dot = dotted.find('.');
    cur = get_object(*cur, dotted.substr(0, dot));
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
  }
  return cur;
}

}  // namespace kernlet::json
