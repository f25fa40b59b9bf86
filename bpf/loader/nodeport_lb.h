// nodeport_lb.h: kernlet's NodePort / LoadBalancer / externalIP datapath for traffic from
// outside the node (progs/nodeport.bpf.c), loaded through its libbpf skeleton, attached as
// tc clsact ingress and egress filters on the node's external interface, and programmed
// through the NodePortMap interface.
//
// NodePortLb::load loads the programs and, when Options::interface is set, attaches them
// (creating the clsact qdisc if the interface has none, replacing an earlier kernlet filter
// of the same handle in one step). With a pin directory the maps are pinned by their
// versioned names and reused by the next load, so an agent restart keeps the conntrack
// table and the filters of the old agent keep working until the new ones replace them; the
// filters then stay attached when the object goes away. Without one, the filters are removed
// with the object.
//
// Thread-safety: all methods may be called from any thread; they serialize on one mutex.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "api/result.h"
#include "bpf/loader/service_map.h"

namespace kernlet::bpf {

class NodePortLb final : public NodePortMap {
 public:
  struct Options {
    // The external interface to attach to; "" loads without attaching (tests run the
    // programs with BPF_PROG_TEST_RUN).
    std::string interface;
    // bpffs directory to pin the maps in; "" pins nothing.
    std::string pin_dir;
    // The node's IPv4 address that flows to remote backends are SNATed to; unset: such
    // flows are dropped (KL_NP_DROP_SNAT_EXHAUSTED).
    std::optional<IpAddr> snat_addr;
    // SNAT source ports, inclusive. The default lies above Linux's default ephemeral range
    // (32768-60999) and above the nodePort range, so node sockets and nodePorts never
    // collide with it.
    std::uint16_t snat_port_min = 61000;
    std::uint16_t snat_port_max = 65535;
  };

  static Result<std::unique_ptr<NodePortLb>> load(const Options& options);

  ~NodePortLb() override;
  NodePortLb(const NodePortLb&) = delete;
  NodePortLb& operator=(const NodePortLb&) = delete;

  Result<void> upsert(const NodePortSpec& spec) override;
  Result<void> remove(const ServiceKey& key) override;
  std::vector<ServiceKey> services() const override;
  std::map<ServiceKey, NodePortStats> stats() const override;

  enum class Hook { kIngress, kEgress };
  // The program fd of a hook (for BPF_PROG_TEST_RUN and inspection).
  int program_fd(Hook hook) const;

  // Drop counters summed over CPUs, indexed by KL_NP_DROP_* (kernlet_lb.h).
  std::array<std::uint64_t, 6> drops() const;

  // Number of conntrack entries (forward and reply).
  std::size_t conntrack_entries() const;

  // Removes the filters from the interface and the pinned maps.
  Result<void> detach_and_unpin();

  struct Impl;

 private:
  explicit NodePortLb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kernlet::bpf
