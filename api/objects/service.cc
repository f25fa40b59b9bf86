#include "api/objects/service.h"

#include "api/objects/common.h"

namespace kernlet::api {
namespace {

constexpr int64_t kDefaultClientIpAffinitySeconds = 10800;  // 3 hours

}  // namespace

std::string_view ServicePortView::name() const { return json::get_string(*p_, "name"); }
std::string_view ServicePortView::protocol() const {
  return string_or_default(*p_, "protocol", "TCP");
}
int64_t ServicePortView::port() const { return json::get_int_or(*p_, "port", 0); }
IntOrString ServicePortView::target_port() const {
  std::optional<IntOrString> t = get_int_or_string(*p_, "targetPort");
  const bool unset = !t || (t->is_int && t->int_value == 0) || (!t->is_int && t->str_value.empty());
  if (unset) return IntOrString{true, port(), {}};
  return *t;
}
int64_t ServicePortView::node_port() const { return json::get_int_or(*p_, "nodePort", 0); }
std::optional<std::string_view> ServicePortView::app_protocol() const {
  return get_optional_string(*p_, "appProtocol");
}

std::string_view LoadBalancerIngressView::ip() const { return json::get_string(*i_, "ip"); }
std::string_view LoadBalancerIngressView::hostname() const {
  return json::get_string(*i_, "hostname");
}
std::optional<std::string_view> LoadBalancerIngressView::ip_mode() const {
  if (auto m = get_optional_string(*i_, "ipMode")) return m;
  if (!ip().empty()) return std::string_view("VIP");
  return std::nullopt;
}
const json::array* LoadBalancerIngressView::ports() const { return json::get_array(*i_, "ports"); }

std::string_view ServiceSpecView::type() const { return string_or_default(*s_, "type", "ClusterIP"); }
std::string_view ServiceSpecView::cluster_ip() const { return json::get_string(*s_, "clusterIP"); }
std::vector<std::string_view> ServiceSpecView::cluster_ips() const {
  if (json::get_array(*s_, "clusterIPs") != nullptr) return get_string_array(*s_, "clusterIPs");
  std::vector<std::string_view> out;
  if (!cluster_ip().empty()) out.push_back(cluster_ip());
  return out;
}
std::vector<ServicePortView> ServiceSpecView::ports() const {
  return object_views<ServicePortView>(*s_, "ports");
}
std::optional<ServicePortView> ServiceSpecView::find_port(std::string_view name) const {
  for (const ServicePortView& p : ports()) {
    if (p.name() == name) return p;
  }
  return std::nullopt;
}
const json::object* ServiceSpecView::selector() const { return json::get_object(*s_, "selector"); }
std::string_view ServiceSpecView::session_affinity() const {
  return string_or_default(*s_, "sessionAffinity", "None");
}
std::optional<int64_t> ServiceSpecView::session_affinity_timeout_seconds() const {
  if (session_affinity() != "ClientIP") return std::nullopt;
  const json::object* client_ip = json::get_path(*s_, "sessionAffinityConfig.clientIP");
  if (client_ip == nullptr) return kDefaultClientIpAffinitySeconds;
  return json::get_int(*client_ip, "timeoutSeconds").value_or(kDefaultClientIpAffinitySeconds);
}
std::string_view ServiceSpecView::external_traffic_policy() const {
  std::string_view v = json::get_string(*s_, "externalTrafficPolicy");
  if (!v.empty()) return v;
  const std::string_view t = type();
  const bool external = t == "NodePort" || t == "LoadBalancer" ||
                        (t == "ClusterIP" && !external_ips().empty());
  return external ? "Cluster" : "";
}
std::string_view ServiceSpecView::internal_traffic_policy() const {
  std::string_view v = json::get_string(*s_, "internalTrafficPolicy");
  if (!v.empty()) return v;
  return type() == "ExternalName" ? "" : "Cluster";
}
std::vector<std::string_view> ServiceSpecView::external_ips() const {
  return get_string_array(*s_, "externalIPs");
}
std::vector<std::string_view> ServiceSpecView::load_balancer_source_ranges() const {
  return get_string_array(*s_, "loadBalancerSourceRanges");
}
std::string_view ServiceSpecView::load_balancer_ip() const {
  return json::get_string(*s_, "loadBalancerIP");
}
std::optional<std::string_view> ServiceSpecView::load_balancer_class() const {
  return get_optional_string(*s_, "loadBalancerClass");
}
std::optional<bool> ServiceSpecView::allocate_load_balancer_node_ports() const {
  if (auto v = json::get_bool(*s_, "allocateLoadBalancerNodePorts")) return v;
  if (type() == "LoadBalancer") return true;
  return std::nullopt;
}
std::vector<std::string_view> ServiceSpecView::ip_families() const {
  return get_string_array(*s_, "ipFamilies");
}
std::string_view ServiceSpecView::ip_family_policy() const {
  return json::get_string(*s_, "ipFamilyPolicy");
}
std::string_view ServiceSpecView::external_name() const {
  return json::get_string(*s_, "externalName");
}
int64_t ServiceSpecView::health_check_node_port() const {
  return json::get_int_or(*s_, "healthCheckNodePort", 0);
}
bool ServiceSpecView::publish_not_ready_addresses() const {
  return json::get_bool_or(*s_, "publishNotReadyAddresses", false);
}
std::optional<std::string_view> ServiceSpecView::traffic_distribution() const {
  return get_optional_string(*s_, "trafficDistribution");
}

std::vector<LoadBalancerIngressView> ServiceStatusView::load_balancer_ingress() const {
  return object_views<LoadBalancerIngressView>(object_or_empty(*s_, "loadBalancer"), "ingress");
}
std::vector<ConditionView> ServiceStatusView::conditions() const { return get_conditions(*s_); }

}  // namespace kernlet::api
