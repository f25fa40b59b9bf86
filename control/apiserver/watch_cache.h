// WatchCache: the API server's in-memory copy of every resource, fed by one store watch,
// so that LIST and WATCH never touch the store (kube-apiserver's Cacher + watchCache).
//
// At start it lists the whole registry at one revision R and watches the store after R on
// one stream; a thread applies each event to the resource it belongs to. Per resource it
// keeps:
//   - the current objects by key (sorted, for limit/continue), each one CachedObject
//     holding the stored bytes once plus the labels and selectable fields read at insert
//     time, so selectors never decode JSON;
//   - a window of the most recent events (a bounded ring); events point at the same
//     CachedObjects as the map, so an object's bytes exist once however many events and
//     watchers refer to them;
//   - the cache watchers of that resource: one store watch fans out to all of them.
// A watch from a revision inside the window is served from memory; older (outside the
// window, or below the store's compacted revision) is kCompacted ("too old resource
// version"), which the API server answers with 410 Expired. A watcher whose buffer fills
// is ended (kResourceExhausted) rather than slowing the others, as upstream terminates
// slow watchers. If the store watch itself ends (overflow, compaction), the cache relists
// and ends every watcher; clients re-watch from their last revision.
//
// Thread-safety: every public method is thread-safe. CacheWatch::next() is for one
// consumer at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/fields.h"
#include "api/json.h"
#include "api/labels.h"
#include "api/result.h"
#include "control/store/store.h"

namespace kernlet::apiserver {

// What the API server already knows of an object it writes: handed to the cache with the
// write (store::WriteRequest::attachment), so that the cache takes labels and fields from
// it instead of decoding the stored bytes once more. It must describe exactly the object
// whose JSON is written; of() reads it the way CachedObject::make does.
struct ObjectSummary final : store::EventAttachment {
  std::string resource;  // the plural the fields were read for
  api::LabelSet labels;
  api::FieldSet fields;  // selectable_fields(resource, object)
  bool being_deleted = false;
  bool has_resource_version = false;  // metadata.resourceVersion is in the stored object

  static std::shared_ptr<ObjectSummary> of(const json::object& obj, std::string_view resource);
};

// One version of one object, immutable once built; shared by the object map, the event
// window and every watcher's queue.
struct CachedObject {
  std::string key;
  std::string value;  // the stored JSON (without metadata.resourceVersion)
  int64_t mod_revision = 0;
  api::LabelSet labels;
  api::FieldSet fields;  // selectable_fields(resource, object)
  // Offset in `value` just after the top-level `"metadata":{`; npos when the object has
  // no metadata object (then resourceVersion cannot be stamped by splicing).
  size_t metadata_body = std::string::npos;
  bool being_deleted = false;  // metadata.deletionTimestamp is set

  // Builds a CachedObject from a store value; decodes it once to read labels and fields,
  // unless `summary` (of the same object, read for the same resource) has them.
  // Errors: the value is not a JSON object.
  static Result<std::shared_ptr<const CachedObject>> make(store::KeyValue kv, std::string_view resource,
                                                          const ObjectSummary* summary = nullptr);

  // Appends the object's JSON with metadata.resourceVersion set to `rv` (decimal string),
  // without decoding: the field is spliced into the stored bytes.
  void append_json(std::string& out, int64_t rv) const;
  std::string json(int64_t rv) const {
    std::string s;
    append_json(s, rv);
    return s;
  }

  // The object decoded, with metadata.resourceVersion `rv`, for watchers in the API
  // server's process (in_process_watch.h). The decoding at mod_revision is shared: while
  // anyone holds it (an informer's cache), later calls return the same object; it is not
  // kept alive here, so the event window holds no decoded objects of its own. Other
  // revisions (a DELETED event's) are decoded afresh. Thread-safe.
  // Errors: the value is not a JSON object.
  Result<std::shared_ptr<const json::object>> decoded(int64_t rv) const;

 private:
  mutable std::mutex decoded_mu_;
  mutable std::weak_ptr<const json::object> decoded_;  // at mod_revision
};
using ObjectPtr = std::shared_ptr<const CachedObject>;

// What a watcher receives. `object` is the new state (ADDED, MODIFIED) or the last state
// (DELETED); `revision` is the event's revision (for DELETED the deletion's), which is the
// resourceVersion the event carries.
struct CacheEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  ObjectPtr object;
  int64_t revision = 0;
};

// Which objects a list or watch wants: keys under `prefix` (a resource's prefix, or a
// namespace inside it) that match both selectors.
struct CacheFilter {
  std::string prefix;
  api::Selector labels;
  api::FieldSelector fields;

  bool matches(const CachedObject& o) const {
    return o.key.starts_with(prefix) && labels.matches(o.labels) && fields.matches(o.fields);
  }
};

struct WatchCacheOptions {
  size_t window_events = 4096;          // events kept per resource for watch resumption
  size_t watcher_buffer_events = 1024;  // queued events per watcher before it is dropped
  size_t store_buffer_events = 1 << 20; // the cache's own store watch buffer
};

class CacheWatch {
 public:
  virtual ~CacheWatch() = default;
  struct Batch {
    std::vector<CacheEvent> events;  // in revision order (initial state first, if asked)
    // Every event up to this revision that matches has been delivered: a bookmark's RV.
    int64_t progress_revision = 0;
  };
  // The events queued so far (none if nothing is queued; it never blocks). Once the watch
  // has ended and its queue is drained: kResourceExhausted (fell behind), kUnavailable
  // (cache re-listed, closed or cancelled).
  virtual Result<Batch> next() = 0;
  // Ends the watch. Idempotent.
  virtual void cancel() = 0;
};

class WatchCache {
 public:
  struct Resource {
    std::string prefix;    // store key prefix, e.g. "/registry/pods/"
    std::string resource;  // plural name, for field selectors, e.g. "pods"
  };

  // Lists the store at one revision, fills the caches of `resources` and starts following
  // the store. Blocking. Errors: store failures.
  static Result<std::unique_ptr<WatchCache>> start(store::Store& store, std::vector<Resource> resources,
                                                   WatchCacheOptions options = {});
  ~WatchCache();

  // The store revision the cache reflects (every event up to it is applied).
  int64_t revision() const;
  // Waits until revision() >= rev, at most `timeout`; true when reached.
  bool wait_fresh(int64_t rev, std::chrono::milliseconds timeout) const;

  struct ListResult {
    std::vector<ObjectPtr> objects;  // key order
    int64_t revision = 0;
    bool more = false;
    std::string continue_key;  // when more: first key of the next page
  };
  // Objects matching `filter` with key >= start_key, at most `limit` (0 = all).
  // `exact_revision` != 0 asks for the state at exactly that revision: nullopt when the
  // cache is not at it (the caller asks the store). Errors: kNotFound for a prefix under
  // no cached resource.
  Result<std::optional<ListResult>> list(const CacheFilter& filter, std::string_view start_key, int64_t limit,
                                         int64_t exact_revision = 0) const;

  // The cached object at `key` (at revision()), or null when the cache has none — which
  // may only mean the cache has not applied its creation yet: callers that need certainty
  // read the store.
  ObjectPtr get(std::string_view key) const;

  struct WatchRequest {
    CacheFilter filter;
    // Events after this revision. nullopt: first the current state as ADDED events, then
    // changes after the revision of that state.
    std::optional<int64_t> after;
    std::function<void()> on_ready = nullptr;  // called (from the cache's thread) when next() has news
  };
  // Starts a watch. Errors: kCompacted for `after` older than the window or the store's
  // compacted revision ("too old resource version: N (M)"), kNotFound for an uncached prefix.
  Result<std::unique_ptr<CacheWatch>> watch(WatchRequest request);

  // The oldest revision a watch can start after for the resource holding `prefix`.
  int64_t oldest_revision(std::string_view prefix) const;

  struct Stats {
    int64_t objects = 0;       // cached objects, all resources
    int64_t window_events = 0; // events held in windows
    int64_t watchers = 0;      // live cache watchers
    int64_t watchers_dropped = 0;
    int64_t relists = 0;       // times the cache re-listed the store
  };
  Stats stats() const;

  class Impl;

 private:
  explicit WatchCache(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace kernlet::apiserver
