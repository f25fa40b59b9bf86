#include "api/fields.h"
#include "api/utf8.h"

#include <algorithm>
#include <cstdint>

#include "api/validation.h"

namespace kernlet::api {
namespace {

// How the apiserver words a rejected field: most kinds share one text, Job has its own,
// and kinds without a conversion function get the generic metav1 one.
enum class Wording { kCore, kJob, kDefault };

// How a field's value is read from the object.
enum class Read {
  kPath,          // the JSON value at `path`, else `zero`
  kPodIP,         // status.podIPs[0].ip, else status.podIP
  kEventSource,   // source.component, else reportingComponent
  kAlwaysEmpty,   // accepted in selectors but not selectable: always ""
};

struct FieldDef {
  std::string_view name;
  Read read;
  std::string_view path;
  std::string_view zero;
};

struct Alias {
  std::string_view from;
  std::string_view to;
};

struct ResourceDef {
  std::string_view resource;
  Wording wording;
  std::vector<FieldDef> fields;
  std::vector<Alias> aliases;
};

constexpr FieldDef kName{"metadata.name", Read::kPath, "metadata.name", ""};
constexpr FieldDef kNamespace{"metadata.namespace", Read::kPath, "metadata.namespace", ""};

FieldDef path_field(std::string_view name, std::string_view zero = "") {
  return {name, Read::kPath, name, zero};
}

// Verified against kubernetes/kubernetes pkg/apis/*/v1/conversion.go (which fields are
// accepted) and pkg/registry/*/strategy.go (how their values are read).
const std::vector<ResourceDef>& resources() {
  static const std::vector<ResourceDef> defs = {
      {"pods",
       Wording::kCore,
       {kName, kNamespace, path_field("spec.nodeName"), path_field("spec.restartPolicy"),
        path_field("spec.schedulerName"), path_field("spec.serviceAccountName"),
        path_field("spec.hostNetwork", "false"), path_field("status.phase"),
        {"status.podIP", Read::kPodIP, "", ""},
        // Accepted by the conversion function but missing from the pod's selectable
        // fields, so it only ever matches "".
        {"status.podIPs", Read::kAlwaysEmpty, "", ""}, path_field("status.nominatedNodeName")},
       {{"spec.host", "spec.nodeName"}}},
      {"nodes", Wording::kCore, {kName, path_field("spec.unschedulable", "false")}, {}},
      {"replicationcontrollers",
       Wording::kCore,
       {kName, kNamespace, path_field("status.replicas", "0")},
       {}},
      {"events",
       Wording::kCore,
       {path_field("involvedObject.kind"), path_field("involvedObject.namespace"),
        path_field("involvedObject.name"), path_field("involvedObject.uid"),
        path_field("involvedObject.apiVersion"), path_field("involvedObject.resourceVersion"),
        path_field("involvedObject.fieldPath"), path_field("reason"),
        path_field("reportingComponent"), {"source", Read::kEventSource, "", ""},
        path_field("type"), kNamespace, kName},
       {}},
      {"namespaces", Wording::kCore, {path_field("status.phase"), kName}, {}},
      {"secrets", Wording::kCore, {path_field("type"), kNamespace, kName}, {}},
      {"services",
       Wording::kCore,
       {kNamespace, kName, path_field("spec.clusterIP"), path_field("spec.type")},
       {}},
      {"jobs",
       Wording::kJob,
       {kName, kNamespace, {"status.successful", Read::kPath, "status.succeeded", "0"}},
       {}},
      {"certificatesigningrequests", Wording::kCore, {kName, path_field("spec.signerName")}, {}},
  };
  return defs;
}

// Everything else, ReplicaSets included: Kubernetes registers no conversion for
// apps/v1 ReplicaSet, so `status.replicas` is rejected there despite the docs.
const ResourceDef& default_resource() {
  static const ResourceDef def{"", Wording::kDefault, {kName, kNamespace}, {}};
  return def;
}

const ResourceDef& find_resource(std::string_view resource) {
  for (const auto& r : resources())
    if (r.resource == resource) return r;
  return default_resource();
}

// The JSON value at a dotted path, nullptr when any step is missing.
const json::value* at_path(const json::object& obj, std::string_view path) {
  const json::object* cur = &obj;
  while (true) {
    auto dot = path.find('.');
    const json::value* v = cur->if_contains(path.substr(0, dot));
    if (v == nullptr || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    path.remove_prefix(dot + 1);
  }
}

// Go's formatting of the typed field: strings verbatim, bools and integers in text.
std::string field_text(const json::value* v, std::string_view zero) {
  if (v == nullptr || v->is_null()) return std::string(zero);
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "true" : "false";
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) {
    // Integer fields decoded from JSON as doubles ("3.0"): print them as the integers they are.
    double d = v->get_double();
    if (d >= -9.2e18 && d <= 9.2e18 && d == static_cast<double>(static_cast<int64_t>(d)))
      return std::to_string(static_cast<int64_t>(d));
    return json::dump(*v);
  }
  return std::string(zero);
}

std::string read_field(const FieldDef& def, const json::object& obj) {
  switch (def.read) {
    case Read::kPath:
      return field_text(at_path(obj, def.path), def.zero);
    case Read::kPodIP: {
      if (const json::value* ips = at_path(obj, "status.podIPs"); ips != nullptr && ips->is_array()) {
        const json::array& a = ips->get_array();
        if (!a.empty()) {
          if (a[0].is_object()) return std::string(json::get_string(a[0].get_object(), "ip"));
          return "";
        }
      }
      return field_text(at_path(obj, "status.podIP"), "");
    }
    case Read::kEventSource: {
      std::string source = field_text(at_path(obj, "source.component"), "");
      if (source.empty()) source = field_text(at_path(obj, "reportingComponent"), "");
      return source;
    }
    case Read::kAlwaysEmpty:
      return "";
  }
  return "";
}

// Decodes the rune at s[i] as Go's range loop does: an invalid byte is U+FFFD, width 1.
uint32_t next_rune(std::string_view s, std::size_t& i) {
  uint32_t r = 0;
  std::size_t n = decode_utf8(s, i, r);
  if (n == 0) {
    ++i;
    return 0xFFFD;
  }
  i += n;
  return r;
}

// Splits on commas not preceded by an escaping backslash; escapes stay in the terms.
std::vector<std::string_view> split_terms(std::string_view s) {
  std::vector<std::string_view> terms;
  if (s.empty()) return terms;
  std::size_t start = 0;
  bool in_slash = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (in_slash) {
      in_slash = false;
    } else if (s[i] == '\\') {
      in_slash = true;
    } else if (s[i] == ',') {
      terms.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(s.substr(start));
  return terms;
}

struct SplitTerm {
  std::string_view lhs;
  bool equals;
  std::string_view rhs;
};

// The first operator splits the term; "!=" and "==" are tried before "=" at each spot.
std::optional<SplitTerm> split_term(std::string_view term) {
  for (std::size_t i = 0; i < term.size(); ++i) {
    std::string_view rest = term.substr(i);
    if (rest.starts_with("!=")) return SplitTerm{term.substr(0, i), false, rest.substr(2)};
    if (rest.starts_with("==")) return SplitTerm{term.substr(0, i), true, rest.substr(2)};
    if (rest.starts_with("=")) return SplitTerm{term.substr(0, i), true, rest.substr(1)};
  }
  return std::nullopt;
}

// Terms in the order Kubernetes evaluates them (raw text sorted), unconverted.
Result<std::vector<FieldTerm>> parse_terms(std::string_view text) {
  std::vector<std::string_view> parts = split_terms(text);
  std::sort(parts.begin(), parts.end());
  std::vector<FieldTerm> terms;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    auto st = split_term(part);
    if (!st)
      return Error("invalid selector: '" + std::string(text) + "'; can't understand '" +
                   std::string(part) + "'");
    KL_ASSIGN_OR_RETURN(std::string value, unescape_field_value(st->rhs));
    // Kubernetes drops a term whose field and value are both empty ("=", "!=").
    if (st->lhs.empty() && value.empty()) continue;
    terms.push_back({std::string(st->lhs), st->equals, std::move(value)});
  }
  return terms;
}

std::string term_text(const FieldTerm& t) {
  return t.field + (t.equals ? "=" : "!=") + escape_field_value(t.value);
}

void sort_terms(std::vector<FieldTerm>& terms) {
  std::stable_sort(terms.begin(), terms.end(), [](const FieldTerm& a, const FieldTerm& b) {
    return term_text(a) < term_text(b);
  });
}

std::string_view lookup(const FieldSet& fields, std::string_view name) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

std::string escape_field_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

Result<std::string> unescape_field_value(std::string_view value) {
  if (value.find_first_of("\\,=") == std::string_view::npos) return std::string(value);
  std::string out;
  bool in_slash = false;
  for (std::size_t i = 0; i < value.size();) {
    uint32_t r = next_rune(value, i);
    if (in_slash) {
      if (r != '\\' && r != ',' && r != '=') {
        std::string seq = "\\";
        append_utf8(seq, r);
        return Error("invalid field selector: invalid escape sequence: " + seq);
      }
      out += static_cast<char>(r);
      in_slash = false;
      continue;
    }
    if (r == '\\') {
      in_slash = true;
    } else if (r == ',' || r == '=') {
      return Error("invalid field selector: unescaped character in value: " + std::to_string(r));
    } else {
      append_utf8(out, r);
    }
  }
  if (in_slash) return Error("invalid field selector: invalid escape sequence: \\");
  return out;
}

FieldSelector FieldSelector::nothing() {
  FieldSelector s;
  s.nothing_ = true;
  return s;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  KL_ASSIGN_OR_RETURN(auto terms, parse_terms(text));
  sort_terms(terms);
  FieldSelector s;
  s.terms_ = std::move(terms);
  return s;
}

Result<FieldSelector> FieldSelector::parse_for(std::string_view resource, std::string_view text) {
  KL_ASSIGN_OR_RETURN(auto terms, parse_terms(text));
  for (auto& t : terms) {
    KL_ASSIGN_OR_RETURN(t.field, convert_field_label(resource, t.field));
  }
  sort_terms(terms);
  FieldSelector s;
  s.terms_ = std::move(terms);
  return s;
}

FieldSelector FieldSelector::one_term(std::string field, std::string value, bool equals) {
  FieldSelector s;
  s.terms_.push_back({std::move(field), equals, std::move(value)});
  return s;
}

bool FieldSelector::matches(const FieldSet& fields) const {
  if (nothing_) return false;
  for (const auto& t : terms_)
    if ((lookup(fields, t.field) == t.value) != t.equals) return false;
  return true;
}

bool FieldSelector::matches(std::string_view resource, const json::object& obj) const {
  if (nothing_) return false;
  if (terms_.empty()) return true;
  return matches(selectable_fields(resource, obj));
}

std::string FieldSelector::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < terms_.size(); ++i) {
    if (i > 0) s += ',';
    s += term_text(terms_[i]);
  }
  return s;
}

std::optional<std::string_view> FieldSelector::requires_exact_match(std::string_view field) const {
  for (const auto& t : terms_)
    if (t.equals && t.field == field) return std::string_view(t.value);
  return std::nullopt;
}

std::vector<std::string_view> supported_fields(std::string_view resource) {
  std::vector<std::string_view> out;
  const ResourceDef& def = find_resource(resource);
  for (const auto& f : def.fields) out.push_back(f.name);
  for (const auto& a : def.aliases) out.push_back(a.from);
  return out;
}

Result<std::string> convert_field_label(std::string_view resource, std::string_view field) {
  const ResourceDef& def = find_resource(resource);
  for (const auto& f : def.fields)
    if (f.name == field) return std::string(field);
  for (const auto& a : def.aliases)
    if (a.from == field) return std::string(a.to);
  switch (def.wording) {
    case Wording::kCore:
      return Error("field label not supported: " + std::string(field));
    case Wording::kJob:
      return Error("field label " + go_quote(field) + " not supported for Job");
    case Wording::kDefault:
      break;
  }
  return Error(go_quote(field) +
               " is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
}

FieldSet selectable_fields(std::string_view resource, const json::object& obj) {
  FieldSet out;
  for (const auto& f : find_resource(resource).fields) out[std::string(f.name)] = read_field(f, obj);
  return out;
}

}  // namespace kernlet::api
