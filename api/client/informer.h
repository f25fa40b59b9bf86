// Informer: a reflector (list, then watch from the list's resourceVersion) feeding an
// ObjectCache and event handlers, with client-go's semantics:
//  - the first full list fills the cache, then handlers see adds and the synced signal;
//  - a dropped watch resumes from the last resourceVersion seen (BOOKMARK events count),
//    after an exponential back-off (800 ms doubling to 30 s, jittered);
//  - 410 Expired/Gone (the resourceVersion was compacted away) relists; objects that
//    vanished across a relist are delivered as deletes with final_state_unknown = true
//    (client-go's DeletedFinalStateUnknown), with the last state the cache had;
//  - an optional resync period re-delivers every cached object as an update(old == new),
//    for controllers that want a periodic level-triggered pass.
//
// Threads: start() runs the reflector on a thread of its own (plus one for resync when a
// period is set). Handlers are called one at a time (never concurrently with each other),
// after the cache has been updated, and must be quick: enqueue a key and return.
// Thread-safety: add_index/add_handler before start(); everything else from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/client/cache.h"
#include "api/client/rest_client.h"

namespace kernlet::client {

// Lists and watches one collection. RestListerWatcher is the real one; tests may fake it.
// Thread-safety: called from the reflector thread only.
class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;
  virtual Result<ObjectList> list(const ListOptions& opts) = 0;
  virtual Result<std::unique_ptr<WatchStream>> watch(const WatchOptions& opts) = 0;
};

// Lists/watches `collection` (namespace_ "" = all namespaces; name ignored) through a
// RestClient, with the given selectors applied to both.
class RestListerWatcher final : public ListerWatcher {
 public:
  RestListerWatcher(std::shared_ptr<RestClient> client, ResourceRef collection, std::string label_selector = {},
                    std::string field_selector = {});
  Result<ObjectList> list(const ListOptions& opts) override;
  Result<std::unique_ptr<WatchStream>> watch(const WatchOptions& opts) override;

 private:
  std::shared_ptr<RestClient> client_;
  ResourceRef collection_;
  std::string label_selector_;
  std::string field_selector_;
};

struct EventHandler {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // `final_state_unknown`: the delete was inferred from a relist, `obj` is the last state
  // the cache saw, not the object as it was deleted.
  std::function<void(const ObjectPtr& obj, bool final_state_unknown)> on_delete;
  // Called once, after the first full list has been delivered.
  std::function<void()> on_synced;
};

struct InformerOptions {
  std::string name = "informer";            // for log lines and errors: "pods", "nodes"
  int64_t page_size = 500;                  // list in pages of this many items
  std::chrono::milliseconds resync_period{0};  // 0 = no resync
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30'000};
  // Each watch asks the server to end it after a random time in [min, 2*min), so that
  // long-lived connections are spread out and re-established now and then, as client-go does.
  std::chrono::seconds min_watch_timeout{300};
};

class Informer {
 public:
  Informer(std::shared_ptr<ListerWatcher> lw, InformerOptions opts = {});
  ~Informer();  // stops
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Adds a cache index (before start(), or later: existing objects are indexed).
  Result<void> add_index(std::string name, IndexFunc fn);
  // Registers handlers; before start().
  void add_handler(EventHandler h);

  // Starts the reflector thread. Calling it twice is a programmer error.
  void start();
  // Stops and joins the threads: cancels the running watch; a list in flight finishes
  // first (bounded by the client's request timeout). Idempotent.
  void stop();

  bool has_synced() const;
  // Waits until the first list has been delivered; false on timeout or stop.
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  // The cache (shared immutable objects; see cache.h).
  const ObjectCache& cache() const { return cache_; }
  // The resourceVersion the reflector resumes from.
  std::string last_resource_version() const;

  // Counters, for tests and metrics.
  int64_t lists() const { return lists_.load(); }
  int64_t watches() const { return watches_.load(); }

 private:
  void run();
  void resync_loop();
  // Lists every page; returns false when stopping or after an error (backed off).
  bool relist();
  // Watches from rv_ until an error; returns true to relist, false to re-watch.
  bool watch_once();
  void sleep_backoff();
  void deliver_add(const ObjectPtr& o);
  void deliver_update(const ObjectPtr& old_obj, const ObjectPtr& new_obj);
  void deliver_delete(const ObjectPtr& o, bool unknown);

  std::shared_ptr<ListerWatcher> lw_;
  InformerOptions opts_;
  ObjectCache cache_;
  std::vector<EventHandler> handlers_;
  std::mutex handler_mu_;  // serialises handler calls (reflector vs resync thread)

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;                   // guarded by mu_
  bool synced_ = false;                     // guarded by mu_
  std::string rv_;                          // guarded by mu_
  WatchStream* current_watch_ = nullptr;    // guarded by mu_
  std::chrono::milliseconds backoff_{0};    // reflector thread only
  std::atomic<int64_t> lists_{0};
  std::atomic<int64_t> watches_{0};
  std::thread thread_;
  std::thread resync_thread_;
};

}  // namespace kernlet::client
