// --network kernlet: its flags, the conflist for a podCIDR (both plugins) and the atomic,
// change-only write into the conf dir.
#include "agent/cmd/kernlet_network.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/cmd/agent_options.h"
#include "api/json.h"
#include "cni/client/config.h"

namespace kernlet::agent {
namespace {

TEST(KernletNetworkFlags, ParsedWithDefaultsAndErrorsNameTheFlag) {
  auto d = parse_agent_flags({"--kubeconfig", "/k", "--network", "kernlet"});
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->network, "kernlet");
  EXPECT_EQ(d->cni_plugin, "kernlet-cni");
  EXPECT_EQ(d->cni_bridge, "kl0");
  EXPECT_EQ(d->cni_mtu, 1500);
  EXPECT_EQ(d->cluster_cidr, "10.244.0.0/16");
  EXPECT_EQ(d->cni_data_dir, "/var/lib/cni/kernlet");
  EXPECT_FALSE(d->host_gw_routes.has_value());
  auto o = parse_agent_flags({"--kubeconfig", "/k", "--network", "kernlet", "--cni-plugin", "bridge", "--cni-bridge",
                              "br9", "--cni-mtu", "9000", "--cluster-cidr", "10.8.0.0/14", "--cni-data-dir", "/d",
                              "--host-gw-routes=false"});
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ(o->cni_plugin, "bridge");
  EXPECT_EQ(o->cni_bridge, "br9");
  EXPECT_EQ(o->cni_mtu, 9000);
  EXPECT_EQ(o->cluster_cidr, "10.8.0.0/14");
  EXPECT_EQ(o->cni_data_dir, "/d");
  EXPECT_EQ(o->host_gw_routes, std::optional<bool>(false));
  for (auto [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--cni-plugin", "flannel"}, {"--cni-mtu", "20"}, {"--host-gw-routes", "yes"}}) {
    auto bad = parse_agent_flags({"--kubeconfig", "/k", flag, value});
    ASSERT_FALSE(bad.ok()) << flag;
    EXPECT_NE(bad.error().message().find(flag), std::string::npos) << bad.error().message();
  }
  for (const char* f : {"--cni-plugin", "--cni-bridge", "--cni-mtu", "--cluster-cidr", "--cni-data-dir",
                        "--host-gw-routes", "kernlet|cni|none"})
    EXPECT_NE(std::strstr(agent_usage(), f), nullptr) << f;
}

TEST(KernletConflist, KernletCniShapeIsTheContract) {
  KernletNetworkOptions o;
  auto text = kernlet_conflist(o, "10.244.3.0/24");
  ASSERT_TRUE(text.ok()) << text.error().to_string();
  auto list = cni::parse_conflist(*text, "test");
  ASSERT_TRUE(list.ok()) << list.error().to_string();
  EXPECT_EQ(list->name, "kernlet");
  EXPECT_EQ(list->cni_version, "1.0.0");
  ASSERT_EQ(list->plugins.size(), 1u);
  const auto& p = list->plugins[0].raw;
  EXPECT_EQ(json::get_string(p, "type"), "kernlet-cni");
  EXPECT_EQ(json::get_string(p, "bridge"), "kl0");
  EXPECT_EQ(json::get_int_or(p, "mtu", 0), 1500);
  EXPECT_TRUE(json::get_bool_or(p, "hairpinMode", false));
  EXPECT_EQ(json::get_string(p, "subnet"), "10.244.3.0/24");
  EXPECT_EQ(json::get_string(p, "dataDir"), "/var/lib/cni/kernlet");
  EXPECT_TRUE(json::get_bool_or(p, "ipMasq", false));
  EXPECT_EQ(json::get_string(p, "clusterCIDR"), "10.244.0.0/16");
}

TEST(KernletConflist, ReferencePluginsOverTheSameRange) {
  KernletNetworkOptions o;
  o.plugin = "bridge";
  o.data_dir = "/x/data";
  auto text = kernlet_conflist(o, "10.244.3.0/24");
  ASSERT_TRUE(text.ok()) << text.error().to_string();
  auto list = cni::parse_conflist(*text, "test");
  ASSERT_TRUE(list.ok()) << list.error().to_string();
  ASSERT_EQ(list->plugins.size(), 2u);
  const auto& b = list->plugins[0].raw;
  EXPECT_EQ(list->plugins[0].type, "bridge");
  EXPECT_EQ(list->plugins[1].type, "loopback");
  EXPECT_FALSE(json::get_bool_or(b, "ipMasq", true));  // would masquerade other nodes' pods
  EXPECT_TRUE(json::get_bool_or(b, "isGateway", false));
  EXPECT_TRUE(json::get_bool_or(b, "isDefaultGateway", false));  // pods reach other nodes' pods
  const json::object* ipam = json::get_object(b, "ipam");
  ASSERT_NE(ipam, nullptr);
  EXPECT_EQ(json::get_string(*ipam, "type"), "host-local");
  EXPECT_EQ(json::get_string(*ipam, "dataDir"), "/x/data");
  EXPECT_EQ(json::dump(*json::find(*ipam, "ranges")), R"([[{"subnet":"10.244.3.0/24"}]])");
}

TEST(KernletConflist, BadValuesAreNamed) {
  KernletNetworkOptions o;
  auto cidr = kernlet_conflist(o, "10.244.3.7/24");
  ASSERT_FALSE(cidr.ok());
  EXPECT_NE(cidr.error().message().find("spec.podCIDR"), std::string::npos);
  EXPECT_FALSE(kernlet_conflist(o, "").ok());
  o.bridge = "a/b";
  EXPECT_NE(kernlet_conflist(o, "10.0.0.0/24").error().message().find("--cni-bridge"), std::string::npos);
  o = {};
  o.cluster_cidr = "10.244.0.0";
  EXPECT_NE(kernlet_conflist(o, "10.0.0.0/24").error().message().find("--cluster-cidr"), std::string::npos);
  o = {};
  o.mtu = 10;
  EXPECT_NE(kernlet_conflist(o, "10.0.0.0/24").error().message().find("--cni-mtu"), std::string::npos);
  o = {};
  o.data_dir = "rel";
  EXPECT_NE(kernlet_conflist(o, "10.0.0.0/24").error().message().find("--cni-data-dir"), std::string::npos);
  o = {};
  o.plugin = "calico";
  EXPECT_NE(kernlet_conflist(o, "10.0.0.0/24").error().message().find("--cni-plugin"), std::string::npos);
}

TEST(KernletConflist, WrittenOnceAndRewrittenWhenTheRangeChanges) {
  char tmpl[] = "/tmp/kernlet-conflist-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  KernletNetworkOptions o;
  o.conf_dir = dir + "/net.d";  // created on demand
  auto w1 = write_kernlet_conflist(o, "10.244.1.0/24");
  ASSERT_TRUE(w1.ok()) << w1.error().to_string();
  EXPECT_TRUE(*w1);
  auto loaded = cni::load_network(o.conf_dir);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(json::get_string(loaded->plugins[0].raw, "subnet"), "10.244.1.0/24");
  auto w2 = write_kernlet_conflist(o, "10.244.1.0/24");
  ASSERT_TRUE(w2.ok());
  EXPECT_FALSE(*w2);
  auto w3 = write_kernlet_conflist(o, "10.244.2.0/24");
  ASSERT_TRUE(w3.ok());
  EXPECT_TRUE(*w3);
  EXPECT_EQ(json::get_string(cni::load_network(o.conf_dir)->plugins[0].raw, "subnet"), "10.244.2.0/24");
  // Nothing but the config: no temp file left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(o.conf_dir)) {
    ++files;
    EXPECT_EQ(e.path().filename(), kKernletConflistName);
  }
  EXPECT_EQ(files, 1);
  // A bad range writes nothing.
  EXPECT_FALSE(write_kernlet_conflist(o, "nonsense").ok());
  EXPECT_EQ(json::get_string(cni::load_network(o.conf_dir)->plugins[0].raw, "subnet"), "10.244.2.0/24");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kernlet::agent
