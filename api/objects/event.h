// Views of the two Event kinds: core/v1 Event (what `kubectl get events` lists and most
// components still write) and events.k8s.io/v1 Event (the newer schema with series and
// reportingController), pattern: api/objects/pod.h. Events have no defaults.
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/common.h"

namespace kernlet::api {

// series of an event that repeats (both kinds).
class EventSeriesView {
 public:
  explicit EventSeriesView(const json::object& s) : s_(&s) {}
  int64_t count() const;                       // 0 when unset
  std::string_view last_observed_time() const;  // MicroTime; "" when unset
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// A core/v1 Event.
class CoreV1EventView {
 public:
  explicit CoreV1EventView(const json::object& e) : e_(&e) {}
  Meta meta() const { return Meta(*e_); }
  ObjectReferenceView involved_object() const;
  std::string_view reason() const;   // "Scheduled", "Pulling", "BackOff", ...
  std::string_view message() const;
  std::string_view type() const;     // "Normal" or "Warning"
  int64_t count() const;             // 0 when unset
  std::string_view first_timestamp() const;  // RFC 3339; "" when unset
  std::string_view last_timestamp() const;   // RFC 3339; "" when unset
  std::string_view event_time() const;       // MicroTime; "" when unset
  std::optional<EventSeriesView> series() const;
  std::string_view source_component() const;  // source.component
  std::string_view source_host() const;       // source.host
  std::string_view reporting_component() const;
  std::string_view reporting_instance() const;
  std::string_view action() const;
  std::optional<ObjectReferenceView> related() const;
  const json::object& raw() const { return *e_; }

 private:
  const json::object* e_;
};

// An events.k8s.io/v1 Event.
class EventsV1EventView {
 public:
  explicit EventsV1EventView(const json::object& e) : e_(&e) {}
  Meta meta() const { return Meta(*e_); }
  ObjectReferenceView regarding() const;
  std::optional<ObjectReferenceView> related() const;
  std::string_view reason() const;
  std::string_view note() const;
  std::string_view type() const;        // "Normal" or "Warning"
  std::string_view event_time() const;  // MicroTime; "" when unset
  std::optional<EventSeriesView> series() const;
  std::string_view reporting_controller() const;
  std::string_view reporting_instance() const;
  std::string_view action() const;
  // The core/v1 fields kept under deprecated* names for round trips.
  std::string_view deprecated_source_component() const;
  std::string_view deprecated_source_host() const;
  std::string_view deprecated_first_timestamp() const;
  std::string_view deprecated_last_timestamp() const;
  int64_t deprecated_count() const;  // 0 when unset
  const json::object& raw() const { return *e_; }

 private:
  const json::object* e_;
};

}  // namespace kernlet::api
