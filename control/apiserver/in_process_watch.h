// InProcessWatch: a watch served to a component in the API server's own process
// (ApiServer::watch_in_process, reached through InProcessTransport::watch) straight from
// the watch cache. It is the HTTP watch stream of watch_cached without the wire: the same
// cache watcher (so the same events, selector moves as ADDED/DELETED, resume from the
// window, 410 for a resourceVersion out of it), the same BOOKMARK cadence and end after
// timeoutSeconds, and a watcher the cache drops or ends (fell behind, re-list) ends the
// stream as the HTTP one ends. What it saves: the event is not encoded to JSON, chunked,
// sent over loopback TCP, read and parsed again. Objects are decoded once per object
// version and shared (CachedObject::decoded), so the scheduler's and the controllers'
// informers hold one copy of each pod between them.
//
// Thread-safety: next() is for one reader at a time (a WatchStream); cancel() may be
// called from any thread. The cache's wake-up callback only touches a shared Signal, so
// it may run after the stream is gone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/client/rest_client.h"
#include "control/apiserver/watch_cache.h"

namespace kernlet::apiserver {

class InProcessWatch final : public client::WatchStream {
 public:
  // What the cache's on_ready callback sets; shared by the stream and the callback.
  struct Signal {
    std::mutex mu;
    std::condition_variable cv;
    bool ready = false;
    bool cancelled = false;
    void notify() {
      {
        std::lock_guard lk(mu);
        ready = true;
      }
      cv.notify_all();
    }
  };

  struct Options {
    std::string kind;         // of the watched resource, for BOOKMARK objects ("Pod")
    std::string api_version;  // "v1", "apps/v1"
    std::chrono::steady_clock::time_point deadline;  // the stream ends here (timeoutSeconds)
    bool bookmarks = false;                          // allowWatchBookmarks
    std::chrono::seconds bookmark_every{60};
    bool initial_events_end = false;  // sendInitialEvents: mark the first bookmark
  };

  InProcessWatch(std::unique_ptr<CacheWatch> watch, std::shared_ptr<Signal> signal, Options options);
  // A stream whose first next() is `error` (a watch from a compacted resourceVersion:
  // the HTTP stream's one ERROR event).
  explicit InProcessWatch(Error error);
  ~InProcessWatch() override;

  Result<std::optional<client::WatchEvent>> next() override;
  void cancel() override;

 private:
  client::WatchEvent bookmark(int64_t revision, bool initial_end) const;

  std::unique_ptr<CacheWatch> watch_;
  std::shared_ptr<Signal> signal_;
  Options options_;
  std::optional<Error> error_;  // delivered once, then the stream has ended
  bool ended_ = false;
  std::deque<client::WatchEvent> pending_;
  std::chrono::steady_clock::time_point next_bookmark_;
};

}  // namespace kernlet::apiserver
