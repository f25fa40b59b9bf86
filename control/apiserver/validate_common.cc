// Shared validation: metadata, the Go value printers, number/enum checks, dispatch.
#include <algorithm>
#include <cctype>

#include "api/labels.h"
#include "api/object.h"
#include "control/apiserver/validate.h"

namespace kernlet::apiserver {
namespace validate_detail {

void add(Causes& out, const api::FieldError& e) { out.push_back({e.type, e.body(), e.field}); }

void add_all(Causes& out, const api::FieldErrors& errors) {
  for (const auto& e : errors) add(out, e);
}

void add_invalid_raw(Causes& out, std::string field, std::string go_value, std::string_view detail) {
  std::string msg = "Invalid value: " + go_value;
  if (!detail.empty()) msg += ": " + std::string(detail);
  out.push_back({std::string(api::field_error_type::kInvalid), std::move(msg), std::move(field)});
}

void add_not_found(Causes& out, std::string field, json::value bad_value) {
  add(out, {std::string(api::field_error_type::kNotFound), std::move(field), std::move(bad_value), ""});
}

void add_duplicate(Causes& out, std::string field, json::value bad_value) {
  add(out, {std::string(api::field_error_type::kDuplicate), std::move(field), std::move(bad_value), ""});
}

std::string go_string_map(const json::object* m) {
  if (m == nullptr) return "map[string]string(nil)";
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& kv : *m)
    entries.emplace_back(std::string(kv.key()), kv.value().is_string() ? std::string(kv.value().get_string()) : "");
  std::sort(entries.begin(), entries.end());
  std::string s = "map[string]string{";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) s += ", ";
    s += api::go_quote(entries[i].first) + ":" + api::go_quote(entries[i].second);
  }
  return s + "}";
}

std::string go_string_slice(const std::vector<std::string>& v) {
  std::string s = "[]string{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += ", ";
    s += api::go_quote(v[i]);
  }
  return s + "}";
}

std::string go_label_selector(const json::value* selector) {
  const json::object& sel = selector != nullptr && selector->is_object() ? selector->as_object() : api::empty_object();
  std::string s = "v1.LabelSelector{MatchLabels:" + go_string_map(json::get_object(sel, "matchLabels")) +
                  ", MatchExpressions:";
  const json::array* exprs = json::get_array(sel, "matchExpressions");
  if (exprs == nullptr) return s + "[]v1.LabelSelectorRequirement(nil)}";
  s += "[]v1.LabelSelectorRequirement{";
  bool first = true;
  for (const auto& e : *exprs) {
    if (!e.is_object()) continue;
    if (!first) s += ", ";
    first = false;
    const json::object& r = e.as_object();
    std::vector<std::string> values;
    for (auto v : api::get_string_array(r, "values")) values.emplace_back(v);
    s += "v1.LabelSelectorRequirement{Key:" + api::go_quote(json::get_string(r, "key")) +
         ", Operator:" + api::go_quote(json::get_string(r, "operator")) + ", Values:" +
         (json::get_array(r, "values") == nullptr ? std::string("[]string(nil)") : go_string_slice(values)) + "}";
  }
  return s + "}}";
}

std::string go_int_or_string(const json::value& v) {
  if (v.is_string()) return "intstr.IntOrString{Type:1, IntVal:0, StrVal:" + api::go_quote(v.get_string()) + "}";
  int64_t n = v.is_int64() ? v.get_int64() : 0;
  return "intstr.IntOrString{Type:0, IntVal:" + std::to_string(n) + ", StrVal:\"\"}";
}

void nonnegative(Causes& out, const json::object& o, std::string_view key, const std::string& path) {
  auto v = json::get_int(o, key);
  if (v && *v < 0) add(out, api::field_invalid(path, *v, "must be greater than or equal to 0"));
}

void positive(Causes& out, const json::object& o, std::string_view key, const std::string& path) {
  auto v = json::get_int(o, key);
  if (v && *v <= 0) add(out, api::field_invalid(path, *v, "must be greater than 0"));
}

void port_number(Causes& out, int64_t port, const std::string& path) {
  if (port < 1 || port > 65535) add(out, api::field_invalid(path, port, "must be between 1 and 65535, inclusive"));
}

std::vector<std::string> port_name_problems(std::string_view name) {
  std::vector<std::string> p;
  if (name.size() > 15) p.emplace_back("must be no more than 15 characters");
  bool letter = false;
  bool bad = false;
  for (char c : name) {
    if (c >= 'a' && c <= 'z') letter = true;
    else if (!(c >= '0' && c <= '9') && c != '-') bad = true;
  }
  if (bad) p.emplace_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (name.find("--") != std::string_view::npos) p.emplace_back("must not contain consecutive hyphens");
  if (!letter) p.emplace_back("must contain at least one letter (a-z)");
  if (!name.empty() && (name.front() == '-' || name.back() == '-'))
    p.emplace_back("must not begin or end with a hyphen");
  return p;
}

void one_of(Causes& out, const json::object& o, std::string_view key, const std::string& path,
            const std::vector<std::string>& allowed, bool required) {
  std::string_view v = json::get_string(o, key);
  if (v.empty()) {
    if (required) add(out, api::field_required(path, ""));
    return;
  }
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    add(out, api::field_not_supported(path, json::value(v), allowed));
}

void validate_template_and_selector(Causes& out, const json::object& spec, const std::string& spec_path,
                                    std::string_view kind_word) {
  const json::value* sel = json::find(spec, "selector");
  const std::string sel_path = spec_path + ".selector";
  const json::object* labels = nullptr;
  if (const json::object* tmeta = json::get_path(spec, "template.metadata")) {
    labels = json::get_object(*tmeta, "labels");
    add_all(out, api::validate_labels(labels, spec_path + ".template.metadata.labels"));
    add_all(out, api::validate_annotations(json::get_object(*tmeta, "annotations"),
                                           spec_path + ".template.metadata.annotations"));
  }
  if (sel == nullptr || sel->is_null()) {
    add(out, api::field_required(sel_path, ""));
    // A null selector selects nothing, so it matches no template either.
    add_invalid_raw(out, spec_path + ".template.metadata.labels", go_string_map(labels),
                    "`selector` does not match template `labels`");
  } else {
    api::FieldErrors errs = api::validate_label_selector(sel, sel_path);
    add_all(out, errs);
    if (errs.empty()) {
      auto selector = api::Selector::from_json(sel, api::Selector::NullMeans::kNothing, sel_path);
      if (selector.ok() && selector->empty()) {
        add_invalid_raw(out, sel_path, go_label_selector(sel),
                        "empty selector is invalid for " + std::string(kind_word));
      } else if (selector.ok() && !selector->matches(labels)) {
        add_invalid_raw(out, spec_path + ".template.metadata.labels", go_string_map(labels),
                        "`selector` does not match template `labels`");
      }
    }
  }
  if (const json::object* tspec = json::get_path(spec, "template.spec")) {
    validate_pod_spec(out, *tspec, spec_path + ".template.spec");
  } else {
    add(out, api::field_required(spec_path + ".template", ""));
  }
}

}  // namespace validate_detail

namespace {

using validate_detail::add;
using validate_detail::add_all;
using validate_detail::Causes;

std::vector<std::string> name_problems(const ResourceInfo& r, std::string_view name) {
  if (r.kind == "Namespace") return api::is_dns1123_label(name);
  if (r.kind == "Service") return api::is_dns1035_label(name);
  return api::is_dns1123_subdomain(name);
}

// apimachinery's ValidateObjectMeta.
void validate_meta(const ResourceInfo& r, const json::object& obj, Causes& out) {
  api::Meta meta(obj);
  if (!meta.generate_name().empty()) {
    // A generated name gets a random suffix, so a trailing dash is fine.
    std::string masked(meta.generate_name());
    if (masked.back() == '-') masked.back() = 'a';
    for (auto& msg : name_problems(r, masked))
      add(out, api::field_invalid("metadata.generateName", json::value(meta.generate_name()), msg));
  }
  if (meta.name().empty()) {
    add(out, api::field_required("metadata.name", "name or generateName is required"));
  } else {
    for (auto& msg : name_problems(r, meta.name()))
      add(out, api::field_invalid("metadata.name", json::value(meta.name()), msg));
  }
  if (r.namespaced) {
    if (meta.namespace_().empty()) {
      add(out, api::field_required("metadata.namespace", ""));
    } else {
      for (auto& msg : api::is_dns1123_label(meta.namespace_()))
        add(out, api::field_invalid("metadata.namespace", json::value(meta.namespace_()), msg));
    }
  } else if (!meta.namespace_().empty()) {
    add(out, api::field_forbidden("metadata.namespace", "not allowed on this type"));
  }
  if (meta.generation() < 0)
    add(out, api::field_invalid("metadata.generation", meta.generation(), "must be greater than or equal to 0"));
  add_all(out, api::validate_labels(meta.labels(), "metadata.labels"));
  add_all(out, api::validate_annotations(meta.annotations(), "metadata.annotations"));
}

void immutable_string(Causes& out, std::string_view now, std::string_view before, const std::string& path) {
  if (now != before) add(out, api::field_invalid(path, json::value(now), "field is immutable"));
}

}  // namespace

std::vector<api::StatusCause> validate_create(const ResourceInfo& r, const json::object& obj) {
  Causes out;
  validate_meta(r, obj, out);
  validate_detail::validate_core_create(r, obj, out) || validate_detail::validate_apps_create(r, obj, out) ||
      validate_detail::validate_batch_create(r, obj, out) || validate_detail::validate_other_create(r, obj, out);
  return out;
}

std::vector<api::StatusCause> validate_update(const ResourceInfo& r, const json::object& obj,
                                              const json::object& old, std::string_view subresource) {
  Causes out;
  validate_meta(r, obj, out);
  api::Meta m(obj);
  api::Meta o(old);
  immutable_string(out, m.name(), o.name(), "metadata.name");
  immutable_string(out, m.namespace_(), o.namespace_(), "metadata.namespace");
  immutable_string(out, m.uid(), o.uid(), "metadata.uid");
  immutable_string(out, m.creation_timestamp(), o.creation_timestamp(), "metadata.creationTimestamp");
  if (!subresource.empty()) return out;
  // An update is first a valid object, then a valid change.
  Causes spec;
  validate_detail::validate_core_create(r, obj, spec) || validate_detail::validate_apps_create(r, obj, spec) ||
      validate_detail::validate_batch_create(r, obj, spec) || validate_detail::validate_other_create(r, obj, spec);
  out.insert(out.end(), spec.begin(), spec.end());
  validate_detail::validate_core_update(r, obj, old, out) || validate_detail::validate_apps_update(r, obj, old, out) ||
      validate_detail::validate_batch_update(r, obj, old, out) ||
      validate_detail::validate_other_update(r, obj, old, out);
  return out;
}

}  // namespace kernlet::apiserver
