#include "cni/routes/route.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <map>

namespace kernlet::cni::routes {

size_t IpAddress::size() const { return family == AF_INET6 ? 16 : 4; }

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "<none>";
  if (::inet_ntop(family, bytes.data(), buf, sizeof buf) == nullptr) return "<bad>";
  return buf;
}

std::string IpPrefix::str() const { return address.str() + "/" + std::to_string(length); }

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  int bits = length;
  for (size_t i = 0; i < a.size() && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
  }
  return true;
}

bool IpPrefix::overlaps(const IpPrefix& o) const {
  if (o.address.family != address.family) return false;
  return length <= o.length ? contains(o.address) : o.contains(address);
}

Result<IpAddress> parse_ip(std::string_view text) {
  IpAddress a;
  std::string s(text);
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return Error(ErrorCode::kInvalidArgument, "\"" + s + "\": not an IPv4 or IPv6 address");
}

Result<IpPrefix> parse_prefix(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "\"" + std::string(text) + "\": not a CIDR (want ADDRESS/LENGTH)");
  IpPrefix p;
  auto a = parse_ip(text.substr(0, slash));
  if (!a.ok()) return Error(ErrorCode::kInvalidArgument, "\"" + std::string(text) + "\": bad address");
  p.address = *a;
  std::string_view len = text.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), p.length);
  const int max = p.address.family == AF_INET ? 32 : 128;
  if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() || p.length < 0 || p.length > max)
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(text) + "\": prefix length must be 0.." + std::to_string(max));
  IpPrefix masked = p;
  int bits = p.length;
  for (size_t i = 0; i < p.address.size(); ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    masked.address.bytes[i] &= mask;
  }
  if (masked != p)
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(text) + "\": host bits set (the network is " + masked.str() + ")");
  return p;
}

std::string NodeRoute::str() const { return dst.str() + " via " + gateway.str(); }

namespace {

std::vector<std::string> pod_cidrs(const json::object& node) {
  std::vector<std::string> out;
  const json::object* spec = json::get_object(node, "spec");
  if (spec == nullptr) return out;
  if (const json::array* list = json::get_array(*spec, "podCIDRs")) {
    for (const auto& v : *list)
      if (v.is_string()) out.emplace_back(v.as_string());
  }
  if (out.empty()) {
    std::string_view one = json::get_string(*spec, "podCIDR");
    if (!one.empty()) out.emplace_back(one);
  }
  return out;
}

std::vector<IpAddress> internal_ips(const json::object& node) {
  std::vector<IpAddress> out;
  const json::object* status = json::get_object(node, "status");
  const json::array* addrs = status ? json::get_array(*status, "addresses") : nullptr;
  if (addrs == nullptr) return out;
  for (const auto& v : *addrs) {
    if (!v.is_object() || json::get_string(v.as_object(), "type") != "InternalIP") continue;
    if (auto a = parse_ip(json::get_string(v.as_object(), "address")); a.ok()) out.push_back(*a);
  }
  return out;
}

std::string node_name(const json::object& node) {
  const json::object* meta = json::get_object(node, "metadata");
  return meta ? std::string(json::get_string(*meta, "name")) : std::string();
}

}  // namespace

DesiredRoutes desired_routes(const std::vector<const json::object*>& nodes, std::string_view self) {
  DesiredRoutes out;
  std::map<std::string, const json::object*> by_name;
  std::vector<IpPrefix> own;
  for (const json::object* n : nodes) {
    if (n == nullptr) continue;
    std::string name = node_name(*n);
    if (name == self) {
      for (const auto& c : pod_cidrs(*n))
        if (auto p = parse_prefix(c); p.ok()) own.push_back(*p);
    } else if (!name.empty()) {
      by_name[name] = n;
    }
  }
  std::vector<NodeRoute> taken;
  for (const auto& [name, n] : by_name) {
    auto cidrs = pod_cidrs(*n);
    if (cidrs.empty()) {
      out.skipped.push_back("node " + name + ": no spec.podCIDR yet");
      continue;
    }
    auto ips = internal_ips(*n);
    for (const auto& c : cidrs) {
      auto p = parse_prefix(c);
      if (!p.ok()) {
        out.skipped.push_back("node " + name + ": podCIDR " + p.error().message());
        continue;
      }
      auto gw = std::find_if(ips.begin(), ips.end(), [&](const IpAddress& a) { return a.family == p->address.family; });
      if (gw == ips.end()) {
        out.skipped.push_back("node " + name + ": no InternalIP of " + p->str() + "'s family");
        continue;
      }
      if (std::any_of(own.begin(), own.end(), [&](const IpPrefix& o) { return o.overlaps(*p); })) {
        out.skipped.push_back("node " + name + ": podCIDR " + p->str() + " overlaps this node's own");
        continue;
      }
      auto clash = std::find_if(taken.begin(), taken.end(), [&](const NodeRoute& r) { return r.dst.overlaps(*p); });
      if (clash != taken.end()) {
        out.skipped.push_back("node " + name + ": podCIDR " + p->str() + " overlaps node " + clash->node + "'s " +
                              clash->dst.str());
        continue;
      }
      taken.push_back(NodeRoute{*p, *gw, name});
    }
  }
  std::sort(taken.begin(), taken.end());
  out.routes = std::move(taken);
  return out;
}

RoutePlan plan_routes(const std::vector<NodeRoute>& desired, const std::vector<NodeRoute>& existing) {
  RoutePlan plan;
  auto in = [](const std::vector<NodeRoute>& set, const NodeRoute& r) {
    return std::any_of(set.begin(), set.end(), [&](const NodeRoute& x) { return x.same_route(r); });
  };
  for (const auto& r : existing)
    if (!in(desired, r)) plan.remove.push_back(r);
  for (const auto& r : desired)
    if (!in(existing, r)) plan.add.push_back(r);
  std::sort(plan.remove.begin(), plan.remove.end());
  std::sort(plan.add.begin(), plan.add.end());
  return plan;
}

}  // namespace kernlet::cni::routes
