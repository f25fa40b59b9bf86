#include "control/apiserver/garbage_collector.h"

#include <algorithm>
#include <cstdio>

namespace kernlet::apiserver {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view kRegistry = "/registry/";
constexpr std::string_view kObjectItem = "o:";
constexpr std::string_view kNamespaceItem = "n:";
constexpr std::string_view kNamespaceFinalizer = "kubernetes";

bool is_namespaces(const ResourceInfo& r) { return r.group.empty() && r.resource == "namespaces"; }

const ResourceInfo& namespaces_resource() {
  static const ResourceInfo* r = find_resource("", "v1", "namespaces");
  return *r;
}

// The store key an ownerReference points at, from the dependent's point of view; empty
// when the kind is not one kernlet serves (it is then left alone, never judged absent)
// or the reference is invalid (a cluster-scoped dependent cannot have a namespaced owner).
std::string owner_key(const api::OwnerReference& ref, const ResourceInfo& dependent, std::string_view ns) {
  const ResourceInfo* owner = find_kind(ref.api_version, ref.kind);
  if (owner == nullptr || ref.name.empty()) return {};
  if (owner->namespaced && !dependent.namespaced) return {};
  return object_key(*owner, owner->namespaced ? ns : std::string_view{}, ref.name);
}

bool has_gc_finalizer(const api::Meta& m) {
  return m.has_finalizer(kOrphanFinalizer) || m.has_finalizer(kForegroundFinalizer);
}

// Does a stored value need decoding at all? Most writes (status updates of objects with no
// owners) do not: skip the parse when none of the fields the collector reads is present.
bool may_matter(std::string_view value) {
  return value.find("\"ownerReferences\"") != std::string_view::npos ||
         value.find("\"deletionTimestamp\"") != std::string_view::npos;
}

}  // namespace

GarbageCollector::GarbageCollector(store::Store& store, ObjectWriter& writer, GarbageCollectorOptions options)
    : store_(store), writer_(writer), options_(options) {}

GarbageCollector::~GarbageCollector() { stop(); }

void GarbageCollector::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void GarbageCollector::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    if (watcher_) watcher_->cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool GarbageCollector::wait_idle(int64_t revision, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    return seen_revision_ >= revision && queue_.empty() && delayed_.empty() && !busy_;
  });
}

void GarbageCollector::enqueue(std::string item) {
  std::lock_guard lk(mu_);
  if (queued_.insert(item).second) queue_.push_back(std::move(item));
}

void GarbageCollector::enqueue_after(std::string item, std::chrono::milliseconds delay) {
  std::lock_guard lk(mu_);
  delayed_.emplace(Clock::now() + delay, std::move(item));
}

void GarbageCollector::run() {
  auto backoff = options_.retry_after;
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
    }
    if (!watcher_) {
      auto after = resync();
      Result<std::unique_ptr<store::Watcher>> w = Error("not started");
      if (after.ok()) w = store_.watch(kRegistry, *after);
      if (!after.ok() || !w.ok()) {
        const Error& e = after.ok() ? w.error() : after.error();
        std::fprintf(stderr, "error garbage-collector: resync: %s\n", e.to_string().c_str());
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, backoff, [&] { return stopping_; });
        backoff = std::min(backoff * 2, options_.max_retry_after);
        continue;
      }
      backoff = options_.retry_after;
      std::lock_guard lk(mu_);
      if (stopping_) return;
      watcher_ = std::move(*w);
      seen_revision_ = std::max(seen_revision_, *after);
    }

    // Wait for events only as long as nothing is ready to process.
    std::chrono::milliseconds wait = 1s;
    {
      std::lock_guard lk(mu_);
      const auto now = Clock::now();
      while (!delayed_.empty() && delayed_.begin()->first <= now) {
        std::string item = delayed_.begin()->second;
        delayed_.erase(delayed_.begin());
        if (queued_.insert(item).second) queue_.push_back(std::move(item));
      }
      if (!queue_.empty()) {
        wait = 0ms;
      } else if (!delayed_.empty()) {
        wait = std::chrono::ceil<std::chrono::milliseconds>(delayed_.begin()->first - now);
      }
    }
    auto batch = watcher_->next(wait);
    if (!batch.ok()) {
      // Compacted, fell behind, or cancelled: start over from a fresh list (level-triggered).
      std::lock_guard lk(mu_);
      if (stopping_) return;
      watcher_.reset();
      continue;
    }
    for (const store::Event& e : batch->events) observe(e);

    std::vector<std::string> items;
    {
      std::lock_guard lk(mu_);
      seen_revision_ = std::max(seen_revision_, batch->progress_revision);
      items.swap(queue_);
      queued_.clear();
      busy_ = !items.empty();
    }
    for (const std::string& item : items) {
      auto done = process(item);
      if (done.ok()) {
        failures_.erase(item);
        continue;
      }
      const int n = ++failures_[item];
      auto delay = std::min(options_.retry_after * (1 << std::min(n - 1, 16)), options_.max_retry_after);
      std::fprintf(stderr, "error garbage-collector: %s (retry in %lld ms)\n", done.error().to_string().c_str(),
                   static_cast<long long>(delay.count()));
      enqueue_after(item, delay);
    }
    {
      std::lock_guard lk(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

Result<int64_t> GarbageCollector::resync() {
  dependents_of_.clear();
  owned_by_.clear();
  terminating_namespaces_.clear();
  store::ListOptions page;
  int64_t revision = 0;
  for (;;) {
    page.limit = 1000;
    KL_ASSIGN_OR_RETURN(store::ListResult l, store_.list(kRegistry, page));
    revision = l.revision;
    for (const store::KeyValue& kv : l.kvs) {
      store::Event e;
      e.type = store::Event::Type::kPut;
      e.kv = kv;
      observe(e);
    }
    if (!l.more) break;
    page.revision = l.revision;
    page.continue_key = l.continue_key;
  }
  return revision;
}

// Records the owners of the object at `key` (nullptr: it is gone) in the graph.
void GarbageCollector::track(const std::string& key, const json::object* obj) {
  auto parts = parse_key(key);
  std::vector<std::string> owners;
  if (obj != nullptr && parts) {
    api::Meta meta(*obj);
    for (const api::OwnerReference& ref : meta.owner_references()) {
      std::string k = owner_key(ref, *parts->resource, parts->namespace_);
      if (!k.empty()) owners.push_back(std::move(k));
    }
  }
  auto it = dependents_of_.find(key);
  if (it != dependents_of_.end()) {
    if (it->second.owner_keys == owners) return;
    for (const std::string& o : it->second.owner_keys) {
      // An owner that loses a dependent may be waiting for it (foreground deletion).
      enqueue(std::string(kObjectItem) + o);
      auto d = owned_by_.find(o);
      if (d != owned_by_.end()) {
        d->second.erase(key);
        if (d->second.empty()) owned_by_.erase(d);
      }
    }
    dependents_of_.erase(it);
  }
  if (owners.empty()) return;
  for (const std::string& o : owners) owned_by_[o].insert(key);
  dependents_of_[key] = Dependent{std::move(owners)};
  enqueue(std::string(kObjectItem) + key);  // new or changed references: are they dangling?
}

void GarbageCollector::observe(const store::Event& e) {
  const std::string& key = e.kv.key;
  auto parts = parse_key(key);
  if (!parts) return;
  const bool is_ns = is_namespaces(*parts->resource);
  if (e.type == store::Event::Type::kDelete) {
    track(key, nullptr);
    if (auto d = owned_by_.find(key); d != owned_by_.end()) {
      for (const std::string& dep : d->second) enqueue(std::string(kObjectItem) + dep);
    }
    if (is_ns) terminating_namespaces_.erase(std::string(parts->name));
  } else if (may_matter(e.kv.value) || dependents_of_.contains(key) || is_ns) {
    auto obj = json::parse_object(e.kv.value, key);
    if (!obj.ok()) return;  // not ours to judge; the API server only stores valid objects
    track(key, &*obj);
    api::Meta meta(*obj);
    if (meta.being_deleted()) {
      if (has_gc_finalizer(meta)) enqueue(std::string(kObjectItem) + key);
      if (is_ns && terminating_namespaces_.insert(std::string(parts->name)).second) {
        enqueue(std::string(kNamespaceItem) + std::string(parts->name));
      }
    } else if (is_ns) {
      terminating_namespaces_.erase(std::string(parts->name));
    }
  }
  if (!parts->namespace_.empty() && terminating_namespaces_.contains(std::string(parts->namespace_))) {
    enqueue(std::string(kNamespaceItem) + std::string(parts->namespace_));
  }
}

Result<void> GarbageCollector::process(const std::string& item) {
  if (item.starts_with(kNamespaceItem)) return process_namespace(item.substr(kNamespaceItem.size()));
  return process_object(item.substr(kObjectItem.size()));
}

Result<void> GarbageCollector::process_object(const std::string& key) {
  auto parts = parse_key(key);
  if (!parts) return Ok();
  KL_ASSIGN_OR_RETURN(auto kv, store_.get(key));
  if (!kv) return Ok();
  KL_ASSIGN_OR_RETURN(json::object obj, json::parse_object(kv->value, key));
  api::Meta meta(obj);
  const ResourceInfo& r = *parts->resource;
  if (meta.being_deleted()) {
    if (meta.has_finalizer(kOrphanFinalizer)) return orphan_dependents(key, obj, r);
    if (meta.has_finalizer(kForegroundFinalizer)) return delete_dependents(key, obj, r);
    return Ok();
  }
  if (!meta.owner_references().empty()) return check_owners(key, obj, r);
  return Ok();
}

Result<void> GarbageCollector::orphan_dependents(const std::string& key, const json::object& obj,
                                                 const ResourceInfo& r) {
  const std::string uid(api::Meta(obj).uid());
  std::vector<std::string> deps;
  if (auto d = owned_by_.find(key); d != owned_by_.end()) deps.assign(d->second.begin(), d->second.end());
  for (const std::string& dep : deps) {
    auto parts = parse_key(dep);
    if (!parts) continue;
    KL_TRY(writer_.mutate(*parts->resource, dep, "", [&](json::object& o) {
      auto refs = api::Meta(o).owner_references();
      const auto n = std::erase_if(refs, [&](const api::OwnerReference& ref) { return ref.uid == uid; });
      if (n == 0) return false;
      api::MutableMeta(o).set_owner_references(refs);
      return true;
    }));
  }
  return writer_.mutate(r, key, uid, [](json::object& o) { return api::MutableMeta(o).remove_finalizer(kOrphanFinalizer); });
}

Result<void> GarbageCollector::delete_dependents(const std::string& key, const json::object& obj,
                                                 const ResourceInfo& r) {
  const std::string uid(api::Meta(obj).uid());
  std::vector<std::string> deps;
  if (auto d = owned_by_.find(key); d != owned_by_.end()) deps.assign(d->second.begin(), d->second.end());
  bool blocked = false;
  for (const std::string& dep : deps) {
    auto parts = parse_key(dep);
    if (!parts) continue;
    KL_ASSIGN_OR_RETURN(auto kv, store_.get(dep));
    if (!kv) continue;
    KL_ASSIGN_OR_RETURN(json::object dobj, json::parse_object(kv->value, dep));
    api::Meta dmeta(dobj);
    std::optional<api::OwnerReference> ref;
    for (auto& o : dmeta.owner_references()) {
      if (o.uid == uid) ref = o;
    }
    if (!ref) continue;  // no longer ours
    bool gone = false;
    if (!dmeta.being_deleted()) {
      // A dependent with dependents of its own goes in the foreground too, so that this
      // owner waits for the whole chain, as Kubernetes does.
      const Propagation policy = owned_by_.contains(dep) ? Propagation::kForeground : Propagation::kBackground;
      KL_ASSIGN_OR_RETURN(gone, writer_.delete_object(*parts->resource, dep, dmeta.uid(), policy));
    }
    if (!gone && ref->block_owner_deletion) blocked = true;
  }
  if (blocked) return Ok();  // their deletion events bring this owner back
  return writer_.mutate(r, key, uid,
                        [](json::object& o) { return api::MutableMeta(o).remove_finalizer(kForegroundFinalizer); });
}

Result<void> GarbageCollector::check_owners(const std::string& key, const json::object& obj, const ResourceInfo& r) {
  api::Meta meta(obj);
  int solid = 0;
  std::set<std::string> gone_or_going;  // owner uids: absent, replaced, or deleting in the foreground
  bool waiting = false;
  for (const api::OwnerReference& ref : meta.owner_references()) {
    const std::string okey = owner_key(ref, r, meta.namespace_());
    if (okey.empty()) {
      ++solid;  // a kind we do not serve: never judged absent
      continue;
    }
    KL_ASSIGN_OR_RETURN(auto kv, store_.get(okey));
    if (!kv) {
      gone_or_going.insert(ref.uid);
      continue;
    }
    KL_ASSIGN_OR_RETURN(json::object owner, json::parse_object(kv->value, okey));
    api::Meta ometa(owner);
    if (ometa.uid() != ref.uid) {
      gone_or_going.insert(ref.uid);
    } else if (ometa.being_deleted() && ometa.has_finalizer(kForegroundFinalizer)) {
      gone_or_going.insert(ref.uid);
      waiting = true;
    } else {
      ++solid;
    }
  }
  if (gone_or_going.empty()) return Ok();
  if (solid == 0) {
    const Propagation policy =
        waiting && owned_by_.contains(key) ? Propagation::kForeground : Propagation::kBackground;
    KL_ASSIGN_OR_RETURN(bool gone, writer_.delete_object(r, key, meta.uid(), policy));
    (void)gone;
    return Ok();
  }
  return writer_.mutate(r, key, meta.uid(), [&](json::object& o) {
    auto refs = api::Meta(o).owner_references();
    const auto n = std::erase_if(refs, [&](const api::OwnerReference& ref) { return gone_or_going.contains(ref.uid); });
    if (n == 0) return false;
    api::MutableMeta(o).set_owner_references(refs);
    return true;
  });
}

Result<void> GarbageCollector::process_namespace(const std::string& name) {
  const ResourceInfo& nsr = namespaces_resource();
  const std::string key = object_key(nsr, "", name);
  KL_ASSIGN_OR_RETURN(auto kv, store_.get(key));
  if (!kv) return Ok();
  KL_ASSIGN_OR_RETURN(json::object ns, json::parse_object(kv->value, key));
  if (!api::Meta(ns).being_deleted()) return Ok();
  bool remaining = false;
  for (const ResourceInfo& r : builtin_resources()) {
    if (!r.namespaced || r.resource == "bindings" || r.group == "metrics.k8s.io") continue;  // not stored
    store::ListOptions page;
    page.limit = 500;
    for (;;) {
      KL_ASSIGN_OR_RETURN(store::ListResult l, store_.list(key_prefix(r, name), page));
      for (const store::KeyValue& item : l.kvs) {
        auto obj = json::parse_object(item.value, item.key);
        if (!obj.ok()) return obj.error();
        api::Meta meta(*obj);
        if (meta.being_deleted()) {
          remaining = true;  // someone else's finalizer, or a pod stopping gracefully
          continue;
        }
        KL_ASSIGN_OR_RETURN(bool gone, writer_.delete_object(r, item.key, meta.uid(), Propagation::kBackground));
        remaining = remaining || !gone;
      }
      if (!l.more) break;
      page.revision = l.revision;
      page.continue_key = l.continue_key;
    }
  }
  // Whatever is left will send events that bring the namespace back here.
  if (remaining) return Ok();
  const std::string uid(api::Meta(ns).uid());
  return writer_.mutate(nsr, key, uid, [](json::object& o) {
    json::array* fin = json::get_array(json::ensure_object(o, "spec"), "finalizers");
    if (fin == nullptr) return false;
    bool removed = false;
    for (auto it = fin->begin(); it != fin->end();) {
      const bool ours = it->is_string() && it->get_string() == kNamespaceFinalizer;
      it = ours ? fin->erase(it) : it + 1;
      removed = removed || ours;
    }
    return removed;
  });
}

}  // namespace kernlet::apiserver
