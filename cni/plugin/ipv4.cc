#include "cni/plugin/ipv4.h"

#include <arpa/inet.h>

#include <charconv>

namespace kernlet::cni {

std::optional<uint32_t> parse_ipv4(std::string_view s) {
  // inet_pton accepts exactly the dotted quad (no octal, no short forms).
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::string z(s);
  in_addr a{};
  if (::inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ipv4_to_string(uint32_t addr) {
  return std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 0xff) + "." +
         std::to_string((addr >> 8) & 0xff) + "." + std::to_string(addr & 0xff);
}

std::string Ipv4Prefix::to_string() const {
  return ipv4_to_string(network) + "/" + std::to_string(length);
}

Result<Ipv4Prefix> parse_ipv4_prefix(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(s) + "\" is not an IPv4 CIDR: " + std::string(why));
  };
  std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return bad("missing /prefix-length");
  auto addr = parse_ipv4(s.substr(0, slash));
  if (!addr) return bad("bad address");
  std::string_view len_text = s.substr(slash + 1);
  int len = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty() ||
      len < 0 || len > 32) {
    return bad("prefix length must be 0-32");
  }
  Ipv4Prefix p{*addr, len};
  if ((*addr & p.mask()) != *addr) return bad("host bits are set");
  return p;
}

}  // namespace kernlet::cni
