// Store: a revisioned key-value store with the shape of etcd v3.
//
// The API server keeps each Kubernetes object as one value (JSON bytes) under a key like
// `/registry/pods/<ns>/<name>`. One global revision counts every successful write; a key's
// mod_revision is its resourceVersion. SqliteStore is the embedded backend; an etcd
// backend implements the same interface.
//
// Revision semantics (the same as etcd's where etcd defines them):
// - Every successful create/update/remove gets exactly one new revision, strictly
//   increasing by one. A failed precondition does not consume a revision.
// - compact(R) discards history older than R. The state as of R stays readable, so list at
//   revision >= R works and list at revision < R fails with kCompacted; a watch needs
//   events after its start, so watch(after_revision) works for after_revision >= R.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the write that created this incarnation
  int64_t mod_revision = 0;     // revision of the write that produced this value

  bool operator==(const KeyValue&) const = default;
};

struct ListOptions {
  int64_t revision = 0;  // 0 = the current revision; N = the state as of revision N
  int64_t limit = 0;     // 0 = no limit
  // First key of the page (inclusive); ListResult::continue_key of the previous page.
  // Empty = the start of the prefix. Pass the previous page's revision with it.
  std::string continue_key;
};

struct ListResult {
  std::vector<KeyValue> kvs;  // sorted by key (bytewise)
  int64_t revision = 0;       // the revision the list was served at
  bool more = false;          // another page exists
  std::string continue_key;   // when `more`: the first key of the next page
};

// Outcome of create/update/remove, shaped like an etcd Txn response.
struct TxnResult {
  bool succeeded = false;
  // On success: the revision of this write. On failure: the store's revision when the
  // precondition was checked.
  int64_t revision = 0;
  // create/update success: the written KeyValue. remove success: the deleted KeyValue
  // (the object's last state). Failure: the current KeyValue, or nullopt if the key is absent.
  std::optional<KeyValue> kv;
};

// Something a writer hands to this process's watchers along with its write (see
// WriteRequest::attachment). Opaque to the store: never stored, so events replayed from
// history and events of other processes' writes carry none. Watchers that know the
// concrete type use it (dynamic_cast) and fall back to the stored bytes otherwise.
struct EventAttachment {
  virtual ~EventAttachment() = default;
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // kPut: the new KeyValue. kDelete: key and mod_revision (the deletion's revision) only.
  KeyValue kv;
  // The key's previous KeyValue; nullopt for a create. Always set for kDelete.
  std::optional<KeyValue> prev_kv;
  // The writer's attachment, when the write came through write_async with one and the
  // event is delivered live (not replayed). Shared by every watcher that gets the event.
  std::shared_ptr<const EventAttachment> attachment;

  int64_t revision() const { return kv.mod_revision; }
};

struct WatchBatch {
  std::vector<Event> events;  // in strictly increasing revision order
  // Every matching event with revision <= progress_revision has been delivered (in this
  // batch or an earlier one): a bookmark / RequestProgress answer.
  int64_t progress_revision = 0;
};

struct WatchOptions {
  // Live events buffered for a watcher that has not consumed them. When a write would push
  // a watcher past this, the watcher ends with kResourceExhausted (after its buffered events
  // are read) instead of slowing down writers. 0 = the store's default.
  size_t buffer_events = 0;
  // Called (from the store's commit thread) whenever events become available or the watch
  // ends. Must be cheap and must not call into the store; post to an executor from here.
  std::function<void()> on_ready;
};

// One watch stream. Destroying it cancels the watch.
class Watcher {
 public:
  virtual ~Watcher() = default;

  // Waits up to `timeout` for events and returns the available ones (possibly none, on
  // timeout). Events come in strict revision order with no gap and no duplicate: first
  // replayed history, then live events. Once the watch ends, buffered events are returned
  // first, then every call returns the reason: kCompacted (history the watch still needed
  // was compacted), kResourceExhausted (the consumer fell behind its buffer),
  // kUnavailable (cancelled, or the store closed). Not for concurrent use by two threads.
  virtual Result<WatchBatch> next(std::chrono::milliseconds timeout) = 0;

  // Ends the watch; a blocked next() returns. Thread-safe, idempotent.
  virtual void cancel() = 0;
};

// One write for Store::write_async: create, update or remove with the same semantics as
// the blocking calls of the same name.
struct WriteRequest {
  enum class Kind { kCreate, kUpdate, kRemove };
  Kind kind = Kind::kCreate;
  std::string key;
  std::string value;                  // create, update
  int64_t expected_mod_revision = 0;  // update, remove: 0 = any
  // Delivered with the write's event to this process's live watchers (Event::attachment);
  // never stored. Optional.
  std::shared_ptr<const EventAttachment> attachment;
};
// Receives the outcome of write_async: exactly what the blocking call would have returned.
using WriteCallback = std::function<void(Result<TxnResult>)>;

struct StoreStats {
  int64_t writes = 0;            // successful writes (= revisions assigned)
  int64_t failed_preconditions = 0;
  int64_t commits = 0;           // durable transactions committed (each one fsync of the log)
  int64_t max_batch = 0;         // the most operations one commit carried
  int64_t compacted_rows = 0;    // history rows removed by compaction
  int64_t watchers = 0;          // live watchers now
  int64_t watchers_overflowed = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The key's KeyValue at the current revision, or nullopt. Errors: backend failure.
  // Thread-safe.
  virtual Result<std::optional<KeyValue>> get(std::string_view key) = 0;

  // Keys starting with `prefix` as of options.revision, in key order, paged.
  // Errors: kCompacted ("required revision N has been compacted"), kUnavailable for a
  // future revision, kInvalidArgument for a continue_key outside the prefix. Thread-safe.
  virtual Result<ListResult> list(std::string_view prefix, const ListOptions& options) = 0;

  // Creates `key` if it does not exist; not succeeded (with the current kv) if it does.
  // Returns once the write is durable. Errors: backend failure, kUnavailable after close.
  // Thread-safe.
  virtual Result<TxnResult> create(std::string_view key, std::string_view value) = 0;

  // Replaces the value if the key exists and its mod_revision equals
  // expected_mod_revision (0 = any). Conflict: not succeeded, kv = current. Missing key:
  // not succeeded, no kv. Durable on return. Thread-safe.
  virtual Result<TxnResult> update(std::string_view key, std::string_view value,
                                   int64_t expected_mod_revision) = 0;

  // Deletes the key under the same precondition as update; on success kv is the deleted
  // KeyValue. Durable on return. Thread-safe.
  virtual Result<TxnResult> remove(std::string_view key, int64_t expected_mod_revision) = 0;

  // The same writes without blocking the caller: `done` is called once, when the write is
  // durable (or failed), with the result create/update/remove would have returned. It runs
  // on the store's commit thread — or, when the store is closed, on the caller's thread
  // before write_async returns — so it must be cheap and must not call into the store:
  // post to an executor from it. Writes are applied in the order they were submitted.
  // Thread-safe.
  virtual void write_async(WriteRequest request, WriteCallback done) = 0;

  // Watches keys starting with `prefix` for events with revision > after_revision
  // (exclusive: pass the revision a list was served at). History is replayed, then live
  // events follow. after_revision may be ahead of the current revision (events arrive as
  // the store gets there). Errors: kCompacted if after_revision < compacted_revision().
  // Thread-safe.
  virtual Result<std::unique_ptr<Watcher>> watch(std::string_view prefix, int64_t after_revision,
                                                 WatchOptions options = {}) = 0;

  // Discards history older than `revision` (the latest version of every live key as of
  // it stays). Returns when done. Errors: kCompacted if revision <= compacted_revision(),
  // kInvalidArgument if revision > current_revision(). Thread-safe.
  virtual Result<void> compact(int64_t revision) = 0;

  // The revision of the latest acknowledged write. Thread-safe.
  virtual int64_t current_revision() const = 0;
  // The revision history was last compacted to (0 = never). Thread-safe.
  virtual int64_t compacted_revision() const = 0;
  // Counters since open. Thread-safe.
  virtual StoreStats stats() const = 0;
};

}  // namespace kernlet::store
