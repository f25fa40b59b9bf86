#include "control/apiserver/watch_cache.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "api/json.h"
#include "api/object.h"

namespace kernlet::apiserver {
namespace {

// Skips one JSON value starting at `i` (our own compact dump, but any valid JSON works);
// returns the index just after it, or npos when malformed.
size_t skip_value(std::string_view s, size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[': ++depth; break;
      case '}':
      case ']':
        if (depth == 0) return i;  // end of the enclosing container: a scalar ended
        if (--depth == 0) return i + 1;
        break;
      case ',':
        if (depth == 0) return i;
        break;
      default: break;
    }
  }
  return std::string_view::npos;
}

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  return i;
}

// The offset just after the top-level `"metadata":{`, or npos.
size_t find_metadata_body(std::string_view s) {
  size_t i = skip_ws(s, 0);
  if (i >= s.size() || s[i] != '{') return std::string_view::npos;
  ++i;
  for (;;) {
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] != '"') return std::string_view::npos;
    size_t key_start = i + 1;
    size_t key_end = skip_value(s, i);
    if (key_end == std::string_view::npos) return key_end;
    std::string_view key = s.substr(key_start, key_end - 1 - key_start);
    i = skip_ws(s, key_end);
    if (i >= s.size() || s[i] != ':') return std::string_view::npos;
    i = skip_ws(s, i + 1);
    if (key == "metadata") return i < s.size() && s[i] == '{' ? i + 1 : std::string_view::npos;
    i = skip_value(s, i);
    if (i == std::string_view::npos) return i;
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] != ',') return std::string_view::npos;
    ++i;
  }
}

std::string longest_common_prefix(const std::vector<WatchCache::Resource>& rs) {
  if (rs.empty()) return {};
  std::string p = rs.front().prefix;
  for (const auto& r : rs) {
    size_t n = 0;
    while (n < p.size() && n < r.prefix.size() && p[n] == r.prefix[n]) ++n;
    p.resize(n);
  }
  return p;
}

Error too_old(int64_t requested, int64_t oldest) {
  return Error(ErrorCode::kCompacted,
               "too old resource version: " + std::to_string(requested) + " (" + std::to_string(oldest) + ")");
}

}  // namespace

std::shared_ptr<ObjectSummary> ObjectSummary::of(const json::object& obj, std::string_view resource) {
  auto s = std::make_shared<ObjectSummary>();
  s->resource = std::string(resource);
  api::Meta meta(obj);
  if (const json::object* labels = meta.labels()) {
    for (const auto& [k, v] : *labels) {
      if (v.is_string()) s->labels.emplace(std::string(k), std::string(v.get_string()));
    }
  }
  s->fields = api::selectable_fields(resource, obj);
  s->being_deleted = meta.being_deleted();
  s->has_resource_version = !meta.resource_version().empty();
  return s;
}

Result<ObjectPtr> CachedObject::make(store::KeyValue kv, std::string_view resource, const ObjectSummary* summary) {
  std::shared_ptr<const ObjectSummary> decoded;
  if (summary == nullptr || summary->resource != resource) {
    KL_ASSIGN_OR_RETURN(json::object obj, json::parse_object(kv.value, kv.key));
    decoded = ObjectSummary::of(obj, resource);
    summary = decoded.get();
  }
  auto o = std::make_shared<CachedObject>();
  o->key = std::move(kv.key);
  o->value = std::move(kv.value);
  o->mod_revision = kv.mod_revision;
  o->labels = summary->labels;
  o->fields = summary->fields;
  o->being_deleted = summary->being_deleted;
  // A stored resourceVersion would be duplicated by the splice: take the slow path then.
  if (!summary->has_resource_version) o->metadata_body = find_metadata_body(o->value);
  return ObjectPtr(std::move(o));
}

void CachedObject::append_json(std::string& out, int64_t rv) const {
  const std::string rv_text = std::to_string(rv);
  if (metadata_body == std::string::npos) {
    auto obj = json::parse_object(value, key);
    if (!obj.ok()) {
      out += value;
      return;
    }
    api::MutableMeta(*obj).set_resource_version(rv_text);
    out += json::dump(*obj);
    return;
  }
  std::string_view v(value);
  out.append(v.substr(0, metadata_body));
  out += "\"resourceVersion\":\"";
  out += rv_text;
  out += '"';
  size_t next = skip_ws(v, metadata_body);
  if (next < v.size() && v[next] != '}') out += ',';
  out.append(v.substr(metadata_body));
}

Result<std::shared_ptr<const json::object>> CachedObject::decoded(int64_t rv) const {
  if (rv == mod_revision) {
    std::lock_guard lk(decoded_mu_);
    if (auto shared = decoded_.lock()) return shared;
  }
  KL_ASSIGN_OR_RETURN(json::object obj, json::parse_object(value, key));
  api::MutableMeta(obj).set_resource_version(std::to_string(rv));
  auto out = std::make_shared<const json::object>(std::move(obj));
  if (rv == mod_revision) {
    // Two first readers may both have decoded; the one stored first wins, so that every
    // later reader shares it.
    std::lock_guard lk(decoded_mu_);
    if (auto shared = decoded_.lock()) return shared;
    decoded_ = out;
  }
  return out;
}

// ---- internals ----------------------------------------------------------------------------

namespace {

struct WindowEntry {
  int64_t revision = 0;
  ObjectPtr object;  // null: deleted
  ObjectPtr prev;    // null: created
};

struct WatcherState {
  CacheFilter filter;
  int64_t floor = 0;  // events at or below this revision are not for this watcher
  size_t capacity = 0;  // live events; the initial state and replay come on top of it
  std::function<void()> on_ready;

  std::mutex mu;
  std::deque<CacheEvent> queue;
  std::optional<Error> end;
  int64_t progress = 0;  // every matching event <= progress is queued or consumed
  bool wake_pending = false;
  size_t slack = 0;  // events queued at registration (initial state or replay)

  // Computes what this watcher sees of one change (selector moves become ADDED/DELETED,
  // as upstream's cacheWatcher does). Caller holds mu.
  bool convert(int64_t rev, const ObjectPtr& cur, const ObjectPtr& prev, CacheEvent& out) const {
    if (rev <= floor) return false;
    const bool now_in = cur && filter.matches(*cur);
    const bool was_in = prev && filter.matches(*prev);
    if (now_in) {
      out = CacheEvent{was_in ? CacheEvent::Type::kModified : CacheEvent::Type::kAdded, cur, rev};
      return true;
    }
    if (was_in) {
      out = CacheEvent{CacheEvent::Type::kDeleted, prev, rev};
      return true;
    }
    return false;
  }
};

struct ResourceCache {
  std::string prefix;
  std::string resource;
  std::map<std::string, ObjectPtr, std::less<>> objects;
  std::deque<WindowEntry> window;
  int64_t window_start = 0;  // every event of this resource after it is in `window`
  std::vector<std::shared_ptr<WatcherState>> watchers;
};

}  // namespace

class WatchCache::Impl : public std::enable_shared_from_this<WatchCache::Impl> {
 public:
  Impl(store::Store& s, std::vector<Resource> rs, WatchCacheOptions o) : store_(s), options_(o) {
    root_ = longest_common_prefix(rs);
    for (auto& r : rs) {
      auto rc = std::make_unique<ResourceCache>();
      rc->prefix = std::move(r.prefix);
      rc->resource = std::move(r.resource);
      resources_.push_back(std::move(rc));
    }
  }

  Result<void> start() {
    KL_TRY(relist());
    thread_ = std::thread([this] { run(); });
    return Ok();
  }

  void stop() {
    stopping_ = true;
    {
      std::lock_guard lk(store_watch_mu_);
      if (store_watch_) store_watch_->cancel();
    }
    if (thread_.joinable()) thread_.join();
    end_all(Error(ErrorCode::kUnavailable, "watch cache closed"));
  }

  ResourceCache* find_for_key(std::string_view key) const {
    for (const auto& rc : resources_) {
      if (key.starts_with(rc->prefix)) return rc.get();
    }
    return nullptr;
  }

  // Lists everything at one revision and replaces the caches; ends every watcher (their
  // window is gone) and starts a new store watch after that revision.
  Result<void> relist() {
    std::vector<store::KeyValue> kvs;
    store::ListOptions page;
    int64_t rev = 0;
    for (;;) {
      page.limit = 10000;
      KL_ASSIGN_OR_RETURN(store::ListResult l, store_.list(root_, page));
      rev = l.revision;
      for (auto& kv : l.kvs) kvs.push_back(std::move(kv));
      if (!l.more) break;
      page.revision = l.revision;
      page.continue_key = l.continue_key;
    }
    store::WatchOptions wopts;
    wopts.buffer_events = options_.store_buffer_events;
    KL_ASSIGN_OR_RETURN(auto sw, store_.watch(root_, rev, wopts));
    std::vector<std::shared_ptr<WatcherState>> ended;
    {
      std::unique_lock lk(mu_);
      for (auto& rc : resources_) {
        rc->objects.clear();
        rc->window.clear();
        rc->window_start = rev;
        for (auto& w : rc->watchers) ended.push_back(std::move(w));
        rc->watchers.clear();
      }
      for (auto& kv : kvs) {
        ResourceCache* rc = find_for_key(kv.key);
        if (rc == nullptr) continue;
        auto o = CachedObject::make(kv, rc->resource);
        if (!o.ok()) {
          std::fprintf(stderr, "warning watch-cache: skipping %s: %s\n", kv.key.c_str(),
                       o.error().to_string().c_str());
          continue;
        }
        rc->objects.emplace_hint(rc->objects.end(), kv.key, std::move(*o));
      }
      set_revision(rev);
    }
    {
      std::lock_guard lk(store_watch_mu_);
      store_watch_ = std::move(sw);
    }
    end_watchers(ended, Error(ErrorCode::kUnavailable, "watch cache re-listed the store"));
    return Ok();
  }

  void run() {
    while (!stopping_) {
      store::Watcher* sw;
      {
        std::lock_guard lk(store_watch_mu_);
        sw = store_watch_.get();
      }
      auto batch = sw->next(std::chrono::milliseconds(1000));
      if (stopping_) break;
      if (!batch.ok()) {
        std::fprintf(stderr, "warning watch-cache: store watch ended (%s); re-listing\n",
                     batch.error().to_string().c_str());
        ++relists_;
        while (!stopping_) {
          if (relist().ok()) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      apply(*batch);
    }
  }

  void apply(store::WatchBatch& batch) {
    std::vector<std::shared_ptr<WatcherState>> wake;
    std::vector<std::shared_ptr<WatcherState>> dropped;
    int64_t rev = revision_.load();
    // Decode outside the lock: lists and watch registrations keep going meanwhile.
    std::vector<ObjectPtr> decoded(batch.events.size());
    for (size_t i = 0; i < batch.events.size(); ++i) {
      const store::Event& ev = batch.events[i];
      const ResourceCache* rc = find_for_key(ev.kv.key);
      if (rc == nullptr || ev.type != store::Event::Type::kPut) continue;
      // The value moves into the cached object (the event is ours); the key stays for below.
      auto o = CachedObject::make(store::KeyValue{ev.kv.key, std::move(ev.kv.value), ev.kv.create_revision,
                                                  ev.kv.mod_revision},
                                  rc->resource, dynamic_cast<const ObjectSummary*>(ev.attachment.get()));
      if (!o.ok()) {
        std::fprintf(stderr, "warning watch-cache: undecodable %s: %s\n", ev.kv.key.c_str(),
                     o.error().to_string().c_str());
        continue;
      }
      decoded[i] = std::move(*o);
    }
    {
      std::unique_lock lk(mu_);
      const int64_t compacted = store_.compacted_revision();
      for (size_t i = 0; i < batch.events.size(); ++i) {
        const store::Event& ev = batch.events[i];
        rev = ev.revision();
        ResourceCache* rc = find_for_key(ev.kv.key);
        if (rc == nullptr) continue;
        ObjectPtr prev;
        if (auto it = rc->objects.find(ev.kv.key); it != rc->objects.end()) prev = it->second;
        ObjectPtr cur = std::move(decoded[i]);
        if (cur) {
          rc->objects.insert_or_assign(ev.kv.key, cur);
        } else {
          rc->objects.erase(ev.kv.key);
        }
        rc->window.push_back(WindowEntry{rev, cur, prev});
        while (rc->window.size() > options_.window_events) {
          rc->window_start = rc->window.front().revision;
          rc->window.pop_front();
        }
        for (auto it = rc->watchers.begin(); it != rc->watchers.end();) {
          WatcherState& w = **it;
          bool drop = false;
          bool woke = false;
          {
            std::lock_guard wl(w.mu);
            CacheEvent out;
            if (w.convert(rev, cur, prev, out)) {
              if (w.queue.size() >= w.capacity + w.slack) {
                w.end = Error(ErrorCode::kResourceExhausted,
                              "watcher fell behind (" + std::to_string(w.capacity) + " events buffered)");
                drop = true;
              } else {
                w.queue.push_back(std::move(out));
              }
              if (!w.wake_pending) woke = w.wake_pending = true;
            }
          }
          if (woke) wake.push_back(*it);
          if (drop) {
            dropped.push_back(std::move(*it));
            it = rc->watchers.erase(it);
          } else {
            ++it;
          }
        }
      }
      rev = std::max(rev, batch.progress_revision);
      // History the store has compacted is not served from the window either: a watch
      // from it is as expired here as in the store.
      for (auto& rc : resources_) {
        if (compacted > rc->window_start) rc->window_start = compacted;
        while (!rc->window.empty() && rc->window.front().revision <= compacted) rc->window.pop_front();
        for (auto& w : rc->watchers) {
          std::lock_guard wl(w->mu);
          w->progress = std::max(w->progress, rev);
        }
      }
      set_revision(rev);
    }
    watchers_dropped_ += static_cast<int64_t>(dropped.size());
    for (auto& w : wake) {
      if (w->on_ready) w->on_ready();
    }
  }

  void set_revision(int64_t rev) {
    {
      std::lock_guard lk(fresh_mu_);
      revision_ = rev;
    }
    fresh_cv_.notify_all();
  }

  static void end_watchers(std::vector<std::shared_ptr<WatcherState>>& ws, const Error& why) {
    for (auto& w : ws) {
      {
        std::lock_guard lk(w->mu);
        if (!w->end) w->end = why;
        w->wake_pending = true;
      }
      if (w->on_ready) w->on_ready();
    }
  }

  void end_all(const Error& why) {
    std::vector<std::shared_ptr<WatcherState>> all;
    {
      std::unique_lock lk(mu_);
      for (auto& rc : resources_) {
        for (auto& w : rc->watchers) all.push_back(std::move(w));
        rc->watchers.clear();
      }
    }
    end_watchers(all, why);
  }

  ResourceCache* find_for_prefix(std::string_view prefix) const {
    for (const auto& rc : resources_) {
      if (prefix.starts_with(rc->prefix)) return rc.get();
    }
    return nullptr;
  }

  void cancel(const std::shared_ptr<WatcherState>& w, ResourceCache* rc) {
    {
      std::unique_lock lk(mu_);
      std::erase(rc->watchers, w);
    }
    std::lock_guard lk(w->mu);
    if (!w->end) w->end = Error(ErrorCode::kUnavailable, "watch cancelled");
    w->queue.clear();
  }

  store::Store& store_;
  WatchCacheOptions options_;
  std::string root_;
  std::vector<std::unique_ptr<ResourceCache>> resources_;  // fixed after construction

  mutable std::shared_mutex mu_;  // objects, windows, watcher lists
  mutable std::mutex fresh_mu_;
  mutable std::condition_variable fresh_cv_;
  std::atomic<int64_t> revision_{0};

  std::mutex store_watch_mu_;
  std::unique_ptr<store::Watcher> store_watch_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> watchers_dropped_{0};
  std::atomic<int64_t> relists_{0};
};

namespace {

class CacheWatchImpl final : public CacheWatch {
 public:
  CacheWatchImpl(std::shared_ptr<WatchCache::Impl> impl, std::shared_ptr<WatcherState> state, ResourceCache* rc)
      : impl_(std::move(impl)), state_(std::move(state)), rc_(rc) {}
  ~CacheWatchImpl() override { cancel(); }

  Result<Batch> next() override {
    std::lock_guard lk(state_->mu);
    state_->wake_pending = false;
    Batch b;
    if (!state_->queue.empty()) {
      b.events.assign(std::make_move_iterator(state_->queue.begin()), std::make_move_iterator(state_->queue.end()));
      state_->queue.clear();
      state_->slack = 0;
      b.progress_revision = std::max(b.events.back().revision, state_->progress);
      return b;
    }
    if (state_->end) return *state_->end;
    b.progress_revision = state_->progress;
    return b;
  }

  void cancel() override {
    if (!cancelled_.exchange(true)) impl_->cancel(state_, rc_);
  }

 private:
  std::shared_ptr<WatchCache::Impl> impl_;
  std::shared_ptr<WatcherState> state_;
  ResourceCache* rc_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

// ---- public API -------------------------------------------------------------------------

WatchCache::WatchCache(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
WatchCache::~WatchCache() { impl_->stop(); }

Result<std::unique_ptr<WatchCache>> WatchCache::start(store::Store& store, std::vector<Resource> resources,
                                                      WatchCacheOptions options) {
  auto impl = std::make_shared<Impl>(store, std::move(resources), options);
  KL_TRY(impl->start());
  return std::unique_ptr<WatchCache>(new WatchCache(std::move(impl)));
}

int64_t WatchCache::revision() const { return impl_->revision_.load(); }

bool WatchCache::wait_fresh(int64_t rev, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(impl_->fresh_mu_);
  return impl_->fresh_cv_.wait_for(lk, timeout, [&] { return impl_->revision_.load() >= rev; });
}

Result<std::optional<WatchCache::ListResult>> WatchCache::list(const CacheFilter& filter, std::string_view start_key,
                                                               int64_t limit, int64_t exact_revision) const {
  ResourceCache* rc = impl_->find_for_prefix(filter.prefix);
  if (rc == nullptr) return Error(ErrorCode::kNotFound, "no watch cache for " + filter.prefix);
  std::shared_lock lk(impl_->mu_);
  ListResult out;
  out.revision = impl_->revision_.load();
  if (exact_revision != 0 && exact_revision != out.revision) return std::optional<ListResult>();
  std::string_view from = start_key > std::string_view(filter.prefix) ? start_key : std::string_view(filter.prefix);
  for (auto it = rc->objects.lower_bound(from); it != rc->objects.end(); ++it) {
    if (!it->first.starts_with(filter.prefix)) break;
    if (!filter.labels.matches(it->second->labels) || !filter.fields.matches(it->second->fields)) continue;
    if (limit > 0 && static_cast<int64_t>(out.objects.size()) == limit) {
      out.more = true;
      out.continue_key = it->first;
      break;
    }
    out.objects.push_back(it->second);
  }
  return std::optional<ListResult>(std::move(out));
}

ObjectPtr WatchCache::get(std::string_view key) const {
  ResourceCache* rc = impl_->find_for_key(key);
  if (rc == nullptr) return nullptr;
  std::shared_lock lk(impl_->mu_);
  auto it = rc->objects.find(key);
  return it != rc->objects.end() ? it->second : nullptr;
}

Result<std::unique_ptr<CacheWatch>> WatchCache::watch(WatchRequest request) {
  ResourceCache* rc = impl_->find_for_prefix(request.filter.prefix);
  if (rc == nullptr) return Error(ErrorCode::kNotFound, "no watch cache for " + request.filter.prefix);
  auto w = std::make_shared<WatcherState>();
  w->filter = std::move(request.filter);
  w->capacity = std::max<size_t>(1, impl_->options_.watcher_buffer_events);
  w->on_ready = std::move(request.on_ready);
  {
    std::unique_lock lk(impl_->mu_);
    const int64_t rev = impl_->revision_.load();
    if (!request.after) {
      // The current state as ADDED events, then what follows it.
      for (auto it = rc->objects.lower_bound(w->filter.prefix); it != rc->objects.end(); ++it) {
        if (!it->first.starts_with(w->filter.prefix)) break;
        if (w->filter.matches(*it->second)) {
          w->queue.push_back(CacheEvent{CacheEvent::Type::kAdded, it->second, it->second->mod_revision});
        }
      }
      w->floor = rev;
    } else {
      const int64_t after = *request.after;
      const int64_t oldest = std::max(rc->window_start, impl_->store_.compacted_revision());
      if (after < oldest) return too_old(after, oldest);
      for (const WindowEntry& e : rc->window) {
        CacheEvent out;
        if (e.revision > after && w->convert(e.revision, e.object, e.prev, out)) w->queue.push_back(std::move(out));
      }
      w->floor = std::max(after, rev);
    }
    w->progress = rev;
    w->slack = w->queue.size();
    rc->watchers.push_back(w);
  }
  return std::unique_ptr<CacheWatch>(new CacheWatchImpl(impl_, std::move(w), rc));
}

int64_t WatchCache::oldest_revision(std::string_view prefix) const {
  ResourceCache* rc = impl_->find_for_prefix(prefix);
  std::shared_lock lk(impl_->mu_);
  return std::max(rc != nullptr ? rc->window_start : 0, impl_->store_.compacted_revision());
}

WatchCache::Stats WatchCache::stats() const {
  Stats s;
  std::shared_lock lk(impl_->mu_);
  for (const auto& rc : impl_->resources_) {
    s.objects += static_cast<int64_t>(rc->objects.size());
    s.window_events += static_cast<int64_t>(rc->window.size());
    s.watchers += static_cast<int64_t>(rc->watchers.size());
  }
  s.watchers_dropped = impl_->watchers_dropped_.load();
  s.relists = impl_->relists_.load();
  return s;
}

}  // namespace kernlet::apiserver
