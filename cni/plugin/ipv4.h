// IPv4 addresses and prefixes for the plugin's subnet arithmetic (host byte order).
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::cni {

struct Ipv4Prefix {
  uint32_t network = 0;  // host byte order, host bits zero
  int length = 0;        // 0..32

  uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  uint32_t broadcast() const { return network | ~mask(); }
  bool contains(uint32_t addr) const { return (addr & mask()) == network; }
  std::string to_string() const;
};

// "10.244.1.7" -> host-order address; nullopt unless a dotted quad.
std::optional<uint32_t> parse_ipv4(std::string_view s);
std::string ipv4_to_string(uint32_t addr);

// "10.244.1.0/24" -> prefix. Host bits set ("10.244.1.5/24") is an error, as Kubernetes'
// podCIDR never has them. Errors: kInvalidArgument naming the text.
Result<Ipv4Prefix> parse_ipv4_prefix(std::string_view s);

}  // namespace kernlet::cni
