#include "agent/proxy/desired_services.h"

#include <algorithm>
#include <set>
#include <utility>

#include "api/objects/endpoint_slice.h"
#include "api/objects/service.h"

namespace kernlet::agent {

namespace {

struct SliceSet {
  std::vector<const json::object*> slices;
};

std::string key_of(std::string_view ns, std::string_view name) { return std::string(ns) + "/" + std::string(name); }

void warn(std::vector<std::string>* w, std::string s) {
  if (w) w->push_back(std::move(s));
}

}  // namespace

DesiredServices desired_services(const std::vector<client::ObjectPtr>& services,
                                 const std::vector<client::ObjectPtr>& endpoint_slices,
                                 const std::string& node_name, std::vector<std::string>* warnings) {
  std::map<std::string, std::vector<const json::object*>> slices_of;  // "ns/service" -> slices
  for (const auto& s : endpoint_slices) {
    api::EndpointSliceView v(*s);
    auto svc = v.service_name();
    if (!svc) continue;
    slices_of[key_of(api::Meta(*s).namespace_(), *svc)].push_back(s.get());
  }

  DesiredServices out;
  for (const auto& obj : services) {
    api::ServiceView svc(*obj);
    api::ServiceSpecView spec = svc.spec();
    const std::string name = key_of(svc.meta().namespace_(), svc.meta().name());
    if (spec.type() == "ExternalName" || spec.is_headless()) continue;

    std::vector<bpf::IpAddr> vips;
    auto add_vip = [&](std::string_view text, const char* what) {
      if (text.empty() || text == "None") return;
      auto ip = bpf::IpAddr::parse(text);
      if (!ip.ok()) {
        warn(warnings, "service " + name + ": " + what + ": " + ip.error().to_string());
        return;
      }
      if (std::find(vips.begin(), vips.end(), *ip) == vips.end()) vips.push_back(*ip);
    };
    for (auto ip : spec.cluster_ips()) add_vip(ip, "clusterIP");
    for (auto ip : spec.external_ips()) add_vip(ip, "externalIP");
    for (const auto& ing : svc.status().load_balancer_ingress()) add_vip(ing.ip(), "loadBalancer ingress");
    if (vips.empty()) continue;

    const bool local_only = spec.internal_traffic_policy() == "Local";
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
      for (const bpf::IpAddr& vip : vips) {
        std::set<bpf::Backend> ready, serving_terminating, terminating;
        const std::string_view family = vip.family == 4 ? "IPv4" : "IPv6";
        for (const json::object* so : slices) {
          api::EndpointSliceView slice(*so);
          if (slice.address_type() != family) continue;
          std::optional<int64_t> target;
          for (const auto& p : slice.ports()) {
            if (p.name() == sp.name() && p.protocol() == sp.protocol()) target = p.port();
          }
          if (!target || *target <= 0 || *target > 65535) continue;
          for (const auto& ep : slice.endpoints()) {
            auto addrs = ep.addresses();
            if (addrs.empty()) continue;
            if (local_only && ep.node_name().value_or("") != node_name) continue;
            auto ip = bpf::IpAddr::parse(addrs[0]);
            if (!ip.ok() || ip->family != vip.family) {
              warn(warnings, "service " + name + ": endpoint address \"" + std::string(addrs[0]) + "\" skipped");
              continue;
            }
            bpf::Backend b{*ip, static_cast<std::uint16_t>(*target)};
            auto c = ep.conditions();
            if (c.terminating()) {
              terminating.insert(b);
              if (c.serving()) serving_terminating.insert(b);
            } else if (c.ready()) {
              ready.insert(b);
            }
          }
        }
        bpf::ServiceSpec s;
        s.key = bpf::ServiceKey{vip, static_cast<std::uint16_t>(sp.port()), *proto};
        if (ready.empty()) ready = std::move(serving_terminating);
        for (const auto& b : terminating)
          if (!ready.count(b)) s.terminating.push_back(b);
        s.backends.assign(ready.begin(), ready.end());
        s.affinity = affinity;
        s.affinity_timeout_seconds = affinity ? static_cast<std::uint32_t>(timeout) : 0;
        if (auto [it, fresh] = out.emplace(s.key, s); !fresh)
          warn(warnings, "service " + name + ": " + s.key.to_string() + " is claimed by another service too; kept the first");
      }
    }
  }
  return out;
}

ServiceDiff diff_services(const DesiredServices& current, const DesiredServices& desired) {
  ServiceDiff d;
  for (const auto& [k, spec] : desired) {
    auto it = current.find(k);
    if (it == current.end() || !(it->second == spec)) d.upserts.push_back(spec);
  }
  for (const auto& [k, _] : current)
    if (!desired.count(k)) d.removes.push_back(k);
  return d;
}

}  // namespace kernlet::agent
