// Node IPAM: hands each Node a podCIDR carved from the cluster CIDR, as the node IPAM
// controller's range allocator does (one IPv4 pool, subnets of a fixed mask, taken round
// robin from the last one handed out so a released subnet is not reused at once).
// Nothing is persisted: at start-up the controller occupies what Nodes already hold.
// Thread-safety: not thread-safe; the controller owns it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::controllers {

class CidrSet {
 public:
  // "10.244.0.0/16" split into /node_mask subnets. Errors name the flag value: a malformed
  // CIDR, a host part that is not zero, a mask not longer than the cluster's, or more
  // than 2^20 subnets.
  static Result<CidrSet> create(std::string_view cluster_cidr, int node_mask);

  // The next free subnet ("10.244.3.0/24"); kResourceExhausted with upstream's message
  // when none is left.
  Result<std::string> allocate_next();
  // Marks a subnet as taken (a Node's existing podCIDR). Errors: not a subnet of this
  // pool at this mask.
  Result<void> occupy(std::string_view cidr);
  // Frees a subnet; unknown ones are ignored.
  void release(std::string_view cidr);
  std::size_t free_count() const;

 private:
  Result<std::size_t> index_of(std::string_view cidr) const;
  std::string format(std::size_t index) const;
  uint32_t base_ = 0;
  int cluster_mask_ = 0;
  int node_mask_ = 0;
  std::vector<bool> used_;
  std::size_t next_ = 0;
  std::size_t used_count_ = 0;
};

}  // namespace kernlet::controllers
