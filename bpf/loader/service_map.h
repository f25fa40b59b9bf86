// service_map.h: the interface the agent's service proxy programs the load balancer
// through. SockLb (sock_lb.h) implements it on the kernel's BPF maps; tests use fakes.
#pragma once

#include <map>
#include <vector>

#include "api/result.h"
#include "bpf/loader/lb_types.h"

namespace kernlet::bpf {

class ServiceMap {
 public:
  virtual ~ServiceMap() = default;

  // Installs or replaces one VIP:port:proto with its backends in one step: a connect()
  // sees the old backend set or the new one, never a mix. Backends that were listed
  // (ready or terminating) before and are in neither list now are drained: their
  // established TCP and connected UDP sockets made through this service are destroyed
  // before this returns. Errors name the service and the map that failed.
  virtual Result<void> upsert(const ServiceSpec& spec) = 0;

  // upsert() of each spec, one result per spec in the same order. An implementation may
  // write the services not installed yet in bulk (a full sync: the agent's first pass, the
  // benchmark), with the same guarantee per service: its backends are in place before its
  // service entry is. Installed services still take upsert() (draining included).
  virtual std::vector<Result<void>> upsert_many(const std::vector<ServiceSpec>& specs) {
    std::vector<Result<void>> out;
    out.reserve(specs.size());
    for (const ServiceSpec& s : specs) out.push_back(upsert(s));
    return out;
  }

  // Removes a service and drains every socket made through it. Removing an unknown
  // service is not an error.
  virtual Result<void> remove(const ServiceKey& key) = 0;

  // The services installed now.
  virtual std::vector<ServiceKey> services() const = 0;

  // The counters of every installed service (zero for a fresh one). A counter starts again
  // from zero when its service is removed and installed again.
  virtual std::map<ServiceKey, ServiceStats> stats() const = 0;
};

// The interface the service proxy programs the NodePort datapath through (NodePortLb in
// nodeport_lb.h implements it; tests use fakes).
class NodePortMap {
 public:
  virtual ~NodePortMap() = default;

  // Installs or replaces one outside-reachable address:port:proto in one step (a new flow
  // sees the old backend set or the new one). Established flows to backends no longer
  // listed (ready or terminating) are moved to a ready backend on their next packet.
  // Errors name the service and the map that failed.
  virtual Result<void> upsert(const NodePortSpec& spec) = 0;

  // Removes one; removing an unknown key is not an error.
  virtual Result<void> remove(const ServiceKey& key) = 0;

  virtual std::vector<ServiceKey> services() const = 0;

  // The counters of every installed key, as ServiceMap::stats.
  virtual std::map<ServiceKey, NodePortStats> stats() const = 0;
};

}  // namespace kernlet::bpf
