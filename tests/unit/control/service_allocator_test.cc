#include "control/apiserver/service_allocator.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kernlet::apiserver {
namespace {

json::object parse(std::string_view text) { return json::parse_object(text).value(); }

std::unique_ptr<ServiceAllocator> make(std::string_view cidr = ServiceAllocator::kDefaultServiceCidr,
                                       std::string_view ports = ServiceAllocator::kDefaultNodePortRange) {
  auto a = ServiceAllocator::create(cidr, ports);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().to_string());
  return std::move(a).value();
}

// A defaulted Service named ns/name with `spec` (JSON) as its spec.
json::object service(std::string_view name, std::string_view spec, std::string_view ns = "default") {
  json::object s = parse(R"({"apiVersion":"v1","kind":"Service","metadata":{}})");
  s["metadata"].as_object()["name"] = json::string(name);
  s["metadata"].as_object()["namespace"] = json::string(ns);
  s["spec"] = parse(spec);
  return s;
}

std::string cluster_ip(const json::object& s) { return std::string(json::get_string(s.at("spec").as_object(), "clusterIP")); }
int64_t node_port(const json::object& s, std::size_t i) {
  return json::get_int_or(s.at("spec").at("ports").as_array()[i].as_object(), "nodePort", 0);
}
uint32_t ip_value(const std::string& ip) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  EXPECT_EQ(std::sscanf(ip.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d), 4) << ip;
  return (a << 24) | (b << 16) | (c << 8) | d;
}
// The whole message a client would see, "" when ok.
std::string outcome(const AllocationResult& r, std::string_view name) {
  return r.ok() ? "" : r.to_status(name).message();
}

constexpr std::string_view kTcp80 = R"("ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":80}])";

std::string spec_with(std::string_view type, std::string_view extra = "") {
  std::string s = R"({"type":")" + std::string(type) + R"(",)" + std::string(kTcp80);
  if (!extra.empty()) s += "," + std::string(extra);
  return s + "}";
}

// ------------------------------------------------------------------ construction

TEST(ServiceAllocatorConfig, ParsesRangesAndRejectsBadInput) {
  struct Case {
    std::string cidr, ports, want_cidr, want_ports, error;  // error: substring, "" = ok
  };
  std::vector<Case> cases = {
      {"10.96.0.0/12", "30000-32767", "10.96.0.0/12", "30000-32767", ""},
      {"10.96.3.7/24", "30000+2767", "10.96.3.0/24", "30000-32767", ""},  // host bits masked like Go's ParseCIDR
      {"192.168.0.0/30", "30080", "192.168.0.0/30", "30080-30080", ""},
      {"", "30000-32767", "", "", "invalid service CIDR \"\": expected an IPv4 CIDR a.b.c.d/n"},
      {"10.96.0.0", "30000-32767", "", "", "invalid service CIDR \"10.96.0.0\""},
      {"10.96.0.256/12", "30000-32767", "", "", "expected an IPv4 CIDR"},
      {"010.96.0.0/12", "30000-32767", "", "", "expected an IPv4 CIDR"},
      {"10.96.0.0/x", "30000-32767", "", "", "expected an IPv4 CIDR"},
      {"10.96.0.0/33", "30000-32767", "", "", "expected an IPv4 CIDR"},
      {"10.0.0.0/8", "30000-32767", "", "",
       "service CIDR 10.0.0.0/8 is too large; for 32-bit addresses, the mask must be >= 12"},
      {"10.0.0.0/31", "30000-32767", "", "", "is too small"},
      {"fd00::/108", "30000-32767", "", "", "only IPv4 service CIDRs are supported"},
      {"10.96.0.0/12", "", "", "", "invalid node port range \"\": expected <first>-<last>"},
      {"10.96.0.0/12", "30000-", "", "", "invalid node port range \"30000-\""},
      {"10.96.0.0/12", "abc", "", "", "invalid node port range \"abc\""},
      {"10.96.0.0/12", "32767-30000", "", "", "1 <= first <= last <= 65535"},
      {"10.96.0.0/12", "0-100", "", "", "1 <= first <= last <= 65535"},
      {"10.96.0.0/12", "30000-70000", "", "", "1 <= first <= last <= 65535"},
  };
  for (const auto& c : cases) {
    auto a = ServiceAllocator::create(c.cidr, c.ports);
    if (c.error.empty()) {
      ASSERT_TRUE(a.ok()) << c.cidr << " " << c.ports << ": " << a.error().to_string();
      EXPECT_EQ((*a)->service_cidr(), c.want_cidr);
      EXPECT_EQ((*a)->node_port_range(), c.want_ports);
    } else {
      ASSERT_FALSE(a.ok()) << c.cidr << " " << c.ports;
      EXPECT_EQ(a.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(a.error().message().find(c.error), std::string::npos) << a.error().message();
    }
  }
  auto d = make();
  EXPECT_EQ(d->service_cidr(), "10.96.0.0/12");
  EXPECT_EQ(d->kubernetes_service_ip(), "10.96.0.1");
  EXPECT_EQ(d->free_ips(), (1U << 20) - 3);  // minus network, broadcast, kubernetes IP
  EXPECT_EQ(d->free_node_ports(), 2768U);
}

// ------------------------------------------------------------------ create

TEST(ServiceAllocatorCreate, Table) {
  struct Case {
    std::string name, spec;
    std::string error;  // the client's Status message; "" = ok
  };
  // Each case runs against an allocator where default/taken holds 10.96.0.5 and 30080.
  std::vector<Case> cases = {
      {"clusterip", spec_with("ClusterIP"), ""},
      {"nodeport", spec_with("NodePort"), ""},
      {"lb", spec_with("LoadBalancer", R"("allocateLoadBalancerNodePorts":true)"), ""},
      {"lb-no-nodeports", spec_with("LoadBalancer", R"("allocateLoadBalancerNodePorts":false)"), ""},
      {"lb-local", spec_with("LoadBalancer", R"("externalTrafficPolicy":"Local")"), ""},
      {"headless", spec_with("ClusterIP", R"("clusterIP":"None")"), ""},
      {"external", R"({"type":"ExternalName","externalName":"example.com"})", ""},
      {"free-ip", spec_with("ClusterIP", R"("clusterIP":"10.96.0.6")"), ""},
      {"free-ips", spec_with("ClusterIP", R"("clusterIPs":["10.96.0.7"])"), ""},
      {"used-ip", spec_with("ClusterIP", R"("clusterIP":"10.96.0.5")"),
       R"(Service "used-ip" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.5"}: failed to allocate IP 10.96.0.5: provided IP is already allocated)"},
      {"kube-ip", spec_with("ClusterIP", R"("clusterIP":"10.96.0.1")"),
       R"(Service "kube-ip" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated)"},
      {"outside", spec_with("ClusterIP", R"("clusterIP":"1.1.1.1","clusterIPs":["1.1.1.1"])"),
       R"(Service "outside" is invalid: spec.clusterIPs: Invalid value: []string{"1.1.1.1"}: failed to allocate IP 1.1.1.1: the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12)"},
      {"network", spec_with("ClusterIP", R"("clusterIP":"10.96.0.0")"),
       R"(Service "network" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.0"}: failed to allocate IP 10.96.0.0: the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12)"},
      {"broadcast", spec_with("ClusterIP", R"("clusterIP":"10.111.255.255")"),
       R"(Service "broadcast" is invalid: spec.clusterIPs: Invalid value: []string{"10.111.255.255"}: failed to allocate IP 10.111.255.255: the provided IP (10.111.255.255) is not in the valid range. The range of valid IPs is 10.96.0.0/12)"},
      {"garbage", spec_with("ClusterIP", R"("clusterIP":"abc")"),
       R"(Service "garbage" is invalid: spec.clusterIPs[0]: Invalid value: "abc": must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff))"},
      {"zeros", spec_with("ClusterIP", R"("clusterIP":"10.96.0.05")"),
       R"(Service "zeros" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0.05": must not have leading 0s)"},
      {"v6", spec_with("ClusterIP", R"("clusterIP":"fd00::5")"),
       R"(Service "v6" is invalid: spec.clusterIPs[0]: Invalid value: []string{"fd00::5"}: IPv6 is not configured on this cluster)"},
      {"v6-family", spec_with("ClusterIP", R"("ipFamilies":["IPv6"])"),
       R"(Service "v6-family" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster)"},
      {"dual", spec_with("ClusterIP", R"("ipFamilyPolicy":"RequireDualStack")"),
       R"(Service "dual" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services)"},
      {"used-port", R"({"type":"NodePort","ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})",
       R"(Service "used-port" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated)"},
      {"low-port", R"({"type":"NodePort","ports":[{"port":80,"protocol":"TCP","nodePort":80}]})",
       R"(Service "low-port" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767)"},
      {"dup-port",
       R"({"type":"NodePort","ports":[{"name":"a","port":80,"protocol":"TCP","nodePort":30100},{"name":"b","port":81,"protocol":"TCP","nodePort":30100}]})",
       R"(Service "dup-port" is invalid: spec.ports[1].nodePort: Duplicate value: 30100)"},
      {"hc-used", spec_with("LoadBalancer", R"("externalTrafficPolicy":"Local","healthCheckNodePort":30080)"),
       "Internal error occurred: failed to allocate requested HealthCheck NodePort 30080: provided port is already allocated"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto a = make();
    json::object taken = service("taken", R"({"type":"NodePort","clusterIP":"10.96.0.5","ports":[{"port":1,"protocol":"TCP","nodePort":30080}]})");
    ASSERT_TRUE(a->allocate(taken).ok());
    const std::size_t free_ips = a->free_ips(), free_ports = a->free_node_ports();

    json::object s = service(c.name, c.spec);
    const json::object before = s;
    AllocationResult r = a->allocate(s);
    EXPECT_EQ(outcome(r, c.name), c.error);
    if (!r.ok()) {  // all or nothing: nothing held, object untouched
      EXPECT_EQ(s, before);
      EXPECT_EQ(a->free_ips(), free_ips);
      EXPECT_EQ(a->free_node_ports(), free_ports);
      continue;
    }
    const json::object& spec = s.at("spec").as_object();
    std::string_view type = json::get_string(spec, "type");
    bool headless = c.name == "headless";
    if (type == "ExternalName") {
      EXPECT_EQ(json::find(spec, "clusterIP"), nullptr);
      EXPECT_EQ(a->free_ips(), free_ips);
    } else if (headless) {
      EXPECT_EQ(cluster_ip(s), "None");
      EXPECT_EQ(a->free_ips(), free_ips);
    } else {
      std::string ip = cluster_ip(s);
      EXPECT_EQ(json::value(spec.at("clusterIPs")), json::value(json::array{json::string(ip)}));
      EXPECT_TRUE(a->ip_allocated(ip)) << ip;
      EXPECT_EQ(a->free_ips(), free_ips - 1);
      if (c.name == "free-ip") {
        EXPECT_EQ(ip, "10.96.0.6");
      }
      if (c.name == "free-ips") {
        EXPECT_EQ(ip, "10.96.0.7");
      }
    }
    bool wants_ports = type == "NodePort" || (type == "LoadBalancer" && c.name != "lb-no-nodeports");
    if (json::get_array(spec, "ports") != nullptr) {
      int64_t np = node_port(s, 0);
      if (wants_ports) {
        EXPECT_GE(np, 30000);
        EXPECT_LE(np, 32767);
        EXPECT_TRUE(a->node_port_allocated(np));
      } else {
        EXPECT_EQ(np, 0);
      }
    }
    if (c.name == "lb-local") {
      int64_t hc = json::get_int_or(spec, "healthCheckNodePort", 0);
      EXPECT_TRUE(a->node_port_allocated(hc)) << hc;
      EXPECT_NE(hc, node_port(s, 0));
      EXPECT_EQ(a->free_node_ports(), free_ports - 2);
    }
  }
}

TEST(ServiceAllocatorCreate, AllOrNothingGivesBackTheIpWhenAPortFails) {
  auto a = make();
  json::object first = service("first", R"({"type":"NodePort","ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})");
  ASSERT_TRUE(a->allocate(first).ok());
  json::object s = service("second", R"({"type":"NodePort","clusterIP":"10.96.0.9","ports":[
      {"name":"a","port":81,"protocol":"TCP","nodePort":30081},{"name":"b","port":82,"protocol":"TCP"},
      {"name":"c","port":80,"protocol":"TCP","nodePort":30080}]})");
  const json::object before = s;
  std::size_t free_ports = a->free_node_ports();
  AllocationResult r = a->allocate(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "spec.ports[2].nodePort: Invalid value: 30080: provided port is already allocated");
  ASSERT_EQ(r.causes().size(), 1U);
  EXPECT_EQ(r.causes()[0].reason, "FieldValueInvalid");
  EXPECT_EQ(r.causes()[0].field, "spec.ports[2].nodePort");
  EXPECT_EQ(r.to_status("second").code(), 422);
  EXPECT_EQ(s, before);
  EXPECT_FALSE(a->ip_allocated("10.96.0.9"));
  EXPECT_FALSE(a->node_port_allocated(30081));
  EXPECT_EQ(a->free_node_ports(), free_ports);
}

TEST(ServiceAllocatorCreate, KubernetesServiceGetsTheFirstAddressOnlyWhenItAsks) {
  auto a = make();
  json::object other = service("web", R"({"type":"ClusterIP","clusterIP":"10.96.0.1"})", "default");
  EXPECT_FALSE(a->allocate(other).ok());
  json::object elsewhere = service("kubernetes", R"({"type":"ClusterIP","clusterIP":"10.96.0.1"})", "kube-system");
  EXPECT_FALSE(a->allocate(elsewhere).ok());
  json::object kube = service("kubernetes", R"({"type":"ClusterIP","clusterIP":"10.96.0.1"})");
  ASSERT_TRUE(a->allocate(kube).ok());
  EXPECT_TRUE(a->ip_allocated("10.96.0.1"));
  json::object again = service("kubernetes", R"({"type":"ClusterIP","clusterIP":"10.96.0.1"})");
  EXPECT_EQ(outcome(a->allocate(again), "kubernetes"),
            R"(Service "kubernetes" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated)");
  a->release(kube);
  EXPECT_FALSE(a->ip_allocated("10.96.0.1"));
  ASSERT_TRUE(a->allocate(again).ok());
}

TEST(ServiceAllocatorCreate, TinyCidrExhaustsWithUpstreamError) {
  auto a = make("10.0.0.0/29");  // .1-.6 usable, .1 kept for the kubernetes service
  EXPECT_EQ(a->free_ips(), 5U);
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    json::object s = service("s" + std::to_string(i), spec_with("ClusterIP"));
    ASSERT_TRUE(a->allocate(s).ok());
    got.insert(cluster_ip(s));
  }
  EXPECT_EQ(got, (std::set<std::string>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
  json::object full = service("full", spec_with("ClusterIP"));
  AllocationResult r = a->allocate(full);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.causes().empty());
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  api::Status st = r.to_status("full");
  EXPECT_EQ(st.code(), 500);
  EXPECT_EQ(st.reason(), "InternalError");
  EXPECT_EQ(st.message(), "Internal error occurred: failed to allocate a serviceIP: range is full");
  // The reserved address is still there for the kubernetes service.
  json::object kube = service("kubernetes", R"({"type":"ClusterIP","clusterIP":"10.0.0.1"})");
  EXPECT_TRUE(a->allocate(kube).ok());
}

TEST(ServiceAllocatorCreate, NodePortRangeExhausts) {
  auto a = make(ServiceAllocator::kDefaultServiceCidr, "30000-30002");
  json::object s = service("three", R"({"type":"NodePort","ports":[{"name":"a","port":1,"protocol":"TCP"},
      {"name":"b","port":2,"protocol":"TCP"},{"name":"c","port":3,"protocol":"TCP"}]})");
  ASSERT_TRUE(a->allocate(s).ok());
  std::set<int64_t> got{node_port(s, 0), node_port(s, 1), node_port(s, 2)};
  EXPECT_EQ(got, (std::set<int64_t>{30000, 30001, 30002}));
  json::object more = service("more", spec_with("NodePort"));
  EXPECT_EQ(outcome(a->allocate(more), "more"), "Internal error occurred: failed to allocate a nodePort: range is full");
  EXPECT_FALSE(a->ip_allocated(cluster_ip(more)));
}

TEST(ServiceAllocatorCreate, DynamicAllocationPrefersTheUpperBand) {
  // 10.96.0.0/12: the lower 256 addresses are left for requests; 30000-32767: the lower 86 ports.
  auto a = make();
  for (int i = 0; i < 300; ++i) {
    json::object s = service("s" + std::to_string(i), spec_with("NodePort"));
    ASSERT_TRUE(a->allocate(s).ok());
    EXPECT_GT(ip_value(cluster_ip(s)), ip_value("10.96.1.0"));
    EXPECT_GE(node_port(s, 0), 30086);
  }
  // A small range with a band: /27 has 30 usable, the band is 16; fill the upper 14 first.
  auto small = make("10.0.0.0/27");
  for (int i = 0; i < 14; ++i) {
    json::object s = service("u" + std::to_string(i), spec_with("ClusterIP"));
    ASSERT_TRUE(small->allocate(s).ok());
    EXPECT_GE(ip_value(cluster_ip(s)), ip_value("10.0.0.17"));
  }
  json::object lower = service("lower", spec_with("ClusterIP"));
  ASSERT_TRUE(small->allocate(lower).ok());
  EXPECT_LT(ip_value(cluster_ip(lower)), ip_value("10.0.0.17"));
  EXPECT_NE(cluster_ip(lower), "10.0.0.1");
}

TEST(ServiceAllocatorCreate, PortsWithTheSameNumberShareANodePort) {
  auto a = make();
  json::object dns = service("dns", R"({"type":"NodePort","ports":[{"name":"udp","port":53,"protocol":"UDP"},
      {"name":"tcp","port":53,"protocol":"TCP"},{"name":"web","port":80,"protocol":"TCP"}]})");
  ASSERT_TRUE(a->allocate(dns).ok());
  EXPECT_EQ(node_port(dns, 0), node_port(dns, 1));
  EXPECT_NE(node_port(dns, 0), node_port(dns, 2));
  // A node port named on a later port with the same number is used for the earlier one.
  json::object named = service("named", R"({"type":"NodePort","ports":[{"name":"udp","port":53,"protocol":"UDP"},
      {"name":"tcp","port":53,"protocol":"TCP","nodePort":30053}]})");
  ASSERT_TRUE(a->allocate(named).ok());
  EXPECT_EQ(node_port(named, 0), 30053);
  EXPECT_EQ(node_port(named, 1), 30053);
}

// ------------------------------------------------------------------ release, rollback

TEST(ServiceAllocatorRelease, ReleaseThenReuse) {
  auto a = make();
  const std::string spec = R"({"type":"LoadBalancer","externalTrafficPolicy":"Local","clusterIP":"10.96.0.42",
      "healthCheckNodePort":30999,"ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})";
  json::object s = service("web", spec);
  ASSERT_TRUE(a->allocate(s).ok());
  EXPECT_TRUE(a->ip_allocated("10.96.0.42"));
  EXPECT_TRUE(a->node_port_allocated(30080));
  EXPECT_TRUE(a->node_port_allocated(30999));
  json::object clash = service("clash", spec);
  EXPECT_FALSE(a->allocate(clash).ok());
  a->release(s);
  EXPECT_FALSE(a->ip_allocated("10.96.0.42"));
  EXPECT_FALSE(a->node_port_allocated(30080));
  EXPECT_FALSE(a->node_port_allocated(30999));
  EXPECT_TRUE(a->allocate(clash).ok());
}

TEST(ServiceAllocatorRelease, RollbackCreateFreesWhatAllocateTook) {
  auto a = make();
  std::size_t free_ips = a->free_ips(), free_ports = a->free_node_ports();
  json::object s = service("web", spec_with("NodePort"));
  ASSERT_TRUE(a->allocate(s).ok());
  a->rollback_create(s);  // the store write failed
  EXPECT_EQ(a->free_ips(), free_ips);
  EXPECT_EQ(a->free_node_ports(), free_ports);
}

TEST(ServiceAllocatorRelease, ReleasingAnotherOwnersValueIsANoOp) {
  auto a = make();
  json::object s = service("web", R"({"type":"NodePort","clusterIP":"10.96.0.8","ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})");
  ASSERT_TRUE(a->allocate(s).ok());
  json::object impostor = service("other", R"({"type":"NodePort","clusterIP":"10.96.0.8","ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})");
  a->release(impostor);
  EXPECT_TRUE(a->ip_allocated("10.96.0.8"));
  EXPECT_TRUE(a->node_port_allocated(30080));
}

// ------------------------------------------------------------------ update

TEST(ServiceAllocatorUpdate, TypeChanges) {
  struct Case {
    std::string name, old_spec, new_spec;
    std::string error;  // "" = ok
  };
  std::vector<Case> cases = {
      {"clusterip-to-nodeport", R"({"type":"ClusterIP",)" + std::string(kTcp80) + "}", spec_with("NodePort"), ""},
      {"nodeport-to-clusterip", spec_with("NodePort"), spec_with("ClusterIP"), ""},
      {"nodeport-to-external", spec_with("NodePort"), R"({"type":"ExternalName","externalName":"example.com"})", ""},
      {"external-to-clusterip", R"({"type":"ExternalName","externalName":"example.com"})", spec_with("ClusterIP"), ""},
      {"clusterip-to-lb-local", spec_with("ClusterIP"), spec_with("LoadBalancer", R"("externalTrafficPolicy":"Local")"), ""},
      {"lb-local-to-cluster", spec_with("LoadBalancer", R"("externalTrafficPolicy":"Local")"),
       spec_with("LoadBalancer", R"("externalTrafficPolicy":"Cluster")"), ""},
      {"ip-change", spec_with("ClusterIP"), spec_with("ClusterIP", R"("clusterIP":"10.96.0.77")"), "may not change once set"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto a = make();
    const std::size_t free_ips = a->free_ips(), free_ports = a->free_node_ports();
    json::object old = service("web", c.old_spec);
    ASSERT_TRUE(a->allocate(old).ok());
    // The client sends the new spec without the allocated values, as `kubectl apply` does.
    json::object now = service("web", c.new_spec);
    AllocationResult r = a->update(now, old);
    if (!c.error.empty()) {
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.error().message().find(c.error), std::string::npos) << r.error().message();
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().message();
    a->commit_update(now, old);
    const json::object& spec = now.at("spec").as_object();
    std::string_view type = json::get_string(spec, "type");
    std::string_view old_type = json::get_string(old.at("spec").as_object(), "type");
    // The new object holds exactly what its type needs; whatever old held beyond that is free.
    std::size_t want_ips = type == "ExternalName" ? 0 : 1;
    std::size_t want_ports = (type == "NodePort" || type == "LoadBalancer") ? 1 : 0;
    if (json::get_string(spec, "externalTrafficPolicy") == "Local") ++want_ports;
    EXPECT_EQ(a->free_ips(), free_ips - want_ips);
    EXPECT_EQ(a->free_node_ports(), free_ports - want_ports);
    if (type == "ExternalName") {
      EXPECT_EQ(json::find(spec, "clusterIP"), nullptr);
      EXPECT_EQ(json::find(spec, "clusterIPs"), nullptr);
      EXPECT_FALSE(a->ip_allocated(cluster_ip(old)));
    } else if (old_type != "ExternalName") {
      EXPECT_EQ(cluster_ip(now), cluster_ip(old));  // kept although the new object left it out
    } else {
      EXPECT_TRUE(a->ip_allocated(cluster_ip(now)));
    }
    if (want_ports > 0) {
      EXPECT_TRUE(a->node_port_allocated(node_port(now, 0)));
    }
    if ((old_type == "NodePort" || old_type == "LoadBalancer") && want_ports > 0) {
      EXPECT_EQ(node_port(now, 0), node_port(old, 0));  // kept by port name
    }
    if (c.name == "nodeport-to-clusterip") {
      EXPECT_EQ(node_port(now, 0), 0);
      EXPECT_FALSE(a->node_port_allocated(node_port(old, 0)));
    }
    if (c.name == "lb-local-to-cluster") {
      EXPECT_EQ(json::find(spec, "healthCheckNodePort"), nullptr);
      EXPECT_FALSE(a->node_port_allocated(json::get_int_or(old.at("spec").as_object(), "healthCheckNodePort", 0)));
    }
  }
}

TEST(ServiceAllocatorUpdate, NodePortToClusterIpKeepsPortsUntilCommit) {
  auto a = make();
  json::object old = service("web", spec_with("NodePort"));
  ASSERT_TRUE(a->allocate(old).ok());
  int64_t np = node_port(old, 0);
  json::object now = old;
  now["spec"].as_object()["type"] = "ClusterIP";  // nodePort still set, as the client sent it back
  ASSERT_TRUE(a->update(now, old).ok());
  EXPECT_EQ(node_port(now, 0), 0);  // dropped with the type
  EXPECT_TRUE(a->node_port_allocated(np));  // not yet: the write may still fail
  a->rollback_update(now, old);
  EXPECT_TRUE(a->node_port_allocated(np));  // failed write: old keeps it
  ASSERT_TRUE(a->update(now, old).ok());
  a->commit_update(now, old);
  EXPECT_FALSE(a->node_port_allocated(np));
}

TEST(ServiceAllocatorUpdate, PortsAddedAndRemoved) {
  auto a = make();
  json::object old = service("web", R"({"type":"NodePort","ports":[{"name":"a","port":80,"protocol":"TCP"},
      {"name":"b","port":81,"protocol":"TCP"}]})");
  ASSERT_TRUE(a->allocate(old).ok());
  int64_t a_np = node_port(old, 0), b_np = node_port(old, 1);
  // Drop b, add c (asks for 30123), reorder: a keeps its node port by name.
  json::object now = service("web", R"({"type":"NodePort","ports":[{"name":"c","port":82,"protocol":"TCP","nodePort":30123},
      {"name":"a","port":80,"protocol":"TCP"}]})");
  ASSERT_TRUE(a->update(now, old).ok());
  EXPECT_EQ(node_port(now, 0), 30123);
  EXPECT_EQ(node_port(now, 1), a_np);
  EXPECT_TRUE(a->node_port_allocated(b_np));
  a->commit_update(now, old);
  EXPECT_FALSE(a->node_port_allocated(b_np));
  EXPECT_TRUE(a->node_port_allocated(a_np));
  EXPECT_TRUE(a->node_port_allocated(30123));

  // A failed write gives back only what the update took.
  json::object next = service("web", R"({"type":"NodePort","ports":[{"name":"c","port":82,"protocol":"TCP","nodePort":30123},
      {"name":"a","port":80,"protocol":"TCP"},{"name":"d","port":83,"protocol":"TCP"}]})");
  ASSERT_TRUE(a->update(next, now).ok());
  int64_t d_np = node_port(next, 2);
  EXPECT_TRUE(a->node_port_allocated(d_np));
  a->rollback_update(next, now);
  EXPECT_FALSE(a->node_port_allocated(d_np));
  EXPECT_TRUE(a->node_port_allocated(a_np));
  EXPECT_TRUE(a->node_port_allocated(30123));

  // A conflicting request fails the whole update and takes nothing.
  json::object other = service("other", R"({"type":"NodePort","ports":[{"port":1,"protocol":"TCP","nodePort":30200}]})");
  ASSERT_TRUE(a->allocate(other).ok());
  json::object bad = service("web", R"({"type":"NodePort","ports":[{"name":"a","port":80,"protocol":"TCP"},
      {"name":"e","port":84,"protocol":"TCP"},{"name":"f","port":85,"protocol":"TCP","nodePort":30200}]})");
  std::size_t free_ports = a->free_node_ports();
  EXPECT_EQ(outcome(a->update(bad, now), "web"),
            R"(Service "web" is invalid: spec.ports[2].nodePort: Invalid value: 30200: provided port is already allocated)");
  EXPECT_EQ(a->free_node_ports(), free_ports);
}

// ------------------------------------------------------------------ rebuild

TEST(ServiceAllocatorRebuild, DuplicatesLoseAndAreLogged) {
  auto a = make();
  std::vector<json::object> stored = {
      service("kubernetes", R"({"type":"ClusterIP","clusterIP":"10.96.0.1","clusterIPs":["10.96.0.1"]})"),
      service("first", R"({"type":"NodePort","clusterIP":"10.96.0.10","ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})"),
      service("second", R"({"type":"NodePort","clusterIP":"10.96.0.10","ports":[{"port":80,"protocol":"TCP","nodePort":30080}]})", "team"),
      service("outside", R"({"type":"NodePort","clusterIP":"10.200.0.1","ports":[{"port":80,"protocol":"TCP","nodePort":8080}]})"),
      service("headless", R"({"type":"ClusterIP","clusterIP":"None"})"),
      service("ext", R"({"type":"ExternalName","externalName":"example.com"})"),
      service("lb", R"({"type":"LoadBalancer","externalTrafficPolicy":"Local","healthCheckNodePort":31000,"clusterIP":"10.96.0.11",
          "ports":[{"port":80,"protocol":"TCP","nodePort":31001}]})"),
  };
  testing::internal::CaptureStderr();
  a->rebuild(stored);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("warning service-allocator: the cluster IP 10.96.0.10 for service team/second was assigned to "
                     "multiple services; please recreate\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("the node port 30080 for service team/second was assigned to multiple services; please recreate"),
            std::string::npos);
  EXPECT_NE(log.find("the cluster IP 10.200.0.1 for service default/outside is not within the service CIDR "
                     "10.96.0.0/12; please recreate"),
            std::string::npos);
  EXPECT_NE(log.find("the node port 8080 for service default/outside is not within the port range 30000-32767; "
                     "please recreate"),
            std::string::npos);
  for (std::string ip : {"10.96.0.1", "10.96.0.10", "10.96.0.11"}) EXPECT_TRUE(a->ip_allocated(ip)) << ip;
  for (int64_t p : {30080, 31000, 31001}) EXPECT_TRUE(a->node_port_allocated(p)) << p;
  EXPECT_EQ(a->free_ips(), (1U << 20) - 3 - 2);
  EXPECT_EQ(a->free_node_ports(), 2768U - 3);

  // Deleting the loser leaves the winner's values held; deleting the winner frees them.
  a->release(stored[2]);
  EXPECT_TRUE(a->ip_allocated("10.96.0.10"));
  EXPECT_TRUE(a->node_port_allocated(30080));
  a->release(stored[1]);
  EXPECT_FALSE(a->ip_allocated("10.96.0.10"));
  EXPECT_FALSE(a->node_port_allocated(30080));

  // Rebuild starts over.
  a->rebuild({});
  EXPECT_FALSE(a->ip_allocated("10.96.0.1"));
  EXPECT_EQ(a->free_ips(), (1U << 20) - 3);
  EXPECT_EQ(a->free_node_ports(), 2768U);
}

// ------------------------------------------------------------------ concurrency

TEST(ServiceAllocatorConcurrency, EightThreadsGetUniqueIps) {
  auto a = make("10.96.0.0/20");  // 4094 usable: contention over a range that gets crowded
  constexpr int kThreads = 8, kEach = 400;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        json::object s = service("s" + std::to_string(t) + "-" + std::to_string(i), spec_with("NodePort"));
        if (a->allocate(s).ok()) got[t].push_back(cluster_ip(s) + "/" + std::to_string(node_port(s, 0)));
      }
    });
  for (auto& th : threads) th.join();
  std::set<std::string> ips;
  std::set<std::string> ports;
  std::size_t total = 0;
  for (const auto& v : got)
    for (const auto& e : v) {
      ++total;
      ips.insert(e.substr(0, e.find('/')));
      ports.insert(e.substr(e.find('/') + 1));
    }
  // 3200 services, 2768 node ports: exactly the port range's worth succeed, all distinct.
  EXPECT_EQ(total, 2768U);
  EXPECT_EQ(ips.size(), total);
  EXPECT_EQ(ports.size(), total);
  EXPECT_EQ(a->free_node_ports(), 0U);
  EXPECT_EQ(a->free_ips(), 4093U - total);  // failed creates gave their IPs back
}

}  // namespace
}  // namespace kernlet::apiserver
