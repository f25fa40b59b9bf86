#include "cni/client/pod_network.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fake_plugin_exec.h"
#include "temp_dir.h"

namespace kernlet::cni {
namespace {

using testing::answering;
using testing::FakePluginExec;
using testing::TempDir;

constexpr const char* kResult = R"({"cniVersion":"1.1.0",
  "interfaces":[{"name":"eth0","sandbox":"/proc/5/ns/net"}],
  "ips":[{"address":"fd00::5/64","interface":0},{"address":"10.244.7.5/24","interface":0}]})";

class PodNetworkTest : public ::testing::Test {
 protected:
  PodNetworkTest() {
    exec_.set("bridge", answering(kResult));
    exec_.set("portmap", answering(kResult));
    options_.conf_dir = dir_.path() + "/net.d";
    options_.driver.cache_dir = dir_.path() + "/results";
    options_.driver.inherit_environment = false;
  }
  void install_config() {
    std::filesystem::create_directories(options_.conf_dir);
    std::ofstream(options_.conf_dir + "/10-k.conflist")
        << R"({"cniVersion":"1.1.0","name":"k","plugins":[{"type":"bridge"},
              {"type":"portmap","capabilities":{"portMappings":true}}]})";
  }
  PodNetworkRequest request(const std::string& sandbox) {
    PodNetworkRequest r;
    r.pod_namespace = "default";
    r.pod_name = "web";
    r.pod_uid = "u1";
    r.sandbox_id = sandbox;
    r.netns = "/proc/5/ns/net";
    r.port_mappings = {{8080, 80, "tcp", ""}};
    return r;
  }

  TempDir dir_;
  FakePluginExec exec_;
  CniPodNetworkOptions options_;
};

TEST_F(PodNetworkTest, NotReadyUntilAConfigIsInstalled) {
  CniPodNetwork net(exec_, options_);
  auto r = net.ready();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("network not ready"), std::string::npos);
  EXPECT_EQ(net.attach(request("s1")).error().code(), ErrorCode::kUnavailable);
  install_config();  // picked up without a restart
  EXPECT_TRUE(net.ready().ok());
  EXPECT_TRUE(net.attach(request("s1")).ok());
}

TEST_F(PodNetworkTest, AttachPassesThePodAndItsPorts) {
  install_config();
  CniPodNetwork net(exec_, options_);
  auto r = net.attach(request("s1"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(pod_ips(*r), (std::vector<std::string>{"10.244.7.5", "fd00::5"}));
  ASSERT_EQ(exec_.calls.size(), 2u);
  EXPECT_EQ(exec_.calls[0].env.at("CNI_ARGS"),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
            "K8S_POD_INFRA_CONTAINER_ID=s1;K8S_POD_UID=u1");
  EXPECT_EQ(exec_.calls[0].env.at("CNI_IFNAME"), "eth0");
  const json::object* rc = json::get_object(exec_.calls[1].config, "runtimeConfig");
  ASSERT_NE(rc, nullptr);
  EXPECT_NE(json::get_array(*rc, "portMappings"), nullptr);

  exec_.calls.clear();
  ASSERT_TRUE(net.detach(request("s1")).ok());
  ASSERT_EQ(exec_.calls.size(), 2u);
  EXPECT_EQ(exec_.calls[0].type + exec_.calls[0].command, "portmapDEL");
  EXPECT_NE(json::get_object(exec_.calls[0].config, "prevResult"), nullptr);
  EXPECT_TRUE(net.detach(request("s1")).ok());
}

TEST_F(PodNetworkTest, CollectGarbageKeepsLiveSandboxes) {
  install_config();
  CniPodNetwork net(exec_, options_);
  ASSERT_TRUE(net.attach(request("live")).ok());
  ASSERT_TRUE(net.attach(request("gone")).ok());
  exec_.calls.clear();
  // "lost" is live but its cache entry is gone: the plugins' GC must still keep it.
  ASSERT_TRUE(net.collect_garbage({"live", "lost"}).ok());
  std::vector<std::string> deleted;
  for (const auto& c : exec_.calls) {
    if (c.command == "DEL") deleted.push_back(c.env.at("CNI_CONTAINERID"));
  }
  EXPECT_EQ(deleted, (std::vector<std::string>{"gone", "gone"}));
  ASSERT_EQ(exec_.calls.back().command, "GC");
  const json::array* valid = json::get_array(exec_.calls.back().config, "cni.dev/valid-attachments");
  ASSERT_NE(valid, nullptr);
  ASSERT_EQ(valid->size(), 2u);
  EXPECT_EQ(json::get_string(valid->at(0).get_object(), "containerID"), "live");
  EXPECT_EQ(json::get_string(valid->at(1).get_object(), "containerID"), "lost");
}

TEST_F(PodNetworkTest, StatusErrorMakesTheNetworkNotReady) {
  install_config();
  exec_.set("portmap", [](const testing::RecordedCall& c) -> Result<ExecOutput> {
    if (c.command == "STATUS") return ExecOutput{1, R"({"code":50,"msg":"no iptables"})", ""};
    return ExecOutput{};
  });
  CniPodNetwork net(exec_, options_);
  auto r = net.ready();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("no iptables"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace kernlet::cni
