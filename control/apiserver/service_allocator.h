// ServiceAllocator: Service cluster IPs and node ports, allocated as Kubernetes' apiserver
// allocates them (pkg/registry/core/service: ipallocator, portallocator, storage/alloc.go).
//
// One IPv4 service CIDR (default 10.96.0.0/12, kubeadm's) and one node-port range (default
// 30000-32767), each a bitmap. The network and broadcast addresses are never handed out;
// the first usable address (10.96.0.1) is reserved for the `kubernetes` service in
// `default` and given only to it, only when it asks for it by value. Dynamic allocation
// picks at random, first from the upper band of the range and only then from the lower
// band, which is left for values users ask for (upstream's ServiceIPStaticSubrange and
// ServiceNodePortStaticSubrange: the band is min(max(16, size/16), 256) addresses and
// min(max(16, size/32), 128) ports, none when the range has 16 or fewer).
//
// Nothing is persisted: the state is rebuilt from the stored Services at start-up, and
// every operation derives what a Service holds from the object itself (its clusterIP, the
// nodePorts of a NodePort/LoadBalancer service, the healthCheckNodePort of a LoadBalancer
// with externalTrafficPolicy Local). Each held value remembers its owner (namespace/name),
// so releasing a Service never frees a value another Service holds.
//
// The API server's write path calls it after defaulting, prepare_for_* and validation:
//   create: allocate(obj) -> store create -> on failure rollback_create(obj)
//   update: update(obj, old) -> store update -> commit_update(obj, old) on success,
//           rollback_update(obj, old) on failure
//   delete: store delete -> release(deleted object)
//
// Thread-safety: every method is thread-safe (one mutex); the objects passed in must not
// be written by others during the call.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "api/status.h"

namespace kernlet::apiserver {

// The outcome of allocate/update: ok, or the failure the client should see. A failure is
// either field causes (a 422 Invalid, e.g. `spec.ports[0].nodePort: Invalid value: 30080:
// provided port is already allocated`) or, when a range is exhausted, an internal error
// (upstream answers 500 `Internal error occurred: failed to allocate a serviceIP: range is
// full`).
class [[nodiscard]] AllocationResult {
 public:
  AllocationResult() = default;  // ok
  static AllocationResult invalid(std::vector<api::StatusCause> causes);
  static AllocationResult internal(std::string message);

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  // The field causes of a 422; empty when ok or for an internal error.
  const std::vector<api::StatusCause>& causes() const { return causes_; }
  // As a kernlet Error: kInvalidArgument with the causes joined as Status::invalid joins
  // them ("f: m" or "[f1: m1, f2: m2]"), or kResourceExhausted with the internal message.
  Error error() const;
  // The Status to answer with: Status::invalid("", "Service", name, causes()) for causes,
  // else Status::internal_error(message). Precondition: !ok().
  api::Status to_status(std::string_view service_name) const;

 private:
  bool ok_ = true;
  std::vector<api::StatusCause> causes_;
  std::string message_;
};

class ServiceAllocator {
 public:
  static constexpr std::string_view kDefaultServiceCidr = "10.96.0.0/12";
  static constexpr std::string_view kDefaultNodePortRange = "30000-32767";

  // Builds an allocator over `service_cidr` ("a.b.c.d/n", IPv4, /12 to /30; host bits are
  // masked off as Go's ParseCIDR does) and `node_port_range` ("30000-32767", also
  // "30000+2767" or a single port). Errors (kInvalidArgument) name the bad input.
  static Result<std::unique_ptr<ServiceAllocator>> create(std::string_view service_cidr = kDefaultServiceCidr,
                                                          std::string_view node_port_range = kDefaultNodePortRange);

  ServiceAllocator(const ServiceAllocator&) = delete;
  ServiceAllocator& operator=(const ServiceAllocator&) = delete;
  ~ServiceAllocator();

  // Create: gives `service` (a defaulted v1 Service) what its type needs and writes it in:
  // spec.clusterIP and spec.clusterIPs (not for ExternalName or headless "None"; a value
  // already set is taken if free and in range), spec.ports[*].nodePort for NodePort and
  // LoadBalancer (not for a LoadBalancer with allocateLoadBalancerNodePorts false, unless
  // set; ports sharing a port number, e.g. 53/TCP and 53/UDP, share one node port) and
  // spec.healthCheckNodePort for a LoadBalancer with externalTrafficPolicy Local.
  // All or nothing: on failure nothing is held and `service` is unchanged.
  AllocationResult allocate(json::object& service);

  // The store write of an allocated create failed: frees what allocate took.
  void rollback_create(const json::object& service) { release(service); }

  // Delete: frees the cluster IP and node ports `service` holds. Values it does not own
  // (lost to another service on rebuild) are left alone.
  void release(const json::object& service);

  // Update of `old` (as stored) into `service`: keeps old's cluster IP, node ports (by port
  // name) and health check port when the new object leaves them out; allocates what a type
  // change or new ports need (ExternalName -> ClusterIP allocates an IP, ClusterIP ->
  // NodePort node ports); drops the fields a type no longer uses when they still carry old's
  // values (-> ExternalName: clusterIP, clusterIPs, ipFamilies, ipFamilyPolicy; -> ClusterIP:
  // nodePorts). New values are taken now; old values the new object no longer holds stay
  // held until commit_update, so a failed write loses nothing. All or nothing like allocate.
  AllocationResult update(json::object& service, const json::object& old);
  // The store accepted the update: frees what `old` held and `service` does not.
  void commit_update(const json::object& service, const json::object& old);
  // The store write failed: frees what `service` took that `old` did not hold.
  void rollback_update(const json::object& service, const json::object& old);

  // Start-up: forgets everything and marks what the stored services hold, in order. A value
  // held twice stays with the first holder; the later one is logged to stderr as upstream's
  // repair loop reports it ("the cluster IP X for service ns/name was assigned to multiple
  // services; please recreate"), as are values outside the configured ranges.
  void rebuild(const std::vector<json::object>& services);

  // Introspection (tests, metrics).
  std::string service_cidr() const;            // "10.96.0.0/12"
  std::string node_port_range() const;         // "30000-32767"
  std::string kubernetes_service_ip() const;   // "10.96.0.1"
  bool ip_allocated(std::string_view ip) const;  // held by a service (the reserved IP only once taken)
  bool node_port_allocated(int64_t port) const;
  std::size_t free_ips() const;    // dynamically allocatable addresses left
  std::size_t free_node_ports() const;

 private:
  struct Bitmap {
    std::vector<uint64_t> words;
    std::size_t size = 0;
    std::size_t count = 0;
    void reset(std::size_t n);
    bool test(std::size_t i) const { return (words[i / 64] >> (i % 64)) & 1U; }
    void set(std::size_t i);
    void clear(std::size_t i);
  };
  // One range of values (IP offsets from network+1, or ports from the first port).
  struct Pool {
    Bitmap bits;
    std::size_t band = 0;  // the lower band [0, band) is tried last by dynamic allocation
    std::unordered_map<uint32_t, std::string> owners;  // index -> "namespace/name"
  };
  struct Held;
  struct Op;

  ServiceAllocator(uint32_t network, int prefix, int first_port, int last_port);

  AllocationResult apply(json::object& service, const json::object* old);
  Held held_by(const json::object& service) const;
  void release_held(const Held& h, const std::string& owner);
  bool pick(Pool& pool, std::size_t& out);  // dynamic: upper band first
  void log_rebuild_conflict(const std::string& what) const;

  const uint32_t network_;
  const int prefix_;
  const int first_port_;
  const int last_port_;

  mutable std::mutex mu_;
  Pool ips_;    // index i = network + 1 + i; index 0 (the kubernetes service IP) stays set
  Pool ports_;  // index i = first_port + i
  std::mt19937_64 rng_;
};

}  // namespace kernlet::apiserver
