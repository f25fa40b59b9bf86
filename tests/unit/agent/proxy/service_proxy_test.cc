// ServiceProxy against a fake ServiceMap: only changed entries are written, removals go
// through, and a failed write is retried by the next pass.
#include "agent/proxy/service_proxy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/json.h"

namespace kernlet::agent {
namespace {

class FakeServiceMap : public bpf::ServiceMap {
 public:
  Result<void> upsert(const bpf::ServiceSpec& spec) override {
    log.push_back("upsert " + spec.key.to_string() + " " + std::to_string(spec.backends.size()));
    if (fail.count(spec.key.to_string())) return Error("injected failure for " + spec.key.to_string());
    installed[spec.key] = spec;
    return Ok();
  }
  Result<void> remove(const bpf::ServiceKey& key) override {
    log.push_back("remove " + key.to_string());
    installed.erase(key);
    return Ok();
  }
  std::vector<bpf::ServiceKey> services() const override {
    std::vector<bpf::ServiceKey> out;
    for (const auto& [k, _] : installed) out.push_back(k);
    return out;
  }
  std::map<bpf::ServiceKey, bpf::ServiceStats> stats() const override {
    std::map<bpf::ServiceKey, bpf::ServiceStats> out;
    for (const auto& [k, _] : installed) out[k] = counters.count(k) ? counters.at(k) : bpf::ServiceStats{};
    return out;
  }
  std::map<bpf::ServiceKey, bpf::ServiceSpec> installed;
  std::map<bpf::ServiceKey, bpf::ServiceStats> counters;
  std::set<std::string> fail;
  std::vector<std::string> log;
};

class FakeNodePortMap : public bpf::NodePortMap {
 public:
  Result<void> upsert(const bpf::NodePortSpec& spec) override {
    log.push_back("upsert " + spec.key.to_string() + " " + std::to_string(spec.backends.size()));
    installed[spec.key] = spec;
    return Ok();
  }
  Result<void> remove(const bpf::ServiceKey& key) override {
    log.push_back("remove " + key.to_string());
    installed.erase(key);
    return Ok();
  }
  std::vector<bpf::ServiceKey> services() const override {
    std::vector<bpf::ServiceKey> out;
    for (const auto& [k, _] : installed) out.push_back(k);
    return out;
  }
  std::map<bpf::ServiceKey, bpf::NodePortStats> stats() const override {
    std::map<bpf::ServiceKey, bpf::NodePortStats> out;
    for (const auto& [k, _] : installed) out[k] = counters.count(k) ? counters.at(k) : bpf::NodePortStats{};
    return out;
  }
  std::map<bpf::ServiceKey, bpf::NodePortSpec> installed;
  std::map<bpf::ServiceKey, bpf::NodePortStats> counters;
  std::vector<std::string> log;
};

client::ObjectPtr obj(const std::string& text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return std::make_shared<const json::object>(o.ok() ? *o : json::object{});
}

client::ObjectPtr service(const std::string& name, const std::string& ip) {
  return obj(R"({"metadata":{"namespace":"ns","name":")" + name + R"("},"spec":{"clusterIP":")" + ip +
             R"(","ports":[{"port":80}]}})");
}

client::ObjectPtr slice(const std::string& svc, const std::vector<std::string>& ips) {
  std::string eps;
  for (const auto& ip : ips) eps += std::string(eps.empty() ? "" : ",") + R"({"addresses":[")" + ip + R"("]})";
  return obj(R"({"metadata":{"namespace":"ns","name":")" + svc + R"(-x","labels":{"kubernetes.io/service-name":")" +
             svc + R"("}},"addressType":"IPv4","ports":[{"name":"","port":8080,"protocol":"TCP"}],"endpoints":[)" + eps +
             "]}");
}

TEST(ServiceProxyTest, WritesOnlyWhatChangedAndRetriesFailures) {
  client::ObjectCache services, slices;
  FakeServiceMap map;
  ServiceProxy proxy(&map, &services, &slices, "node-a");

  services.upsert(service("a", "10.96.0.1"));
  services.upsert(service("b", "10.96.0.2"));
  slices.upsert(slice("a", {"10.1.0.1"}));
  map.fail.insert("10.96.0.2:80/TCP");
  auto r = proxy.sync_once();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("10.96.0.2:80/TCP"), std::string::npos);
  EXPECT_EQ(map.log, (std::vector<std::string>{"upsert 10.96.0.1:80/TCP 1", "upsert 10.96.0.2:80/TCP 0"}));

  // Nothing changed but b failed: only b is written again.
  map.fail.clear();
  map.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(map.log, (std::vector<std::string>{"upsert 10.96.0.2:80/TCP 0"}));

  map.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_TRUE(map.log.empty());

  // A backend joins a; b is deleted.
  slices.upsert(slice("a", {"10.1.0.1", "10.1.0.2"}));
  services.erase("ns/b");
  map.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(map.log, (std::vector<std::string>{"remove 10.96.0.2:80/TCP", "upsert 10.96.0.1:80/TCP 2"}));
  EXPECT_EQ(map.installed.size(), 1u);
}

// After an agent restart the map still holds what the earlier agent pinned. Until both
// caches have synced nothing is written (a Services cache without its EndpointSlices would
// refuse and drain every service); the first pass then removes the pinned entries that are
// no longer desired and rewrites the others once.
TEST(ServiceProxyTest, WaitsForTheCachesAndAdoptsWhatTheMapHolds) {
  client::ObjectCache services, slices;
  FakeServiceMap map;
  bpf::ServiceSpec kept, stale;
  kept.key = bpf::ServiceKey{*bpf::IpAddr::parse("10.96.0.1"), 80, bpf::Protocol::kTcp};
  stale.key = bpf::ServiceKey{*bpf::IpAddr::parse("10.96.0.9"), 80, bpf::Protocol::kTcp};
  map.installed[kept.key] = kept;
  map.installed[stale.key] = stale;
  bool synced = false;
  ServiceProxy proxy(&map, &services, &slices, "node-a", [&] { return synced; });

  services.upsert(service("a", "10.96.0.1"));
  auto r = proxy.sync_once();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(map.log.empty()) << "nothing is written before the caches have synced";

  slices.upsert(slice("a", {"10.1.0.1"}));
  synced = true;
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(map.log, (std::vector<std::string>{"remove 10.96.0.9:80/TCP", "upsert 10.96.0.1:80/TCP 1"}));
  map.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_TRUE(map.log.empty());
}

// A write that failed leaves the entry in an unknown state: if its Service goes before a
// retry succeeds, the entry is still removed from the map.
TEST(ServiceProxyTest, FailedWriteOfADeletedServiceIsRemoved) {
  client::ObjectCache services, slices;
  FakeServiceMap map;
  ServiceProxy proxy(&map, &services, &slices, "node-a");
  services.upsert(service("a", "10.96.0.1"));
  map.fail.insert("10.96.0.1:80/TCP");
  ASSERT_FALSE(proxy.sync_once().ok());
  services.erase("ns/a");
  map.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(map.log, (std::vector<std::string>{"remove 10.96.0.1:80/TCP"}));
}

TEST(ServiceProxyTest, ProgramsNodePortsOnBothMaps) {
  client::ObjectCache services, slices;
  FakeServiceMap map;
  FakeNodePortMap nodeports;
  ServiceProxy proxy(&map, &services, &slices, "node-a");
  proxy.set_node_addresses({*bpf::IpAddr::parse("192.168.1.10")});
  proxy.set_nodeport_map(&nodeports);

  services.upsert(obj(R"({"metadata":{"namespace":"ns","name":"a"},"spec":{"type":"NodePort","clusterIP":"10.96.0.1",)"
                      R"("ports":[{"port":80,"nodePort":30080}]}})"));
  slices.upsert(slice("a", {"10.1.0.1"}));
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(map.log, (std::vector<std::string>{"upsert 10.96.0.1:80/TCP 1", "upsert 192.168.1.10:30080/TCP 1"}));
  EXPECT_EQ(nodeports.log, (std::vector<std::string>{"upsert 192.168.1.10:30080/TCP 1"}));

  // Back to ClusterIP: the nodePort entries go from both maps.
  services.upsert(service("a", "10.96.0.1"));
  map.log.clear();
  nodeports.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(map.log, (std::vector<std::string>{"remove 192.168.1.10:30080/TCP"}));
  EXPECT_EQ(nodeports.log, (std::vector<std::string>{"remove 192.168.1.10:30080/TCP"}));
}

TEST(ServiceProxyTest, AdoptsNodePortKeysLeftByAnEarlierAgent) {
  client::ObjectCache services, slices;
  FakeServiceMap map;
  FakeNodePortMap nodeports;
  // Pinned by the earlier agent: one still desired, one whose service went meanwhile.
  for (std::uint16_t port : {30080, 30099}) {
    bpf::NodePortSpec old;
    old.key = bpf::ServiceKey{*bpf::IpAddr::parse("192.168.1.10"), port, bpf::Protocol::kTcp};
    nodeports.installed[old.key] = old;
  }
  ServiceProxy proxy(&map, &services, &slices, "node-a");
  proxy.set_node_addresses({*bpf::IpAddr::parse("192.168.1.10")});
  proxy.set_nodeport_map(&nodeports);
  services.upsert(obj(R"({"metadata":{"namespace":"ns","name":"a"},"spec":{"type":"NodePort","clusterIP":"10.96.0.1",)"
                      R"("ports":[{"port":80,"nodePort":30080}]}})"));
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_EQ(nodeports.log,
            (std::vector<std::string>{"remove 192.168.1.10:30099/TCP", "upsert 192.168.1.10:30080/TCP 0"}));
  nodeports.log.clear();
  ASSERT_TRUE(proxy.sync_once().ok());
  EXPECT_TRUE(nodeports.log.empty());
}

}  // namespace
}  // namespace kernlet::agent

namespace kernlet::agent {
namespace {

// The maps' per-key counters come out per Service port: the clusterIP's and the
// node address:nodePort's socket counters are summed, the NodePort datapath's appear under
// the same labels, and a key of no known Service is left out.
TEST(ServiceProxyTest, MetricsSumCountersPerServicePort) {
  client::ObjectCache services, slices;
  FakeServiceMap map;
  FakeNodePortMap nodeports;
  ServiceProxy proxy(&map, &services, &slices, "node-a");
  proxy.set_node_addresses({*bpf::IpAddr::parse("192.168.1.10")});
  proxy.set_nodeport_map(&nodeports);
  services.upsert(obj(R"({"metadata":{"namespace":"ns","name":"a"},"spec":{"type":"NodePort","clusterIP":"10.96.0.1",)"
                      R"("ports":[{"name":"http","port":80,"nodePort":30080},{"port":53,"protocol":"UDP"}]}})"));
  slices.upsert(slice("a", {"10.1.0.1"}));
  ASSERT_TRUE(proxy.sync_once().ok());

  const bpf::ServiceKey vip{*bpf::IpAddr::parse("10.96.0.1"), 80, bpf::Protocol::kTcp};
  const bpf::ServiceKey node{*bpf::IpAddr::parse("192.168.1.10"), 30080, bpf::Protocol::kTcp};
  const bpf::ServiceKey dns{*bpf::IpAddr::parse("10.96.0.1"), 53, bpf::Protocol::kUdp};
  ASSERT_TRUE(map.installed.count(vip) && map.installed.count(node) && map.installed.count(dns));
  map.counters[vip] = {5, 0, 2};
  map.counters[node] = {3, 0, 1};
  map.counters[dns] = {0, 7, 0};
  nodeports.counters[node] = {4, 40, 4000, 6, 0};
  // An entry the proxy does not know (an earlier agent's, say): no labels, not exported.
  map.installed[bpf::ServiceKey{*bpf::IpAddr::parse("10.96.0.99"), 80, bpf::Protocol::kTcp}] = {};

  metrics::PrometheusText out;
  proxy.append_metrics(out);
  const std::string& t = out.text();
  auto has = [&](const std::string& line) {
    EXPECT_NE(t.find(line + "\n"), std::string::npos) << "missing: " << line << "\nin:\n" << t;
  };
  has("# TYPE kernlet_service_connections_total counter");
  has(R"(kernlet_service_connections_total{namespace="ns",service="a",port="http",protocol="TCP"} 8)");
  has(R"(kernlet_service_connections_total{namespace="ns",service="a",port="53",protocol="UDP"} 0)");
  has(R"(kernlet_service_refused_total{namespace="ns",service="a",port="http",protocol="TCP"} 3)");
  has(R"(kernlet_service_datagrams_total{namespace="ns",service="a",port="53",protocol="UDP"} 7)");
  has(R"(kernlet_nodeport_flows_total{namespace="ns",service="a",port="http",protocol="TCP"} 4)");
  has(R"(kernlet_nodeport_bytes_total{namespace="ns",service="a",port="http",protocol="TCP"} 4000)");
  has(R"(kernlet_nodeport_no_backend_drops_total{namespace="ns",service="a",port="http",protocol="TCP"} 6)");
  has("kernlet_service_proxy_service_ports 3");
  has("kernlet_service_proxy_sync_duration_seconds_count 1");
  has(R"(kernlet_service_proxy_sync_duration_seconds_bucket{le="+Inf"} 1)");
  EXPECT_EQ(t.find("10.96.0.99"), std::string::npos);
}

}  // namespace
}  // namespace kernlet::agent
