#include "cni/plugin/plugin.h"

#include <gtest/gtest.h>

#include <set>

#include "../client/temp_dir.h"
#include "api/json.h"
#include "cni/client/result.h"
#include "cni/plugin/ipam_store.h"

namespace kernlet::cni {
namespace {

using testing::TempDir;

// Records what the plugin asked the kernel for; fails on demand.
class FakeDataplane : public Dataplane {
 public:
  Result<LinkFacts> ensure_bridge(const std::string& name, uint32_t gw, int, int64_t) override {
    bridge_gateway = gw;
    bridge_up = true;
    return LinkFacts{name, "02:00:00:00:00:01", 3};
  }
  Result<PodAttachFacts> attach(const PodAttachSpec& s) override {
    if (fail_attach) return Error(ErrorCode::kUnknown, "veth: simulated failure");
    attached[s.host_ifname] = s;
    return PodAttachFacts{{s.bridge, "02:00:00:00:00:01", 3},
                          {s.host_ifname, "02:00:00:00:00:02", 7},
                          {s.ifname, "02:00:00:00:00:03", 2}};
  }
  Result<void> detach(const std::string& host_ifname) override {
    detached.push_back(host_ifname);
    attached.erase(host_ifname);
    return Ok();
  }
  Result<void> check(const PodAttachSpec& s) override {
    auto it = attached.find(s.host_ifname);
    if (it == attached.end()) return Error("host veth " + s.host_ifname + " does not exist");
    if (it->second.address != s.address) return Error("address differs");
    return Ok();
  }
  Result<void> ensure_masquerade(const std::string& network, Ipv4Prefix subnet,
                                 Ipv4Prefix cluster) override {
    masq = network + " " + subnet.to_string() + " " + cluster.to_string();
    return Ok();
  }
  Result<bool> bridge_ready(const std::string&) override { return bridge_up; }

  bool fail_attach = false;
  bool bridge_up = false;
  uint32_t bridge_gateway = 0;
  std::string masq;
  std::map<std::string, PodAttachSpec> attached;
  std::vector<std::string> detached;
};

class PluginTest : public ::testing::Test {
 protected:
  std::string config(const std::string& version = "1.0.0", const std::string& extra = "") {
    return R"({"cniVersion":")" + version + R"(","name":"kernlet","type":"kernlet-cni",)"
           R"("subnet":"10.244.1.0/29","dataDir":")" + tmp.path() + "\"" + extra + "}";
  }
  std::map<std::string, std::string> env(const std::string& cmd, const std::string& id = "c1") {
    return {{"CNI_COMMAND", cmd},
            {"CNI_CONTAINERID", id},
            {"CNI_NETNS", "/run/netns/" + id},
            {"CNI_IFNAME", "eth0"},
            {"CNI_PATH", "/opt/cni/bin"}};
  }
  json::object stdout_json(const PluginOutcome& o) {
    auto doc = json::parse_object(o.stdout_text, "stdout");
    EXPECT_TRUE(doc.ok()) << o.stdout_text;
    return doc.ok() ? *doc : json::object{};
  }
  int64_t error_code(const PluginOutcome& o) {
    EXPECT_NE(o.exit_code, 0);
    auto e = parse_plugin_error(o.stdout_text);
    EXPECT_TRUE(e.has_value()) << o.stdout_text;
    return e ? e->code : -1;
  }
  IpamStore store() {
    auto s = IpamStore::open(tmp.path() + "/kernlet", *parse_ipv4_prefix("10.244.1.0/29"),
                             *parse_ipv4("10.244.1.2"), *parse_ipv4("10.244.1.6"));
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

  TempDir tmp;
  FakeDataplane dp;
};

TEST_F(PluginTest, AddAnswersTheSpecResultShape) {
  PluginOutcome o = run_plugin(env("ADD"), config(), dp);
  ASSERT_EQ(o.exit_code, 0) << o.stdout_text << o.stderr_text;
  json::object doc = stdout_json(o);
  EXPECT_EQ(json::get_string(doc, "cniVersion"), "1.0.0");
  auto r = parse_result(doc, "kernlet-cni");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[0].name, "kl0");
  EXPECT_TRUE(r->interfaces[0].sandbox.empty());
  EXPECT_EQ(r->interfaces[2].name, "eth0");
  EXPECT_EQ(r->interfaces[2].sandbox, "/run/netns/c1");
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].address, "10.244.1.2/29");
  EXPECT_EQ(r->ips[0].gateway, "10.244.1.1");
  EXPECT_EQ(r->ips[0].interface, 2);
  ASSERT_EQ(r->routes.size(), 1u);
  EXPECT_EQ(r->routes[0].dst, "0.0.0.0/0");
  EXPECT_EQ(ipv4_to_string(dp.bridge_gateway), "10.244.1.1");
  EXPECT_TRUE(dp.masq.empty()) << "ipMasq is off by default";
  // 0.4.0 results carry ips[].version.
  PluginOutcome old = run_plugin(env("ADD", "c2"), config("0.4.0"), dp);
  ASSERT_EQ(old.exit_code, 0) << old.stdout_text;
  json::object old_doc = stdout_json(old);
  const json::array* ips = json::get_array(old_doc, "ips");
  ASSERT_TRUE(ips != nullptr && !ips->empty());
  EXPECT_EQ(json::get_string(ips->at(0).as_object(), "version"), "4");
  const json::array* itfs = json::get_array(doc, "interfaces");
  ASSERT_NE(itfs, nullptr);
  EXPECT_EQ(json::find(itfs->at(0).as_object(), "mtu"), nullptr) << "mtu is a 1.1.0 field";
  PluginOutcome v11 = run_plugin(env("ADD", "c3"), config("1.1.0"), dp);
  ASSERT_EQ(v11.exit_code, 0) << v11.stdout_text;
  json::object v11_doc = stdout_json(v11);
  const json::array* v11_itfs = json::get_array(v11_doc, "interfaces");
  ASSERT_NE(v11_itfs, nullptr);
  EXPECT_EQ(json::get_int(v11_itfs->at(2).as_object(), "mtu"), 1500);
}

TEST_F(PluginTest, AddChainsAfterAPrevResultAndSetsUpMasquerade) {
  std::string prev = R"(,"ipMasq":true,"clusterCIDR":"10.244.0.0/16","prevResult":{
      "cniVersion":"1.0.0","interfaces":[{"name":"lo","sandbox":"/run/netns/c1"}],"ips":[]})";
  PluginOutcome o = run_plugin(env("ADD"), config("1.0.0", prev), dp);
  ASSERT_EQ(o.exit_code, 0) << o.stdout_text;
  auto r = parse_result(stdout_json(o), "kernlet-cni");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->interfaces.size(), 4u);
  EXPECT_EQ(r->interfaces[0].name, "lo");
  EXPECT_EQ(r->ips[0].interface, 3) << "indices shift past the previous interfaces";
  EXPECT_EQ(dp.masq, "kernlet 10.244.1.0/29 10.244.0.0/16");
}

TEST_F(PluginTest, ExhaustionIsTryAgainLater) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(run_plugin(env("ADD", "p" + std::to_string(i)), config(), dp).exit_code, 0);
  }
  PluginOutcome o = run_plugin(env("ADD", "late"), config(), dp);
  EXPECT_EQ(error_code(o), 11);
  json::object doc = stdout_json(o);
  EXPECT_EQ(json::get_string(doc, "cniVersion"), "1.0.0");
  EXPECT_NE(json::get_string(doc, "details").find("10.244.1.0/29"), std::string::npos);
}

TEST_F(PluginTest, DelReleasesAndIsIdempotent) {
  ASSERT_EQ(run_plugin(env("ADD"), config(), dp).exit_code, 0);
  PluginOutcome del = run_plugin(env("DEL"), config(), dp);
  EXPECT_EQ(del.exit_code, 0) << del.stdout_text;
  EXPECT_TRUE(del.stdout_text.empty());
  EXPECT_TRUE(dp.attached.empty());
  auto held = store().lookup({"c1", "eth0"});
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(held->has_value());
  EXPECT_EQ(run_plugin(env("DEL"), config(), dp).exit_code, 0) << "second DEL";
  auto unknown = env("DEL", "never-added");
  unknown.erase("CNI_NETNS");
  EXPECT_EQ(run_plugin(unknown, config(), dp).exit_code, 0) << "unknown container, no netns";
}

TEST_F(PluginTest, FailedAttachLeavesNoClaimBehind) {
  dp.fail_attach = true;
  PluginOutcome o = run_plugin(env("ADD"), config(), dp);
  EXPECT_EQ(error_code(o), 999);
  auto list = store().list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(dp.detached.size(), 1u);
}

TEST_F(PluginTest, CheckNeedsPrevResultAndComparesIt) {
  PluginOutcome add = run_plugin(env("ADD"), config(), dp);
  ASSERT_EQ(add.exit_code, 0);
  EXPECT_EQ(error_code(run_plugin(env("CHECK"), config(), dp)), 7);
  std::string with_prev = ",\"prevResult\":" + add.stdout_text;
  PluginOutcome ok = run_plugin(env("CHECK"), config("1.0.0", with_prev), dp);
  EXPECT_EQ(ok.exit_code, 0) << ok.stdout_text;
  EXPECT_TRUE(ok.stdout_text.empty());
  dp.attached.clear();  // the veth vanished
  PluginOutcome gone = run_plugin(env("CHECK"), config("1.0.0", with_prev), dp);
  EXPECT_EQ(error_code(gone), 999);
  EXPECT_NE(gone.stdout_text.find("does not exist"), std::string::npos) << gone.stdout_text;
  // A prevResult whose address the store does not hold for this attachment.
  ASSERT_EQ(run_plugin(env("DEL"), config(), dp).exit_code, 0);
  PluginOutcome released = run_plugin(env("CHECK"), config("1.0.0", with_prev), dp);
  EXPECT_NE(released.stdout_text.find("ipam store does not hold"), std::string::npos);
}

TEST_F(PluginTest, GcReleasesAttachmentsNotListed) {
  ASSERT_EQ(run_plugin(env("ADD", "keep"), config(), dp).exit_code, 0);
  ASSERT_EQ(run_plugin(env("ADD", "stale"), config(), dp).exit_code, 0);
  std::string valid = R"(,"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}])";
  PluginOutcome gc = run_plugin({{"CNI_COMMAND", "GC"}}, config("1.1.0", valid), dp);
  ASSERT_EQ(gc.exit_code, 0) << gc.stdout_text;
  EXPECT_TRUE(gc.stdout_text.empty());
  auto list = store().list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].owner.container_id, "keep");
  EXPECT_EQ(dp.attached.size(), 1u) << "the stale veth is removed too";
  EXPECT_EQ(error_code(run_plugin({{"CNI_COMMAND", "GC"}}, config("1.0.0", valid), dp)), 1)
      << "GC is a 1.1.0 command";
}

TEST_F(PluginTest, StatusReportsExhaustionAndALostBridge) {
  std::map<std::string, std::string> status{{"CNI_COMMAND", "STATUS"}};
  PluginOutcome fresh = run_plugin(status, config("1.1.0"), dp);
  EXPECT_EQ(fresh.exit_code, 0) << fresh.stdout_text;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(run_plugin(env("ADD", "p" + std::to_string(i)), config(), dp).exit_code, 0);
  }
  EXPECT_EQ(error_code(run_plugin(status, config("1.1.0"), dp)), 50);
  ASSERT_EQ(run_plugin(env("DEL", "p0"), config(), dp).exit_code, 0);
  EXPECT_EQ(run_plugin(status, config("1.1.0"), dp).exit_code, 0);
  dp.bridge_up = false;
  EXPECT_EQ(error_code(run_plugin(status, config("1.1.0"), dp)), 51);
  EXPECT_EQ(error_code(run_plugin(status, config("1.0.0"), dp)), 1);
}

TEST_F(PluginTest, VersionListsTheSupportedVersions) {
  PluginOutcome o = run_plugin({{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion":"1.0.0"})", dp);
  ASSERT_EQ(o.exit_code, 0);
  json::object doc = stdout_json(o);
  EXPECT_EQ(json::get_string(doc, "cniVersion"), "1.0.0");
  const json::array* v = json::get_array(doc, "supportedVersions");
  ASSERT_NE(v, nullptr);
  std::set<std::string> got;
  for (const auto& s : *v) got.emplace(s.get_string());
  EXPECT_EQ(got, (std::set<std::string>{"0.4.0", "1.0.0", "1.1.0"}));
}

TEST_F(PluginTest, ErrorsAreTheSpecDocument) {
  PluginOutcome o = run_plugin({{"CNI_COMMAND", "ADD"}}, config(), dp);
  EXPECT_EQ(error_code(o), 4);
  json::object doc = stdout_json(o);
  EXPECT_EQ(json::get_string(doc, "cniVersion"), "1.0.0") << "the config's version";
  EXPECT_FALSE(json::get_string(doc, "msg").empty());
  EXPECT_NE(json::get_string(doc, "details").find("CNI_CONTAINERID"), std::string::npos);
  PluginOutcome bad = run_plugin(env("ADD"), R"({"cniVersion":"1.0.0","name":"kernlet"})", dp);
  EXPECT_EQ(error_code(bad), 7);
  EXPECT_EQ(json::get_string(stdout_json(bad), "cniVersion"), "1.0.0");
  EXPECT_EQ(error_code(run_plugin(env("ADD"), "garbage", dp)), 6);
}

}  // namespace
}  // namespace kernlet::cni
