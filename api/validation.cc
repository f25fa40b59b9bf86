#include "api/validation.h"
#include "api/utf8.h"

#include <cctype>
#include <cstdint>
#include <set>

namespace kernlet::api {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool matches_dns1123_label(std::string_view v) {
  if (v.empty() || !is_lower_alnum(v.front()) || !is_lower_alnum(v.back())) return false;
  for (char c : v)
    if (!is_lower_alnum(c) && c != '-') return false;
  return true;
}

// dns1123 labels joined by single dots.
bool matches_dns1123_subdomain(std::string_view v) {
  while (true) {
    auto dot = v.find('.');
    if (!matches_dns1123_label(v.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    v.remove_prefix(dot + 1);
  }
}

// [a-z]([-a-z0-9]*[a-z0-9])?
bool matches_dns1035_label(std::string_view v) {
  return matches_dns1123_label(v) && v.front() >= 'a' && v.front() <= 'z';
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matches_label_key_name(std::string_view v) {
  if (v.empty() || !is_alnum(v.front()) || !is_alnum(v.back())) return false;
  for (char c : v)
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

constexpr std::string_view kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kLabelKeyFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kLabelKeyErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

std::string regex_error(std::string_view msg, std::string_view fmt,
                        std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  if (examples.size() == 0) return out + " (regex used for validation is '" + std::string(fmt) + "')";
  out += " (e.g. ";
  bool first = true;
  for (auto e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'";
    out += e;
    out += "', ";
  }
  out += "regex used for validation is '";
  out += fmt;
  out += "')";
  return out;
}

// The DNS checks live in Kubernetes' util/validation, which still says "characters";
// label keys and values moved to api/validate/content, which says "bytes".
std::string max_len_characters(std::size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}
std::string max_len_bytes(std::size_t n) {
  return "must be no more than " + std::to_string(n) + " bytes";
}

// The subdomain check inside label-key validation (content package wording).
std::vector<std::string> subdomain_errors_bytes(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kDns1123SubdomainMaxLength) errs.push_back(max_len_bytes(kDns1123SubdomainMaxLength));
  if (!matches_dns1123_subdomain(value))
    errs.push_back(regex_error(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        kDns1123SubdomainFmt, {"example.com"}));
  return errs;
}


// An approximation of Go's unicode.IsPrint for non-ASCII runes: the invisible and
// control code points that %q escapes.
bool go_printable(uint32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r < 0x7F) return true;
  if (r >= 0x80 && r <= 0xA0) return false;
  if (r == 0xAD) return false;
  if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) || (r >= 0x205F && r <= 0x206F))
    return false;
  if (r == 0x3000 || r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB)) return false;
  if ((r >= 0xE000 && r <= 0xF8FF) || r >= 0xF0000) return false;
  if ((r & 0xFFFE) == 0xFFFE) return false;
  return true;
}

std::string bad_value_text(const json::value& v) {
  if (v.is_string()) return go_quote(v.get_string());
  return json::dump(v);
}

std::string_view type_text(std::string_view type) {
  namespace t = field_error_type;
  if (type == t::kNotFound) return "Not found";
  if (type == t::kRequired) return "Required value";
  if (type == t::kDuplicate) return "Duplicate value";
  if (type == t::kInvalid || type == t::kTypeInvalid) return "Invalid value";
  if (type == t::kNotSupported) return "Unsupported value";
  if (type == t::kForbidden) return "Forbidden";
  if (type == t::kTooLong) return "Too long";
  if (type == t::kTooMany) return "Too many";
  if (type == t::kInternal) return "Internal error";
  return {};
}

}  // namespace

std::string go_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    uint32_t r = 0;
    std::size_t n = decode_utf8(s, i, r);
    if (n == 0) {
      auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      ++i;
      continue;
    }
    i += n;
    switch (r) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    if (go_printable(r)) {
      append_utf8(out, r);
    } else if (r < 0x80) {
      out += "\\x";
      out += kHex[r >> 4];
      out += kHex[r & 0xF];
    } else {
      int digits = r < 0x10000 ? 4 : 8;
      out += r < 0x10000 ? "\\u" : "\\U";
      for (int d = digits - 1; d >= 0; --d) out += kHex[(r >> (4 * d)) & 0xF];
    }
  }
  out += '"';
  return out;
}

std::vector<std::string> is_dns1123_label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kDns1123LabelMaxLength) errs.push_back(max_len_characters(kDns1123LabelMaxLength));
  if (!matches_dns1123_label(value)) {
    if (matches_dns1123_subdomain(value)) {
      errs.emplace_back("must not contain dots");
    } else {
      errs.push_back(regex_error(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
          "and must start and end with an alphanumeric character",
          kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> is_dns1123_subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kDns1123SubdomainMaxLength)
    errs.push_back(max_len_characters(kDns1123SubdomainMaxLength));
  if (!matches_dns1123_subdomain(value))
    errs.push_back(regex_error(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        kDns1123SubdomainFmt, {"example.com"}));
  return errs;
}

std::vector<std::string> is_dns1035_label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kDns1035LabelMaxLength) errs.push_back(max_len_characters(kDns1035LabelMaxLength));
  if (!matches_dns1035_label(value))
    errs.push_back(regex_error(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character",
        kDns1035LabelFmt, {"my-name", "abc-123"}));
  return errs;
}

std::vector<std::string> is_qualified_name(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  auto slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      errs.push_back("a valid label key " +
                     regex_error(kLabelKeyErrMsg, kLabelKeyFmt, {"MyName", "my.name", "123-abc"}) +
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return errs;
    }
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.emplace_back("prefix part must be non-empty");
    } else {
      for (auto& m : subdomain_errors_bytes(prefix)) errs.push_back("prefix part " + m);
    }
  }
  if (name.empty()) {
    errs.emplace_back("name part must be non-empty");
  } else if (name.size() > kLabelKeyNameMaxLength) {
    errs.push_back("name part " + max_len_bytes(kLabelKeyNameMaxLength));
  }
  if (!matches_label_key_name(name))
    errs.push_back("name part " +
                   regex_error(kLabelKeyErrMsg, kLabelKeyFmt, {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> is_valid_label_value(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kLabelValueMaxLength) errs.push_back(max_len_bytes(kLabelValueMaxLength));
  if (!value.empty() && !matches_label_key_name(value))
    errs.push_back(regex_error(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return errs;
}

std::string FieldError::body() const {
  namespace t = field_error_type;
  std::string s;
  if (type == t::kRequired || type == t::kForbidden || type == t::kTooLong || type == t::kInternal) {
    s = type_text(type);
  } else if (type == t::kInvalid || type == t::kTypeInvalid || type == t::kNotSupported ||
             type == t::kNotFound || type == t::kDuplicate || type == t::kTooMany) {
    s = std::string(type_text(type)) + ": " + bad_value_text(bad_value);
  } else {
    s = "Internal error: unhandled error code: " + type + ": please report this";
  }
  if (!detail.empty()) s += ": " + detail;
  return s;
}

FieldError field_invalid(std::string field, json::value bad_value, std::string detail) {
  return {std::string(field_error_type::kInvalid), std::move(field), std::move(bad_value),
          std::move(detail)};
}

FieldError field_required(std::string field, std::string detail) {
  return {std::string(field_error_type::kRequired), std::move(field), json::value(""),
          std::move(detail)};
}

FieldError field_forbidden(std::string field, std::string detail) {
  return {std::string(field_error_type::kForbidden), std::move(field), json::value(""),
          std::move(detail)};
}

FieldError field_not_supported(std::string field, json::value bad_value,
                               const std::vector<std::string>& supported) {
  std::string detail;
  if (!supported.empty()) {
    detail = "supported values: ";
    for (std::size_t i = 0; i < supported.size(); ++i) {
      if (i > 0) detail += ", ";
      detail += go_quote(supported[i]);
    }
  }
  return {std::string(field_error_type::kNotSupported), std::move(field), std::move(bad_value),
          std::move(detail)};
}

FieldError field_too_long(std::string field, std::size_t max_bytes) {
  return {std::string(field_error_type::kTooLong), std::move(field), json::value("<value omitted>"),
          "may not be more than " + std::to_string(max_bytes) + (max_bytes == 1 ? " byte" : " bytes")};
}

FieldError field_type_invalid(std::string field, json::value bad_value, std::string detail) {
  return {std::string(field_error_type::kTypeInvalid), std::move(field), std::move(bad_value),
          std::move(detail)};
}

std::string aggregate_message(const FieldErrors& errors) {
  std::set<std::string> seen;
  std::string joined;
  for (const auto& e : errors) {
    std::string msg = e.error();
    if (!seen.insert(msg).second) continue;
    if (seen.size() > 1) joined += ", ";
    joined += msg;
  }
  if (seen.size() <= 1) return joined;
  return "[" + joined + "]";
}

std::string join_path(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  std::string out(parent);
  out += '.';
  out += child;
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string key_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  out += '[';
  out += key;
  out += ']';
  return out;
}

FieldErrors validate_label_name(std::string_view key, std::string_view field_path) {
  FieldErrors errs;
  for (auto& msg : is_qualified_name(key))
    errs.push_back(field_invalid(std::string(field_path), json::value(key), std::move(msg)));
  return errs;
}

FieldErrors validate_labels(const json::object* labels, std::string_view field_path) {
  FieldErrors errs;
  if (labels == nullptr) return errs;
  for (const auto& kv : *labels) {
    std::string_view key = kv.key();
    for (auto& e : validate_label_name(key, field_path)) errs.push_back(std::move(e));
    if (!kv.value().is_string()) {
      errs.push_back(field_type_invalid(key_path(field_path, key), kv.value(), "must be a string"));
      continue;
    }
    std::string_view value = kv.value().get_string();
    for (auto& msg : is_valid_label_value(value))
      errs.push_back(field_invalid(std::string(field_path), json::value(value), std::move(msg)));
  }
  return errs;
}

FieldErrors validate_annotations(const json::object* annotations, std::string_view field_path) {
  FieldErrors errs;
  if (annotations == nullptr) return errs;
  uint64_t total = 0;
  for (const auto& kv : *annotations) {
    std::string_view key = kv.key();
    // Annotation keys are qualified names in any letter case.
    std::string lower(key);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& msg : is_qualified_name(lower))
      errs.push_back(field_invalid(std::string(field_path), json::value(key), std::move(msg)));
    total += key.size();
    if (kv.value().is_string()) {
      total += kv.value().get_string().size();
    } else {
      errs.push_back(field_type_invalid(key_path(field_path, key), kv.value(), "must be a string"));
    }
  }
  if (total > kTotalAnnotationSizeLimitBytes)
    errs.push_back(field_too_long(std::string(field_path), kTotalAnnotationSizeLimitBytes));
  return errs;
}

}  // namespace kernlet::api
