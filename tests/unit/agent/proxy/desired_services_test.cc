// Unit tests of the service proxy's pure part: Services + EndpointSlices -> desired load
// balancer content, and the diff between two contents. Table-driven.
#include "agent/proxy/desired_services.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/json.h"

namespace kernlet::agent {
namespace {

client::ObjectPtr obj(const std::string& text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return std::make_shared<const json::object>(o.ok() ? *o : json::object{});
}

std::string svc(const std::string& spec, const std::string& status = "{}") {
  return R"({"metadata":{"namespace":"ns","name":"web"},"spec":)" + spec + R"(,"status":)" + status + "}";
}

std::string slice(const std::string& name, const std::string& type, const std::string& ports,
                  const std::string& endpoints, const std::string& service = "web") {
  return R"({"metadata":{"namespace":"ns","name":")" + name + R"(","labels":{"kubernetes.io/service-name":")" +
         service + R"("}},"addressType":")" + type + R"(","ports":)" + ports + R"(,"endpoints":)" + endpoints + "}";
}

// "VIP:port/PROTO -> b1,b2 | t1 [affinity N]" for one entry.
std::string show(const bpf::ServiceSpec& s) {
  std::string out = s.key.to_string() + " ->";
  for (const auto& b : s.backends) out += " " + b.to_string();
  if (!s.terminating.empty()) {
    out += " |";
    for (const auto& b : s.terminating) out += " " + b.to_string();
  }
  if (s.affinity) out += " affinity " + std::to_string(s.affinity_timeout_seconds);
  return out;
}

std::vector<std::string> show(const DesiredServices& d) {
  std::vector<std::string> out;
  for (const auto& [_, s] : d) out.push_back(show(s));
  return out;
}

const std::string kWebPorts = R"([{"name":"http","port":80,"targetPort":"web","protocol":"TCP"}])";
const std::string kSlicePorts = R"([{"name":"http","port":8080,"protocol":"TCP"}])";

struct Case {
  const char* name;
  std::vector<std::string> services;
  std::vector<std::string> slices;
  std::vector<std::string> want;
};

TEST(DesiredServicesTest, Table) {
  const std::string ep_ready = R"([{"addresses":["10.1.0.5"],"conditions":{"ready":true}},
                                   {"addresses":["10.1.0.6"]}])";
  const std::vector<Case> cases = {
      {"cluster IP, named target port resolved from the slice, ready unset reads ready",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts, ep_ready)},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080 10.1.0.6:8080"}},
      {"the named port resolves per slice: two slices, two target ports",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.5"]}])"),
        slice("web-b", "IPv4", R"([{"name":"http","port":9090,"protocol":"TCP"}])", R"([{"addresses":["10.1.0.7"]}])")},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080 10.1.0.7:9090"}},
      {"not ready and terminating: both listed apart (no new connections, established ones kept)",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts,
              R"([{"addresses":["10.1.0.5"],"conditions":{"ready":true}},
                  {"addresses":["10.1.0.6"],"conditions":{"ready":false,"serving":true,"terminating":true}},
                  {"addresses":["10.1.0.7"],"conditions":{"ready":false}}])")},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080 | 10.1.0.6:8080 10.1.0.7:8080"}},
      {"no ready endpoint: serving terminating ones take connections",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts,
              R"([{"addresses":["10.1.0.6"],"conditions":{"ready":false,"serving":true,"terminating":true}},
                  {"addresses":["10.1.0.8"],"conditions":{"ready":false,"serving":false,"terminating":true}}])")},
       {"10.96.0.10:80/TCP -> 10.1.0.6:8080 | 10.1.0.8:8080"}},
      {"no slices: the service refuses (an entry with no backends)",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + kWebPorts + "}")},
       {},
       {"10.96.0.10:80/TCP ->"}},
      {"headless, ExternalName and unallocated services have no entry",
       {svc(R"({"clusterIP":"None","ports":)" + kWebPorts + "}"),
        svc(R"({"type":"ExternalName","externalName":"example.org"})"),
        svc(R"({"ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts, ep_ready)},
       {}},
      {"externalIPs and load-balancer ingress IPs are VIPs too; UDP and SCTP ports",
       {svc(R"({"clusterIP":"10.96.0.10","externalIPs":["192.0.2.7"],"ports":[
                {"name":"dns","port":53,"protocol":"UDP"},{"name":"s","port":9,"protocol":"SCTP"}]})",
            R"({"loadBalancer":{"ingress":[{"ip":"198.51.100.1"}]}})")},
       {slice("web-a", "IPv4", R"([{"name":"dns","port":5353,"protocol":"UDP"},{"name":"s","port":9,"protocol":"SCTP"}])",
              R"([{"addresses":["10.1.0.5"]}])")},
       {"10.96.0.10:53/UDP -> 10.1.0.5:5353", "192.0.2.7:53/UDP -> 10.1.0.5:5353",
        "198.51.100.1:53/UDP -> 10.1.0.5:5353"}},
      {"port protocol must match: a UDP slice port does not serve a TCP service port",
       {svc(R"({"clusterIP":"10.96.0.10","ports":[{"name":"http","port":80}]})")},
       {slice("web-a", "IPv4", R"([{"name":"http","port":8080,"protocol":"UDP"}])", ep_ready)},
       {"10.96.0.10:80/TCP ->"}},
      {"dual stack: each VIP takes the slices of its family",
       {svc(R"({"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10","fd00:96::10"],"ports":)" + kWebPorts + "}")},
       {slice("web-4", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.5"]}])"),
        slice("web-6", "IPv6", kSlicePorts, R"([{"addresses":["fd00:1::5"]}])")},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080", "[fd00:96::10]:80/TCP -> [fd00:1::5]:8080"}},
      {"sessionAffinity ClientIP, default and explicit timeout",
       {svc(R"({"clusterIP":"10.96.0.10","sessionAffinity":"ClientIP","ports":)" + kWebPorts + "}"),
        R"({"metadata":{"namespace":"ns","name":"other"},"spec":{"clusterIP":"10.96.0.11","sessionAffinity":"ClientIP",
            "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":30}},"ports":[{"port":81}]}})"},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.5"]}])"),
        slice("other-a", "IPv4", R"([{"name":"","port":81,"protocol":"TCP"}])", R"([{"addresses":["10.1.0.9"]}])",
              "other")},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080 affinity 10800", "10.96.0.11:81/TCP -> 10.1.0.9:81 affinity 30"}},
      {"internalTrafficPolicy Local keeps this node's endpoints",
       {svc(R"({"clusterIP":"10.96.0.10","internalTrafficPolicy":"Local","ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts,
              R"([{"addresses":["10.1.0.5"],"nodeName":"node-a"},{"addresses":["10.1.0.6"],"nodeName":"node-b"}])")},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080"}},
      {"an endpoint in two slices (mid-move) is one backend; slices of other services are ignored",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + kWebPorts + "}")},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.5"]}])"),
        slice("web-b", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.5"]}])"),
        slice("db-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.99"]}])", "db")},
       {"10.96.0.10:80/TCP -> 10.1.0.5:8080"}},
  };
  for (const Case& c : cases) {
    std::vector<client::ObjectPtr> s, e;
    for (const auto& t : c.services) s.push_back(obj(t));
    for (const auto& t : c.slices) e.push_back(obj(t));
    EXPECT_EQ(show(desired_services(s, e, "node-a")), c.want) << c.name;
  }
}

TEST(DesiredServicesTest, BadAddressesAreSkippedWithAWarning) {
  std::vector<std::string> warnings;
  auto d = desired_services({obj(svc(R"({"clusterIP":"10.96.0.10","externalIPs":["nope"],"ports":)" + kWebPorts + "}"))},
                            {obj(slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.500"]},{"addresses":["10.1.0.5"]}])"))},
                            "node-a", &warnings);
  EXPECT_EQ(show(d), std::vector<std::string>{"10.96.0.10:80/TCP -> 10.1.0.5:8080"});
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("ns/web"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("\"nope\""), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("10.1.0.500"), std::string::npos) << warnings[1];
}

// "ADDR:port/PROTO -> b1 b2(remote) | t1 [local] [ranges c1,c2]" for one NodePort entry.
std::string show(const bpf::NodePortSpec& s) {
  std::string out = s.key.to_string() + " ->";
  for (const auto& b : s.backends) out += " " + b.backend.to_string() + (b.remote ? "(remote)" : "");
  if (!s.terminating.empty()) {
    out += " |";
    for (const auto& b : s.terminating) out += " " + b.to_string();
  }
  if (s.local_policy) out += " local";
  if (!s.source_ranges.empty()) {
    out += " ranges";
    for (size_t i = 0; i < s.source_ranges.size(); ++i) out += (i ? "," : " ") + s.source_ranges[i].to_string();
  }
  return out;
}

std::vector<std::string> show(const DesiredNodePorts& d) {
  std::vector<std::string> out;
  for (const auto& [_, s] : d) out.push_back(show(s));
  return out;
}

// Endpoints of web on node-a (10.1.0.5, ready; 10.1.0.8 terminating) and node-b (10.2.0.6).
const std::string kTwoNodes = R"([{"addresses":["10.1.0.5"],"nodeName":"node-a"},
                                  {"addresses":["10.2.0.6"],"nodeName":"node-b"},
                                  {"addresses":["10.1.0.8"],"nodeName":"node-a","conditions":{"ready":false,"serving":true,"terminating":true}}])";

std::vector<bpf::IpAddr> node_addrs(std::vector<const char*> v) {
  std::vector<bpf::IpAddr> out;
  for (auto a : v) out.push_back(*bpf::IpAddr::parse(a));
  return out;
}

TEST(DesiredNodePortsTest, Table) {
  const std::string np_ports = R"([{"name":"http","port":80,"nodePort":30080,"protocol":"TCP"}])";
  const std::vector<Case> cases = {
      {"NodePort, Cluster: every node address with the nodePort; remote backends marked",
       {svc(R"({"type":"NodePort","clusterIP":"10.96.0.10","ports":)" + np_ports + "}")},
       {slice("web-a", "IPv4", kSlicePorts, kTwoNodes)},
       {"192.168.1.10:30080/TCP -> 10.1.0.5:8080 10.2.0.6:8080(remote) | 10.1.0.8:8080",
        "192.168.2.10:30080/TCP -> 10.1.0.5:8080 10.2.0.6:8080(remote) | 10.1.0.8:8080"}},
      {"externalTrafficPolicy Local: only this node's endpoints, no SNAT",
       {svc(R"({"type":"NodePort","clusterIP":"10.96.0.10","externalTrafficPolicy":"Local","ports":)" + np_ports + "}")},
       {slice("web-a", "IPv4", kSlicePorts, kTwoNodes)},
       {"192.168.1.10:30080/TCP -> 10.1.0.5:8080 | 10.1.0.8:8080 local",
        "192.168.2.10:30080/TCP -> 10.1.0.5:8080 | 10.1.0.8:8080 local"}},
      {"Local with no endpoint on this node: an entry with no backend (dropped)",
       {svc(R"({"type":"NodePort","clusterIP":"10.96.0.10","externalTrafficPolicy":"Local","ports":)" + np_ports + "}")},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.2.0.6"],"nodeName":"node-b"}])")},
       {"192.168.1.10:30080/TCP -> local", "192.168.2.10:30080/TCP -> local"}},
      {"LoadBalancer: ingress IP with the port and source ranges (bad and IPv6 ones left out); nodePorts without",
       {svc(R"({"type":"LoadBalancer","clusterIP":"10.96.0.10","loadBalancerSourceRanges":["203.0.113.0/24","nope","2001:db8::/32"],"ports":)" +
                np_ports + "}",
            R"({"loadBalancer":{"ingress":[{"ip":"192.0.2.50"},{"hostname":"lb.example"}]}})")},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.5"],"nodeName":"node-a"}])")},
       {"192.0.2.50:80/TCP -> 10.1.0.5:8080 ranges 203.0.113.0/24", "192.168.1.10:30080/TCP -> 10.1.0.5:8080",
        "192.168.2.10:30080/TCP -> 10.1.0.5:8080"}},
      {"ClusterIP with externalIPs: the externalIPs only (IPv4), no nodePort",
       {svc(R"({"clusterIP":"10.96.0.10","externalIPs":["192.0.2.7","2001:db8::7"],"ports":)" + np_ports + "}")},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.2.0.6"],"nodeName":"node-b"}])")},
       {"192.0.2.7:80/TCP -> 10.2.0.6:8080(remote)"}},
      {"an endpoint without nodeName is remote (SNAT is always safe)",
       {svc(R"({"type":"NodePort","clusterIP":"10.96.0.10","ports":)" + np_ports + "}")},
       {slice("web-a", "IPv4", kSlicePorts, R"([{"addresses":["10.1.0.9"]}])")},
       {"192.168.1.10:30080/TCP -> 10.1.0.9:8080(remote)", "192.168.2.10:30080/TCP -> 10.1.0.9:8080(remote)"}},
      {"ClusterIP only, headless, ExternalName: nothing from outside",
       {svc(R"({"clusterIP":"10.96.0.10","ports":)" + np_ports + "}"), svc(R"({"clusterIP":"None","type":"NodePort","ports":)" + np_ports + "}"),
        svc(R"({"type":"ExternalName","externalName":"example.org"})")},
       {slice("web-a", "IPv4", kSlicePorts, kTwoNodes)},
       {}},
  };
  for (const Case& c : cases) {
    std::vector<client::ObjectPtr> s, e;
    for (const auto& t : c.services) s.push_back(obj(t));
    for (const auto& t : c.slices) e.push_back(obj(t));
    std::vector<std::string> warnings;
    EXPECT_EQ(show(desired_nodeports(s, e, "node-a", node_addrs({"192.168.1.10", "192.168.2.10", "fd00::10"}), &warnings)),
              c.want)
        << c.name;
  }
}

TEST(DesiredNodePortsTest, BadSourceRangeIsWarnedAbout) {
  std::vector<std::string> warnings;
  desired_nodeports({obj(svc(R"({"type":"LoadBalancer","clusterIP":"10.96.0.10","loadBalancerSourceRanges":["10.0.0.0/33"],"ports":[{"port":80,"nodePort":30001}]})"))},
                    {}, "node-a", node_addrs({"192.168.1.10"}), &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("10.0.0.0/33"), std::string::npos) << warnings[0];
}

TEST(DesiredServicesTest, NodePortsAndExternalAddressesForClientsOnTheNode) {
  // Socket LB: node addresses (both families) with the nodePort; internalTrafficPolicy
  // Local narrows the clusterIP only; externalTrafficPolicy does not apply to node clients.
  auto d = desired_services(
      {obj(svc(R"({"type":"NodePort","clusterIP":"10.96.0.10","internalTrafficPolicy":"Local","externalTrafficPolicy":"Local",
                  "externalIPs":["192.0.2.7"],"ports":[{"name":"http","port":80,"nodePort":30080}]})"))},
      {obj(slice("web-a", "IPv4", kSlicePorts, kTwoNodes))}, "node-a", nullptr,
      node_addrs({"192.168.1.10", "fd00::10"}));
  EXPECT_EQ(show(d), (std::vector<std::string>{
                         "10.96.0.10:80/TCP -> 10.1.0.5:8080 | 10.1.0.8:8080",
                         "192.0.2.7:80/TCP -> 10.1.0.5:8080 10.2.0.6:8080 | 10.1.0.8:8080",
                         "192.168.1.10:30080/TCP -> 10.1.0.5:8080 10.2.0.6:8080 | 10.1.0.8:8080",
                         "[fd00::10]:30080/TCP ->",
                     }));
}

TEST(DiffNodePortsTest, ChangedSpecsOnly) {
  auto spec = [](std::uint16_t port, bool local) {
    bpf::NodePortSpec s;
    s.key = bpf::ServiceKey{*bpf::IpAddr::parse("192.168.1.10"), port, bpf::Protocol::kTcp};
    s.backends.push_back({bpf::Backend{*bpf::IpAddr::parse("10.1.0.5"), 8080}, false});
    s.local_policy = local;
    return s;
  };
  DesiredNodePorts cur{{spec(30080, false).key, spec(30080, false)}, {spec(30081, false).key, spec(30081, false)}};
  DesiredNodePorts want{{spec(30080, true).key, spec(30080, true)}, {spec(30082, false).key, spec(30082, false)}};
  NodePortDiff d = diff_nodeports(cur, want);
  ASSERT_EQ(d.upserts.size(), 2u);
  EXPECT_EQ(d.upserts[0].key.port, 30080);
  EXPECT_TRUE(d.upserts[0].local_policy);
  EXPECT_EQ(d.upserts[1].key.port, 30082);
  ASSERT_EQ(d.removes.size(), 1u);
  EXPECT_EQ(d.removes[0].port, 30081);
  EXPECT_TRUE(diff_nodeports(want, want).upserts.empty());
}

TEST(DiffServicesTest, Table) {
  auto spec = [](const char* vip, std::vector<const char*> backends) {
    bpf::ServiceSpec s;
    s.key = bpf::ServiceKey{*bpf::IpAddr::parse(vip), 80, bpf::Protocol::kTcp};
    for (auto b : backends) s.backends.push_back(bpf::Backend{*bpf::IpAddr::parse(b), 8080});
    return s;
  };
  auto state = [](std::vector<bpf::ServiceSpec> specs) {
    DesiredServices d;
    for (auto& s : specs) d[s.key] = s;
    return d;
  };
  struct DiffCase {
    const char* name;
    DesiredServices current, desired;
    std::vector<std::string> upserts, removes;
  };
  auto a1 = spec("10.96.0.1", {"10.1.0.1"});
  auto a2 = spec("10.96.0.1", {"10.1.0.1", "10.1.0.2"});
  auto b = spec("10.96.0.2", {"10.1.0.3"});
  auto a_aff = a1;
  a_aff.affinity = true;
  a_aff.affinity_timeout_seconds = 10;
  auto a_term = a1;
  a_term.terminating.push_back(bpf::Backend{*bpf::IpAddr::parse("10.1.0.9"), 8080});
  const std::vector<DiffCase> cases = {
      {"nothing to do", state({a1, b}), state({a1, b}), {}, {}},
      {"new service", state({a1}), state({a1, b}), {"10.96.0.2:80/TCP"}, {}},
      {"removed service", state({a1, b}), state({b}), {}, {"10.96.0.1:80/TCP"}},
      {"backend added", state({a1, b}), state({a2, b}), {"10.96.0.1:80/TCP"}, {}},
      {"affinity turned on", state({a1}), state({a_aff}), {"10.96.0.1:80/TCP"}, {}},
      {"a backend starts terminating", state({a1}), state({a_term}), {"10.96.0.1:80/TCP"}, {}},
      {"from nothing", state({}), state({a1, b}), {"10.96.0.1:80/TCP", "10.96.0.2:80/TCP"}, {}},
  };
  for (const auto& c : cases) {
    ServiceDiff d = diff_services(c.current, c.desired);
    std::vector<std::string> up, rm;
    for (const auto& s : d.upserts) up.push_back(s.key.to_string());
    for (const auto& k : d.removes) rm.push_back(k.to_string());
    EXPECT_EQ(up, c.upserts) << c.name;
    EXPECT_EQ(rm, c.removes) << c.name;
  }
}

}  // namespace
}  // namespace kernlet::agent
