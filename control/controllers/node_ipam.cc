#include "control/controllers/node_ipam.h"

#include <arpa/inet.h>

#include <charconv>

namespace kernlet::controllers {
namespace {

struct Cidr {
  uint32_t addr = 0;  // host order
  int mask = 0;
};

Result<Cidr> parse_cidr(std::string_view s) {
  const auto slash = s.find('/');
  auto bad = [&] { return Error(ErrorCode::kInvalidArgument, "invalid CIDR \"" + std::string(s) + "\""); };
  if (slash == std::string_view::npos) return bad();
  const std::string ip(s.substr(0, slash));
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return bad();
  int mask = -1;
  std::string_view m = s.substr(slash + 1);
  auto [p, ec] = std::from_chars(m.data(), m.data() + m.size(), mask);
  if (ec != std::errc() || p != m.data() + m.size() || mask < 0 || mask > 32) return bad();
  return Cidr{ntohl(a.s_addr), mask};
}

uint32_t mask_bits(int mask) { return mask == 0 ? 0 : ~uint32_t{0} << (32 - mask); }

}  // namespace

Result<CidrSet> CidrSet::create(std::string_view cluster_cidr, int node_mask) {
  KL_ASSIGN_OR_RETURN(Cidr c, parse_cidr(cluster_cidr));
  if ((c.addr & ~mask_bits(c.mask)) != 0) {
    return Error(ErrorCode::kInvalidArgument, "cluster CIDR \"" + std::string(cluster_cidr) + "\": host bits are set");
  }
  if (node_mask <= c.mask || node_mask > 30) {
    return Error(ErrorCode::kInvalidArgument, "node CIDR mask /" + std::to_string(node_mask) +
                                                  " must be longer than the cluster CIDR's /" + std::to_string(c.mask) +
                                                  " and at most /30");
  }
  if (node_mask - c.mask > 20) {
    return Error(ErrorCode::kInvalidArgument, "cluster CIDR \"" + std::string(cluster_cidr) + "\" split at /" +
                                                  std::to_string(node_mask) + " gives more than 2^20 subnets");
  }
  CidrSet s;
  s.base_ = c.addr;
  s.cluster_mask_ = c.mask;
  s.node_mask_ = node_mask;
  s.used_.assign(std::size_t{1} << (node_mask - c.mask), false);
  return s;
}

std::string CidrSet::format(std::size_t index) const {
  const uint32_t addr = base_ + (static_cast<uint32_t>(index) << (32 - node_mask_));
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 0xff) + "." +
         std::to_string((addr >> 8) & 0xff) + "." + std::to_string(addr & 0xff) + "/" + std::to_string(node_mask_);
}

Result<std::size_t> CidrSet::index_of(std::string_view cidr) const {
  KL_ASSIGN_OR_RETURN(Cidr c, parse_cidr(cidr));
  if (c.mask != node_mask_ || (c.addr & mask_bits(cluster_mask_)) != base_ || (c.addr & ~mask_bits(node_mask_)) != 0) {
    return Error(ErrorCode::kInvalidArgument, "CIDR \"" + std::string(cidr) + "\" is not a /" +
                                                  std::to_string(node_mask_) + " subnet of " + format(0).substr(0, format(0).find('/')) +
                                                  "/" + std::to_string(cluster_mask_));
  }
  return static_cast<std::size_t>((c.addr - base_) >> (32 - node_mask_));
}

Result<std::string> CidrSet::allocate_next() {
  for (std::size_t i = 0; i < used_.size(); ++i) {
    const std::size_t idx = (next_ + i) % used_.size();
    if (used_[idx]) continue;
    used_[idx] = true;
    ++used_count_;
    next_ = (idx + 1) % used_.size();
    return format(idx);
  }
  return Error(ErrorCode::kResourceExhausted,
               "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range");
}

Result<void> CidrSet::occupy(std::string_view cidr) {
  KL_ASSIGN_OR_RETURN(std::size_t idx, index_of(cidr));
  if (!used_[idx]) {
    used_[idx] = true;
    ++used_count_;
  }
  return Ok();
}

void CidrSet::release(std::string_view cidr) {
  auto idx = index_of(cidr);
  if (!idx.ok() || !used_[*idx]) return;
  used_[*idx] = false;
  --used_count_;
}

std::size_t CidrSet::free_count() const { return used_.size() - used_count_; }

}  // namespace kernlet::controllers
