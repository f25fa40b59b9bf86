#include "api/patch.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

#include "api/patch_schema.h"

namespace kernlet::api {
namespace {

using patch_internal::FieldStrategy;
using patch_internal::SchemaNode;

// Recursion guard for documents built in memory (json::parse already stops at 100).
constexpr int kMaxDepth = 1000;

Error too_deep() { return Error(ErrorCode::kInvalidArgument, "patch nests too deeply"); }

// A value for an error message, cut short: errors must not echo megabytes of patch.
std::string brief(const json::value& v) {
  std::string s = json::dump(v);
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

std::string kind_name(const json::value& v) {
  return std::string(boost::json::to_string(v.kind()));
}

// ---------------------------------------------------------------------------------------
// RFC 7386

Result<json::value> merge_patch(const json::value* target, const json::value& patch, int depth) {
  if (depth > kMaxDepth) return too_deep();
  if (!patch.is_object()) return patch;
  json::object result;
  if (target != nullptr && target->is_object()) result = target->get_object();
  for (const auto& member : patch.get_object()) {
    if (member.value().is_null()) {
      result.erase(member.key());
      continue;
    }
    KL_ASSIGN_OR_RETURN(json::value merged,
                        merge_patch(result.if_contains(member.key()), member.value(), depth + 1));
    result[member.key()] = std::move(merged);
  }
  return json::value(std::move(result));
}

// ---------------------------------------------------------------------------------------
// RFC 6902

// RFC 6902 section 4.6 equality: numbers by value, objects regardless of member order.
bool json_equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.to_number<double>() == b.to_number<double>();
    if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
    if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
    const json::value& s = a.is_int64() ? a : b;
    const json::value& u = a.is_int64() ? b : a;
    return s.get_int64() >= 0 && static_cast<uint64_t>(s.get_int64()) == u.get_uint64();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case boost::json::kind::array: {
      const json::array& x = a.get_array();
      const json::array& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!json_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case boost::json::kind::object: {
      const json::object& x = a.get_object();
      const json::object& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& m : x) {
        const json::value* other = y.if_contains(m.key());
        if (other == nullptr || !json_equal(m.value(), *other)) return false;
      }
      return true;
    }
    default: return a == b;
  }
}

std::string_view op_name(JsonPatchOperation::Op op) {
  switch (op) {
    case JsonPatchOperation::Op::kAdd: return "add";
    case JsonPatchOperation::Op::kRemove: return "remove";
    case JsonPatchOperation::Op::kReplace: return "replace";
    case JsonPatchOperation::Op::kMove: return "move";
    case JsonPatchOperation::Op::kCopy: return "copy";
    case JsonPatchOperation::Op::kTest: return "test";
  }
  return "?";
}

// The reference tokens of a JSON pointer, unescaped; nullopt when it is not a pointer.
std::optional<std::vector<std::string>> parse_pointer(std::string_view ptr) {
  std::vector<std::string> tokens;
  if (ptr.empty()) return tokens;
  if (ptr[0] != '/') return std::nullopt;
  std::size_t pos = 1;
  while (true) {
    std::size_t slash = ptr.find('/', pos);
    std::string_view raw = ptr.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token.push_back(raw[i]);
        continue;
      }
      if (i + 1 >= raw.size() || (raw[i + 1] != '0' && raw[i + 1] != '1')) return std::nullopt;
      token.push_back(raw[i + 1] == '0' ? '~' : '/');
      ++i;
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return tokens;
}

// An RFC 6901 array index: digits without a leading zero.
std::optional<std::size_t> parse_index(std::string_view token) {
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  std::size_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

// Applies one operation at a time to a working document; errors are bare reasons, the
// caller prefixes the operation.
class JsonPatcher {
 public:
  explicit JsonPatcher(json::value doc) : doc_(std::move(doc)) {}

  json::value release() { return std::move(doc_); }

  Result<void> apply(const JsonPatchOperation& op) {
    auto path = parse_pointer(op.path);
    if (!path) return conflict("invalid JSON pointer " + quote(op.path));
    switch (op.op) {
      case JsonPatchOperation::Op::kAdd: return add(*path, op.value);
      case JsonPatchOperation::Op::kRemove: {
        KL_TRY(remove(*path));
        return Ok();
      }
      case JsonPatchOperation::Op::kReplace: {
        KL_ASSIGN_OR_RETURN(json::value * target, find(*path));
        *target = op.value;
        return Ok();
      }
      case JsonPatchOperation::Op::kTest: {
        KL_ASSIGN_OR_RETURN(json::value * target, find(*path));
        if (!json_equal(*target, op.value)) return conflict("test failed");
        return Ok();
      }
      case JsonPatchOperation::Op::kMove:
      case JsonPatchOperation::Op::kCopy: {
        auto from = parse_pointer(op.from);
        if (!from) return conflict("invalid JSON pointer " + quote(op.from));
        if (op.op == JsonPatchOperation::Op::kMove) {
          if (*from == *path) {
            KL_TRY(find(*from).ok() ? Result<void>() : from_error(*from));
            return Ok();
          }
          if (path->size() > from->size() && std::equal(from->begin(), from->end(), path->begin())) {
            return conflict("cannot move " + op.from + " into its own child " + op.path);
          }
          auto moved = remove(*from);
          if (!moved.ok()) return from_error(*from);
          return add(*path, std::move(*moved));
        }
        auto source = find(*from);
        if (!source.ok()) return from_error(*from);
        json::value copy = **source;
        copied_bytes_ += json::dump(copy).size();
        if (copied_bytes_ > kMaxJsonPatchCopyBytes) {
          return conflict("unable to complete the copy, the accumulated size increase of copy is " +
                          std::to_string(copied_bytes_) + ", exceeding the limit " +
                          std::to_string(kMaxJsonPatchCopyBytes));
        }
        return add(*path, std::move(copy));
      }
    }
    return conflict("unknown operation");
  }

 private:
  static Error conflict(std::string msg) { return Error(ErrorCode::kConflict, std::move(msg)); }
  static std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }
  static Error from_error(const std::vector<std::string>& from) {
    std::string p;
    for (const auto& t : from) p += "/" + t;
    return conflict("from " + quote(p) + ": path not found");
  }

  // The container holding the last token of `path` (the document root for "").
  Result<json::value*> parent(const std::vector<std::string>& path) {
    json::value* cur = &doc_;
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
      KL_ASSIGN_OR_RETURN(cur, step(cur, path[i]));
    }
    return cur;
  }

  static Result<json::value*> step(json::value* cur, const std::string& token) {
    if (json::object* o = cur->if_object()) {
      json::value* next = o->if_contains(token);
      if (next == nullptr) return conflict("path not found");
      return next;
    }
    if (json::array* a = cur->if_array()) {
      auto idx = parse_index(token);
      if (!idx || *idx >= a->size()) return conflict("path not found");
      return &(*a)[*idx];
    }
    return conflict("path not found");
  }

  Result<json::value*> find(const std::vector<std::string>& path) {
    json::value* cur = &doc_;
    for (const auto& token : path) {
      KL_ASSIGN_OR_RETURN(cur, step(cur, token));
    }
    return cur;
  }

  Result<void> add(const std::vector<std::string>& path, json::value value) {
    if (path.empty()) {
      doc_ = std::move(value);
      return Ok();
    }
    KL_ASSIGN_OR_RETURN(json::value * p, parent(path));
    const std::string& last = path.back();
    if (json::object* o = p->if_object()) {
      (*o)[last] = std::move(value);
      return Ok();
    }
    if (json::array* a = p->if_array()) {
      if (last == "-") {
        a->push_back(std::move(value));
        return Ok();
      }
      auto idx = parse_index(last);
      if (!idx || *idx > a->size()) return conflict("array index " + quote(last) + " out of range");
      a->insert(a->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
      return Ok();
    }
    return conflict("path not found");
  }

  Result<json::value> remove(const std::vector<std::string>& path) {
    if (path.empty()) return conflict("cannot remove the whole document");
    KL_ASSIGN_OR_RETURN(json::value * p, parent(path));
    const std::string& last = path.back();
    if (json::object* o = p->if_object()) {
      auto it = o->find(last);
      if (it == o->end()) return conflict("path not found");
      json::value out = std::move(it->value());
      o->erase(it);
      return out;
    }
    if (json::array* a = p->if_array()) {
      auto idx = parse_index(last);
      if (!idx || *idx >= a->size()) return conflict("path not found");
      json::value out = std::move((*a)[*idx]);
      a->erase(a->begin() + static_cast<std::ptrdiff_t>(*idx));
      return out;
    }
    return conflict("path not found");
  }

  json::value doc_;
  std::size_t copied_bytes_ = 0;
};

// ---------------------------------------------------------------------------------------
// Strategic merge patch

constexpr std::string_view kDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList";
constexpr std::string_view kSetElementOrder = "$setElementOrder";

Error bad_request(std::string msg) { return Error(ErrorCode::kInvalidArgument, std::move(msg)); }
Error unprocessable(std::string msg) { return Error(ErrorCode::kConflict, std::move(msg)); }
Error internal(std::string msg) { return Error(ErrorCode::kInternal, std::move(msg)); }

Error at(const std::string& path, Error e) {
  if (path.empty()) return e;
  return std::move(e).context(path);
}

std::string join_path(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

// A stand-in for Go's dynamic type: the apiserver decodes patches keeping integers
// (int64) apart from floats, so 1 and 1.0 differ in type, and `==` on values follows.
enum class GoType { kNull, kBool, kInt, kFloat, kString, kArray, kObject };

GoType go_type(const json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return GoType::kNull;
    case boost::json::kind::bool_: return GoType::kBool;
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return GoType::kInt;
    case boost::json::kind::double_: return GoType::kFloat;
    case boost::json::kind::string: return GoType::kString;
    case boost::json::kind::array: return GoType::kArray;
    case boost::json::kind::object: return GoType::kObject;
  }
  return GoType::kNull;
}

// A hashable identity with Go's `==` meaning for scalars (serialization keeps int and
// float apart: 80 vs 8E1).
std::string identity(const json::value& v) { return json::dump(v); }

bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

const json::value* directive_of(const json::value& v) {
  const json::object* o = v.if_object();
  return o == nullptr ? nullptr : o->if_contains(kDirective);
}

bool is_delete_directive(const json::value& v) {
  const json::value* d = directive_of(v);
  return d != nullptr && d->is_string() && d->get_string() == "delete";
}

// Drops maps carrying a $patch directive (and the members or elements holding them);
// nullopt when `v` itself is such a map.
std::optional<json::value> remove_directives(json::value v) {
  if (json::object* o = v.if_object()) {
    if (o->contains(kDirective)) return std::nullopt;
    for (auto it = o->begin(); it != o->end();) {
      auto kept = remove_directives(std::move(it->value()));
      if (kept) {
        it->value() = std::move(*kept);
        ++it;
      } else {
        it = o->erase(it);
      }
    }
  } else if (json::array* a = v.if_array()) {
    json::array out;
    for (auto& e : *a) {
      if (auto kept = remove_directives(std::move(e))) out.push_back(std::move(*kept));
    }
    *a = std::move(out);
  }
  return v;
}

// Null members go, at any depth, when a patch value lands where the original had nothing.
void discard_nulls(json::value& v) {
  if (json::object* o = v.if_object()) {
    for (auto it = o->begin(); it != o->end();) {
      if (it->value().is_null()) {
        it = o->erase(it);
      } else {
        discard_nulls(it->value());
        ++it;
      }
    }
  } else if (json::array* a = v.if_array()) {
    for (auto& e : *a) discard_nulls(e);
  }
}

Error no_merge_key(const json::value& v, std::string_view key) {
  return internal("map: " + brief(v) + " does not contain declared merge key: " +
                  std::string(key));
}

// The merge key value of a list element, or an error when it is not a map holding it.
Result<const json::value*> merge_key_of(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  if (o == nullptr) return internal("expected a map, but received a " + kind_name(v));
  const json::value* k = o->if_contains(key);
  if (k == nullptr) return no_merge_key(v, key);
  return k;
}

// The identity a list element is compared by: its merge key value, or itself.
std::optional<std::string> element_identity(const json::value& v, std::string_view merge_key) {
  if (merge_key.empty()) return identity(v);
  const json::object* o = v.if_object();
  if (o == nullptr) return std::nullopt;
  const json::value* k = o->if_contains(merge_key);
  if (k == nullptr) return std::nullopt;
  return identity(*k);
}

// Positions of the first element with each identity.
class ListIndex {
 public:
  ListIndex(const json::array& list, std::string_view merge_key) : key_(merge_key) {
    for (std::size_t i = 0; i < list.size(); ++i) add(list[i], i);
  }
  void add(const json::value& v, std::size_t pos) {
    if (auto id = element_identity(v, key_)) pos_.emplace(std::move(*id), pos);
  }
  std::optional<std::size_t> find(const json::value& v) const {
    auto id = element_identity(v, key_);
    if (!id) return std::nullopt;
    auto it = pos_.find(*id);
    if (it == pos_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::string key_;
  std::unordered_map<std::string, std::size_t> pos_;
};

// The common element type of the lists: lists of lists and mixed lists are refused.
Result<GoType> element_type(std::initializer_list<const json::array*> lists) {
  std::optional<GoType> type;
  for (const json::array* list : lists) {
    for (const auto& v : *list) {
      GoType t = go_type(v);
      if (!type) {
        if (t == GoType::kArray) return unprocessable("lists of lists are not supported");
        if (t == GoType::kNull) return internal("list elements may not be null");
        type = t;
      } else if (*type != t) {
        return internal("list element types are not identical");
      }
    }
  }
  if (!type) return internal("no elements in any of the given slices");
  return *type;
}

// Splits `list` into elements present in `by` and the rest, keeping order.
Result<std::pair<json::array, json::array>> partition(const json::array& list, const json::array& by,
                                                      std::string_view merge_key) {
  ListIndex index(by, merge_key);
  json::array in;
  json::array out;
  for (const auto& v : list) {
    if (!merge_key.empty()) KL_TRY(merge_key_of(v, merge_key));
    (index.find(v) ? in : out).push_back(v);
  }
  return std::pair(std::move(in), std::move(out));
}

// Stable sort of `list` by position in `order`; deleted map elements go last. Elements
// absent from `order` (only in degenerate patches) keep their order after the rest.
Result<json::array> sort_by(json::array list, const json::array& order, std::string_view merge_key,
                            bool maps) {
  json::array deleted;
  if (maps) {
    for (const json::array* l : {static_cast<const json::array*>(&list), &order}) {
      for (const auto& v : *l) KL_TRY(merge_key_of(v, merge_key));
    }
    json::array kept;
    for (auto& v : list) (is_delete_directive(v) ? deleted : kept).push_back(std::move(v));
    list = std::move(kept);
  }
  ListIndex index(order, merge_key);
  std::vector<std::pair<std::size_t, std::size_t>> ranks;  // (rank, original position)
  for (std::size_t i = 0; i < list.size(); ++i) {
    ranks.emplace_back(index.find(list[i]).value_or(std::numeric_limits<std::size_t>::max()), i);
  }
  std::stable_sort(ranks.begin(), ranks.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  out.reserve(list.size() + deleted.size());
  for (const auto& r : ranks) out.push_back(std::move(list[r.second]));
  for (auto& v : deleted) out.push_back(std::move(v));
  return out;
}

// Interleaves server-only items into the patch items: the relative order of each is
// kept, and where both are in the live list, the live order decides.
json::array merge_sorted(json::array left, json::array right, const json::array& server_order,
                         std::string_view merge_key) {
  ListIndex index(server_order, merge_key);
  json::array out;
  out.reserve(left.size() + right.size());
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < left.size() || j < right.size()) {
    if (i >= left.size()) {
      out.push_back(std::move(right[j++]));
    } else if (j >= right.size()) {
      out.push_back(std::move(left[i++]));
    } else {
      auto li = index.find(left[i]);
      auto ri = index.find(right[j]);
      if (li && ri && *li < *ri) {
        out.push_back(std::move(left[i++]));
      } else {
        out.push_back(std::move(right[j++]));
      }
    }
  }
  return out;
}

Result<json::array> normalize_order(json::array patch_items, json::array server_only,
                                    const json::array& patch_order,
                                    const json::array& server_order, std::string_view merge_key,
                                    GoType type) {
  bool maps = type == GoType::kObject;
  KL_ASSIGN_OR_RETURN(patch_items, sort_by(std::move(patch_items), patch_order, merge_key, maps));
  KL_ASSIGN_OR_RETURN(server_only, sort_by(std::move(server_only), server_order, merge_key, maps));
  return merge_sorted(std::move(server_only), std::move(patch_items), server_order, merge_key);
}

class StrategicMerger {
 public:
  Result<json::object> merge_map(json::object original, json::object patch, const SchemaNode* schema,
                                 const std::string& path, int depth) {
    if (depth > kMaxDepth) return too_deep();
    if (const json::value* d = patch.if_contains(kDirective)) {
      if (d->is_string() && d->get_string() == "replace") {
        patch.erase(kDirective);
        return patch;
      }
      if (d->is_string() && d->get_string() == "delete") return json::object();
      return at(path, internal("unknown patch type: " + brief(*d) + " in map: " +
                               brief(json::value(patch))));
    }
    KL_TRY(retain_keys(original, patch, path));
    KL_TRY(set_element_order(original, patch, schema, path, depth));

    for (auto& member : patch) {
      std::string key(member.key());
      json::value& patch_value = member.value();
      bool delete_list = false;
      if (has_prefix(key, kDeleteFromPrimitiveList)) {
        auto slash = key.find('/');
        if (slash == std::string::npos || key.substr(0, slash) != kDeleteFromPrimitiveList) {
          return at(path, bad_request("invalid patch format of primitive list"));
        }
        delete_list = true;
        if (slash + 1 < key.size()) key = key.substr(slash + 1);
      }
      if (patch_value.is_null()) {
        original.erase(key);
        continue;
      }
      json::value* orig = original.if_contains(key);
      if (orig == nullptr || go_type(*orig) != go_type(patch_value)) {
        if (!delete_list) {
          discard_nulls(patch_value);
          if (auto kept = remove_directives(std::move(patch_value))) {
            original[key] = std::move(*kept);
          } else {
            original.erase(key);
          }
        }
        continue;
      }
      const SchemaNode* field = schema == nullptr ? nullptr : schema->child(key);
      FieldStrategy strategy = field == nullptr ? FieldStrategy::kDefault : field->strategy;
      std::string field_path = join_path(path, key);
      if (orig->is_object()) {
        if (strategy == FieldStrategy::kReplace) {
          *orig = std::move(patch_value);
        } else {
          KL_ASSIGN_OR_RETURN(json::object merged,
                              merge_map(std::move(orig->get_object()),
                                        std::move(patch_value.get_object()), field, field_path,
                                        depth + 1));
          original[key] = std::move(merged);
        }
      } else if (orig->is_array()) {
        KL_ASSIGN_OR_RETURN(json::array merged,
                            merge_list_field(std::move(orig->get_array()),
                                             std::move(patch_value.get_array()), field,
                                             delete_list, field_path, depth + 1));
        original[key] = std::move(merged);
      } else {
        *orig = std::move(patch_value);
      }
    }
    return original;
  }

 private:
  // A list field: merged when its strategy says so (or it is a deletion list), else the
  // patch value replaces it as is.
  Result<json::array> merge_list_field(json::array original, json::array patch,
                                       const SchemaNode* field, bool delete_list,
                                       const std::string& path, int depth) {
    bool merge = field != nullptr && field->strategy == FieldStrategy::kMerge;
    if (!merge && !delete_list) return patch;
    return merge_list(std::move(original), std::move(patch), field, delete_list, path, depth);
  }

  Result<json::array> merge_list(json::array original, json::array patch, const SchemaNode* field,
                                 bool delete_list, const std::string& path, int depth) {
    if (original.empty() && patch.empty()) return original;
    auto type = element_type({&original, &patch});
    if (!type.ok()) return at(path, std::move(type).error());
    std::string_view merge_key = field == nullptr ? std::string_view() : field->merge_key;
    json::array merged;
    if (*type != GoType::kObject) {
      if (delete_list) return delete_from(std::move(original), patch);
      merged = original;
      for (const auto& v : patch) merged.push_back(v);
      merged = dedupe(std::move(merged));
    } else {
      if (merge_key.empty()) {
        return at(path, internal("cannot merge lists without merge key"));
      }
      auto special = apply_special_elements(std::move(original), std::move(patch), merge_key);
      if (!special.ok()) return at(path, std::move(special).error());
      original = std::move(special->first);
      patch = std::move(special->second);
      KL_ASSIGN_OR_RETURN(merged, merge_elements(original, patch, field, merge_key, path, depth));
    }
    auto parts = partition(merged, patch, merge_key);
    if (!parts.ok()) return at(path, std::move(parts).error());
    auto ordered = normalize_order(std::move(parts->first), std::move(parts->second), patch,
                                   original, merge_key, *type);
    if (!ordered.ok()) return at(path, std::move(ordered).error());
    return std::move(*ordered);
  }

  static json::array dedupe(json::array list) {
    json::array out;
    std::unordered_map<std::string, bool> seen;
    for (auto& v : list) {
      if (seen.emplace(identity(v), true).second) out.push_back(std::move(v));
    }
    return out;
  }

  static json::array delete_from(json::array current, const json::array& to_delete) {
    ListIndex index(to_delete, "");
    json::array out;
    for (auto& v : current) {
      if (!index.find(v)) out.push_back(std::move(v));
    }
    return out;
  }

  // Handles elements carrying $patch: delete removes the elements with its merge key,
  // replace makes the other patch elements the whole list. Returns (original, patch).
  static Result<std::pair<json::array, json::array>> apply_special_elements(
      json::array original, json::array patch, std::string_view merge_key) {
    json::array plain;
    bool replace = false;
    for (auto& v : patch) {
      const json::value* d = directive_of(v);
      if (d == nullptr) {
        plain.push_back(std::move(v));
        continue;
      }
      if (d->is_string() && d->get_string() == "delete") {
        const json::value* key = v.get_object().if_contains(merge_key);
        if (key == nullptr) return no_merge_key(v, merge_key);
        std::string id = identity(*key);
        json::array kept;
        for (auto& o : original) {
          auto oid = element_identity(o, merge_key);
          if (!oid || *oid != id) kept.push_back(std::move(o));
        }
        original = std::move(kept);
      } else if (d->is_string() && d->get_string() == "replace") {
        replace = true;
      } else if (d->is_string() && d->get_string() == "merge") {
        return internal("merging lists cannot yet be specified in the patch");
      } else {
        return internal("unknown patch type: " + brief(*d) + " in map: " + brief(v));
      }
    }
    if (replace) return std::pair(std::move(plain), json::array());
    return std::pair(std::move(original), std::move(plain));
  }

  // Merges each patch element into the original element with the same merge key, or
  // appends it (as sent: directives inside a new element are not interpreted).
  Result<json::array> merge_elements(json::array original, const json::array& patch,
                                     const SchemaNode* field, std::string_view merge_key,
                                     const std::string& path, int depth) {
    ListIndex index(original, merge_key);
    for (const auto& v : patch) {
      auto key = merge_key_of(v, merge_key);
      if (!key.ok()) return at(path, std::move(key).error());
      if (auto pos = index.find(v)) {
        json::value& target = original[*pos];
        if (!target.is_object()) return at(path, internal("value for key is not a map"));
        KL_ASSIGN_OR_RETURN(json::object merged,
                            merge_map(std::move(target.get_object()), v.get_object(), field,
                                      path, depth + 1));
        original[*pos] = std::move(merged);
      } else {
        original.push_back(v);
        index.add(original.back(), original.size() - 1);
      }
    }
    return original;
  }

  // $retainKeys: keys of the original missing from the list are cleared; every key the
  // patch sets must be in the list.
  static Result<void> retain_keys(json::object& original, json::object& patch,
                                  const std::string& path) {
    auto it = patch.find(kRetainKeys);
    if (it == patch.end()) return Ok();
    json::value list = std::move(it->value());
    patch.erase(it);
    if (!list.is_array()) return at(path, bad_request("invalid patch format of retainKeys"));
    auto retained = [&](std::string_view k) {
      for (const auto& v : list.get_array()) {
        if (v.is_string() && v.get_string() == k) return true;
      }
      return false;
    };
    for (const auto& m : patch) {
      if (m.value().is_null() || has_prefix(m.key(), kDeleteFromPrimitiveList) ||
          has_prefix(m.key(), kSetElementOrder)) {
        continue;
      }
      if (!retained(m.key())) return at(path, bad_request("invalid patch format of retainKeys"));
    }
    for (auto o = original.begin(); o != original.end();) {
      if (retained(o->key())) {
        ++o;
      } else {
        o = original.erase(o);
      }
    }
    return Ok();
  }

  // $setElementOrder/<list>: merges that list (taking it out of the patch) and orders the
  // result: the directive's order first, then the patch's, then the live list's.
  Result<void> set_element_order(json::object& original, json::object& patch,
                                 const SchemaNode* schema, const std::string& path, int depth) {
    std::vector<std::string> keys;
    for (const auto& m : patch) {
      if (has_prefix(m.key(), kSetElementOrder)) keys.emplace_back(m.key());
    }
    for (const std::string& directive_key : keys) {
      json::value order_value = std::move(patch[directive_key]);
      patch.erase(directive_key);
      if (!order_value.is_array()) {
        return at(path, internal("expected a []interface {}, but received a " +
                                 kind_name(order_value)));
      }
      const json::array& order = order_value.get_array();
      auto slash = directive_key.find('/');
      if (slash == std::string::npos || directive_key.substr(0, slash) != kSetElementOrder) {
        return at(path, bad_request("invalid patch format of setElementOrder list"));
      }
      std::string key = directive_key.substr(slash + 1);
      std::string field_path = join_path(path, key);

      const json::value* orig_value = original.if_contains(key);
      const json::value* patch_value = patch.if_contains(key);
      if (orig_value != nullptr && !orig_value->is_array()) {
        return at(field_path, internal("expected a []interface {}, but received a " +
                                       kind_name(*orig_value)));
      }
      if (patch_value != nullptr && !patch_value->is_array()) {
        return at(field_path, internal("expected a []interface {}, but received a " +
                                       kind_name(*patch_value)));
      }
      json::array orig_list = orig_value != nullptr ? orig_value->get_array() : json::array();
      json::array patch_list = patch_value != nullptr ? patch_value->get_array() : json::array();
      const SchemaNode* field = schema == nullptr ? nullptr : schema->child(key);
      std::string_view merge_key = field == nullptr ? std::string_view() : field->merge_key;

      auto valid = validate_order(patch_list, order, merge_key);
      if (!valid.ok()) return at(field_path, std::move(valid).error());

      json::array merged;
      if (orig_value != nullptr && patch_value == nullptr) {
        merged = orig_list;
      } else if (orig_value == nullptr && patch_value != nullptr) {
        merged = remove_directives(json::value(patch_list))->get_array();
      } else if (orig_value != nullptr && patch_value != nullptr) {
        KL_ASSIGN_OR_RETURN(merged, merge_list_field(orig_list, patch_list, field, false,
                                                     field_path, depth + 1));
      } else {
        continue;
      }
      auto parts = partition(merged, order, merge_key);
      if (!parts.ok()) return at(field_path, std::move(parts).error());
      auto type = element_type({&orig_list, &patch_list});
      if (!type.ok()) return at(field_path, std::move(type).error());
      auto ordered = normalize_order(std::move(parts->first), std::move(parts->second), order,
                                     orig_list, merge_key, *type);
      if (!ordered.ok()) return at(field_path, std::move(ordered).error());
      original[key] = std::move(*ordered);
      patch.erase(key);
    }
    return Ok();
  }

  // The patch list's elements (deletions and directives aside) must appear in the
  // $setElementOrder list, in the same relative order.
  static Result<void> validate_order(const json::array& patch_list, const json::array& order,
                                     std::string_view merge_key) {
    if (patch_list.empty() || order.empty()) return Ok();
    std::vector<const json::value*> items;
    for (const auto& v : patch_list) {
      if (!merge_key.empty()) {
        if (!v.is_object()) return internal("expected a map, but received a " + kind_name(v));
        if (is_delete_directive(v)) continue;
      }
      items.push_back(&v);
    }
    std::size_t p = 0;
    std::size_t o = 0;
    while (p < items.size() && o < order.size()) {
      if (directive_of(*items[p]) != nullptr) {
        ++p;
        continue;
      }
      bool equal;
      if (merge_key.empty()) {
        equal = identity(*items[p]) == identity(order[o]);
      } else {
        KL_ASSIGN_OR_RETURN(const json::value* pk, merge_key_of(*items[p], merge_key));
        KL_ASSIGN_OR_RETURN(const json::value* ok, merge_key_of(order[o], merge_key));
        equal = identity(*pk) == identity(*ok);
      }
      if (equal) ++p;
      ++o;
    }
    if (p < items.size()) {
      return internal("the order in patch list " + brief(json::value(patch_list)) +
                      " doesn't match $setElementOrder list " + brief(json::value(order)));
    }
    return Ok();
  }
};

std::string_view group_of(std::string_view api_version) {
  auto slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

}  // namespace

Result<PatchType> patch_type_from_content_type(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  if (media == "application/json-patch+json") return PatchType::kJson;
  if (media == "application/merge-patch+json") return PatchType::kMerge;
  if (media == "application/strategic-merge-patch+json") return PatchType::kStrategicMerge;
  return Error(ErrorCode::kInvalidArgument,
               "unsupported patch content type \"" + std::string(content_type) + "\"");
}

Result<json::value> apply_merge_patch(const json::value& original, const json::value& patch) {
  return merge_patch(&original, patch, 0);
}

Result<std::vector<JsonPatchOperation>> decode_json_patch(const json::value& patch) {
  const json::array* ops = patch.if_array();
  if (ops == nullptr) {
    return Error(ErrorCode::kInvalidArgument,
                 "json patch must be a JSON array of operations, got " + kind_name(patch));
  }
  if (ops->size() > kMaxJsonPatchOperations) {
    return Error(ErrorCode::kResourceExhausted,
                 "The allowed maximum operations in a JSON patch is " +
                     std::to_string(kMaxJsonPatchOperations) + ", got " +
                     std::to_string(ops->size()));
  }
  std::vector<JsonPatchOperation> out;
  out.reserve(ops->size());
  for (std::size_t i = 0; i < ops->size(); ++i) {
    std::string where = "json patch operation " + std::to_string(i);
    auto bad = [&](std::string why) {
      return Error(ErrorCode::kInvalidArgument, where + ": " + why);
    };
    const json::object* o = (*ops)[i].if_object();
    if (o == nullptr) return bad("expected an object, got " + kind_name((*ops)[i]));
    const json::value* op = o->if_contains("op");
    if (op == nullptr || !op->is_string()) return bad("missing \"op\"");
    JsonPatchOperation parsed{};
    std::string_view name = op->get_string();
    if (name == "add") {
      parsed.op = JsonPatchOperation::Op::kAdd;
    } else if (name == "remove") {
      parsed.op = JsonPatchOperation::Op::kRemove;
    } else if (name == "replace") {
      parsed.op = JsonPatchOperation::Op::kReplace;
    } else if (name == "move") {
      parsed.op = JsonPatchOperation::Op::kMove;
    } else if (name == "copy") {
      parsed.op = JsonPatchOperation::Op::kCopy;
    } else if (name == "test") {
      parsed.op = JsonPatchOperation::Op::kTest;
    } else {
      return bad("unknown op \"" + std::string(name) + "\"");
    }
    const json::value* path = o->if_contains("path");
    if (path == nullptr || !path->is_string()) return bad("missing \"path\"");
    parsed.path = std::string(path->get_string());
    where += " (" + std::string(name) + " " + parsed.path + ")";
    if (parsed.op == JsonPatchOperation::Op::kMove || parsed.op == JsonPatchOperation::Op::kCopy) {
      const json::value* from = o->if_contains("from");
      if (from == nullptr || !from->is_string()) return bad("missing \"from\"");
      parsed.from = std::string(from->get_string());
    }
    if (parsed.op == JsonPatchOperation::Op::kAdd || parsed.op == JsonPatchOperation::Op::kReplace ||
        parsed.op == JsonPatchOperation::Op::kTest) {
      const json::value* value = o->if_contains("value");
      if (value == nullptr) return bad("missing \"value\"");
      parsed.value = *value;
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

Result<json::value> apply_json_patch(const json::value& original,
                                     const std::vector<JsonPatchOperation>& operations) {
  JsonPatcher patcher(original);
  for (std::size_t i = 0; i < operations.size(); ++i) {
    const JsonPatchOperation& op = operations[i];
    auto applied = patcher.apply(op);
    if (!applied.ok()) {
      return std::move(applied).error().context("json patch operation " + std::to_string(i) +
                                                " (" + std::string(op_name(op.op)) + " " +
                                                op.path + ")");
    }
  }
  return patcher.release();
}

Result<json::value> apply_json_patch(const json::value& original, const json::value& patch) {
  KL_ASSIGN_OR_RETURN(auto ops, decode_json_patch(patch));
  return apply_json_patch(original, ops);
}

bool strategic_merge_patch_supported(std::string_view api_version, std::string_view kind) {
  return patch_internal::strategic_schema(group_of(api_version), kind) != nullptr;
}

Result<json::value> apply_strategic_merge_patch(const json::value& original,
                                                const json::value& patch,
                                                std::string_view api_version,
                                                std::string_view kind) {
  const SchemaNode* schema = patch_internal::strategic_schema(group_of(api_version), kind);
  if (schema == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "strategic merge patch format is not supported");
  }
  if (!original.is_object() || !patch.is_object()) {
    return Error(ErrorCode::kInvalidArgument, "invalid JSON document");
  }
  StrategicMerger merger;
  KL_ASSIGN_OR_RETURN(json::object merged,
                      merger.merge_map(original.get_object(), patch.get_object(), schema, "", 0));
  return json::value(std::move(merged));
}

Status patch_error_status(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: return Status::bad_request(e.to_string());
    case ErrorCode::kConflict:
      return Status(422, "Invalid", "the server rejected our request due to an error in our request")
          .with_cause({"UnexpectedServerResponse", e.to_string(), ""});
    case ErrorCode::kResourceExhausted:
      return Status(413, "RequestEntityTooLarge", "Request entity too large: " + e.to_string());
    default: return Status(500, "", e.to_string());
  }
}

}  // namespace kernlet::api
