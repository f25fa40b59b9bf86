#include "control/controllers/endpoints.h"

#include <algorithm>

#include "api/labels.h"
#include "api/object.h"
#include "api/objects/pod.h"
#include "api/objects/service.h"

namespace kernlet::controllers::endpoints {
namespace {

struct EndpointPort {
  std::string name;
  std::string protocol;
  int64_t port = 0;
  std::optional<std::string> app_protocol;
  bool operator==(const EndpointPort&) const = default;
  auto operator<=>(const EndpointPort& o) const {
    return std::tie(name, protocol, port) <=> std::tie(o.name, o.protocol, o.port);
  }
};

// The pod's number for a Service port's targetPort: the number itself, or the container
// port of that name and protocol; nullopt when the name is not found.
std::optional<int64_t> resolve(const api::ServicePortView& sp, const api::PodView& pod) {
  const api::IntOrString target = sp.target_port();
  if (target.is_int) return target.int_value;
  for (const api::ContainerView& c : pod.spec().containers()) {
    for (const api::ContainerPortView& p : c.ports()) {
      if (p.name() == target.str_value && p.protocol() == sp.protocol()) return p.container_port();
    }
  }
  return std::nullopt;
}

std::vector<EndpointPort> ports_for(const api::ServiceView& svc, const api::PodView& pod) {
  std::vector<EndpointPort> out;
  for (const api::ServicePortView& sp : svc.spec().ports()) {
    auto n = resolve(sp, pod);
    if (!n) continue;  // this pod does not serve the port
    EndpointPort ep{std::string(sp.name()), std::string(sp.protocol()), *n, std::nullopt};
    if (auto ap = sp.app_protocol()) ep.app_protocol = std::string(*ap);
    out.push_back(std::move(ep));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool pod_ready(const api::PodView& pod) {
  auto c = api::pod_condition(pod.status(), "Ready");
  return c && c->is_true();
}

// Stable short hash of a port set, in Kubernetes' safe alphabet.
std::string port_hash(const std::vector<EndpointPort>& ports) {
  uint32_t h = 2166136261u;
  auto mix = [&](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 16777619u;
    }
    h ^= 0xff;
    h *= 16777619u;
  };
  for (const EndpointPort& p : ports) {
    mix(p.name);
    mix(p.protocol);
    mix(std::to_string(p.port));
  }
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (int i = 0; i < 5; ++i) {
    out += kAlphabet[h % kAlphabet.size()];
    h /= static_cast<uint32_t>(kAlphabet.size());
  }
  return out;
}

json::object target_ref(const api::Meta& m) {
  return {{"kind", "Pod"}, {"namespace", m.namespace_()}, {"name", m.name()}, {"uid", m.uid()}};
}

struct Candidate {
  const json::object* pod;
  std::vector<EndpointPort> ports;
};

// The pods that belong in the Service's endpoints, with their ports.
std::vector<Candidate> candidates(const Inputs& in) {
  std::vector<Candidate> out;
  api::ServiceView svc(*in.service);
  for (const json::object* p : in.pods) {
    if (!selects(*in.service, *p)) continue;
    api::PodView pod(*p);
    if (pod.status().pod_ip().empty() || api::pod_is_terminal(pod)) continue;
    out.push_back({p, ports_for(svc, pod)});
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return api::Meta(*a.pod).name() < api::Meta(*b.pod).name();
  });
  return out;
}

json::array ports_json(const std::vector<EndpointPort>& ports, bool with_app_protocol) {
  json::array a;
  for (const EndpointPort& p : ports) {
    json::object o{{"name", p.name}, {"protocol", p.protocol}, {"port", p.port}};
    if (with_app_protocol && p.app_protocol) o["appProtocol"] = *p.app_protocol;
    a.push_back(std::move(o));
  }
  return a;
}

}  // namespace

bool selects(const json::object& service, const json::object& pod) {
  api::ServiceView svc(service);
  const json::object* sel = svc.spec().selector();
  if (sel == nullptr || sel->empty()) return false;
  if (api::Meta(pod).namespace_() != api::Meta(service).namespace_()) return false;
  const json::object* labels = api::Meta(pod).labels();
  for (const auto& [k, v] : *sel) {
    if (!v.is_string() || labels == nullptr) return false;
    const json::value* have = json::find(*labels, k);
    if (have == nullptr || !have->is_string() || have->get_string() != v.get_string()) return false;
  }
  return true;
}

std::vector<json::object> desired_endpoint_slices(const Inputs& in) {
  std::vector<json::object> out;
  api::ServiceView svc(*in.service);
  const json::object* sel = svc.spec().selector();
  if (sel == nullptr || sel->empty()) return out;
  const api::Meta smeta(*in.service);
  const bool publish_not_ready = svc.spec().publish_not_ready_addresses();
  const bool headless = svc.spec().cluster_ip() == "None";

  std::map<std::vector<EndpointPort>, json::array> groups;
  for (const Candidate& c : candidates(in)) {
    api::PodView pod(*c.pod);
    const api::Meta m = pod.meta();
    const bool terminating = m.being_deleted();
    const bool serving = pod_ready(pod) || publish_not_ready;
    json::object ep{{"addresses", json::array{pod.status().pod_ip()}},
                    {"conditions", json::object{{"ready", serving && !terminating}, {"serving", serving},
                                                {"terminating", terminating}}},
                    {"targetRef", target_ref(m)}};
    const std::string node(pod.spec().node_name());
    if (!node.empty()) {
      ep["nodeName"] = node;
      if (auto z = in.node_zones.find(node); z != in.node_zones.end()) ep["zone"] = z->second;
    }
    // A pod that names the headless Service as its subdomain is reachable by hostname.
    if (headless && !pod.spec().hostname().empty() && pod.spec().subdomain() == smeta.name()) {
      ep["hostname"] = pod.spec().hostname();
    }
    groups[c.ports].push_back(std::move(ep));
  }
  if (groups.empty()) groups[{}];  // an empty slice says "no endpoints" (and keeps the ports)

  for (auto& [ports, eps] : groups) {
    const std::string base = std::string(smeta.name()) + "-" + port_hash(ports);
    std::size_t index = 0;
    for (std::size_t start = 0; start < eps.size() || (start == 0 && eps.empty()); start += in.max_endpoints) {
      json::array chunk;
      for (std::size_t i = start; i < std::min(eps.size(), start + in.max_endpoints); ++i) chunk.push_back(eps[i]);
      json::object owner{{"apiVersion", "v1"}, {"kind", "Service"}, {"name", smeta.name()}, {"uid", smeta.uid()},
                         {"controller", true}, {"blockOwnerDeletion", true}};
      json::object slice{
          {"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", json::object{{"name", index == 0 ? base : base + "-" + std::to_string(index)},
                                    {"namespace", smeta.namespace_()},
                                    {"labels", json::object{{"kubernetes.io/service-name", smeta.name()},
                                                            {"endpointslice.kubernetes.io/managed-by", kManagedBy}}},
                                    {"ownerReferences", json::array{owner}}}},
          {"addressType", "IPv4"},
          {"endpoints", std::move(chunk)},
          {"ports", ports_json(ports, true)}};
      out.push_back(std::move(slice));
      ++index;
      if (eps.empty()) break;
    }
  }
  return out;
}

json::object desired_endpoints(const Inputs& in) {
  api::ServiceView svc(*in.service);
  const api::Meta smeta(*in.service);
  const bool publish_not_ready = svc.spec().publish_not_ready_addresses();
  std::map<std::vector<EndpointPort>, std::pair<json::array, json::array>> subsets;  // ready, not ready
  for (const Candidate& c : candidates(in)) {
    api::PodView pod(*c.pod);
    const api::Meta m = pod.meta();
    if (m.being_deleted() && !publish_not_ready) continue;
    if (c.ports.empty() && !svc.spec().ports().empty()) continue;  // serves none of the ports
    json::object addr{{"ip", pod.status().pod_ip()}, {"targetRef", target_ref(m)}};
    if (!pod.spec().node_name().empty()) addr["nodeName"] = pod.spec().node_name();
    auto& [ready, not_ready] = subsets[c.ports];
    (pod_ready(pod) || publish_not_ready ? ready : not_ready).push_back(std::move(addr));
  }
  json::array out_subsets;
  for (auto& [ports, addrs] : subsets) {
    json::object s;
    if (!addrs.first.empty()) s["addresses"] = std::move(addrs.first);
    if (!addrs.second.empty()) s["notReadyAddresses"] = std::move(addrs.second);
    if (!ports.empty()) s["ports"] = ports_json(ports, true);
    out_subsets.push_back(std::move(s));
  }
  json::object labels;
  if (const json::object* l = smeta.labels()) labels = *l;
  json::object meta{{"name", smeta.name()}, {"namespace", smeta.namespace_()}};
  if (!labels.empty()) meta["labels"] = std::move(labels);
  json::object ep{{"apiVersion", "v1"}, {"kind", "Endpoints"}, {"metadata", std::move(meta)}};
  if (!out_subsets.empty()) ep["subsets"] = std::move(out_subsets);
  return ep;
}

}  // namespace kernlet::controllers::endpoints
