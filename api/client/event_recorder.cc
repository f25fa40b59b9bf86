#include "api/client/event_recorder.h"

#include <cstdio>
#include <algorithm>
#include <stdexcept>

#include "api/object.h"

namespace kernlet::client {
namespace {

void log_warning(const std::string& msg) { std::fprintf(stderr, "W events: %s\n", msg.c_str()); }

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

json::object object_reference(const json::object& obj, std::string_view field_path) {
  api::Meta meta(obj);
  std::string_view kind = api::kind(obj);
  std::string_view api_version = api::api_version(obj);
  if (kind.empty()) kind = meta.namespace_().empty() ? "Node" : "Pod";
  if (api_version.empty()) api_version = "v1";
  json::object ref{{"kind", kind}, {"name", meta.name()}, {"apiVersion", api_version}};
  if (!meta.namespace_().empty()) ref["namespace"] = meta.namespace_();
  if (!meta.uid().empty()) ref["uid"] = meta.uid();
  if (!meta.resource_version().empty()) ref["resourceVersion"] = meta.resource_version();
  if (!field_path.empty()) ref["fieldPath"] = field_path;
  return ref;
}

std::string container_field_path(std::string_view container_name, std::string_view list) {
  return "spec." + std::string(list) + "{" + std::string(container_name) + "}";
}

std::string event_aggregation_key(const json::object& event) {
  const json::object& src = api::object_or_empty(event, "source");
  const json::object& ref = api::object_or_empty(event, "involvedObject");
  std::string key;
  auto add = [&](std::string_view s) {
    key.append(s);
    key.push_back('\0');  // a separator no field can contain
  };
  add(json::get_string(src, "component"));
  add(json::get_string(src, "host"));
  for (std::string_view f : {"kind", "namespace", "name", "fieldPath", "uid", "apiVersion"}) {
    add(json::get_string(ref, f));
  }
  add(json::get_string(event, "type"));
  add(json::get_string(event, "reason"));
  add(json::get_string(event, "message"));
  return key;
}

EventRecorder::EventRecorder(std::shared_ptr<client::RestClient> client, EventRecorderOptions options)
    : client_(std::move(client)), opt_(std::move(options)) {
  if (!client_) throw std::invalid_argument("EventRecorder: null client");
  if (!opt_.clock) opt_.clock = SystemWallClock::shared();
  if (opt_.queue_capacity == 0) opt_.queue_capacity = 1;
  if (opt_.cache_entries == 0) opt_.cache_entries = 1;
  if (opt_.max_attempts < 1) opt_.max_attempts = 1;
  if (opt_.spam_burst < 1) opt_.spam_burst = 1;
  if (opt_.similar_max < 1) opt_.similar_max = 1;
}

EventRecorder::~EventRecorder() { stop(); }

void EventRecorder::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void EventRecorder::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  counters_.dropped += queue_.size();
  queue_.clear();
  idle_cv_.notify_all();
}

void EventRecorder::event(const json::object& involved_object, std::string_view type, std::string_view reason,
                          std::string message) {
  event(involved_object, {}, type, reason, std::move(message));
}

void EventRecorder::event(const json::object& involved_object, std::string_view field_path, std::string_view type,
                          std::string_view reason, std::string message) {
  enqueue(Pending{opt_.component, object_reference(involved_object, field_path), std::string(type),
                  std::string(reason), std::move(message), opt_.clock->now()});
}

void EventRecorder::event_from(std::string_view component, const json::object& involved_object,
                               std::string_view type, std::string_view reason, std::string message) {
  enqueue(Pending{std::string(component), object_reference(involved_object), std::string(type),
                  std::string(reason), std::move(message), opt_.clock->now()});
}

namespace {
class ComponentSink final : public EventSink {
 public:
  ComponentSink(EventRecorder* r, std::string component) : r_(r), component_(std::move(component)) {}
  void event(const json::object& obj, std::string_view type, std::string_view reason, std::string message) override {
    r_->event_from(component_, obj, type, reason, std::move(message));
  }

 private:
  EventRecorder* r_;
  std::string component_;
};
}  // namespace

std::shared_ptr<EventSink> EventRecorder::sink(std::string component) {
  return std::make_shared<ComponentSink>(this, std::move(component));
}

bool EventRecorder::spam_allowed(const Pending& p) {
  // client-go's spam key: the source and the involved object, whatever the reason.
  std::string key = p.component + '\0' + opt_.node_name;
  for (std::string_view f : {"kind", "namespace", "name", "uid", "apiVersion"}) {
    key.push_back('\0');
    key.append(json::get_string(p.ref, f));
  }
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    bucket_lru_.push_front(key);
    it = buckets_.emplace(key, Bucket{static_cast<double>(opt_.spam_burst), p.at, bucket_lru_.begin()}).first;
    while (buckets_.size() > opt_.cache_entries) {
      buckets_.erase(bucket_lru_.back());
      bucket_lru_.pop_back();
    }
  } else {
    bucket_lru_.splice(bucket_lru_.begin(), bucket_lru_, it->second.lru);
  }
  Bucket& b = it->second;
  if (p.at > b.at) {
    const double refill = std::chrono::duration<double>(p.at - b.at) / std::chrono::duration<double>(opt_.spam_refill);
    b.tokens = std::min<double>(opt_.spam_burst, b.tokens + refill);
    b.at = p.at;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void EventRecorder::enqueue(Pending p) {
  {
    std::lock_guard lock(mu_);
    if (!spam_allowed(p)) {
      ++counters_.filtered;
      return;
    }
    if (queue_.size() >= opt_.queue_capacity) {
      ++counters_.dropped;
      return;
    }
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

EventRecorder::Counters EventRecorder::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void EventRecorder::run() {
  for (;;) {
    Pending p;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      p = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    send(p);
    std::lock_guard lock(mu_);
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

std::string EventRecorder::unique_name(std::string_view object_name, api::TimePoint at) {
  // client-go names events "<object>.<UnixNano in hex>"; bumping past the last one keeps
  // two events of the same nanosecond (a coarse or fake clock) from colliding.
  int64_t nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  if (nanos <= last_name_nanos_) nanos = last_name_nanos_ + 1;
  last_name_nanos_ = nanos;
  return std::string(object_name) + "." + hex(static_cast<uint64_t>(nanos));
}

void EventRecorder::remember(const std::string& key, Seen seen) {
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    lru_.erase(it->second.lru);
    seen_.erase(it);
  }
  lru_.push_front(key);
  seen.lru = lru_.begin();
  seen_.emplace(key, std::move(seen));
  while (seen_.size() > opt_.cache_entries) {
    seen_.erase(lru_.back());
    lru_.pop_back();
  }
}

bool EventRecorder::write_with_retries(const std::function<Result<json::object>()>& write, std::string_view what) {
  auto delay = opt_.retry_initial;
  for (int attempt = 1;; ++attempt) {
    auto r = write();
    if (r.ok()) return true;
    ErrorCode code = r.error().code();
    // Only an outage is worth waiting for; a refused event will be refused again.
    bool retry = code == ErrorCode::kUnavailable || code == ErrorCode::kDeadlineExceeded ||
                 code == ErrorCode::kInternal || code == ErrorCode::kUnknown;
    if (code == ErrorCode::kNotFound) return false;  // the caller decides (patch of a deleted Event)
    if (!retry || attempt >= opt_.max_attempts) {
      log_warning(std::string(what) + ": " + r.error().to_string() + " (dropped)");
      std::lock_guard lock(mu_);
      ++counters_.failed;
      return true;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, delay, [this] { return stopping_; })) {
      ++counters_.failed;
      return true;
    }
    delay *= 2;
  }
}

void EventRecorder::send(const Pending& in) {
  Pending p = in;
  json::object source{{"component", p.component}};
  if (!opt_.node_name.empty()) source["host"] = opt_.node_name;
  json::object probe{{"source", std::move(source)},
                     {"involvedObject", p.ref},
                     {"type", p.type},
                     {"reason", p.reason},
                     {"message", p.message}};
  std::string key = event_aggregation_key(probe);
  // client-go's EventAggregator: the same event with ever new messages (a pod name in
  // each) becomes one combined Event once `similar_max` distinct ones came in a window.
  json::object similar_probe = probe;
  similar_probe["message"] = "";
  const std::string similar_key = event_aggregation_key(similar_probe);
  Similar& sim = similar_[similar_key];
  if (p.at - sim.last > opt_.aggregation_window) sim.messages.clear();
  sim.last = p.at;
  if (sim.messages.contains(p.message) || sim.messages.size() < opt_.similar_max) {
    sim.messages.insert(p.message);
  } else {
    p.message = "(combined from similar events): " + p.message;
    probe["message"] = p.message;
    key = similar_key + "combined";
  }
  if (similar_.size() > opt_.cache_entries) {
    std::erase_if(similar_, [&](const auto& e) { return p.at - e.second.last > opt_.aggregation_window; });
  }
  std::string ts = api::format_rfc3339(p.at);
  std::string ns(json::get_string(p.ref, "namespace"));
  if (ns.empty()) ns = "default";
  client::ResourceRef events("", "v1", "events", ns);

  auto it = seen_.find(key);
  if (it != seen_.end() && p.at - it->second.last <= opt_.aggregation_window) {
    Seen s = it->second;
    s.count += 1;
    s.last = p.at;
    bool patched = false;
    bool handled = write_with_retries(
        [&]() -> Result<json::object> {
          auto r = client_->patch(events.named(s.name), client::PatchType::kStrategicMerge,
                                  json::object{{"count", s.count}, {"lastTimestamp", ts}, {"message", p.message}});
          if (r.ok()) patched = true;
          return r;
        },
        "patch event " + s.namespace_ + "/" + s.name);
    if (handled) {
      if (patched) {
        std::lock_guard lock(mu_);
        ++counters_.patched;
      }
      remember(key, std::move(s));
      return;
    }
    // The Event is gone (expired or deleted): create it again, keeping its count.
    json::object ev = probe;
    ev["apiVersion"] = "v1";
    ev["kind"] = "Event";
    ev["metadata"] = json::object{{"name", unique_name(json::get_string(p.ref, "name"), p.at)}, {"namespace", ns}};
    ev["firstTimestamp"] = s.first_timestamp;
    ev["lastTimestamp"] = ts;
    ev["count"] = s.count;
    ev["reportingComponent"] = p.component;
    ev["reportingInstance"] = opt_.node_name;
    s.name = std::string(api::Meta(ev).name());
    bool created = false;
    write_with_retries(
        [&]() -> Result<json::object> {
          auto r = client_->create(events, ev);
          if (r.ok()) created = true;
          return r;
        },
        "create event " + ns + "/" + s.name);
    if (created) {
      std::lock_guard lock(mu_);
      ++counters_.created;
    }
    remember(key, std::move(s));
    return;
  }

  json::object ev = probe;
  ev["apiVersion"] = "v1";
  ev["kind"] = "Event";
  std::string name = unique_name(json::get_string(p.ref, "name"), p.at);
  ev["metadata"] = json::object{{"name", name}, {"namespace", ns}};
  ev["firstTimestamp"] = ts;
  ev["lastTimestamp"] = ts;
  ev["count"] = 1;
  ev["reportingComponent"] = p.component;
  ev["reportingInstance"] = opt_.node_name;
  bool created = false;
  bool handled = write_with_retries(
      [&]() -> Result<json::object> {
        auto r = client_->create(events, ev);
        if (r.ok()) created = true;
        return r;
      },
      "create event " + ns + "/" + name);
  if (!handled) {
    // kNotFound on create: the namespace is gone. Nothing to aggregate into.
    log_warning("create event " + ns + "/" + name + ": namespace not found (dropped)");
    std::lock_guard lock(mu_);
    ++counters_.failed;
    return;
  }
  if (created) {
    {
      std::lock_guard lock(mu_);
      ++counters_.created;
    }
    remember(key, Seen{name, ns, 1, ts, p.at, {}});
  }
}

}  // namespace kernlet::client
