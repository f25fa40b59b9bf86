// NetlinkRouteTable against the kernel, in a network namespace of the test's own (a thread
// that unshared CLONE_NEWNET; the namespace goes when the thread ends). Root only.
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>
#include <thread>

#include "cni/routes/host_gw.h"
#include "cni/routes/netlink_routes.h"

namespace kernlet::cni::routes {
namespace {

// Runs fn on a thread in a fresh network namespace with a veth pair d0/d1, d0 198.18.0.1/24,
// both up (the test's own "underlay"; nothing leaves the namespace; a veth, because this
// kernel may lack the dummy link type).
void in_fresh_netns(const std::function<void()>& fn) {
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET) failed";
      return;
    }
    // The test's setup uses ip(8); the code under test uses netlink only.
    if (std::system("ip link add d0 type veth peer name d1 && ip addr add 198.18.0.1/24 dev d0 && ip link set d1 up && "
                    "ip link set d0 up") != 0) {
      ADD_FAILURE() << "could not set up the veth pair";
      return;
    }
    fn();
  });
  t.join();
}

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

NodeRoute route(const std::string& dst, const std::string& gw) { return NodeRoute{*parse_prefix(dst), *parse_ip(gw), "n"}; }

class NetlinkRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWNET, netlink route changes)";
    if (std::system("command -v ip >/dev/null") != 0) GTEST_SKIP() << "ip(8) missing for the test's setup";
  }
};

TEST_F(NetlinkRoutes, AddsListsAndRemovesOnlyItsOwnRoutes) {
  in_fresh_netns([] {
    auto table = NetlinkRouteTable::open();
    ASSERT_TRUE(table.ok()) << table.error().to_string();
    auto& t = **table;
    ASSERT_TRUE(t.list().ok());
    EXPECT_TRUE(t.list()->empty());  // the connected route of d0 is the kernel's
    ASSERT_TRUE(t.add(route("10.244.2.0/24", "198.18.0.12")).ok());
    ASSERT_TRUE(t.add(route("10.244.3.0/24", "198.18.0.13")).ok());
    auto listed = t.list();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].str(), "10.244.2.0/24 via 198.18.0.12");
    EXPECT_EQ((*listed)[1].str(), "10.244.3.0/24 via 198.18.0.13");
    // The kernel sees them with kernlet's protocol.
    std::string shown = sh("ip route show proto " + std::to_string(kRouteProtocol));
    EXPECT_NE(shown.find("10.244.2.0/24 via 198.18.0.12 dev d0"), std::string::npos) << shown;
    // Someone else's route: invisible to us, and never replaced.
    ASSERT_EQ(std::system("ip route add 10.244.7.0/24 via 198.18.0.17 proto static"), 0);
    EXPECT_EQ(t.list()->size(), 2u);
    auto clash = t.add(route("10.244.7.0/24", "198.18.0.99"));
    ASSERT_FALSE(clash.ok());
    EXPECT_EQ(clash.error().sys_errno(), EEXIST);
    EXPECT_NE(sh("ip route show 10.244.7.0/24").find("via 198.18.0.17"), std::string::npos);
    // Removing ours works, twice too; removing with our protocol never hits the foreign one.
    ASSERT_TRUE(t.remove(route("10.244.2.0/24", "198.18.0.12")).ok());
    EXPECT_TRUE(t.remove(route("10.244.2.0/24", "198.18.0.12")).ok());
    EXPECT_TRUE(t.remove(route("10.244.7.0/24", "198.18.0.17")).ok());
    EXPECT_NE(sh("ip route show 10.244.7.0/24").find("via 198.18.0.17"), std::string::npos);
    ASSERT_EQ(t.list()->size(), 1u);
    // An unreachable gateway is an error naming the route.
    auto far = t.add(route("10.244.8.0/24", "203.0.113.1"));
    ASSERT_FALSE(far.ok());
    EXPECT_NE(far.error().message().find("add route 10.244.8.0/24 via 203.0.113.1"), std::string::npos);
    // Another protocol number is another owner.
    auto other = NetlinkRouteTable::open(kRouteProtocol + 1);
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE((*other)->list()->empty());
  });
}

TEST_F(NetlinkRoutes, HostGwReconcileRemovesStaleRoutesOfAnEarlierRun) {
  in_fresh_netns([] {
    auto table = NetlinkRouteTable::open();
    ASSERT_TRUE(table.ok());
    // Left over by an earlier agent: a node that went while it was down.
    ASSERT_EQ(std::system(("ip route add 10.244.9.0/24 via 198.18.0.19 proto " + std::to_string(kRouteProtocol)).c_str()), 0);
    auto mk = [](const std::string& name, const std::string& cidr, const std::string& ip) {
      json::object n;
      n["metadata"] = json::object{{"name", name}};
      n["spec"] = json::object{{"podCIDR", cidr}};
      n["status"] = json::object{{"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", ip}}}}};
      return std::make_shared<const json::object>(std::move(n));
    };
    std::vector<client::ObjectPtr> nodes = {mk("a", "10.244.1.0/24", "198.18.0.11"),
                                            mk("b", "10.244.2.0/24", "198.18.0.12")};
    HostGwOptions o;
    o.node_name = "a";
    o.log = [](const std::string&) {};
    HostGwRoutes gw(**table, [&] { return nodes; }, [] { return true; }, o);
    ASSERT_TRUE(gw.reconcile_once().ok());
    std::string shown = sh("ip route show proto " + std::to_string(kRouteProtocol));
    EXPECT_EQ(shown, "10.244.2.0/24 via 198.18.0.12 dev d0 \n");
  });
}

}  // namespace
}  // namespace kernlet::cni::routes
