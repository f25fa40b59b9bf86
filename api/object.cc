#include "api/object.h"

#include <algorithm>
#include <cstdint>

#include "api/time.h"

namespace kernlet::api {
namespace {

std::string_view sv(const json::string& s) { return {s.data(), s.size()}; }

// The JSON name of a value's type, as a Kubernetes user would say it.
std::string_view json_type(const json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "unknown";
}

Error shape_error(const std::string& path, std::string_view expected, const json::value& got) {
  return Error(ErrorCode::kInvalidArgument, path + ": expected " + std::string(expected) +
                                                ", got " + std::string(json_type(got)));
}

std::string join(std::string_view parent, std::string_view field) {
  std::string p(parent);
  if (!p.empty()) p += '.';
  p += field;
  return p;
}

// Shape checks. Null is accepted wherever a value is: Go's decoder leaves the field unset.
Result<void> check_string(const json::value& v, const std::string& path) {
  if (v.is_null() || v.is_string()) return Ok();
  return shape_error(path, "string", v);
}

Result<void> check_int(const json::value& v, const std::string& path) {
  if (v.is_null() || v.is_int64()) return Ok();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) return Ok();
  // As json::get_int: 3.0 is the integer 3.
  if (v.is_double()) {
    double d = v.get_double();
    if (d >= -9.2e18 && d <= 9.2e18 && static_cast<double>(static_cast<int64_t>(d)) == d) {
      return Ok();
    }
  }
  return shape_error(path, "integer", v);
}

Result<void> check_bool(const json::value& v, const std::string& path) {
  if (v.is_null() || v.is_bool()) return Ok();
  return shape_error(path, "boolean", v);
}

Result<void> check_time(const json::value& v, const std::string& path) {
  KL_TRY(check_string(v, path));
  if (v.is_string()) {
    auto t = parse_rfc3339(sv(v.get_string()));
    if (!t.ok()) return Error(ErrorCode::kInvalidArgument, path + ": " + t.error().message());
  }
  return Ok();
}

Result<void> check_string_map(const json::value& v, const std::string& path) {
  if (v.is_null()) return Ok();
  if (!v.is_object()) return shape_error(path, "object", v);
  for (const auto& kv : v.get_object()) {
    KL_TRY(check_string(kv.value(), path + "[" + std::string(kv.key()) + "]"));
  }
  return Ok();
}

Result<void> check_string_array(const json::value& v, const std::string& path) {
  if (v.is_null()) return Ok();
  if (!v.is_array()) return shape_error(path, "array", v);
  const json::array& a = v.get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    KL_TRY(check_string(a[i], path + "[" + std::to_string(i) + "]"));
  }
  return Ok();
}

Result<void> check_owner_references(const json::value& v, const std::string& path) {
  if (v.is_null()) return Ok();
  if (!v.is_array()) return shape_error(path, "array", v);
  const json::array& a = v.get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string item = path + "[" + std::to_string(i) + "]";
    if (a[i].is_null()) continue;
    if (!a[i].is_object()) return shape_error(item, "object", a[i]);
    for (const auto& kv : a[i].get_object()) {
      std::string_view k = kv.key();
      if (k == "apiVersion" || k == "kind" || k == "name" || k == "uid") {
        KL_TRY(check_string(kv.value(), join(item, k)));
      } else if (k == "controller" || k == "blockOwnerDeletion") {
        KL_TRY(check_bool(kv.value(), join(item, k)));
      }
    }
  }
  return Ok();
}

Result<void> check_metadata(const json::value& v) {
  const std::string path = "metadata";
  if (v.is_null()) return Ok();
  if (!v.is_object()) return shape_error(path, "object", v);
  for (const auto& kv : v.get_object()) {
    std::string_view k = kv.key();
    const json::value& f = kv.value();
    if (k == "name" || k == "generateName" || k == "namespace" || k == "uid" ||
        k == "resourceVersion" || k == "selfLink") {
      KL_TRY(check_string(f, join(path, k)));
    } else if (k == "generation" || k == "deletionGracePeriodSeconds") {
      KL_TRY(check_int(f, join(path, k)));
    } else if (k == "creationTimestamp" || k == "deletionTimestamp") {
      KL_TRY(check_time(f, join(path, k)));
    } else if (k == "labels" || k == "annotations") {
      KL_TRY(check_string_map(f, join(path, k)));
    } else if (k == "finalizers") {
      KL_TRY(check_string_array(f, join(path, k)));
    } else if (k == "ownerReferences") {
      KL_TRY(check_owner_references(f, join(path, k)));
    } else if (k == "managedFields") {
      if (!f.is_null() && !f.is_array()) return shape_error(join(path, k), "array", f);
    }
  }
  return Ok();
}

std::optional<std::string_view> map_lookup(const json::object* m, std::string_view key) {
  if (m == nullptr) return std::nullopt;
  const json::value* v = m->if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return sv(v->get_string());
}

OwnerReference owner_reference_from(const json::object& o) {
  OwnerReference r;
  r.api_version = json::get_string(o, "apiVersion");
  r.kind = json::get_string(o, "kind");
  r.name = json::get_string(o, "name");
  r.uid = json::get_string(o, "uid");
  r.controller = json::get_bool_or(o, "controller", false);
  r.block_owner_deletion = json::get_bool_or(o, "blockOwnerDeletion", false);
  return r;
}

// Erases o[key] when it is an empty object or array.
void drop_if_empty(json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return;
  if ((v->is_object() && v->get_object().empty()) || (v->is_array() && v->get_array().empty())) {
    o.erase(key);
  }
}

bool remove_map_key(json::object* meta, std::string_view map, std::string_view key) {
  if (meta == nullptr) return false;
  json::object* m = json::get_object(*meta, map);
  if (m == nullptr || m->erase(key) == 0) return false;
  drop_if_empty(*meta, map);
  return true;
}

}  // namespace

// ---- helpers ----------------------------------------------------------------------------

const json::object& empty_object() {
  static const json::object kEmpty;
  return kEmpty;
}

const json::array& empty_array() {
  static const json::array kEmpty;
  return kEmpty;
}

const json::object& object_or_empty(const json::object& o, std::string_view key) {
  const json::object* sub = json::get_object(o, key);
  return sub != nullptr ? *sub : empty_object();
}

std::vector<std::string_view> get_string_array(const json::object& o, std::string_view key) {
  std::vector<std::string_view> out;
  if (const json::array* a = json::get_array(o, key)) {
    out.reserve(a->size());
    for (const json::value& v : *a) {
      if (v.is_string()) out.push_back(sv(v.get_string()));
    }
  }
  return out;
}

std::vector<const json::object*> get_object_array(const json::object& o, std::string_view key) {
  std::vector<const json::object*> out;
  if (const json::array* a = json::get_array(o, key)) {
    out.reserve(a->size());
    for (const json::value& v : *a) {
      if (v.is_object()) out.push_back(&v.get_object());
    }
  }
  return out;
}

std::optional<IntOrString> get_int_or_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return IntOrString{false, 0, sv(v->get_string())};
  if (std::optional<int64_t> i = json::get_int(o, key)) return IntOrString{true, *i, {}};
  return std::nullopt;
}

Result<Quantity> quantity_from_json(const json::value& v) { return Quantity::from_json(v); }

ResourceListView::ResourceListView(const json::object* list, std::string_view path)
    : list_(list), path_(path) {}

bool ResourceListView::has(std::string_view resource) const {
  return list_ != nullptr && list_->contains(resource);
}

Result<Quantity> ResourceListView::get(std::string_view resource) const {
  const json::value* v = list_ != nullptr ? list_->if_contains(resource) : nullptr;
  if (v == nullptr || v->is_null()) return Quantity();
  auto q = Quantity::from_json(*v);
  if (!q.ok()) {
    return Error(ErrorCode::kInvalidArgument, std::string(path_) + "[" + std::string(resource) +
                                                  "]: " + q.error().message());
  }
  return q;
}

Result<ResourceList> ResourceListView::to_list() const {
  ResourceList out;
  if (list_ == nullptr) return out;
  for (const auto& kv : *list_) {
    if (kv.value().is_null()) continue;
    KL_ASSIGN_OR_RETURN(Quantity q, get(kv.key()));
    out.emplace(std::string(kv.key()), q);
  }
  return out;
}

std::string_view ConditionView::type() const { return json::get_string(*c_, "type"); }
std::string_view ConditionView::status() const { return json::get_string(*c_, "status"); }
std::string_view ConditionView::reason() const { return json::get_string(*c_, "reason"); }
std::string_view ConditionView::message() const { return json::get_string(*c_, "message"); }
std::string_view ConditionView::last_transition_time() const {
  return json::get_string(*c_, "lastTransitionTime");
}
std::string_view ConditionView::last_probe_time() const {
  return json::get_string(*c_, "lastProbeTime");
}
std::string_view ConditionView::last_heartbeat_time() const {
  return json::get_string(*c_, "lastHeartbeatTime");
}

std::vector<ConditionView> get_conditions(const json::object& status) {
  std::vector<ConditionView> out;
  for (const json::object* c : get_object_array(status, "conditions")) out.emplace_back(*c);
  return out;
}

std::optional<ConditionView> find_condition(const json::object& status, std::string_view type) {
  for (const json::object* c : get_object_array(status, "conditions")) {
    if (json::get_string(*c, "type") == type) return ConditionView(*c);
  }
  return std::nullopt;
}

// ---- metadata ---------------------------------------------------------------------------

json::object OwnerReference::to_json() const {
  json::object o;
  o["apiVersion"] = api_version;
  o["kind"] = kind;
  o["name"] = name;
  o["uid"] = uid;
  if (controller) o["controller"] = true;
  if (block_owner_deletion) o["blockOwnerDeletion"] = true;
  return o;
}

Meta::Meta(const json::object& obj) : obj_(&obj) {}

const json::object& Meta::raw() const { return object_or_empty(*obj_, "metadata"); }

std::string_view Meta::name() const { return json::get_string(raw(), "name"); }
std::string_view Meta::generate_name() const { return json::get_string(raw(), "generateName"); }
std::string_view Meta::namespace_() const { return json::get_string(raw(), "namespace"); }
std::string_view Meta::uid() const { return json::get_string(raw(), "uid"); }
std::string_view Meta::resource_version() const {
  return json::get_string(raw(), "resourceVersion");
}
int64_t Meta::generation() const { return json::get_int_or(raw(), "generation", 0); }
std::string_view Meta::creation_timestamp() const {
  return json::get_string(raw(), "creationTimestamp");
}
std::string_view Meta::deletion_timestamp() const {
  return json::get_string(raw(), "deletionTimestamp");
}
std::optional<int64_t> Meta::deletion_grace_period_seconds() const {
  return json::get_int(raw(), "deletionGracePeriodSeconds");
}

const json::object* Meta::labels() const { return json::get_object(raw(), "labels"); }
const json::object* Meta::annotations() const { return json::get_object(raw(), "annotations"); }
std::optional<std::string_view> Meta::label(std::string_view key) const {
  return map_lookup(labels(), key);
}
std::optional<std::string_view> Meta::annotation(std::string_view key) const {
  return map_lookup(annotations(), key);
}

std::vector<OwnerReference> Meta::owner_references() const {
  std::vector<OwnerReference> out;
  for (const json::object* o : get_object_array(raw(), "ownerReferences")) {
    out.push_back(owner_reference_from(*o));
  }
  return out;
}

std::optional<OwnerReference> Meta::controller_ref() const {
  for (const json::object* o : get_object_array(raw(), "ownerReferences")) {
    if (json::get_bool_or(*o, "controller", false)) return owner_reference_from(*o);
  }
  return std::nullopt;
}

std::vector<std::string_view> Meta::finalizers() const {
  return get_string_array(raw(), "finalizers");
}

bool Meta::has_finalizer(std::string_view f) const {
  auto all = finalizers();
  return std::find(all.begin(), all.end(), f) != all.end();
}

MutableMeta::MutableMeta(json::object& obj) : Meta(obj), mobj_(&obj) {}

json::object& MutableMeta::raw() { return json::ensure_object(*mobj_, "metadata"); }

void MutableMeta::set_name(std::string_view v) { raw()["name"] = v; }
void MutableMeta::set_generate_name(std::string_view v) { raw()["generateName"] = v; }
void MutableMeta::set_namespace(std::string_view v) { raw()["namespace"] = v; }
void MutableMeta::set_uid(std::string_view v) { raw()["uid"] = v; }
void MutableMeta::set_resource_version(std::string_view v) { raw()["resourceVersion"] = v; }
void MutableMeta::set_generation(int64_t v) { raw()["generation"] = v; }
void MutableMeta::set_creation_timestamp(std::string_view rfc3339) {
  raw()["creationTimestamp"] = rfc3339;
}
void MutableMeta::set_deletion_timestamp(std::string_view rfc3339) {
  raw()["deletionTimestamp"] = rfc3339;
}
void MutableMeta::set_deletion_grace_period_seconds(int64_t v) {
  raw()["deletionGracePeriodSeconds"] = v;
}

void MutableMeta::set_label(std::string_view key, std::string_view value) {
  json::ensure_object(raw(), "labels")[key] = value;
}
bool MutableMeta::remove_label(std::string_view key) {
  return remove_map_key(json::get_object(*mobj_, "metadata"), "labels", key);
}
void MutableMeta::set_annotation(std::string_view key, std::string_view value) {
  json::ensure_object(raw(), "annotations")[key] = value;
}
bool MutableMeta::remove_annotation(std::string_view key) {
  return remove_map_key(json::get_object(*mobj_, "metadata"), "annotations", key);
}

void MutableMeta::add_finalizer(std::string_view f) {
  if (has_finalizer(f)) return;
  json::ensure_array(raw(), "finalizers").emplace_back(f);
}

bool MutableMeta::remove_finalizer(std::string_view f) {
  json::object* meta = json::get_object(*mobj_, "metadata");
  json::array* a = meta != nullptr ? json::get_array(*meta, "finalizers") : nullptr;
  if (a == nullptr) return false;
  bool removed = false;
  for (auto it = a->begin(); it != a->end();) {
    if (it->is_string() && sv(it->get_string()) == f) {
      it = a->erase(it);
      removed = true;
    } else {
      ++it;
    }
  }
  if (removed) drop_if_empty(*meta, "finalizers");
  return removed;
}

void MutableMeta::set_owner_references(const std::vector<OwnerReference>& refs) {
  if (refs.empty()) {
    if (json::object* meta = json::get_object(*mobj_, "metadata")) meta->erase("ownerReferences");
    return;
  }
  json::array a;
  a.reserve(refs.size());
  for (const OwnerReference& r : refs) a.emplace_back(r.to_json());
  raw()["ownerReferences"] = std::move(a);
}

// ---- decoding ---------------------------------------------------------------------------

Result<void> check_object_shape(const json::value& v) {
  if (!v.is_object()) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected a JSON object, got " + std::string(json_type(v)));
  }
  const json::object& o = v.get_object();
  if (const json::value* f = o.if_contains("apiVersion")) KL_TRY(check_string(*f, "apiVersion"));
  if (const json::value* f = o.if_contains("kind")) KL_TRY(check_string(*f, "kind"));
  if (const json::value* f = o.if_contains("metadata")) KL_TRY(check_metadata(*f));
  return Ok();
}

Result<json::object> decode_object(std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed.ok()) return Error(ErrorCode::kInvalidArgument, parsed.error().message());
  KL_TRY(check_object_shape(*parsed));
  return std::move(parsed->get_object());
}

std::string encode_object(const json::object& obj) { return json::dump(obj); }

std::string_view api_version(const json::object& obj) {
  return json::get_string(obj, "apiVersion");
}
std::string_view kind(const json::object& obj) { return json::get_string(obj, "kind"); }

std::string_view api_group(std::string_view api_version) {
  std::size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view{} : api_version.substr(0, slash);
}

}  // namespace kernlet::api
