#include "bpf/loader/lb_types.h"

#include <arpa/inet.h>

#include <cstring>

namespace kernlet::bpf {

Result<Protocol> parse_protocol(std::string_view s) {
  if (s == "TCP") return Protocol::kTcp;
  if (s == "UDP") return Protocol::kUdp;
  return Error(ErrorCode::kInvalidArgument,
               "protocol \"" + std::string(s) + "\": only TCP and UDP are load-balanced");
}

std::string_view protocol_name(Protocol p) { return p == Protocol::kTcp ? "TCP" : "UDP"; }

Result<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  IpAddr a;
  if (s.find(':') == std::string::npos) {
    a.family = 4;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  } else {
    a.family = 6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  }
  return Error(ErrorCode::kInvalidArgument, "IP address \"" + s + "\" is not valid");
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string Backend::to_string() const {
  return (addr.family == 6 ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(port);
}

std::string ServiceKey::to_string() const {
  return Backend{vip, port}.to_string() + "/" + std::string(protocol_name(proto));
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const std::string s(text);
  auto slash = s.find('/');
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "CIDR \"" + s + "\": " + why);
  };
  if (slash == std::string::npos) return bad("no /prefix-length");
  auto ip = IpAddr::parse(s.substr(0, slash));
  if (!ip.ok()) return bad("address is not valid");
  const std::string len = s.substr(slash + 1);
  const int max = ip->family == 4 ? 32 : 128;
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos)
    return bad("prefix length is not a number");
  const int n = std::stoi(len);
  if (n > max) return bad("prefix length over " + std::to_string(max));
  Cidr c{*ip, n};
  for (int bit = n; bit < max; ++bit) c.addr.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  return c;
}

std::string Cidr::to_string() const { return addr.to_string() + "/" + std::to_string(prefix); }

}  // namespace kernlet::bpf
