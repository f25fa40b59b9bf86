// sock_lb.h: kernlet's socket-level Service load balancer (progs/sock_lb.bpf.c) loaded
// through its libbpf skeleton, attached to one cgroup v2 subtree, and programmed through
// the ServiceMap interface.
//
// SockLb::attach loads the programs, attaches cgroup/{connect,sendmsg,recvmsg,getpeername}
// {4,6} to the given cgroup (never a hierarchy's root: attach refuses it) and creates the
// iter/tcp and iter/udp links used for draining. With a pin directory (on a bpffs) the maps
// are pinned by their versioned names and reused by the next attach, and the cgroup links
// are pinned too and atomically switched to the new programs (bpf_link_update), so an
// agent restart keeps every VIP working; without one, everything goes away with the object.
//
// Draining: the iterators are per network namespace, so drain() reads cgroup.procs of the
// attached subtree, takes the distinct network namespaces of those processes, and runs both
// iterators from a short-lived thread that setns()es into each one.
//
// Thread-safety: all methods may be called from any thread; they serialize on one mutex.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "api/result.h"
#include "bpf/loader/service_map.h"

namespace kernlet::bpf {

class SockLb final : public ServiceMap {
 public:
  struct Options {
    // A cgroup v2 directory below a hierarchy's root (the pods' subtree). Required.
    std::string cgroup_path;
    // A directory on a bpffs (e.g. /sys/fs/bpf/kernlet) to pin maps and links in; "" pins
    // nothing.
    std::string pin_dir;
  };

  // Loads and attaches. Errors name the cgroup, the program or the map that failed.
  static Result<std::unique_ptr<SockLb>> attach(const Options& options);

  // Detaches the unpinned links and closes everything; pinned objects stay in the kernel.
  ~SockLb() override;
  SockLb(const SockLb&) = delete;
  SockLb& operator=(const SockLb&) = delete;

  Result<void> upsert(const ServiceSpec& spec) override;
  // New, valid, distinct services are written with one BPF_MAP_UPDATE_BATCH per map
  // (slots and members, then counters, then services); the rest, and any service of a
  // batch the kernel refused, go through upsert().
  std::vector<Result<void>> upsert_many(const std::vector<ServiceSpec>& specs) override;
  Result<void> remove(const ServiceKey& key) override;
  std::vector<ServiceKey> services() const override;
  std::map<ServiceKey, ServiceStats> stats() const override;

  // Destroys the established TCP and connected UDP sockets that this balancer connected
  // through `key` to any of `backends`, in every network namespace of a process in the
  // attached cgroup subtree. Synchronous: done when it returns.
  Result<void> drain(const ServiceKey& key, const std::vector<Backend>& backends);

  // Removes the pinned links and maps (the programs detach once this object is gone too).
  Result<void> unpin();

  const std::string& cgroup_path() const;

  struct Impl;

 private:
  explicit SockLb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The check attach() applies to a cgroup path: it must be a directory on cgroup2 whose
// parent is on cgroup2 too (so it is not a hierarchy root such as /sys/fs/cgroup/unified).
// Returns the canonical path.
Result<std::string> check_lb_cgroup(const std::string& path);

}  // namespace kernlet::bpf
