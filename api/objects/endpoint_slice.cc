#include "api/objects/endpoint_slice.h"

namespace kernlet::api {

bool EndpointConditionsView::ready() const { return ready_value().value_or(true); }
bool EndpointConditionsView::serving() const { return serving_value().value_or(true); }
bool EndpointConditionsView::terminating() const { return terminating_value().value_or(false); }
std::optional<bool> EndpointConditionsView::ready_value() const {
  return json::get_bool(*c_, "ready");
}
std::optional<bool> EndpointConditionsView::serving_value() const {
  return json::get_bool(*c_, "serving");
}
std::optional<bool> EndpointConditionsView::terminating_value() const {
  return json::get_bool(*c_, "terminating");
}

std::vector<std::string_view> EndpointSliceEndpointView::addresses() const {
  return get_string_array(*e_, "addresses");
}
EndpointConditionsView EndpointSliceEndpointView::conditions() const {
  return EndpointConditionsView(object_or_empty(*e_, "conditions"));
}
std::optional<std::string_view> EndpointSliceEndpointView::hostname() const {
  return get_optional_string(*e_, "hostname");
}
std::optional<std::string_view> EndpointSliceEndpointView::node_name() const {
  return get_optional_string(*e_, "nodeName");
}
std::optional<std::string_view> EndpointSliceEndpointView::zone() const {
  return get_optional_string(*e_, "zone");
}
std::optional<ObjectReferenceView> EndpointSliceEndpointView::target_ref() const {
  return optional_object_view<ObjectReferenceView>(*e_, "targetRef");
}
const json::object* EndpointSliceEndpointView::hints() const {
  return json::get_object(*e_, "hints");
}

std::string_view EndpointSlicePortView::name() const { return json::get_string(*p_, "name"); }
std::string_view EndpointSlicePortView::protocol() const {
  return string_or_default(*p_, "protocol", "TCP");
}
std::optional<int64_t> EndpointSlicePortView::port() const { return json::get_int(*p_, "port"); }
std::optional<std::string_view> EndpointSlicePortView::app_protocol() const {
  return get_optional_string(*p_, "appProtocol");
}

std::string_view EndpointSliceView::address_type() const {
  return json::get_string(*s_, "addressType");
}
std::vector<EndpointSliceEndpointView> EndpointSliceView::endpoints() const {
  return object_views<EndpointSliceEndpointView>(*s_, "endpoints");
}
std::vector<EndpointSlicePortView> EndpointSliceView::ports() const {
  return object_views<EndpointSlicePortView>(*s_, "ports");
}
std::optional<std::string_view> EndpointSliceView::service_name() const {
  return meta().label(kServiceNameLabel);
}

std::string_view EndpointAddressView::ip() const { return json::get_string(*a_, "ip"); }
std::string_view EndpointAddressView::hostname() const {
  return json::get_string(*a_, "hostname");
}
std::optional<std::string_view> EndpointAddressView::node_name() const {
  return get_optional_string(*a_, "nodeName");
}
std::optional<ObjectReferenceView> EndpointAddressView::target_ref() const {
  return optional_object_view<ObjectReferenceView>(*a_, "targetRef");
}

std::string_view EndpointPortView::name() const { return json::get_string(*p_, "name"); }
int64_t EndpointPortView::port() const { return json::get_int_or(*p_, "port", 0); }
std::string_view EndpointPortView::protocol() const {
  return string_or_default(*p_, "protocol", "TCP");
}
std::optional<std::string_view> EndpointPortView::app_protocol() const {
  return get_optional_string(*p_, "appProtocol");
}

std::vector<EndpointAddressView> EndpointSubsetView::addresses() const {
  return object_views<EndpointAddressView>(*s_, "addresses");
}
std::vector<EndpointAddressView> EndpointSubsetView::not_ready_addresses() const {
  return object_views<EndpointAddressView>(*s_, "notReadyAddresses");
}
std::vector<EndpointPortView> EndpointSubsetView::ports() const {
  return object_views<EndpointPortView>(*s_, "ports");
}

std::vector<EndpointSubsetView> EndpointsView::subsets() const {
  return object_views<EndpointSubsetView>(*e_, "subsets");
}

}  // namespace kernlet::api
