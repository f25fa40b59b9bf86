// host-gw routes: prefix parsing, the routes the Nodes ask for, the plan from existing to
// desired, and HostGwRoutes against a fake RouteTable.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <thread>

#include "cni/routes/host_gw.h"
#include "cni/routes/route.h"

namespace kernlet::cni::routes {
namespace {

json::object node(const std::string& name, const std::string& cidr, const std::string& ip) {
  json::object n;
  n["metadata"] = json::object{{"name", name}};
  json::object spec;
  if (!cidr.empty()) spec["podCIDR"] = cidr;
  n["spec"] = spec;
  json::array addrs;
  addrs.push_back(json::object{{"type", "Hostname"}, {"address", name}});
  if (!ip.empty()) addrs.push_back(json::object{{"type", "InternalIP"}, {"address", ip}});
  n["status"] = json::object{{"addresses", addrs}};
  return n;
}

NodeRoute route(const std::string& dst, const std::string& gw) {
  return NodeRoute{*parse_prefix(dst), *parse_ip(gw), ""};
}

std::vector<std::string> strs(const std::vector<NodeRoute>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.str());
  return out;
}

TEST(RoutePrefix, ParsesAndRejects) {
  auto p = parse_prefix("10.244.1.0/24");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->str(), "10.244.1.0/24");
  EXPECT_EQ(p->address.family, AF_INET);
  auto v6 = parse_prefix("fd00:10:244:1::/64");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->str(), "fd00:10:244:1::/64");
  EXPECT_FALSE(parse_prefix("10.244.1.5/24").ok());
  EXPECT_NE(parse_prefix("10.244.1.5/24").error().message().find("host bits set (the network is 10.244.1.0/24)"),
            std::string::npos);
  EXPECT_FALSE(parse_prefix("10.244.1.0").ok());
  EXPECT_FALSE(parse_prefix("10.244.1.0/33").ok());
  EXPECT_FALSE(parse_prefix("10.244.1.0/").ok());
  EXPECT_FALSE(parse_prefix("10.244.1.0/2x").ok());
  EXPECT_FALSE(parse_prefix("nonsense/8").ok());
  EXPECT_TRUE(parse_prefix("0.0.0.0/0").ok());
}

TEST(RoutePrefix, ContainsAndOverlaps) {
  auto big = *parse_prefix("10.244.0.0/16");
  auto small = *parse_prefix("10.244.3.0/24");
  auto other = *parse_prefix("10.245.0.0/24");
  EXPECT_TRUE(big.overlaps(small));
  EXPECT_TRUE(small.overlaps(big));
  EXPECT_FALSE(small.overlaps(other));
  EXPECT_TRUE(small.contains(*parse_ip("10.244.3.200")));
  EXPECT_FALSE(small.contains(*parse_ip("10.244.4.1")));
  EXPECT_FALSE(small.contains(*parse_ip("::1")));
}

TEST(DesiredRoutes, OneRoutePerOtherNodeViaItsInternalIp) {
  auto a = node("a", "10.244.1.0/24", "198.18.0.11");
  auto b = node("b", "10.244.2.0/24", "198.18.0.12");
  auto c = node("c", "10.244.3.0/24", "198.18.0.13");
  auto d = desired_routes({&c, &a, &b}, "a");
  EXPECT_EQ(strs(d.routes), (std::vector<std::string>{"10.244.2.0/24 via 198.18.0.12", "10.244.3.0/24 via 198.18.0.13"}));
  EXPECT_EQ(d.routes[0].node, "b");
  EXPECT_TRUE(d.skipped.empty());
}

TEST(DesiredRoutes, SkipsNodesWithoutCidrOrAddressAndSaysWhy) {
  auto self = node("self", "10.244.1.0/24", "198.18.0.11");
  auto nocidr = node("nocidr", "", "198.18.0.12");
  auto noip = node("noip", "10.244.3.0/24", "");
  auto bad = node("bad", "10.244.4.7/24", "198.18.0.14");
  auto v6only = node("v6", "10.244.5.0/24", "fd00::5");
  auto d = desired_routes({&self, &nocidr, &noip, &bad, &v6only}, "self");
  EXPECT_TRUE(d.routes.empty());
  ASSERT_EQ(d.skipped.size(), 4u);
  EXPECT_NE(d.skipped[0].find("node bad: podCIDR"), std::string::npos);
  EXPECT_NE(d.skipped[1].find("node nocidr: no spec.podCIDR"), std::string::npos);
  EXPECT_NE(d.skipped[2].find("node noip: no InternalIP"), std::string::npos);
  EXPECT_NE(d.skipped[3].find("node v6: no InternalIP"), std::string::npos);
}

TEST(DesiredRoutes, OverlapsWithOwnOrAnotherNodeGetNoRoute) {
  auto self = node("self", "10.244.1.0/24", "198.18.0.11");
  auto dup_own = node("b", "10.244.1.0/24", "198.18.0.12");
  auto first = node("c", "10.244.3.0/24", "198.18.0.13");
  auto clash = node("d", "10.244.3.0/25", "198.18.0.14");
  auto d = desired_routes({&self, &dup_own, &first, &clash}, "self");
  EXPECT_EQ(strs(d.routes), (std::vector<std::string>{"10.244.3.0/24 via 198.18.0.13"}));
  ASSERT_EQ(d.skipped.size(), 2u);
  EXPECT_NE(d.skipped[0].find("overlaps this node's own"), std::string::npos);
  EXPECT_NE(d.skipped[1].find("overlaps node c's 10.244.3.0/24"), std::string::npos);
}

TEST(DesiredRoutes, PodCidrsListAndDualStack) {
  json::object n = node("b", "", "198.18.0.12");
  json::object& spec = n["spec"].as_object();
  spec["podCIDRs"] = json::array{"10.244.2.0/24", "fd00:244:2::/64"};
  n["status"].as_object()["addresses"].as_array().push_back(json::object{{"type", "InternalIP"}, {"address", "fd00::12"}});
  auto d = desired_routes({&n}, "a");
  EXPECT_EQ(strs(d.routes), (std::vector<std::string>{"10.244.2.0/24 via 198.18.0.12", "fd00:244:2::/64 via fd00::12"}));
}

TEST(RoutePlan, RemovesStaleAndChangedAddsMissing) {
  std::vector<NodeRoute> desired = {route("10.244.2.0/24", "198.18.0.12"), route("10.244.3.0/24", "198.18.0.23")};
  std::vector<NodeRoute> existing = {route("10.244.2.0/24", "198.18.0.12"), route("10.244.3.0/24", "198.18.0.13"),
                                 route("10.244.9.0/24", "198.18.0.19")};
  auto p = plan_routes(desired, existing);
  EXPECT_EQ(strs(p.remove), (std::vector<std::string>{"10.244.3.0/24 via 198.18.0.13", "10.244.9.0/24 via 198.18.0.19"}));
  EXPECT_EQ(strs(p.add), (std::vector<std::string>{"10.244.3.0/24 via 198.18.0.23"}));
  EXPECT_TRUE(plan_routes(desired, desired).empty());
}

// A routing table in memory, with a destination others own to check EEXIST handling.
class FakeTable final : public RouteTable {
 public:
  std::map<std::string, NodeRoute> ours;
  std::vector<std::string> foreign;  // destinations with someone else's route
  int fail_adds = 0;
  Result<std::vector<NodeRoute>> list() override {
    std::vector<NodeRoute> out;
    for (const auto& [k, r] : ours) out.push_back(r);
    std::sort(out.begin(), out.end());
    return out;
  }
  Result<void> add(const NodeRoute& r) override {
    if (fail_adds > 0) {
      --fail_adds;
      return Error("add route " + r.str() + ": no way", ENETUNREACH);
    }
    if (ours.count(r.dst.str()) || std::find(foreign.begin(), foreign.end(), r.dst.str()) != foreign.end())
      return Error("add route " + r.str(), EEXIST);
    ours[r.dst.str()] = r;
    return Ok();
  }
  Result<void> remove(const NodeRoute& r) override {
    ours.erase(r.dst.str());
    return Ok();
  }
};

struct Fixture {
  FakeTable table;
  std::vector<client::ObjectPtr> nodes;
  bool synced = true;
  std::vector<std::string> logs;
  std::unique_ptr<HostGwRoutes> gw;
  Fixture() {
    HostGwOptions o;
    o.node_name = "a";
    o.log = [this](const std::string& l) { logs.push_back(l); };
    gw = std::make_unique<HostGwRoutes>(table, [this] { return nodes; }, [this] { return synced; }, o);
  }
  void set(std::vector<json::object> ns) {
    nodes.clear();
    for (auto& n : ns) nodes.push_back(std::make_shared<const json::object>(std::move(n)));
  }
};

TEST(HostGwRoutes, ConvergesOnNodeChangesAndRemovesItsStaleRoutes) {
  Fixture f;
  f.table.ours["10.244.9.0/24"] = route("10.244.9.0/24", "198.18.0.19");  // from an earlier run
  f.set({node("a", "10.244.1.0/24", "198.18.0.11"), node("b", "10.244.2.0/24", "198.18.0.12"),
         node("c", "10.244.3.0/24", "198.18.0.13")});
  ASSERT_TRUE(f.gw->reconcile_once().ok());
  EXPECT_EQ(strs(*f.table.list()),
            (std::vector<std::string>{"10.244.2.0/24 via 198.18.0.12", "10.244.3.0/24 via 198.18.0.13"}));
  // c's address changes, b goes.
  f.set({node("a", "10.244.1.0/24", "198.18.0.11"), node("c", "10.244.3.0/24", "198.18.0.33")});
  ASSERT_TRUE(f.gw->reconcile_once().ok());
  EXPECT_EQ(strs(*f.table.list()), (std::vector<std::string>{"10.244.3.0/24 via 198.18.0.33"}));
  EXPECT_EQ(strs(f.gw->status().routes), (std::vector<std::string>{"10.244.3.0/24 via 198.18.0.33"}));
  // Every node gone: no routes of ours left.
  f.set({node("a", "10.244.1.0/24", "198.18.0.11")});
  ASSERT_TRUE(f.gw->reconcile_once().ok());
  EXPECT_TRUE(f.table.ours.empty());
}

TEST(HostGwRoutes, DoesNothingBeforeTheCacheSynced) {
  Fixture f;
  f.table.ours["10.244.2.0/24"] = route("10.244.2.0/24", "198.18.0.12");
  f.synced = false;
  auto rc = f.gw->reconcile_once();
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(f.table.ours.size(), 1u);  // an empty cache is not "every node went"
}

TEST(HostGwRoutes, AForeignRouteIsNeverReplacedAndFailuresAreReported) {
  Fixture f;
  f.table.foreign.push_back("10.244.2.0/24");
  f.set({node("a", "10.244.1.0/24", "198.18.0.11"), node("b", "10.244.2.0/24", "198.18.0.12"),
         node("c", "10.244.3.0/24", "198.18.0.13")});
  auto rc = f.gw->reconcile_once();
  ASSERT_FALSE(rc.ok());
  EXPECT_NE(rc.error().to_string().find("1 change(s) failed"), std::string::npos) << rc.error().to_string();
  EXPECT_EQ(strs(*f.table.list()), (std::vector<std::string>{"10.244.3.0/24 via 198.18.0.13"}));  // c still added
  EXPECT_FALSE(f.gw->status().last_error.empty());
  f.table.foreign.clear();
  ASSERT_TRUE(f.gw->reconcile_once().ok());
  EXPECT_EQ(f.table.ours.size(), 2u);
  EXPECT_TRUE(f.gw->status().last_error.empty());
}

TEST(HostGwRoutes, ThreadReconcilesOnWakeAndRetriesAfterAFailure) {
  Fixture f;
  HostGwOptions o;
  o.node_name = "a";
  o.resync = std::chrono::hours(1);
  o.retry_after = std::chrono::milliseconds(20);
  o.log = [](const std::string&) {};
  f.table.fail_adds = 2;
  f.set({node("a", "10.244.1.0/24", "198.18.0.11"), node("b", "10.244.2.0/24", "198.18.0.12")});
  HostGwRoutes gw(f.table, [&] { return f.nodes; }, [] { return true; }, o);
  gw.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gw.status().routes.size() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(strs(gw.status().routes), (std::vector<std::string>{"10.244.2.0/24 via 198.18.0.12"}));
  EXPECT_GE(gw.status().reconciles, 3);  // two failed adds, then success
  gw.stop();
}

}  // namespace
}  // namespace kernlet::cni::routes
