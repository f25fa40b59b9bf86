// desired_services: what the socket load balancer should hold, computed from Services and
// EndpointSlices as a pure function (no kernel, no API calls), and the diff between two
// such states. agent/proxy/service_proxy.h applies the diff through bpf::ServiceMap.
//
// Rules (kube-proxy's, for clients on this node):
//  - every clusterIP (clusterIPs, both families), externalIP and status.loadBalancer
//    ingress IP of a Service, for each TCP/UDP port (SCTP is not balanced) is one entry;
//    headless and ExternalName services have none;
//  - the backends of a service port come from the Service's EndpointSlices of the VIP's
//    address family: the slice port with the service port's name and protocol gives the
//    target port (so a named targetPort resolves per endpoint group); each endpoint's first
//    address is used;
//  - ready endpoints (ready unset reads true) take new connections; terminating endpoints
//    get none but are listed so their sockets are not drained; when no endpoint is ready,
//    serving terminating ones take new connections (kube-proxy's fallback);
//  - internalTrafficPolicy Local keeps only endpoints whose nodeName is this node;
//  - sessionAffinity ClientIP with sessionAffinityConfig's timeout (default 10800 s).
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
DesiredServices desired_services(const std::vector<client::ObjectPtr>& services,
                                 const std::vector<client::ObjectPtr>& endpoint_slices,
                                 const std::string& node_name, std::vector<std::string>* warnings = nullptr);

struct ServiceDiff {
  std::vector<bpf::ServiceSpec> upserts;  // new or changed
  std::vector<bpf::ServiceKey> removes;   // no longer desired
};

// What turns `current` into `desired`; unchanged entries are in neither list.
ServiceDiff diff_services(const DesiredServices& current, const DesiredServices& desired);

}  // namespace kernlet::agent
