// Unit tests of a pod's resolv.conf per dnsPolicy (agent/dns/pod_dns.h) and of the
// resolv.conf parser it reads the node's file with.
#include "agent/dns/pod_dns.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/json.h"

namespace kernlet::agent::dns {
namespace {

json::object pod(const std::string& spec) {
  auto o = json::parse_object(R"({"metadata":{"namespace":"team","name":"p"},"spec":)" + spec + "}");
  EXPECT_TRUE(o.ok()) << spec;
  return o.ok() ? *o : json::object{};
}

PodDnsSettings settings() {
  PodDnsSettings s;
  s.cluster_dns = {"169.254.20.10"};
  s.cluster_domain = "cluster.local";
  s.host = parse_resolv_conf("nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab.example.\n"
                             "options timeout:2 edns0\n");
  return s;
}

using V = std::vector<std::string>;

TEST(ResolvConfTest, ParsesLikeGlibc) {
  auto rc = parse_resolv_conf(
      "# comment\n; other comment\nnameserver 10.0.0.1 # trailing\nnameserver\tfd00::1\n"
      "domain old.example\nsearch a.example b.example.\r\noptions ndots:2 rotate\noptions attempts:3\nsortlist x\n");
  EXPECT_EQ(rc.nameservers, (V{"10.0.0.1", "fd00::1"}));
  EXPECT_EQ(rc.searches, (V{"a.example", "b.example"}));  // the last search/domain line wins
  EXPECT_EQ(rc.options, (V{"ndots:2", "rotate", "attempts:3"}));
  EXPECT_TRUE(parse_resolv_conf("").nameservers.empty());
  auto missing = read_resolv_conf("/nonexistent/resolv.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("/nonexistent/resolv.conf"), std::string::npos);
}

TEST(PodDnsTest, ClusterFirst) {
  auto p = pod(R"({"dnsPolicy":"ClusterFirst"})");
  auto c = pod_dns_config(api::PodView(p), settings());
  EXPECT_EQ(c.servers, (V{"169.254.20.10"}));
  EXPECT_EQ(c.searches, (V{"team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "lab.example"}));
  EXPECT_EQ(c.options, (V{"ndots:5"}));
  // Unset dnsPolicy is ClusterFirst.
  auto q = pod("{}");
  EXPECT_EQ(pod_dns_config(api::PodView(q), settings()).servers, (V{"169.254.20.10"}));
}

TEST(PodDnsTest, HostNetworkClusterFirstIsDefaultUnlessWithHostNet) {
  auto p = pod(R"({"hostNetwork":true})");
  auto c = pod_dns_config(api::PodView(p), settings());
  EXPECT_EQ(c.servers, (V{"192.0.2.53", "192.0.2.54"}));
  EXPECT_EQ(c.searches, (V{"corp.example", "lab.example"}));
  EXPECT_EQ(c.options, (V{"timeout:2", "edns0"}));
  auto w = pod(R"({"hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet"})");
  auto cw = pod_dns_config(api::PodView(w), settings());
  EXPECT_EQ(cw.servers, (V{"169.254.20.10"}));
  EXPECT_EQ(cw.options, (V{"ndots:5"}));
}

TEST(PodDnsTest, DefaultIsTheNodesResolvConf) {
  auto p = pod(R"({"dnsPolicy":"Default"})");
  auto c = pod_dns_config(api::PodView(p), settings());
  EXPECT_EQ(c.servers, (V{"192.0.2.53", "192.0.2.54"}));
  EXPECT_EQ(c.searches, (V{"corp.example", "lab.example"}));
}

TEST(PodDnsTest, NoClusterDnsFallsBackToDefaultWithAWarning) {
  auto s = settings();
  s.cluster_dns.clear();
  auto p = pod("{}");
  std::vector<std::string> warnings;
  auto c = pod_dns_config(api::PodView(p), s, &warnings);
  EXPECT_EQ(c.servers, (V{"192.0.2.53", "192.0.2.54"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("--cluster-dns"), std::string::npos);
}

TEST(PodDnsTest, NoneTakesOnlyDnsConfig) {
  auto p = pod(R"({"dnsPolicy":"None","dnsConfig":{"nameservers":["1.2.3.4"],"searches":["x.example"],
                  "options":[{"name":"ndots","value":"2"},{"name":"edns0"}]}})");
  auto c = pod_dns_config(api::PodView(p), settings());
  EXPECT_EQ(c.servers, (V{"1.2.3.4"}));
  EXPECT_EQ(c.searches, (V{"x.example"}));
  EXPECT_EQ(c.options, (V{"ndots:2", "edns0"}));
}

TEST(PodDnsTest, DnsConfigMergesIntoClusterFirst) {
  auto p = pod(R"({"dnsConfig":{"nameservers":["1.2.3.4","169.254.20.10"],"searches":["svc.cluster.local","y.example"],
                  "options":[{"name":"ndots","value":"1"},{"name":"single-request"}]}})");
  auto c = pod_dns_config(api::PodView(p), settings());
  EXPECT_EQ(c.servers, (V{"169.254.20.10", "1.2.3.4"}));  // no duplicates
  EXPECT_EQ(c.searches, (V{"team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example",
                           "lab.example", "y.example"}));
  EXPECT_EQ(c.options, (V{"ndots:1", "single-request"}));  // the pod's value wins, in place
}

TEST(PodDnsTest, LimitsDropWhatIsOverWithAWarning) {
  std::string searches;
  for (int i = 0; i < 40; ++i) searches += std::string(i ? "," : "") + "\"d" + std::to_string(i) + ".example\"";
  auto p = pod(R"({"dnsPolicy":"None","dnsConfig":{"nameservers":["1.1.1.1","2.2.2.2","3.3.3.3","4.4.4.4"],
                  "searches":[)" + searches + "]}}");
  std::vector<std::string> warnings;
  auto c = pod_dns_config(api::PodView(p), settings(), &warnings);
  EXPECT_EQ(c.servers.size(), 3u);
  EXPECT_EQ(c.searches.size(), kMaxSearchDomains);
  EXPECT_EQ(warnings.size(), 2u);
  // 2048 characters: of 30 names of 98 characters 20 fit (20*98 + 19 spaces = 1979; 21 take 2078).
  std::string longs;
  for (int i = 0; i < 30; ++i) longs += std::string(i ? "," : "") + "\"" + std::string(90, 'a') + "." + std::to_string(1000000 + i) + "\"";
  auto q = pod(R"({"dnsPolicy":"None","dnsConfig":{"searches":[)" + longs + "]}}");
  EXPECT_EQ(pod_dns_config(api::PodView(q), settings()).searches.size(), 20u);
}

}  // namespace
}  // namespace kernlet::agent::dns
