#include "api/objects/coordination.h"

#include "api/objects/common.h"

namespace kernlet::api {

std::optional<std::string_view> LeaseSpecView::holder_identity() const {
  return get_optional_string(*s_, "holderIdentity");
}
std::optional<int64_t> LeaseSpecView::lease_duration_seconds() const {
  return json::get_int(*s_, "leaseDurationSeconds");
}
std::string_view LeaseSpecView::acquire_time() const { return json::get_string(*s_, "acquireTime"); }
std::string_view LeaseSpecView::renew_time() const { return json::get_string(*s_, "renewTime"); }
std::optional<int64_t> LeaseSpecView::lease_transitions() const {
  return json::get_int(*s_, "leaseTransitions");
}
std::optional<std::string_view> LeaseSpecView::strategy() const {
  return get_optional_string(*s_, "strategy");
}
std::optional<std::string_view> LeaseSpecView::preferred_holder() const {
  return get_optional_string(*s_, "preferredHolder");
}

}  // namespace kernlet::api
