// ObjectCache: the informer's thread-safe store of objects keyed by "namespace/name"
// ("name" for cluster-scoped objects), with secondary indexes (by namespace, by
// spec.nodeName, by owner uid, ...).
//
// Objects are shared immutable documents (ObjectPtr): readers get the pointer the cache
// holds, never a copy, and it stays valid after the cache has moved on. To change an
// object, copy it, edit the copy and write it through the API; the informer will then
// replace the pointer.
//
// Thread-safety: every method is thread-safe (a reader-writer lock; reads run in
// parallel). Index functions run under the write lock and must not call the cache.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::client {

using ObjectPtr = std::shared_ptr<const json::object>;

// "namespace/name", or "name" when the object has no namespace (client-go's
// MetaNamespaceKeyFunc).
std::string object_key(const json::object& obj);
// Splits a key back into namespace (possibly "") and name.
std::pair<std::string_view, std::string_view> split_key(std::string_view key);

// Maps an object to the index values it is filed under (none, one or several).
using IndexFunc = std::function<std::vector<std::string>(const json::object&)>;

// metadata.namespace (cluster-scoped objects are not indexed).
IndexFunc index_by_namespace();
// spec.nodeName when set (pods bound to a node).
IndexFunc index_by_node_name();
// metadata.ownerReferences[*].uid.
IndexFunc index_by_owner_uid();
// A string field at a dotted path ("spec.schedulerName"), when set.
IndexFunc index_by_field(std::string dotted_path);

class ObjectCache {
 public:
  ObjectCache() = default;
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  // Adds an index; existing objects are indexed at once. Error if the name is taken.
  Result<void> add_index(std::string name, IndexFunc fn);

  // Inserts or replaces the object under its key; returns the previous one (or nullptr).
  ObjectPtr upsert(ObjectPtr obj);
  // Removes the key; returns what was there (or nullptr).
  ObjectPtr erase(std::string_view key);

  // The object under the key, or nullptr.
  ObjectPtr get(std::string_view key) const;
  // Every object, in key order.
  std::vector<ObjectPtr> list() const;
  // Every key, in order.
  std::vector<std::string> keys() const;
  std::size_t size() const;
  // The objects filed under `value` in index `index` (key order). Error naming the index
  // when there is no such index.
  Result<std::vector<ObjectPtr>> by_index(std::string_view index, std::string_view value) const;
  // The keys filed under `value` in index `index`.
  Result<std::vector<std::string>> index_keys(std::string_view index, std::string_view value) const;
  // The values of index `index` that have at least one object, sorted.
  Result<std::vector<std::string>> index_values(std::string_view index) const;

 private:
  struct Index {
    IndexFunc fn;
    std::unordered_map<std::string, std::set<std::string, std::less<>>> values;  // value -> keys
  };
  void index_add(const std::string& key, const json::object& obj);
  void index_remove(const std::string& key, const json::object& obj);

  mutable std::shared_mutex mu_;
  std::map<std::string, ObjectPtr, std::less<>> objects_;
  std::map<std::string, Index, std::less<>> indexes_;
};

}  // namespace kernlet::client
