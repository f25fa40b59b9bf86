// desired_services: what the socket load balancer and the NodePort datapath should hold,
// computed from Services and EndpointSlices as pure functions (no kernel, no API calls),
// and the diffs between two such states. agent/proxy/service_proxy.h applies the diffs
// through bpf::ServiceMap and bpf::NodePortMap.
//
// Socket LB rules (kube-proxy's, for clients on this node):
//  - every clusterIP (clusterIPs, both families), externalIP and status.loadBalancer
//    ingress IP of a Service, for each TCP/UDP port (SCTP is not balanced) is one entry,
//    and so is every node address (of the VIP's family) with each allocated nodePort;
//    headless and ExternalName services have none;
//  - the backends of a service port come from the Service's EndpointSlices of the VIP's
//    address family: the slice port with the service port's name and protocol gives the
//    target port (so a named targetPort resolves per endpoint group); each endpoint's first
//    address is used;
//  - ready endpoints (ready unset reads true) take new connections; terminating and
//    not-ready endpoints get none but are listed so their sockets are not drained (a pod
//    failing readiness keeps what it serves, as with kube-proxy; only an endpoint gone from
//    the slices is drained); when no endpoint is ready, serving terminating ones take new
//    connections (kube-proxy's fallback);
//  - internalTrafficPolicy Local keeps only endpoints whose nodeName is this node, for the
//    clusterIPs; externalIPs, load-balancer IPs and nodePorts reached from the node use every
//    endpoint whatever the externalTrafficPolicy (kube-proxy sends pod and host traffic for
//    external addresses to the cluster-wide endpoints too);
//  - sessionAffinity ClientIP with sessionAffinityConfig's timeout (default 10800 s).
//
// NodePort datapath rules (traffic arriving from outside the node; IPv4 only):
//  - each IPv4 node address with each allocated nodePort (type NodePort and LoadBalancer),
//    each IPv4 load-balancer ingress IP and each IPv4 externalIP with the service port;
//  - externalTrafficPolicy Local: only endpoints on this node (ready, else serving
//    terminating), no SNAT; Cluster: all of them, those on other nodes (or of unknown node)
//    marked remote (SNAT to the node);
//  - loadBalancerSourceRanges apply to the load-balancer ingress IPs (as kube-proxy's do);
//    an unparsable range is skipped with a warning, an IPv6 one ignored.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/client/cache.h"
#include "bpf/loader/lb_types.h"

namespace kernlet::agent {

using DesiredServices = std::map<bpf::ServiceKey, bpf::ServiceSpec>;

// Desired load-balancer content. Backends within a spec are sorted. Objects or fields that
// cannot be used (an unparsable IP, say) are skipped and described in *warnings if given.
// node_addresses: this node's addresses, for nodePort entries (none: no nodePort entries).
DesiredServices desired_services(const std::vector<client::ObjectPtr>& services,
                                 const std::vector<client::ObjectPtr>& endpoint_slices,
                                 const std::string& node_name, std::vector<std::string>* warnings = nullptr,
                                 const std::vector<bpf::IpAddr>& node_addresses = {});

using DesiredNodePorts = std::map<bpf::ServiceKey, bpf::NodePortSpec>;

// Desired NodePort datapath content (rules above). Backends within a spec are sorted.
DesiredNodePorts desired_nodeports(const std::vector<client::ObjectPtr>& services,
                                   const std::vector<client::ObjectPtr>& endpoint_slices,
                                   const std::string& node_name, const std::vector<bpf::IpAddr>& node_addresses,
                                   std::vector<std::string>* warnings = nullptr);

// The Service port a load-balancer key belongs to: the labels of its counters in /metrics.
struct ServicePortRef {
  std::string namespace_;
  std::string name;
  std::string port;  // the port's name, or its number when it has none
  std::string protocol;  // "TCP" / "UDP"
  auto operator<=>(const ServicePortRef&) const = default;
};
using ServiceOwners = std::map<bpf::ServiceKey, ServicePortRef>;

// Which Service port each key of desired_services and desired_nodeports comes from (every
// clusterIP, externalIP and load-balancer IP with the port, every node address with the
// nodePort). A key claimed by two services belongs to the first, as there.
ServiceOwners service_owners(const std::vector<client::ObjectPtr>& services,
                             const std::vector<bpf::IpAddr>& node_addresses);

struct ServiceDiff {
  std::vector<bpf::ServiceSpec> upserts;  // new or changed
  std::vector<bpf::ServiceKey> removes;   // no longer desired
};

// What turns `current` into `desired`; unchanged entries are in neither list.
ServiceDiff diff_services(const DesiredServices& current, const DesiredServices& desired);

struct NodePortDiff {
  std::vector<bpf::NodePortSpec> upserts;
  std::vector<bpf::ServiceKey> removes;
};

NodePortDiff diff_nodeports(const DesiredNodePorts& current, const DesiredNodePorts& desired);

}  // namespace kernlet::agent
