#include "api/schema/field_validation.h"

#include <boost/json/basic_parser_impl.hpp>

#include <set>

namespace kernlet::api::schema {
namespace {

void walk(const Message& m, json::object& obj, const std::string& path, std::vector<std::string>& out);

void walk_value(const Field& f, json::value& v, const std::string& path, std::vector<std::string>& out) {
  if (f.type != Type::kMessage || v.is_null()) return;
  if (f.list) {
    if (!v.is_array()) return;
    std::size_t i = 0;
    for (json::value& e : v.get_array()) {
      if (e.is_object()) walk(*f.message, e.get_object(), path + "[" + std::to_string(i) + "]", out);
      ++i;
    }
  } else if (f.map) {
    if (!v.is_object()) return;
    for (auto& kv : v.get_object()) {
      if (kv.value().is_object()) walk(*f.message, kv.value().get_object(), path + "." + std::string(kv.key()), out);
    }
  } else if (v.is_object()) {
    walk(*f.message, v.get_object(), path, out);
  }
}

void walk(const Message& m, json::object& obj, const std::string& path, std::vector<std::string>& out) {
  for (auto it = obj.begin(); it != obj.end();) {
    std::string_view key = it->key();
    std::string child = path.empty() ? std::string(key) : path + "." + std::string(key);
    const Field* f = m.by_json(key);
    if (f == nullptr && path.empty() && (key == "apiVersion" || key == "kind")) {
      ++it;
      continue;
    }
    if (f == nullptr) {
      out.push_back(std::move(child));
      it = obj.erase(it);  // keeps the order of the rest
      continue;
    }
    walk_value(*f, it->value(), child, out);
    ++it;
  }
}

// A basic_parser handler that records duplicate keys per object with their paths.
struct DuplicateFinder {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  struct Frame {
    bool object = false;
    std::string path;  // of this container
    std::set<std::string, std::less<>> keys;
    std::size_t index = 0;  // next array element
  };
  std::vector<Frame> stack;
  std::string key;       // the key being read (keys may arrive in parts)
  std::string pending;   // path of the next value in an object
  std::vector<std::string> duplicates;
  std::set<std::string, std::less<>> reported;

  // The path of the value about to start.
  std::string value_path() {
    if (stack.empty()) return "";
    Frame& f = stack.back();
    if (f.object) return pending;
    return f.path + "[" + std::to_string(f.index) + "]";
  }
  void value_done() {
    if (!stack.empty() && !stack.back().object) ++stack.back().index;
  }
  using ec_t = boost::system::error_code;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) {
    stack.push_back({true, value_path(), {}, 0});
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    stack.pop_back();
    value_done();
    return true;
  }
  bool on_array_begin(ec_t&) {
    stack.push_back({false, value_path(), {}, 0});
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) {
    stack.pop_back();
    value_done();
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, ec_t&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, ec_t&) {
    key.append(s.data(), s.size());
    Frame& f = stack.back();
    pending = f.path.empty() ? key : f.path + "." + key;
    if (!f.keys.insert(key).second && reported.insert(pending).second) duplicates.push_back(pending);
    key.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, ec_t&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, ec_t&) {
    value_done();
    return true;
  }
  bool on_number_part(boost::json::string_view, ec_t&) { return true; }
  bool on_int64(int64_t, boost::json::string_view, ec_t&) {
    value_done();
    return true;
  }
  bool on_uint64(uint64_t, boost::json::string_view, ec_t&) {
    value_done();
    return true;
  }
  bool on_double(double, boost::json::string_view, ec_t&) {
    value_done();
    return true;
  }
  bool on_bool(bool, ec_t&) {
    value_done();
    return true;
  }
  bool on_null(ec_t&) {
    value_done();
    return true;
  }
  bool on_comment_part(boost::json::string_view, ec_t&) { return true; }
  bool on_comment(boost::json::string_view, ec_t&) { return true; }
};

}  // namespace

Result<FieldValidation> parse_field_validation(std::string_view value) {
  if (value.empty() || value == "Warn") return FieldValidation::kWarn;
  if (value == "Strict") return FieldValidation::kStrict;
  if (value == "Ignore") return FieldValidation::kIgnore;
  return Error("fieldValidation: Unsupported value: \"" + std::string(value) +
               "\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
}

std::vector<std::string> drop_unknown_fields(const Message& message, json::object& obj) {
  std::vector<std::string> out;
  walk(message, obj, "", out);
  return out;
}

std::vector<std::string> find_duplicate_fields(std::string_view text) {
  boost::json::parse_options opt;
  opt.max_depth = 100;
  boost::json::basic_parser<DuplicateFinder> p(opt);
  boost::system::error_code ec;
  p.write_some(false, text.data(), text.size(), ec);
  if (ec) return {};
  return std::move(p.handler().duplicates);
}

std::vector<std::string> FieldProblems::messages() const {
  std::vector<std::string> out;
  for (const std::string& d : duplicates) out.push_back("duplicate field \"" + d + "\"");
  for (const std::string& u : unknown) out.push_back("unknown field \"" + u + "\"");
  return out;
}

std::string FieldProblems::strict_error() const {
  std::string out = "strict decoding error: ";
  bool first = true;
  for (const std::string& m : messages()) {
    if (!first) out += ", ";
    out += m;
    first = false;
  }
  return out;
}

}  // namespace kernlet::api::schema
