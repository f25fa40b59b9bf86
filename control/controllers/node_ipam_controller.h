// NodeIpamController: gives every Node a spec.podCIDR (and podCIDRs) from the cluster CIDR,
// as kube-controller-manager's range allocator does with --allocate-node-cidrs. The CNI
// plugin on each node takes pod addresses from that range.
//
// At its first reconcile it occupies the ranges Nodes already hold (nothing else is
// persisted); a deleted Node's range is released. A range handed out but not yet seen
// back in the cache is remembered per node, so a stale cache cannot cause a duplicate.
// A node with a podCIDR outside the pool keeps it (logged), as upstream.
// Thread-safety: as Controller (one worker; the pool is guarded by a mutex because the
// delete handler runs on the informer thread).
#pragma once

#include <map>
#include <mutex>

#include "control/controllers/controller.h"
#include "control/controllers/node_ipam.h"

namespace kernlet::controllers {

class NodeIpamController final : public Controller {
 public:
  // `pool` from CidrSet::create(--cluster-cidr, --node-cidr-mask-size).
  NodeIpamController(SharedInformers& informers, CidrSet pool);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  void occupy_existing();  // with mu_ held
  std::shared_ptr<client::RestClient> client_;
  client::Informer& nodes_;
  std::mutex mu_;
  CidrSet pool_;
  bool primed_ = false;
  std::map<std::string, std::string> assigned_;  // node -> range we patched in
};

}  // namespace kernlet::controllers
