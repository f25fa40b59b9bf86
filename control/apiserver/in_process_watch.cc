// InProcessWatch: see in_process_watch.h.
#include "control/apiserver/in_process_watch.h"

#include <algorithm>

namespace kernlet::apiserver {

InProcessWatch::InProcessWatch(std::unique_ptr<CacheWatch> watch, std::shared_ptr<Signal> signal, Options options)
    : watch_(std::move(watch)), signal_(std::move(signal)), options_(std::move(options)) {
  next_bookmark_ = std::chrono::steady_clock::now() + options_.bookmark_every;
}

InProcessWatch::InProcessWatch(Error error) : signal_(std::make_shared<Signal>()), error_(std::move(error)) {}

InProcessWatch::~InProcessWatch() {
  if (watch_) watch_->cancel();
}

void InProcessWatch::cancel() {
  {
    std::lock_guard lk(signal_->mu);
    signal_->cancelled = true;
  }
  signal_->cv.notify_all();
}

client::WatchEvent InProcessWatch::bookmark(int64_t revision, bool initial_end) const {
  json::object meta{{"resourceVersion", std::to_string(revision)}};
  if (initial_end) meta["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
  auto obj = std::make_shared<const json::object>(json::object{
      {"kind", options_.kind}, {"apiVersion", options_.api_version}, {"metadata", std::move(meta)}});
  return client::WatchEvent{client::WatchEvent::Type::kBookmark, std::move(obj)};
}

Result<std::optional<client::WatchEvent>> InProcessWatch::next() {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    {
      std::lock_guard lk(signal_->mu);
      if (signal_->cancelled) return Error(ErrorCode::kUnavailable, "in-process watch: watch cancelled");
      // Cleared before the queue is read: a wake-up for anything queued after this read
      // leaves ready set, so the wait below does not miss it.
      signal_->ready = false;
    }
    if (!pending_.empty()) {
      client::WatchEvent ev = std::move(pending_.front());
      pending_.pop_front();
      return std::optional<client::WatchEvent>(std::move(ev));
    }
    if (error_) {
      Error e = std::move(*error_);
      error_.reset();
      ended_ = true;
      return e;
    }
    if (ended_) return std::optional<client::WatchEvent>();
    const auto now = Clock::now();
    // As the HTTP stream: what was queued by the deadline has been delivered; end now.
    if (now >= options_.deadline) {
      ended_ = true;
      watch_->cancel();
      return std::optional<client::WatchEvent>();
    }
    auto batch = watch_->next();
    // Dropped for falling behind, or the cache re-listed: the stream just ends, as the
    // HTTP one does; the reader watches again from its last resourceVersion.
    if (!batch.ok()) {
      ended_ = true;
      return std::optional<client::WatchEvent>();
    }
    for (const CacheEvent& ce : batch->events) {
      auto obj = ce.object->decoded(ce.revision);
      if (!obj.ok()) {
        // The cache holds only JSON objects; this would be a bug, reported as a broken stream.
        ended_ = true;
        return Error(ErrorCode::kInternal, "in-process watch: " + obj.error().to_string());
      }
      const auto type = ce.type == CacheEvent::Type::kAdded      ? client::WatchEvent::Type::kAdded
                        : ce.type == CacheEvent::Type::kModified ? client::WatchEvent::Type::kModified
                                                                 : client::WatchEvent::Type::kDeleted;
      pending_.push_back(client::WatchEvent{type, std::move(*obj)});
    }
    if (options_.initial_events_end && options_.bookmarks) {
      pending_.push_back(bookmark(batch->progress_revision, true));
      options_.initial_events_end = false;
    }
    if (options_.bookmarks && now >= next_bookmark_) {
      pending_.push_back(bookmark(batch->progress_revision, false));
      next_bookmark_ = now + options_.bookmark_every;
    }
    if (!pending_.empty()) continue;
    const auto until = std::min(options_.deadline, options_.bookmarks ? next_bookmark_ : options_.deadline);
    std::unique_lock lk(signal_->mu);
    signal_->cv.wait_until(lk, until, [&] { return signal_->ready || signal_->cancelled; });
  }
}

}  // namespace kernlet::apiserver
