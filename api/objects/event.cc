#include "api/objects/event.h"

namespace kernlet::api {

int64_t EventSeriesView::count() const { return json::get_int_or(*s_, "count", 0); }
std::string_view EventSeriesView::last_observed_time() const {
  return json::get_string(*s_, "lastObservedTime");
}

ObjectReferenceView CoreV1EventView::involved_object() const {
  return ObjectReferenceView(object_or_empty(*e_, "involvedObject"));
}
std::string_view CoreV1EventView::reason() const { return json::get_string(*e_, "reason"); }
std::string_view CoreV1EventView::message() const { return json::get_string(*e_, "message"); }
std::string_view CoreV1EventView::type() const { return json::get_string(*e_, "type"); }
int64_t CoreV1EventView::count() const { return json::get_int_or(*e_, "count", 0); }
std::string_view CoreV1EventView::first_timestamp() const {
  return json::get_string(*e_, "firstTimestamp");
}
std::string_view CoreV1EventView::last_timestamp() const {
  return json::get_string(*e_, "lastTimestamp");
}
std::string_view CoreV1EventView::event_time() const { return json::get_string(*e_, "eventTime"); }
std::optional<EventSeriesView> CoreV1EventView::series() const {
  return optional_object_view<EventSeriesView>(*e_, "series");
}
std::string_view CoreV1EventView::source_component() const {
  return json::get_string(object_or_empty(*e_, "source"), "component");
}
std::string_view CoreV1EventView::source_host() const {
  return json::get_string(object_or_empty(*e_, "source"), "host");
}
std::string_view CoreV1EventView::reporting_component() const {
  return json::get_string(*e_, "reportingComponent");
}
std::string_view CoreV1EventView::reporting_instance() const {
  return json::get_string(*e_, "reportingInstance");
}
std::string_view CoreV1EventView::action() const { return json::get_string(*e_, "action"); }
std::optional<ObjectReferenceView> CoreV1EventView::related() const {
  return optional_object_view<ObjectReferenceView>(*e_, "related");
}

ObjectReferenceView EventsV1EventView::regarding() const {
  return ObjectReferenceView(object_or_empty(*e_, "regarding"));
}
std::optional<ObjectReferenceView> EventsV1EventView::related() const {
  return optional_object_view<ObjectReferenceView>(*e_, "related");
}
std::string_view EventsV1EventView::reason() const { return json::get_string(*e_, "reason"); }
std::string_view EventsV1EventView::note() const { return json::get_string(*e_, "note"); }
std::string_view EventsV1EventView::type() const { return json::get_string(*e_, "type"); }
std::string_view EventsV1EventView::event_time() const {
  return json::get_string(*e_, "eventTime");
}
std::optional<EventSeriesView> EventsV1EventView::series() const {
  return optional_object_view<EventSeriesView>(*e_, "series");
}
std::string_view EventsV1EventView::reporting_controller() const {
  return json::get_string(*e_, "reportingController");
}
std::string_view EventsV1EventView::reporting_instance() const {
  return json::get_string(*e_, "reportingInstance");
}
std::string_view EventsV1EventView::action() const { return json::get_string(*e_, "action"); }
std::string_view EventsV1EventView::deprecated_source_component() const {
  return json::get_string(object_or_empty(*e_, "deprecatedSource"), "component");
}
std::string_view EventsV1EventView::deprecated_source_host() const {
  return json::get_string(object_or_empty(*e_, "deprecatedSource"), "host");
}
std::string_view EventsV1EventView::deprecated_first_timestamp() const {
  return json::get_string(*e_, "deprecatedFirstTimestamp");
}
std::string_view EventsV1EventView::deprecated_last_timestamp() const {
  return json::get_string(*e_, "deprecatedLastTimestamp");
}
int64_t EventsV1EventView::deprecated_count() const {
  return json::get_int_or(*e_, "deprecatedCount", 0);
}

}  // namespace kernlet::api
