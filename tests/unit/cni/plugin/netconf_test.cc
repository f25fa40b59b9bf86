#include "cni/plugin/netconf.h"

#include <gtest/gtest.h>

namespace kernlet::cni {
namespace {

std::string conf(const std::string& extra, const std::string& version = "1.0.0") {
  return R"({"cniVersion":")" + version + R"(","name":"kernlet","type":"kernlet-cni")" + extra +
         "}";
}

CniFailure parse_fail(const std::string& text) {
  CniFailure f;
  auto c = parse_netconf(text, &f);
  EXPECT_FALSE(c.has_value()) << text;
  return f;
}

TEST(KernletNetConf, ParsesTheContractConfigWithItsDefaults) {
  CniFailure f;
  auto c = parse_netconf(conf(R"(,"bridge":"kl0","mtu":1450,"hairpinMode":true,
      "subnet":"10.244.1.0/24","dataDir":"/var/lib/cni/kernlet","ipMasq":true,
      "clusterCIDR":"10.244.0.0/16")"),
                         &f);
  ASSERT_TRUE(c.has_value()) << f.details;
  EXPECT_EQ(c->name, "kernlet");
  EXPECT_EQ(c->mtu, 1450);
  EXPECT_EQ(ipv4_to_string(c->gateway), "10.244.1.1");
  EXPECT_EQ(ipv4_to_string(c->range_first), "10.244.1.2");
  EXPECT_EQ(ipv4_to_string(c->range_last), "10.244.1.254");
  EXPECT_TRUE(c->ip_masq);
  EXPECT_EQ(c->cluster_cidr->to_string(), "10.244.0.0/16");
  EXPECT_EQ(c->store_dir(), "/var/lib/cni/kernlet/kernlet");

  auto d = parse_netconf(conf(R"(,"subnet":"10.244.9.0/24")"), &f);
  ASSERT_TRUE(d.has_value()) << f.details;
  EXPECT_EQ(d->bridge, "kl0");
  EXPECT_EQ(d->mtu, 1500);
  EXPECT_TRUE(d->hairpin);
  EXPECT_FALSE(d->ip_masq);
  EXPECT_EQ(d->data_dir, "/var/lib/cni/kernlet");
}

TEST(KernletNetConf, SubnetIsRequiredAndValidated) {
  CniFailure f = parse_fail(conf(""));
  EXPECT_EQ(f.code, 7);
  EXPECT_NE(f.details.find("subnet: missing"), std::string::npos) << f.details;
  f = parse_fail(conf(R"(,"subnet":"10.244.1.5/24")"));
  EXPECT_EQ(f.code, 7);
  EXPECT_NE(f.details.find("host bits"), std::string::npos) << f.details;
  f = parse_fail(conf(R"(,"subnet":"10.244.1.0/31")"));
  EXPECT_NE(f.details.find("too small"), std::string::npos) << f.details;
  f = parse_fail(conf(R"(,"subnet":"fd00::/64")"));
  EXPECT_EQ(f.code, 7);
  f = parse_fail(conf(R"(,"subnet":24)"));
  EXPECT_NE(f.details.find("must be a string"), std::string::npos) << f.details;
}

TEST(KernletNetConf, FieldErrorsNameTheField) {
  struct Case {
    std::string extra, field;
  } cases[] = {
      {R"(,"subnet":"10.0.0.0/24","mtu":"1500")", "mtu"},
      {R"(,"subnet":"10.0.0.0/24","mtu":70000)", "mtu"},
      {R"(,"subnet":"10.0.0.0/24","bridge":"a/b")", "bridge"},
      {R"(,"subnet":"10.0.0.0/24","bridge":"waytoolongbridgename")", "bridge"},
      {R"(,"subnet":"10.0.0.0/24","hairpinMode":"yes")", "hairpinMode"},
      {R"(,"subnet":"10.0.0.0/24","dataDir":"relative/dir")", "dataDir"},
      {R"(,"subnet":"10.0.0.0/24","ipMasq":true)", "clusterCIDR"},
      {R"(,"subnet":"10.0.0.0/24","ipMasq":true,"clusterCIDR":"10.1.0.0/16")", "clusterCIDR"},
      {R"(,"subnet":"10.0.0.0/24","prevResult":[])", "prevResult"},
      {R"(,"subnet":"10.0.0.0/24","cni.dev/valid-attachments":[{"containerID":"x"}])",
       "cni.dev/valid-attachments"},
  };
  for (const auto& c : cases) {
    CniFailure f = parse_fail(conf(c.extra));
    EXPECT_EQ(f.code, 7) << c.extra;
    EXPECT_EQ(f.msg, "invalid network config");
    EXPECT_NE(f.details.find(c.field + ":"), std::string::npos) << c.extra << " -> " << f.details;
  }
  CniFailure name = parse_fail(R"({"cniVersion":"1.0.0","name":"-bad","subnet":"10.0.0.0/24"})");
  EXPECT_NE(name.details.find("name"), std::string::npos);
}

TEST(KernletNetConf, VersionAndDecodeErrorsUseTheirCodes) {
  CniFailure f = parse_fail(conf(R"(,"subnet":"10.0.0.0/24")", "0.3.1"));
  EXPECT_EQ(f.code, 1);
  EXPECT_NE(f.details.find("0.3.1"), std::string::npos);
  f = parse_fail("{not json");
  EXPECT_EQ(f.code, 6);
  f = parse_fail("[1]");
  EXPECT_EQ(f.code, 6);
  CniFailure ok;
  EXPECT_TRUE(parse_netconf(conf(R"(,"subnet":"10.0.0.0/24")", "0.4.0"), &ok).has_value());
  EXPECT_TRUE(parse_netconf(conf(R"(,"subnet":"10.0.0.0/24")", "1.1.0"), &ok).has_value());
}

TEST(KernletNetConf, ReadsValidAttachments) {
  CniFailure f;
  auto c = parse_netconf(conf(R"(,"subnet":"10.0.0.0/24","cni.dev/valid-attachments":[
      {"containerID":"a","ifname":"eth0"},{"containerID":"b","ifname":"net1"}])",
                              "1.1.0"),
                         &f);
  ASSERT_TRUE(c.has_value()) << f.details;
  ASSERT_EQ(c->valid_attachments.size(), 2u);
  EXPECT_EQ(c->valid_attachments[1], (IpamOwner{"b", "net1"}));
}

TEST(CniEnv, RequiresWhatTheSpecRequiresPerCommand) {
  CniFailure f;
  std::map<std::string, std::string> add{{"CNI_COMMAND", "ADD"},
                                         {"CNI_CONTAINERID", "abc"},
                                         {"CNI_NETNS", "/run/netns/x"},
                                         {"CNI_IFNAME", "eth0"}};
  auto e = parse_env(add, &f);
  ASSERT_TRUE(e.has_value()) << f.details;
  EXPECT_EQ(e->command, CniCommand::kAdd);

  auto no_netns = add;
  no_netns.erase("CNI_NETNS");
  EXPECT_FALSE(parse_env(no_netns, &f).has_value());
  EXPECT_EQ(f.code, 4);
  EXPECT_NE(f.details.find("CNI_NETNS"), std::string::npos);
  no_netns["CNI_COMMAND"] = "DEL";
  EXPECT_TRUE(parse_env(no_netns, &f).has_value()) << "DEL may come without a netns";

  auto bad_id = add;
  bad_id["CNI_CONTAINERID"] = "a/b";
  EXPECT_FALSE(parse_env(bad_id, &f).has_value());
  EXPECT_NE(f.details.find("CNI_CONTAINERID"), std::string::npos);
  auto bad_if = add;
  bad_if["CNI_IFNAME"] = "eth0:1";
  EXPECT_FALSE(parse_env(bad_if, &f).has_value());
  EXPECT_NE(f.details.find("CNI_IFNAME"), std::string::npos);

  EXPECT_FALSE(parse_env({}, &f).has_value());
  EXPECT_EQ(f.code, 4);
  EXPECT_FALSE(parse_env({{"CNI_COMMAND", "UPDATE"}}, &f).has_value());
  EXPECT_NE(f.details.find("UPDATE"), std::string::npos);
  EXPECT_TRUE(parse_env({{"CNI_COMMAND", "GC"}}, &f).has_value());
  EXPECT_TRUE(parse_env({{"CNI_COMMAND", "STATUS"}}, &f).has_value());
}

TEST(CniEnv, HostVethNamesAreShortStableAndDistinct) {
  std::string a = host_veth_name({"abc", "eth0"});
  EXPECT_EQ(a, host_veth_name({"abc", "eth0"}));
  EXPECT_NE(a, host_veth_name({"abc", "eth1"}));
  EXPECT_NE(a, host_veth_name({"abd", "eth0"}));
  EXPECT_LE(a.size(), 15u);
  EXPECT_EQ(a.substr(0, 2), "kl");
}

TEST(Ipv4, ParsesPrefixes) {
  auto p = parse_ipv4_prefix("10.244.0.0/16");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->contains(*parse_ipv4("10.244.200.1")));
  EXPECT_FALSE(p->contains(*parse_ipv4("10.245.0.1")));
  EXPECT_EQ(ipv4_to_string(p->broadcast()), "10.244.255.255");
  EXPECT_FALSE(parse_ipv4_prefix("10.244.0.0").ok());
  EXPECT_FALSE(parse_ipv4_prefix("10.244.0.0/33").ok());
  EXPECT_FALSE(parse_ipv4_prefix("10.244.0.0/").ok());
  EXPECT_FALSE(parse_ipv4("010.1.1.1").has_value());
}

}  // namespace
}  // namespace kernlet::cni
