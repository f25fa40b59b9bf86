#include "api/client/cache.h"

#include <algorithm>
#include <mutex>

#include "api/object.h"

namespace kernlet::client {

std::string object_key(const json::object& obj) {
  api::Meta meta(obj);
  if (meta.namespace_().empty()) return std::string(meta.name());
  std::string key(meta.namespace_());
  key += '/';
  key += meta.name();
  return key;
}

std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {std::string_view(), key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

IndexFunc index_by_namespace() {
  return [](const json::object& o) -> std::vector<std::string> {
    std::string_view ns = api::Meta(o).namespace_();
    if (ns.empty()) return {};
    return {std::string(ns)};
  };
}

IndexFunc index_by_node_name() { return index_by_field("spec.nodeName"); }

IndexFunc index_by_owner_uid() {
  return [](const json::object& o) {
    std::vector<std::string> out;
    for (const auto& ref : api::Meta(o).owner_references()) {
      if (!ref.uid.empty()) out.push_back(ref.uid);
    }
    return out;
  };
}

IndexFunc index_by_field(std::string dotted_path) {
  auto dot = dotted_path.rfind('.');
  std::string parent = dot == std::string::npos ? std::string() : dotted_path.substr(0, dot);
  std::string leaf = dot == std::string::npos ? dotted_path : dotted_path.substr(dot + 1);
  return [parent, leaf](const json::object& o) -> std::vector<std::string> {
    const json::object* p = parent.empty() ? &o : json::get_path(o, parent);
    if (p == nullptr) return {};
    std::string_view v = json::get_string(*p, leaf);
    if (v.empty()) return {};
    return {std::string(v)};
  };
}

void ObjectCache::index_add(const std::string& key, const json::object& obj) {
  for (auto& [name, index] : indexes_) {
    for (auto& v : index.fn(obj)) index.values[std::move(v)].insert(key);
  }
}

void ObjectCache::index_remove(const std::string& key, const json::object& obj) {
  for (auto& [name, index] : indexes_) {
    for (const auto& v : index.fn(obj)) {
      auto it = index.values.find(v);
      if (it == index.values.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.values.erase(it);
    }
  }
}

Result<void> ObjectCache::add_index(std::string name, IndexFunc fn) {
  std::unique_lock lock(mu_);
  if (indexes_.count(name) != 0) {
    return Error(ErrorCode::kAlreadyExists, "cache index \"" + name + "\" already exists");
  }
  Index& index = indexes_[name];
  index.fn = std::move(fn);
  for (const auto& [key, obj] : objects_) {
    for (auto& v : index.fn(*obj)) index.values[std::move(v)].insert(key);
  }
  return Ok();
}

ObjectPtr ObjectCache::upsert(ObjectPtr obj) {
  std::string key = object_key(*obj);
  std::unique_lock lock(mu_);
  auto it = objects_.find(key);
  ObjectPtr old;
  if (it != objects_.end()) {
    old = std::move(it->second);
    index_remove(key, *old);
    it->second = std::move(obj);
    index_add(key, *it->second);
  } else {
    auto [ins, _] = objects_.emplace(key, std::move(obj));
    index_add(key, *ins->second);
  }
  return old;
}

ObjectPtr ObjectCache::erase(std::string_view key) {
  std::unique_lock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr old = std::move(it->second);
  std::string k = it->first;
  objects_.erase(it);
  index_remove(k, *old);
  return old;
}

ObjectPtr ObjectCache::get(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> ObjectCache::list() const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(obj);
  return out;
}

std::vector<std::string> ObjectCache::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(key);
  return out;
}

std::size_t ObjectCache::size() const {
  std::shared_lock lock(mu_);
  return objects_.size();
}

Result<std::vector<std::string>> ObjectCache::index_keys(std::string_view index, std::string_view value) const {
  std::shared_lock lock(mu_);
  auto it = indexes_.find(index);
  if (it == indexes_.end()) return Error(ErrorCode::kNotFound, "cache index \"" + std::string(index) + "\" does not exist");
  auto v = it->second.values.find(std::string(value));
  if (v == it->second.values.end()) return std::vector<std::string>();
  return std::vector<std::string>(v->second.begin(), v->second.end());
}

Result<std::vector<ObjectPtr>> ObjectCache::by_index(std::string_view index, std::string_view value) const {
  std::shared_lock lock(mu_);
  auto it = indexes_.find(index);
  if (it == indexes_.end()) return Error(ErrorCode::kNotFound, "cache index \"" + std::string(index) + "\" does not exist");
  std::vector<ObjectPtr> out;
  auto v = it->second.values.find(std::string(value));
  if (v == it->second.values.end()) return out;
  out.reserve(v->second.size());
  for (const auto& key : v->second) {
    auto o = objects_.find(key);
    if (o != objects_.end()) out.push_back(o->second);
  }
  return out;
}

Result<std::vector<std::string>> ObjectCache::index_values(std::string_view index) const {
  std::shared_lock lock(mu_);
  auto it = indexes_.find(index);
  if (it == indexes_.end()) return Error(ErrorCode::kNotFound, "cache index \"" + std::string(index) + "\" does not exist");
  std::vector<std::string> out;
  out.reserve(it->second.values.size());
  for (const auto& [v, keys] : it->second.values) out.push_back(v);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kernlet::client
