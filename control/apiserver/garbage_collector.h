// GarbageCollector: ownerReferences and namespace lifecycle, as Kubernetes' garbage
// collector and namespace controller do them, inside kernlet-control.
//
// It follows the whole registry through one store watch and keeps a small graph: for each
// object that has ownerReferences, its owners (by store key), and the reverse index from an
// owner's key to its dependents. Work is level-triggered: an event only enqueues keys;
// processing a key reads the current objects from the store (uids checked, never trusting
// the event or the graph alone) and converges:
//   - a dependent none of whose owners exists any more (or whose remaining owners are
//     being deleted in the foreground) is deleted (Background; Foreground when it has
//     dependents of its own and an owner waits for it);
//   - a dependent with some live owners loses the references to the gone ones;
//   - an object being deleted with the `orphan` finalizer: its dependents lose their
//     reference to it, then the finalizer is removed;
//   - an object being deleted with `foregroundDeletion`: its dependents are deleted, and
//     the finalizer is removed once no dependent with blockOwnerDeletion remains;
//   - a Terminating namespace: everything in it is deleted (Background, pods gracefully),
//     and once nothing is left its `kubernetes` finalizer is removed, which deletes it.
// Writes go through ObjectWriter, i.e. the API server's own delete and update rules
// (finalizers, graceful pod deletion, Service allocations).
//
// It runs on one thread of its own. start()/stop() are not thread-safe; wait_idle() is.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/result.h"
#include "control/apiserver/deletion.h"
#include "control/apiserver/resources.h"
#include "control/store/store.h"

namespace kernlet::apiserver {

// The writes the collector asks of the API server. Blocking; called from its thread.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  // Deletes the object at `key` with `policy`, if it is still the incarnation `uid`.
  // Returns true when it no longer exists afterwards (removed now, or already gone or
  // replaced), false when it is only marked (finalizers, a graceful pod).
  virtual Result<bool> delete_object(const ResourceInfo& r, const std::string& key, std::string_view uid,
                                     Propagation policy) = 0;
  // Read-modify-write of the object at `key` if it is still `uid`: `change` edits it and
  // returns false when there is nothing to do. An object being deleted whose last
  // finalizer is removed this way is deleted. Retries on conflict.
  virtual Result<void> mutate(const ResourceInfo& r, const std::string& key, std::string_view uid,
                              const std::function<bool(json::object&)>& change) = 0;
};

struct GarbageCollectorOptions {
  std::chrono::milliseconds retry_after{500};  // a failed item is retried after this
  std::chrono::milliseconds max_retry_after{30'000};
};

class GarbageCollector {
 public:
  GarbageCollector(store::Store& store, ObjectWriter& writer, GarbageCollectorOptions options = {});
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Starts the collector thread: it lists the registry, enqueues what needs attention
  // (dangling references, pending GC finalizers, Terminating namespaces), then follows
  // the store's watch. Errors: none at start (a failing list is retried on the thread).
  void start();
  // Stops and joins the thread. Idempotent.
  void stop();

  // Blocks until the collector has seen every event up to `revision` and has nothing
  // queued or pending retry, or until `timeout`. Thread-safe. For tests and shutdown.
  bool wait_idle(int64_t revision, std::chrono::milliseconds timeout);

 private:
  struct Dependent {
    std::vector<std::string> owner_keys;  // store keys of its owners (resolvable kinds only)
  };

  void run();
  Result<int64_t> resync();  // full list; returns the revision to watch after
  void observe(const store::Event& e);
  void track(const std::string& key, const json::object* obj);
  void enqueue(std::string item);
  void enqueue_after(std::string item, std::chrono::milliseconds delay);
  Result<void> process(const std::string& item);
  Result<void> process_object(const std::string& key);
  Result<void> process_namespace(const std::string& name);
  Result<void> orphan_dependents(const std::string& key, const json::object& obj, const ResourceInfo& r);
  Result<void> delete_dependents(const std::string& key, const json::object& obj, const ResourceInfo& r);
  Result<void> check_owners(const std::string& key, const json::object& obj, const ResourceInfo& r);

  store::Store& store_;
  ObjectWriter& writer_;
  GarbageCollectorOptions options_;

  // Graph (collector thread only).
  std::unordered_map<std::string, Dependent> dependents_of_;                // dependent key → owners
  std::unordered_map<std::string, std::set<std::string>> owned_by_;         // owner key → dependent keys
  std::set<std::string> terminating_namespaces_;
  std::unordered_map<std::string, int> failures_;                          // item → consecutive failures

  // Queue and progress (shared with wait_idle()).
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;
  std::set<std::string> queued_;
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  int64_t seen_revision_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::unique_ptr<store::Watcher> watcher_;
  std::thread thread_;
};

}  // namespace kernlet::apiserver
