#include "agent/proxy/desired_services.h"

#include <algorithm>
#include <set>
#include <utility>

#include "api/objects/endpoint_slice.h"
#include "api/objects/service.h"

namespace kernlet::agent {

namespace {

std::string key_of(std::string_view ns, std::string_view name) { return std::string(ns) + "/" + std::string(name); }

void warn(std::vector<std::string>* w, std::string s) {
  if (w) w->push_back(std::move(s));
}

using SlicesByService = std::map<std::string, std::vector<const json::object*>>;  // "ns/service" -> slices

SlicesByService group_slices(const std::vector<client::ObjectPtr>& endpoint_slices) {
  SlicesByService out;
  for (const auto& s : endpoint_slices) {
    api::EndpointSliceView v(*s);
    auto svc = v.service_name();
    if (!svc) continue;
    out[key_of(api::Meta(*s).namespace_(), *svc)].push_back(s.get());
  }
  return out;
}

// The endpoints of one service port in one address family, sorted by condition; `local`
// holds those whose nodeName is this node.
struct PortEndpoints {
  std::set<bpf::Backend> ready, serving_terminating, terminating, not_ready, local;
};

PortEndpoints port_endpoints(const std::vector<const json::object*>& slices, const api::ServicePortView& sp, int family,
                             const std::string& node_name, const std::string& name, std::vector<std::string>* warnings) {
  PortEndpoints out;
  const std::string_view type = family == 4 ? "IPv4" : "IPv6";
  for (const json::object* so : slices) {
    api::EndpointSliceView slice(*so);
    if (slice.address_type() != type) continue;
    std::optional<int64_t> target;
    for (const auto& p : slice.ports()) {
      if (p.name() == sp.name() && p.protocol() == sp.protocol()) target = p.port();
    }
    if (!target || *target <= 0 || *target > 65535) continue;
    for (const auto& ep : slice.endpoints()) {
      auto addrs = ep.addresses();
      if (addrs.empty()) continue;
      auto ip = bpf::IpAddr::parse(addrs[0]);
      if (!ip.ok() || ip->family != family) {
        warn(warnings, "service " + name + ": endpoint address \"" + std::string(addrs[0]) + "\" skipped");
        continue;
      }
      bpf::Backend b{*ip, static_cast<std::uint16_t>(*target)};
      if (!node_name.empty() && ep.node_name().value_or("") == node_name) out.local.insert(b);
      auto c = ep.conditions();
      if (c.terminating()) {
        out.terminating.insert(b);
        if (c.serving()) out.serving_terminating.insert(b);
      } else if (c.ready()) {
        out.ready.insert(b);
      } else {
        out.not_ready.insert(b);
      }
    }
  }
  return out;
}

// New connections go to the ready ones (kube-proxy's fallback: serving terminating ones
// when none is ready); the other terminating ones, and the not-ready ones, only keep their
// established ones: a failing readiness probe (or an agent restart re-probing) stops new
// traffic to a pod but does not cut what it is serving, as with kube-proxy's conntrack.
// With local_only, only this node's endpoints count.
void pick(const PortEndpoints& e, bool local_only, std::vector<bpf::Backend>* backends,
          std::vector<bpf::Backend>* terminating) {
  auto keep = [&](const bpf::Backend& b) { return !local_only || e.local.count(b) > 0; };
  std::set<bpf::Backend> ready;
  for (const auto& b : e.ready)
    if (keep(b)) ready.insert(b);
  if (ready.empty())
    for (const auto& b : e.serving_terminating)
      if (keep(b)) ready.insert(b);
  std::set<bpf::Backend> kept;
  for (const auto* list : {&e.terminating, &e.not_ready})
    for (const auto& b : *list)
      if (keep(b) && !ready.count(b)) kept.insert(b);
  terminating->assign(kept.begin(), kept.end());
  backends->assign(ready.begin(), ready.end());
}

// An address of a service, and which kind it is (the kind picks the traffic policy).
enum class AddrKind { kClusterIP, kExternalIP, kLoadBalancer, kNode };

struct ServiceAddr {
  bpf::IpAddr ip;
  AddrKind kind;
};

std::vector<ServiceAddr> service_addresses(const api::ServiceView& svc, const std::string& name,
                                           std::vector<std::string>* warnings) {
  std::vector<ServiceAddr> out;
  auto add = [&](std::string_view text, AddrKind kind, const char* what) {
    if (text.empty() || text == "None") return;
    auto ip = bpf::IpAddr::parse(text);
    if (!ip.ok()) {
      warn(warnings, "service " + name + ": " + what + ": " + ip.error().to_string());
      return;
    }
    for (const auto& a : out)
      if (a.ip == *ip) return;
    out.push_back({*ip, kind});
  };
  api::ServiceSpecView spec = svc.spec();
  for (auto ip : spec.cluster_ips()) add(ip, AddrKind::kClusterIP, "clusterIP");
  for (auto ip : spec.external_ips()) add(ip, AddrKind::kExternalIP, "externalIP");
  for (const auto& ing : svc.status().load_balancer_ingress()) add(ing.ip(), AddrKind::kLoadBalancer, "loadBalancer ingress");
  return out;
}

bool has_node_ports(const api::ServiceSpecView& spec) { return spec.type() == "NodePort" || spec.type() == "LoadBalancer"; }

}  // namespace

DesiredServices desired_services(const std::vector<client::ObjectPtr>& services,
                                 const std::vector<client::ObjectPtr>& endpoint_slices, const std::string& node_name,
                                 std::vector<std::string>* warnings, const std::vector<bpf::IpAddr>& node_addresses) {
  SlicesByService slices_of = group_slices(endpoint_slices);
  DesiredServices out;
  for (const auto& obj : services) {
    api::ServiceView svc(*obj);
    api::ServiceSpecView spec = svc.spec();
    const std::string name = key_of(svc.meta().namespace_(), svc.meta().name());
    if (spec.type() == "ExternalName" || spec.is_headless()) continue;
    std::vector<ServiceAddr> addrs = service_addresses(svc, name, warnings);
    if (addrs.empty()) continue;  // not allocated yet

    const bool internal_local = spec.internal_traffic_policy() == "Local";
    const bool affinity = spec.session_affinity() == "ClientIP";
    const auto timeout = spec.session_affinity_timeout_seconds().value_or(10800);
    const auto& slices = slices_of[name];

    for (const auto& sp : spec.ports()) {
      auto proto = bpf::parse_protocol(sp.protocol());
      if (!proto.ok()) continue;  // SCTP: not balanced at socket level
      if (sp.port() <= 0 || sp.port() > 65535) {
        warn(warnings, "service " + name + ": port " + std::to_string(sp.port()) + " is out of range");
        continue;
      }
      // (address, port) pairs of this service port: its VIPs with the port, and the node's
      // addresses with the nodePort.
      std::vector<std::pair<ServiceAddr, std::uint16_t>> entries;
      for (const auto& a : addrs) entries.push_back({a, static_cast<std::uint16_t>(sp.port())});
      if (has_node_ports(spec) && sp.node_port() > 0 && sp.node_port() <= 65535)
        for (const auto& ip : node_addresses) entries.push_back({{ip, AddrKind::kNode}, static_cast<std::uint16_t>(sp.node_port())});

      std::map<int, PortEndpoints> by_family;
      for (const auto& [addr, port] : entries) {
        const int family = addr.ip.family;
        auto it = by_family.find(family);
        if (it == by_family.end())
          it = by_family.emplace(family, port_endpoints(slices, sp, family, node_name, name, warnings)).first;
        bpf::ServiceSpec s;
        s.key = bpf::ServiceKey{addr.ip, port, *proto};
        pick(it->second, addr.kind == AddrKind::kClusterIP && internal_local, &s.backends, &s.terminating);
        s.affinity = affinity;
        s.affinity_timeout_seconds = affinity ? static_cast<std::uint32_t>(timeout) : 0;
        if (auto [_, fresh] = out.emplace(s.key, s); !fresh)
          warn(warnings, "service " + name + ": " + s.key.to_string() + " is claimed by another service too; kept the first");
      }
    }
  }
  return out;
}

DesiredNodePorts desired_nodeports(const std::vector<client::ObjectPtr>& services,
                                   const std::vector<client::ObjectPtr>& endpoint_slices, const std::string& node_name,
                                   const std::vector<bpf::IpAddr>& node_addresses, std::vector<std::string>* warnings) {
  SlicesByService slices_of = group_slices(endpoint_slices);
  DesiredNodePorts out;
  for (const auto& obj : services) {
    api::ServiceView svc(*obj);
    api::ServiceSpecView spec = svc.spec();
    const std::string name = key_of(svc.meta().namespace_(), svc.meta().name());
    if (spec.type() == "ExternalName" || spec.is_headless()) continue;
    const bool local_policy = spec.external_traffic_policy() == "Local";
    std::vector<bpf::Cidr> ranges;
    for (auto text : spec.load_balancer_source_ranges()) {
      auto c = bpf::Cidr::parse(text);
      if (!c.ok()) {
        warn(warnings, "service " + name + ": loadBalancerSourceRanges: " + c.error().to_string());
        continue;
      }
      if (c->addr.family == 4) ranges.push_back(*c);
    }
    std::vector<ServiceAddr> outside;
    for (const auto& a : service_addresses(svc, name, warnings))
      if (a.kind != AddrKind::kClusterIP && a.ip.family == 4) outside.push_back(a);
    const auto& slices = slices_of[name];

    for (const auto& sp : spec.ports()) {
      auto proto = bpf::parse_protocol(sp.protocol());
      if (!proto.ok() || sp.port() <= 0 || sp.port() > 65535) continue;  // desired_services warns
      std::vector<std::pair<ServiceAddr, std::uint16_t>> entries;
      for (const auto& a : outside) entries.push_back({a, static_cast<std::uint16_t>(sp.port())});
      if (has_node_ports(spec) && sp.node_port() > 0 && sp.node_port() <= 65535)
        for (const auto& ip : node_addresses)
          if (ip.family == 4) entries.push_back({{ip, AddrKind::kNode}, static_cast<std::uint16_t>(sp.node_port())});
      if (entries.empty()) continue;

      PortEndpoints eps = port_endpoints(slices, sp, 4, node_name, name, warnings);
      std::vector<bpf::Backend> backends, terminating;
      pick(eps, local_policy, &backends, &terminating);
      for (const auto& [addr, port] : entries) {
        bpf::NodePortSpec s;
        s.key = bpf::ServiceKey{addr.ip, port, *proto};
        for (const auto& b : backends) s.backends.push_back({b, eps.local.count(b) == 0});
        s.terminating = terminating;
        s.local_policy = local_policy;
        if (addr.kind == AddrKind::kLoadBalancer) s.source_ranges = ranges;
        if (auto [_, fresh] = out.emplace(s.key, s); !fresh)
          warn(warnings, "service " + name + ": " + s.key.to_string() + " (from outside) is claimed by another service too; kept the first");
      }
    }
  }
  return out;
}

ServiceOwners service_owners(const std::vector<client::ObjectPtr>& services,
                             const std::vector<bpf::IpAddr>& node_addresses) {
  ServiceOwners out;
  for (const auto& obj : services) {
    api::ServiceView svc(*obj);
    api::ServiceSpecView spec = svc.spec();
    if (spec.type() == "ExternalName" || spec.is_headless()) continue;
    const std::string name = key_of(svc.meta().namespace_(), svc.meta().name());
    std::vector<ServiceAddr> addrs = service_addresses(svc, name, nullptr);
    for (const auto& sp : spec.ports()) {
      auto proto = bpf::parse_protocol(sp.protocol());
      if (!proto.ok() || sp.port() <= 0 || sp.port() > 65535) continue;
      ServicePortRef ref{std::string(svc.meta().namespace_()), std::string(svc.meta().name()),
                         sp.name().empty() ? std::to_string(sp.port()) : std::string(sp.name()),
                         std::string(bpf::protocol_name(*proto))};
      for (const auto& a : addrs) out.emplace(bpf::ServiceKey{a.ip, static_cast<std::uint16_t>(sp.port()), *proto}, ref);
      if (has_node_ports(spec) && sp.node_port() > 0 && sp.node_port() <= 65535)
        for (const auto& ip : node_addresses)
          out.emplace(bpf::ServiceKey{ip, static_cast<std::uint16_t>(sp.node_port()), *proto}, ref);
    }
  }
  return out;
}

namespace {

template <typename Spec, typename Diff>
Diff diff_maps(const std::map<bpf::ServiceKey, Spec>& current, const std::map<bpf::ServiceKey, Spec>& desired) {
  Diff d;
  for (const auto& [k, spec] : desired) {
    auto it = current.find(k);
    if (it == current.end() || !(it->second == spec)) d.upserts.push_back(spec);
  }
  for (const auto& [k, _] : current)
    if (!desired.count(k)) d.removes.push_back(k);
  return d;
}

}  // namespace

ServiceDiff diff_services(const DesiredServices& current, const DesiredServices& desired) {
  return diff_maps<bpf::ServiceSpec, ServiceDiff>(current, desired);
}

NodePortDiff diff_nodeports(const DesiredNodePorts& current, const DesiredNodePorts& desired) {
  return diff_maps<bpf::NodePortSpec, NodePortDiff>(current, desired);
}

}  // namespace kernlet::agent
