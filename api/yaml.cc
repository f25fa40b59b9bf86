#include "api/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

namespace kernlet::yaml {
namespace {

constexpr std::size_t kMaxNodes = 1'000'000;
constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";

std::string where(const YAML::Mark& m) {
  if (m.is_null()) return "";
  return "line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ": ";
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options)
    if (s == o) return true;
  return false;
}

// Integer forms of YAML 1.1 as Kubernetes' decoder accepts them. Returns false when `s`
// is not an integer; `overflow` is set when it is one but does not fit in 64 bits.
bool parse_int(std::string_view s, json::value& out, bool& overflow) {
  overflow = false;
  std::string digits;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty() || s.front() == '_') return false;
  for (char c : s) {
    if (c == '_') continue;
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                         : (c >= '0' && c < static_cast<char>('0' + std::min(base, 10)));
    if (!ok) return false;
    digits.push_back(c);
  }
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec == std::errc::result_out_of_range) {
    overflow = true;
    return true;
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return false;
  if (negative) {
    if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) {
      overflow = true;
      return true;
    }
    out = magnitude == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN
                                                            : -static_cast<int64_t>(magnitude);
  } else if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
    out = static_cast<int64_t>(magnitude);
  } else {
    out = magnitude;
  }
  return true;
}

bool parse_float(std::string_view s, double& out) {
  // [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
  std::string clean;
  bool digit = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') continue;
    if (c >= '0' && c <= '9') digit = true;
    else if (!(c == '.' || c == 'e' || c == 'E' || ((c == '-' || c == '+') && (i == 0 || s[i - 1] == 'e' || s[i - 1] == 'E')))) return false;
    clean.push_back(c);
  }
  if (!digit) return false;
  if (clean[0] == '+') clean.erase(0, 1);
  auto [ptr, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), out);
  return ec == std::errc() && ptr == clean.data() + clean.size();
}

class Converter {
 public:
  Result<json::value> convert(const YAML::Node& node) {
    if (++nodes_ > kMaxNodes) {
      return Error(ErrorCode::kInvalidArgument,
                   where(node.Mark()) + "document expands to more than 1000000 nodes (alias bomb?)");
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json::value(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        json::array arr;
        arr.reserve(node.size());
        for (const auto& item : node) {
          KL_ASSIGN_OR_RETURN(json::value v, convert(item));
          arr.push_back(std::move(v));
        }
        return json::value(std::move(arr));
      }
      case YAML::NodeType::Map:
        return map(node);
    }
    return json::value(nullptr);
  }

 private:
  Result<std::string> key_string(const YAML::Node& key) {
    if (!key.IsScalar()) {
      return Error(ErrorCode::kInvalidArgument, where(key.Mark()) + "mapping keys must be scalars");
    }
    // JSON keys are strings; a YAML key such as `80:` or `true:` becomes its text.
    return key.Scalar();
  }

  Result<void> merge_into(json::object& out, const YAML::Node& src) {
    KL_ASSIGN_OR_RETURN(json::value v, convert(src));
    if (!v.is_object()) {
      return Error(ErrorCode::kInvalidArgument,
                   where(src.Mark()) + "merge key '<<' needs a mapping or a list of mappings");
    }
    for (auto& kv : v.get_object()) {
      if (!out.contains(kv.key())) out[kv.key()] = kv.value();
    }
    return Ok();
  }

  Result<json::value> map(const YAML::Node& node) {
    json::object obj;
    // A copy, not a pointer: the iterator's pair is a temporary (the fuzzer found the
    // dangling pointer). Nodes are handles, so the copy is cheap.
    std::optional<YAML::Node> merge;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "<<" && it->first.Tag() == "?") {
        merge.emplace(it->second);  // not operator=: on a Node that assigns content
        continue;
      }
      KL_ASSIGN_OR_RETURN(std::string key, key_string(it->first));
      if (obj.contains(key)) {
        return Error(ErrorCode::kInvalidArgument,
                     where(it->first.Mark()) + "mapping key \"" + key + "\" already defined");
      }
      KL_ASSIGN_OR_RETURN(json::value v, convert(it->second));
      obj[key] = std::move(v);
    }
    if (merge) {
      const YAML::Node& m = *merge;
      if (m.IsSequence()) {
        for (const auto& item : m) KL_TRY(merge_into(obj, item));
      } else {
        KL_TRY(merge_into(obj, m));
      }
    }
    return json::value(std::move(obj));
  }

  Result<json::value> scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == kStrTag) return json::value(s);  // quoted or !!str
    // Plain scalars ("?") and other explicit tags (!!int, !!bool, custom) resolve alike.
    if (one_of(s, {"", "~", "null", "Null", "NULL"})) return json::value(nullptr);
    if (one_of(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"}))
      return json::value(true);
    if (one_of(s, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"}))
      return json::value(false);
    if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                   ".nan", ".NaN", ".NAN"})) {
      return Error(ErrorCode::kInvalidArgument,
                   where(node.Mark()) + "value " + s + " cannot be represented in JSON");
    }
    json::value out;
    bool overflow = false;
    if (parse_int(s, out, overflow)) {
      if (!overflow) return out;
      double d = 0;
      if (parse_float(s, d)) return json::value(d);  // decimal too big for 64 bits
      return Error(ErrorCode::kInvalidArgument, where(node.Mark()) + "integer " + s + " overflows 64 bits");
    }
    double d = 0;
    if (parse_float(s, d) && std::isfinite(d)) {
      // "09" is no octal, so Kubernetes' decoder reads it as the number 9.
      if (s.find_first_of(".eE") == std::string::npos && std::fabs(d) < 9e15) {
        return json::value(static_cast<int64_t>(d));
      }
      return json::value(d);
    }
    return json::value(s);
  }

  std::size_t nodes_ = 0;
};

}  // namespace

Result<std::vector<json::value>> to_json_documents(std::string_view text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalidArgument, "yaml: " + where(e.mark) + e.msg);
  }
  std::vector<json::value> out;
  out.reserve(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].IsNull() || !docs[i].IsDefined()) continue;
    Converter c;
    Result<json::value> v = [&]() -> Result<json::value> {
      try {
        return c.convert(docs[i]);
      } catch (const YAML::Exception& e) {
        return Error(ErrorCode::kInvalidArgument, where(e.mark) + e.msg);
      }
    }();
    if (!v.ok()) {
      std::string ctx = "yaml: document " + std::to_string(i + 1);
      return Error(ErrorCode::kInvalidArgument, ctx + ", " + v.error().message());
    }
    out.push_back(std::move(*v));
  }
  return out;
}

Result<json::value> to_json(std::string_view text) {
  KL_ASSIGN_OR_RETURN(std::vector<json::value> docs, to_json_documents(text));
  if (docs.size() != 1) {
    return Error(ErrorCode::kInvalidArgument,
                 "yaml: expected exactly one document, found " + std::to_string(docs.size()));
  }
  return std::move(docs[0]);
}

}  // namespace kernlet::yaml
