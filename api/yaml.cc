#include "api/yaml.h"

#include <yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace kernlet::yaml {
namespace {

constexpr std::size_t kMaxNodes = 1'000'000;
constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";


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

// Builds JSON values from libyaml's event stream. libyaml is the reference C parser that
// Kubernetes' Go YAML library was ported from, so documents parse the same way; and it
// parses without recursion, so no input can exhaust the stack. (yaml-cpp 0.7, tried first,
// loops forever on a stray `,` in block context.)
class Builder {
 public:
  // Feeds one event; a finished document is appended to `docs`.
  Result<void> event(const yaml_event_t& ev, std::vector<json::value>& docs) {
    switch (ev.type) {
      case YAML_STREAM_START_EVENT:
      case YAML_STREAM_END_EVENT:
        return Ok();
      case YAML_DOCUMENT_START_EVENT:
        ++document_;
        anchors_.clear();
        root_.reset();
        return Ok();
      case YAML_DOCUMENT_END_EVENT:
        if (root_ && !root_->is_null()) docs.push_back(std::move(*root_));
        root_.reset();
        return Ok();
      case YAML_ALIAS_EVENT: {
        std::string name(reinterpret_cast<const char*>(ev.data.alias.anchor));
        auto it = anchors_.find(name);
        if (it == anchors_.end()) return fail(ev.start_mark, "unknown anchor '" + name + "' referenced");
        KL_TRY(count(ev.start_mark, it->second.nodes));
        const json::value& v = it->second.value;
        last_scalar_text_ = v.is_string() ? std::string(v.get_string()) : json::dump(v);
        last_scalar_plain_ = false;  // an aliased "<<" is a key, not a merge
        return complete(json::value(v), it->second.nodes, nullptr, ev.start_mark);
      }
      case YAML_SCALAR_EVENT: {
        KL_TRY(count(ev.start_mark, 1));
        KL_ASSIGN_OR_RETURN(json::value v, scalar(ev));
        return complete(std::move(v), 1, ev.data.scalar.anchor, ev.start_mark);
      }
      case YAML_SEQUENCE_START_EVENT:
        return open(Frame::kSequence, ev.data.sequence_start.anchor, ev.start_mark);
      case YAML_MAPPING_START_EVENT:
        return open(Frame::kMapping, ev.data.mapping_start.anchor, ev.start_mark);
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        return close(ev.start_mark);
      case YAML_NO_EVENT:
        return Ok();
    }
    return Ok();
  }

 private:
  struct Frame {
    enum Kind { kSequence, kMapping } kind;
    json::value value;
    std::string anchor;
    std::size_t nodes = 1;
    std::optional<std::string> key;      // mapping: the key waiting for its value
    yaml_mark_t key_mark{};
    std::vector<json::value> merges;    // mapping: values of `<<` keys, applied at the end
    bool merge_next = false;
  };
  struct Anchored {
    json::value value;
    std::size_t nodes;
  };

  Error fail(const yaml_mark_t& m, const std::string& msg) const {
    return Error(ErrorCode::kInvalidArgument, "document " + std::to_string(document_) + ", line " +
                                                  std::to_string(m.line + 1) + ", column " +
                                                  std::to_string(m.column + 1) + ": " + msg);
  }

  Result<void> count(const yaml_mark_t& m, std::size_t n) {
    nodes_ += n;
    if (nodes_ > kMaxNodes) return fail(m, "document expands to more than 1000000 nodes (alias bomb?)");
    return Ok();
  }

  Result<void> open(Frame::Kind kind, const yaml_char_t* anchor, const yaml_mark_t& m) {
    if (stack_.size() >= kMaxDepth) return fail(m, "nesting deeper than 512 levels");
    KL_TRY(count(m, 1));
    Frame f{kind, kind == Frame::kSequence ? json::value(json::array()) : json::value(json::object()), "", 1,
            std::nullopt, {}, {}, false};
    if (anchor != nullptr) f.anchor = reinterpret_cast<const char*>(anchor);
    stack_.push_back(std::move(f));
    return Ok();
  }

  Result<void> close(const yaml_mark_t& m) {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.kind == Frame::kMapping) {
      json::object& obj = f.value.get_object();
      // Merge keys: explicit keys win, then earlier merged maps over later ones.
      for (const json::value& src : f.merges) {
        std::vector<const json::object*> maps;
        if (src.is_object()) {
          maps.push_back(&src.get_object());
        } else if (src.is_array()) {
          for (const auto& item : src.get_array()) {
            if (!item.is_object()) return fail(m, "merge key '<<' needs a mapping or a list of mappings");
            maps.push_back(&item.get_object());
          }
        } else {
          return fail(m, "merge key '<<' needs a mapping or a list of mappings");
        }
        for (const json::object* map : maps)
          for (const auto& kv : *map)
            if (!obj.contains(kv.key())) obj[kv.key()] = kv.value();
      }
    }
    const char* anchor = f.anchor.empty() ? nullptr : f.anchor.c_str();
    return complete(std::move(f.value), f.nodes, reinterpret_cast<const yaml_char_t*>(anchor), m);
  }

  // A node is finished: remember its anchor and put it where it belongs.
  Result<void> complete(json::value v, std::size_t nodes, const yaml_char_t* anchor, const yaml_mark_t& m) {
    if (anchor != nullptr) anchors_[reinterpret_cast<const char*>(anchor)] = Anchored{v, nodes};
    if (stack_.empty()) {
      root_ = std::move(v);
      return Ok();
    }
    Frame& parent = stack_.back();
    parent.nodes += nodes;
    if (parent.kind == Frame::kSequence) {
      parent.value.get_array().push_back(std::move(v));
      return Ok();
    }
    if (!parent.key) {  // this node is a key
      if (parent.merge_next) return fail(m, "internal: merge state");
      if (!v.is_string() && !v.is_number() && !v.is_bool() && !v.is_null()) {
        return fail(m, "mapping keys must be scalars");
      }
      if (v.is_string() && v.get_string() == "<<" && last_scalar_plain_) {
        parent.merge_next = true;
        parent.key = std::string("<<");
        return Ok();
      }
      // JSON keys are strings; a YAML key such as `80:` or `true:` becomes its text.
      parent.key = last_scalar_text_;
      parent.key_mark = m;
      return Ok();
    }
    if (parent.merge_next) {
      parent.merges.push_back(std::move(v));
      parent.merge_next = false;
      parent.key.reset();
      return Ok();
    }
    json::object& obj = parent.value.get_object();
    if (obj.contains(*parent.key)) {
      return fail(parent.key_mark, "mapping key \"" + *parent.key + "\" already defined");
    }
    obj[*parent.key] = std::move(v);
    parent.key.reset();
    return Ok();
  }

  Result<json::value> scalar(const yaml_event_t& ev) {
    std::string s(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
    last_scalar_text_ = s;
    const char* tag = reinterpret_cast<const char*>(ev.data.scalar.tag);
    const bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    last_scalar_plain_ = plain && tag == nullptr;
    if (!plain && tag == nullptr) return json::value(s);  // quoted or block scalar
    if (tag != nullptr && (std::string_view(tag) == kStrTag || std::string_view(tag) == "!")) return json::value(s);
    // Plain scalars and other explicit tags (!!int, !!bool, custom) resolve alike.
    return resolve(s, ev.start_mark);
  }

  Result<json::value> resolve(const std::string& s, const yaml_mark_t& m) {
    if (one_of(s, {"", "~", "null", "Null", "NULL"})) return json::value(nullptr);
    if (one_of(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"}))
      return json::value(true);
    if (one_of(s, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"}))
      return json::value(false);
    if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                   ".nan", ".NaN", ".NAN"})) {
      return fail(m, "value " + s + " cannot be represented in JSON");
    }
    json::value out;
    bool overflow = false;
    if (parse_int(s, out, overflow)) {
      if (!overflow) return out;
      double d = 0;
      if (parse_float(s, d) && std::isfinite(d)) return json::value(d);  // decimal too big for 64 bits
      return fail(m, "integer " + s + " overflows 64 bits");
    }
    double d = 0;
    if (parse_float(s, d)) {
      if (!std::isfinite(d)) return fail(m, "number " + s + " is out of range");
      // "09" is no octal, so Kubernetes' decoder reads it as the number 9.
      if (s.find_first_of(".eE") == std::string::npos && std::fabs(d) < 9e15) {
        return json::value(static_cast<int64_t>(d));
      }
      return json::value(d);
    }
    return json::value(s);
  }

  static constexpr std::size_t kMaxDepth = 512;
  std::vector<Frame> stack_;
  std::map<std::string, Anchored, std::less<>> anchors_;
  std::optional<json::value> root_;
  std::size_t nodes_ = 0;
  int document_ = 0;
  std::string last_scalar_text_;
  bool last_scalar_plain_ = false;
};

}  // namespace

Result<std::vector<json::value>> to_json_documents(std::string_view text) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return Error(ErrorCode::kInternal, "yaml: out of memory");
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::vector<json::value> docs;
  Builder builder;
  Result<void> status = Ok();
  for (bool done = false; !done && status.ok();) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      std::string msg = parser.problem != nullptr ? parser.problem : "syntax error";
      if (parser.context != nullptr) msg = std::string(parser.context) + ": " + msg;
      const yaml_mark_t& m = parser.problem_mark;
      status = Error(ErrorCode::kInvalidArgument, "yaml: line " + std::to_string(m.line + 1) + ", column " +
                                                      std::to_string(m.column + 1) + ": " + msg);
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    status = builder.event(ev, docs);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  if (!status.ok()) {
    std::string msg = status.error().message();
    if (msg.rfind("yaml: ", 0) != 0) msg = "yaml: " + msg;
    return Error(ErrorCode::kInvalidArgument, msg);
  }
  return docs;
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
