#include "api/objects/node.h"

namespace kernlet::api {

std::string_view TaintView::key() const { return json::get_string(*t_, "key"); }
std::string_view TaintView::value() const { return json::get_string(*t_, "value"); }
std::string_view TaintView::effect() const { return json::get_string(*t_, "effect"); }
std::string_view TaintView::time_added() const { return json::get_string(*t_, "timeAdded"); }

std::string_view NodeAddressView::type() const { return json::get_string(*a_, "type"); }
std::string_view NodeAddressView::address() const { return json::get_string(*a_, "address"); }

std::string_view NodeSpecView::pod_cidr() const { return json::get_string(*s_, "podCIDR"); }
std::vector<std::string_view> NodeSpecView::pod_cidrs() const {
  return get_string_array(*s_, "podCIDRs");
}
std::string_view NodeSpecView::provider_id() const { return json::get_string(*s_, "providerID"); }
bool NodeSpecView::unschedulable() const { return json::get_bool_or(*s_, "unschedulable", false); }
std::vector<TaintView> NodeSpecView::taints() const {
  std::vector<TaintView> out;
  for (const json::object* t : get_object_array(*s_, "taints")) out.emplace_back(*t);
  return out;
}

ResourceListView NodeStatusView::capacity() const {
  return ResourceListView(json::get_object(*s_, "capacity"), "status.capacity");
}
ResourceListView NodeStatusView::allocatable() const {
  return ResourceListView(json::get_object(*s_, "allocatable"), "status.allocatable");
}
std::vector<ConditionView> NodeStatusView::conditions() const { return get_conditions(*s_); }
std::optional<ConditionView> NodeStatusView::condition(std::string_view type) const {
  return find_condition(*s_, type);
}
std::vector<NodeAddressView> NodeStatusView::addresses() const {
  std::vector<NodeAddressView> out;
  for (const json::object* a : get_object_array(*s_, "addresses")) out.emplace_back(*a);
  return out;
}
std::optional<std::string_view> NodeStatusView::address(std::string_view type) const {
  for (const json::object* a : get_object_array(*s_, "addresses")) {
    if (json::get_string(*a, "type") == type) return json::get_string(*a, "address");
  }
  return std::nullopt;
}
const json::object* NodeStatusView::node_info() const { return json::get_object(*s_, "nodeInfo"); }
const json::object* NodeStatusView::daemon_endpoints() const {
  return json::get_object(*s_, "daemonEndpoints");
}
const json::array* NodeStatusView::images() const { return json::get_array(*s_, "images"); }

bool node_is_ready(const NodeView& node) {
  auto ready = node.status().condition("Ready");
  return ready && ready->is_true();
}

}  // namespace kernlet::api
