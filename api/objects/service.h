// ServiceView: read-only typed view of a core/v1 Service (pattern: api/objects/pod.h), with
// the defaults the API server writes (type ClusterIP, protocol TCP, targetPort = port, ...).
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"

namespace kernlet::api {

// spec.ports[i]
class ServicePortView {
 public:
  explicit ServicePortView(const json::object& p) : p_(&p) {}
  std::string_view name() const;
  std::string_view protocol() const;  // default "TCP"
  int64_t port() const;               // 0 when unset
  // The pod port: a number or a container port name; unset, 0 and "" read as port().
  IntOrString target_port() const;
  int64_t node_port() const;  // 0 when unset (not yet allocated, or not a NodePort type)
  std::optional<std::string_view> app_protocol() const;
  const json::object& raw() const { return *p_; }

 private:
  const json::object* p_;
};

// status.loadBalancer.ingress[i]
class LoadBalancerIngressView {
 public:
  explicit LoadBalancerIngressView(const json::object& i) : i_(&i) {}
  std::string_view ip() const;
  std::string_view hostname() const;
  // "VIP" or "Proxy"; unset reads "VIP" when ip is set (the API default), else nullopt.
  std::optional<std::string_view> ip_mode() const;
  const json::array* ports() const;
  const json::object& raw() const { return *i_; }

 private:
  const json::object* i_;
};

// spec
class ServiceSpecView {
 public:
  explicit ServiceSpecView(const json::object& s) : s_(&s) {}
  // "ClusterIP" (default), "NodePort", "LoadBalancer" or "ExternalName".
  std::string_view type() const;
  std::string_view cluster_ip() const;  // "" before allocation, "None" when headless
  // clusterIPs; when absent, clusterIP alone (the API server keeps clusterIPs[0] ==
  // clusterIP, and older writers set only clusterIP). Empty when neither is set.
  std::vector<std::string_view> cluster_ips() const;
  bool is_headless() const { return cluster_ip() == "None"; }
  std::vector<ServicePortView> ports() const;
  // The port named `name` ("" finds the single unnamed port).
  std::optional<ServicePortView> find_port(std::string_view name) const;
  // The pod selector as a label map; nullptr when unset (endpoints are managed by hand).
  const json::object* selector() const;
  std::string_view session_affinity() const;  // "None" (default) or "ClientIP"
  // ClientIP stickiness timeout: sessionAffinityConfig.clientIP.timeoutSeconds, default
  // 10800; nullopt when sessionAffinity is not ClientIP (Kubernetes drops the config then).
  std::optional<int64_t> session_affinity_timeout_seconds() const;
  // "Cluster" or "Local". Unset reads "Cluster" for externally accessible services
  // (NodePort, LoadBalancer, or ClusterIP with externalIPs), "" for the others.
  std::string_view external_traffic_policy() const;
  // "Cluster" or "Local". Unset reads "Cluster" except for ExternalName services ("").
  std::string_view internal_traffic_policy() const;
  std::vector<std::string_view> external_ips() const;
  std::vector<std::string_view> load_balancer_source_ranges() const;
  std::string_view load_balancer_ip() const;
  std::optional<std::string_view> load_balancer_class() const;
  // Unset reads true for LoadBalancer services, nullopt for the others.
  std::optional<bool> allocate_load_balancer_node_ports() const;
  std::vector<std::string_view> ip_families() const;  // "IPv4" / "IPv6", primary first
  // "SingleStack", "PreferDualStack", "RequireDualStack"; "" until the API server sets it.
  std::string_view ip_family_policy() const;
  std::string_view external_name() const;
  int64_t health_check_node_port() const;  // 0 when unset
  bool publish_not_ready_addresses() const;
  std::optional<std::string_view> traffic_distribution() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// status
class ServiceStatusView {
 public:
  explicit ServiceStatusView(const json::object& s) : s_(&s) {}
  std::vector<LoadBalancerIngressView> load_balancer_ingress() const;
  std::vector<ConditionView> conditions() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// A whole Service.
class ServiceView {
 public:
  explicit ServiceView(const json::object& svc) : svc_(&svc) {}
  Meta meta() const { return Meta(*svc_); }
  ServiceSpecView spec() const { return ServiceSpecView(object_or_empty(*svc_, "spec")); }
  ServiceStatusView status() const {
    return ServiceStatusView(object_or_empty(*svc_, "status"));
  }
  const json::object& raw() const { return *svc_; }

 private:
  const json::object* svc_;
};

}  // namespace kernlet::api
