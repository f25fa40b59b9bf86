// EventRecorder: core/v1 Events, written the way client-go's recorder writes them: the
// agent's (Pulling, Started, BackOff, ... with source.component "kubelet" and source.host
// the node name) and the control plane's (one recorder shared by the controllers, each
// recording through its own EventSink with its source.component, e.g.
// "deployment-controller", and no host); involvedObject with kind, namespace, name, uid,
// apiVersion, resourceVersion (and fieldPath "spec.containers{name}" for a container),
// firstTimestamp, lastTimestamp and count.
//
// Spam filter as client-go's EventSourceObjectSpamFilter: a token bucket per source and
// involved object (burst 25, one more every 5 minutes); an event finding it empty is
// dropped (counted as filtered), so a crash-looping Job cannot flood the store.
// Similar events as client-go's EventAggregator: once 10 events of one source, object,
// type and reason with different messages came within 10 minutes, further ones are folded
// into one Event "(combined from similar events): <latest message>".
// Dedup as client-go's EventLogger: events with the same source,
// involved object (kind, namespace, name, fieldPath, uid, apiVersion), type, reason and
// message within `aggregation_window` (10 min) of the previous one are one Event whose
// count and lastTimestamp are PATCHed; the first, or one after the window, creates a new
// Event named "<object name>.<unix nanoseconds in hex>". An Event patched after it was
// deleted (TTL) is created again with its count. Node events go to namespace "default".
//
// event() never blocks: it puts the event on a bounded queue that one sender thread
// drains; when the queue is full the event is dropped and counted. A failed write is
// retried a few times with back-off, then dropped and counted: an API outage costs events,
// never the caller's time.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "api/client/clock.h"
#include "api/client/rest_client.h"
#include "api/json.h"

namespace kernlet::client {

struct EventRecorderOptions {
  std::string node_name;             // source.host; empty for control-plane components
  std::string component = "kubelet";  // source.component of event() (what kubectl shows as From)
  std::size_t queue_capacity = 1000;
  std::chrono::seconds aggregation_window{600};
  std::size_t cache_entries = 4096;  // distinct events remembered for aggregation (LRU)
  int spam_burst = 25;                              // events per source+object at once
  std::chrono::seconds spam_refill{300};            // then one more per this interval
  std::size_t similar_max = 10;                     // distinct messages before combining

  int max_attempts = 3;              // per event, then it is dropped (counted as failed)
  std::chrono::milliseconds retry_initial{500};
  std::shared_ptr<WallClock> clock;  // nullptr = system clock
};

// An involvedObject reference to `obj` (a Pod or Node document): kind, namespace, name,
// uid, apiVersion, resourceVersion, and fieldPath when not empty. When the document has no
// kind/apiVersion (list items often have none) it is taken as a v1 Pod when namespaced and
// a v1 Node otherwise. Pure.
json::object object_reference(const json::object& obj, std::string_view field_path = {});
// "spec.containers{web}" (or initContainers / ephemeralContainers by `list`). Pure.
std::string container_field_path(std::string_view container_name, std::string_view list = "containers");
// client-go's aggregation key of an event: source, involvedObject (without
// resourceVersion), type, reason and message. Pure.
std::string event_aggregation_key(const json::object& event);

// What one component records events through. Thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Records an event about `involved_object` (type "Normal" or "Warning"). Never blocks.
  virtual void event(const json::object& involved_object, std::string_view type, std::string_view reason,
                     std::string message) = 0;
};

class EventRecorder {
 public:
  // Programmer error (std::invalid_argument) on a null client.
  EventRecorder(std::shared_ptr<client::RestClient> client, EventRecorderOptions options);
  ~EventRecorder();  // stop()
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Starts the sender thread (no-op when running). Events queued before start() wait.
  void start();
  // Stops the sender after the write in flight; events still queued are discarded (and
  // counted as dropped). Idempotent.
  void stop();

  // Records an event about `involved_object` (type "Normal" or "Warning"). Never blocks.
  void event(const json::object& involved_object, std::string_view type, std::string_view reason,
             std::string message);
  // The same about a part of the object, e.g. container_field_path("web").
  void event(const json::object& involved_object, std::string_view field_path, std::string_view type,
             std::string_view reason, std::string message);

  // The same from `component` (source.component), for a recorder shared by several
  // components.
  void event_from(std::string_view component, const json::object& involved_object, std::string_view type,
                  std::string_view reason, std::string message);
  // A sink recording as `component` through this recorder, which must outlive it.
  std::shared_ptr<EventSink> sink(std::string component);

  // Waits until the queue is empty and nothing is being written, or `timeout` passed; true
  // when drained. For shutdown and tests.
  bool flush(std::chrono::milliseconds timeout);

  struct Counters {
    uint64_t created = 0;  // Events created
    uint64_t patched = 0;  // repeats folded into an existing Event
    uint64_t dropped = 0;  // queue full, or discarded at stop()
    uint64_t failed = 0;   // writes that failed every attempt
    uint64_t filtered = 0;  // refused by the spam filter
  };
  Counters counters() const;

 private:
  struct Pending {
    std::string component;
    json::object ref;
    std::string type, reason, message;
    api::TimePoint at;
  };
  struct Seen {
    std::string name, namespace_;
    int64_t count = 0;
    std::string first_timestamp;
    api::TimePoint last;
    std::list<std::string>::iterator lru;
  };
  void enqueue(Pending p);
  bool spam_allowed(const Pending& p);  // caller holds mu_
  void run();
  void send(const Pending& p);
  bool write_with_retries(const std::function<Result<json::object>()>& write, std::string_view what);
  std::string unique_name(std::string_view object_name, api::TimePoint at);
  void remember(const std::string& key, Seen seen);

  std::shared_ptr<client::RestClient> client_;
  EventRecorderOptions opt_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the sender
  std::condition_variable idle_cv_;  // wakes flush()
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  std::thread thread_;
  Counters counters_;
  struct Bucket {
    double tokens = 0;
    api::TimePoint at;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, Bucket> buckets_;  // spam filter, under mu_
  std::list<std::string> bucket_lru_;

  // Sender thread only.
  struct Similar {
    std::unordered_set<std::string> messages;
    api::TimePoint last;
  };
  std::unordered_map<std::string, Similar> similar_;
  std::unordered_map<std::string, Seen> seen_;
  std::list<std::string> lru_;  // most recent first
  int64_t last_name_nanos_ = 0;
};

}  // namespace kernlet::client
