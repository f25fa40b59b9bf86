#include "api/client/informer.h"

#include <cstdio>
#include <random>
#include <set>

#include "api/object.h"

namespace kernlet::client {

RestListerWatcher::RestListerWatcher(std::shared_ptr<RestClient> client, ResourceRef collection,
                                     std::string label_selector, std::string field_selector)
    : client_(std::move(client)),
      collection_(std::move(collection)),
      label_selector_(std::move(label_selector)),
      field_selector_(std::move(field_selector)) {
  collection_.name.clear();
  collection_.subresource.clear();
}

Result<ObjectList> RestListerWatcher::list(const ListOptions& opts) {
  ListOptions o = opts;
  o.label_selector = label_selector_;
  o.field_selector = field_selector_;
  return client_->list(collection_, o);
}

Result<std::unique_ptr<WatchStream>> RestListerWatcher::watch(const WatchOptions& opts) {
  WatchOptions o = opts;
  o.label_selector = label_selector_;
  o.field_selector = field_selector_;
  return client_->watch(collection_, o);
}

Informer::Informer(std::shared_ptr<ListerWatcher> lw, InformerOptions opts) : lw_(std::move(lw)), opts_(std::move(opts)) {}

Informer::~Informer() { stop(); }

Result<void> Informer::add_index(std::string name, IndexFunc fn) { return cache_.add_index(std::move(name), std::move(fn)); }

void Informer::add_handler(EventHandler h) {
  std::lock_guard lock(handler_mu_);
  handlers_.push_back(std::move(h));
}

void Informer::start() {
  thread_ = std::thread([this] { run(); });
  if (opts_.resync_period.count() > 0) resync_thread_ = std::thread([this] { resync_loop(); });
}

void Informer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // The reflector clears current_watch_ under mu_ before destroying the stream, so
    // the pointer is alive here.
    if (current_watch_ != nullptr) current_watch_->cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::has_synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return synced_ || stopping_; });
  return synced_;
}

std::string Informer::last_resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

void Informer::deliver_add(const ObjectPtr& o) {
  std::lock_guard lock(handler_mu_);
  for (auto& h : handlers_) {
    if (h.on_add) h.on_add(o);
  }
}

void Informer::deliver_update(const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
  std::lock_guard lock(handler_mu_);
  for (auto& h : handlers_) {
    if (h.on_update) h.on_update(old_obj, new_obj);
  }
}

void Informer::deliver_delete(const ObjectPtr& o, bool unknown) {
  std::lock_guard lock(handler_mu_);
  for (auto& h : handlers_) {
    if (h.on_delete) h.on_delete(o, unknown);
  }
}

void Informer::sleep_backoff() {
  static thread_local std::minstd_rand rng{std::random_device{}()};
  backoff_ = backoff_.count() == 0 ? opts_.initial_backoff : std::min(backoff_ * 2, opts_.max_backoff);
  // Up to 25% jitter so that many clients do not retry in lockstep after a server restart.
  auto jitter = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, backoff_.count() / 4)(rng));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, backoff_ + jitter, [&] { return stopping_; });
}

bool Informer::relist() {
  ListOptions o;
  o.limit = opts_.page_size;
  std::vector<json::object> items;
  std::string rv;
  for (;;) {
    auto page = lw_->list(o);
    if (!page.ok()) {
      if (!o.continue_token.empty() && (page.error().code() == ErrorCode::kCompacted ||
                                        page.error().code() == ErrorCode::kInvalidArgument)) {
        // The continue token outlived the history it pointed into (410), or the server
        // refuses it (400): start over unpaged rather than retry the same token forever.
        std::fprintf(stderr, "warning %s: paged list: %s; listing unpaged\n", opts_.name.c_str(),
                     page.error().to_string().c_str());
        o = ListOptions();
        items.clear();
        continue;
      }
      std::fprintf(stderr, "warning %s: list: %s\n", opts_.name.c_str(), page.error().to_string().c_str());
      sleep_backoff();
      return false;
    }
    if (rv.empty()) rv = page->resource_version;
    for (auto& item : page->items) items.push_back(std::move(item));
    if (page->continue_token.empty()) break;
    o.continue_token = page->continue_token;
  }
  lists_.fetch_add(1);

  // Replace the cache's contents: adds, updates (when the resourceVersion moved) and
  // deletes for what the list no longer has.
  std::set<std::string, std::less<>> listed;
  for (auto& item : items) {
    auto obj = std::make_shared<const json::object>(std::move(item));
    std::string key = object_key(*obj);
    listed.insert(key);
    ObjectPtr old = cache_.upsert(obj);
    if (!old) {
      deliver_add(obj);
    } else if (api::Meta(*old).resource_version() != api::Meta(*obj).resource_version()) {
      deliver_update(old, obj);
    }
  }
  for (const auto& key : cache_.keys()) {
    if (listed.count(key) != 0) continue;
    if (ObjectPtr gone = cache_.erase(key)) deliver_delete(gone, true);
  }
  bool first = false;
  {
    std::lock_guard lock(mu_);
    rv_ = rv;
    if (!synced_) first = synced_ = true;
  }
  if (first) {
    cv_.notify_all();
    std::lock_guard lock(handler_mu_);
    for (auto& h : handlers_) {
      if (h.on_synced) h.on_synced();
    }
  }
  return true;
}

bool Informer::watch_once() {
  static thread_local std::minstd_rand rng{std::random_device{}()};
  WatchOptions w;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    w.resource_version = rv_;
  }
  const int64_t min_s = std::max<int64_t>(opts_.min_watch_timeout.count(), 1);
  w.timeout_seconds = std::uniform_int_distribution<int64_t>(min_s, 2 * min_s - 1)(rng);
  w.allow_bookmarks = true;
  auto stream = lw_->watch(w);
  if (!stream.ok()) {
    if (stream.error().code() == ErrorCode::kCompacted) return true;
    std::fprintf(stderr, "warning %s: watch from %s: %s\n", opts_.name.c_str(), w.resource_version.c_str(),
                 stream.error().to_string().c_str());
    sleep_backoff();
    return false;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    current_watch_ = stream->get();
  }
  watches_.fetch_add(1);
  auto unregister = [&] {
    std::lock_guard lock(mu_);
    current_watch_ = nullptr;
  };
  bool got_events = false;
  for (;;) {
    auto ev = (*stream)->next();
    if (!ev.ok()) {
      unregister();
      if (ev.error().code() == ErrorCode::kCompacted) return true;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
      }
      std::fprintf(stderr, "warning %s: watch: %s\n", opts_.name.c_str(), ev.error().to_string().c_str());
      // A watch that worked for a while reconnects at once; one that keeps failing backs off.
      if (got_events) {
        backoff_ = std::chrono::milliseconds(0);
      } else {
        sleep_backoff();
      }
      return false;
    }
    if (!*ev) {  // the server ended the stream on schedule
      unregister();
      backoff_ = std::chrono::milliseconds(0);
      return false;
    }
    got_events = true;
    WatchEvent& e = **ev;
    std::string rv(api::Meta(*e.object).resource_version());
    if (!rv.empty()) {
      std::lock_guard lock(mu_);
      rv_ = rv;
    }
    if (e.type != WatchEvent::Type::kBookmark) {
      // The event's object goes into the cache as it is: an in-process watch hands the
      // same immutable object to every informer of this process.
      ObjectPtr obj = std::move(e.object);
      if (e.type == WatchEvent::Type::kDeleted) {
        cache_.erase(object_key(*obj));
        deliver_delete(obj, false);
      } else if (ObjectPtr old = cache_.upsert(obj)) {
        deliver_update(old, obj);
      } else {
        deliver_add(obj);
      }
    }
    backoff_ = std::chrono::milliseconds(0);
  }
}

void Informer::run() {
  bool need_list = true;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (need_list) {
      if (!relist()) continue;
      need_list = false;
    }
    need_list = watch_once();
  }
}

void Informer::resync_loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, opts_.resync_period, [&] { return stopping_; })) {
    if (!synced_) continue;
    lock.unlock();
    for (const auto& obj : cache_.list()) deliver_update(obj, obj);
    lock.lock();
  }
}

}  // namespace kernlet::client
