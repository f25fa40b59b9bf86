#include "cni/client/cni_driver.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fake_plugin_exec.h"
#include "temp_dir.h"

namespace kernlet::cni {
namespace {

using testing::answering;
using testing::failing;
using testing::FakePluginExec;
using testing::TempDir;

NetworkConfigList chain(const std::string& version = "1.0.0", bool disable_check = false) {
  auto l = parse_conflist(R"({"cniVersion":")" + version + R"(","name":"podnet","disableCheck":)" +
                              (disable_check ? "true" : "false") + R"(,"plugins":[
        {"type":"bridge","bridge":"kl0","ipam":{"type":"host-local"}},
        {"type":"portmap","capabilities":{"portMappings":true}},
        {"type":"tuning","runtimeConfig":{"stale":1}}]})",
                          "test.conflist");
  EXPECT_TRUE(l.ok()) << l.error().to_string();
  return *l;
}

std::string result_of(const std::string& marker, const std::string& version = "1.0.0") {
  return R"({"cniVersion":")" + version + R"(","interfaces":[{"name":"eth0","sandbox":"/ns"}],)"
         R"("ips":[{"address":"10.244.7.5/24","interface":0,"gateway":"10.244.7.1"}],)"
         R"("dns":{"domain":")" + marker + R"("}})";
}

Attachment pod(const std::string& id = "sandbox1") {
  Attachment a;
  a.container_id = id;
  a.netns = "/proc/77/ns/net";
  a.ifname = "eth0";
  a.args = kubernetes_args("default", "web", id, "uid-1");
  a.capability_args["portMappings"] = port_mappings_json({{8080, 80, "tcp", ""}});
  return a;
}

class CniDriverTest : public ::testing::Test {
 protected:
  CniDriverOptions options() {
    CniDriverOptions o;
    o.bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
    o.cache_dir = cache_.path() + "/results";
    o.inherit_environment = false;
    return o;
  }
  void install_chain() {
    exec_.set("bridge", answering(result_of("from-bridge")));
    exec_.set("portmap", answering(result_of("from-portmap")));
    exec_.set("tuning", answering(result_of("from-tuning")));
  }
  std::string domain_of_prev(const testing::RecordedCall& c) {
    const json::object* prev = json::get_object(c.config, "prevResult");
    if (prev == nullptr) return "<none>";
    const json::object* dns = json::get_object(*prev, "dns");
    return dns == nullptr ? "<no dns>" : std::string(json::get_string(*dns, "domain"));
  }

  TempDir cache_;
  FakePluginExec exec_;
};

TEST_F(CniDriverTest, AddChainsPrevResultAndPassesTheSpecEnvironment) {
  install_chain();
  CniDriver driver(exec_, options());
  auto r = driver.add(chain(), pod());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->dns.domain, "from-tuning");
  EXPECT_EQ(pod_ips(*r), std::vector<std::string>{"10.244.7.5"});

  ASSERT_EQ(exec_.calls.size(), 3u);
  const char* order[] = {"bridge", "portmap", "tuning"};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& c = exec_.calls[i];
    EXPECT_EQ(c.type, order[i]);
    EXPECT_EQ(c.command, "ADD");
    EXPECT_EQ(c.env.at("CNI_CONTAINERID"), "sandbox1");
    EXPECT_EQ(c.env.at("CNI_NETNS"), "/proc/77/ns/net");
    EXPECT_EQ(c.env.at("CNI_IFNAME"), "eth0");
    EXPECT_EQ(c.env.at("CNI_PATH"), "/opt/cni/bin:/usr/lib/cni");
    EXPECT_EQ(c.env.at("CNI_ARGS"),
              "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
              "K8S_POD_INFRA_CONTAINER_ID=sandbox1;K8S_POD_UID=uid-1");
    EXPECT_EQ(json::get_string(c.config, "name"), "podnet");
    EXPECT_EQ(json::get_string(c.config, "cniVersion"), "1.0.0");
  }
  EXPECT_EQ(domain_of_prev(exec_.calls[0]), "<none>");
  EXPECT_EQ(domain_of_prev(exec_.calls[1]), "from-bridge");
  EXPECT_EQ(domain_of_prev(exec_.calls[2]), "from-portmap");
  // The plugin's own config survives.
  EXPECT_EQ(json::get_string(exec_.calls[0].config, "bridge"), "kl0");
}

TEST_F(CniDriverTest, ResultInAnotherVersionIsConvertedToTheLists) {
  install_chain();
  exec_.set("bridge", answering(R"({"cniVersion":"0.4.0","interfaces":[{"name":"eth0"}],
    "ips":[{"version":"4","address":"10.244.7.5/24","interface":0}]})"));
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.add(chain("1.0.0"), pod()).ok());
  const json::object* prev = json::get_object(exec_.calls[1].config, "prevResult");
  ASSERT_NE(prev, nullptr);
  EXPECT_EQ(json::get_string(*prev, "cniVersion"), "1.0.0");
  EXPECT_EQ(json::find(json::get_array(*prev, "ips")->at(0).get_object(), "version"), nullptr);
}

TEST_F(CniDriverTest, RuntimeConfigOnlyForDeclaredCapabilities) {
  install_chain();
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.add(chain(), pod()).ok());
  EXPECT_EQ(json::find(exec_.calls[0].config, "runtimeConfig"), nullptr);
  const json::object* rc = json::get_object(exec_.calls[1].config, "runtimeConfig");
  ASSERT_NE(rc, nullptr);
  const json::array* pm = json::get_array(*rc, "portMappings");
  ASSERT_NE(pm, nullptr);
  ASSERT_EQ(pm->size(), 1u);
  EXPECT_EQ(json::get_int(pm->at(0).get_object(), "hostPort"), 8080);
  EXPECT_EQ(json::get_int(pm->at(0).get_object(), "containerPort"), 80);
  EXPECT_EQ(json::get_string(pm->at(0).get_object(), "protocol"), "tcp");
  // A runtimeConfig written in the file is replaced by the runtime's (here: none).
  EXPECT_EQ(json::find(exec_.calls[2].config, "runtimeConfig"), nullptr);
}

TEST_F(CniDriverTest, PluginErrorIsMappedAndTheListIsUndone) {
  install_chain();
  exec_.set("portmap", failing("ADD", 11, "iptables lock busy", answering(result_of("p"))));
  CniDriver driver(exec_, options());
  auto r = driver.add(chain(), pod());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("cni network podnet plugin portmap ADD sandbox1/eth0: error "
                                     "code 11 (try again later): iptables lock busy; more words"),
            std::string::npos)
      << r.error().message();
  // bridge ADD, portmap ADD (failed), then DEL of the whole list in reverse, with the
  // bridge's result as prevResult.
  ASSERT_EQ(exec_.calls.size(), 5u);
  EXPECT_EQ(exec_.calls[2].type + exec_.calls[2].command, "tuningDEL");
  EXPECT_EQ(exec_.calls[3].type + exec_.calls[3].command, "portmapDEL");
  EXPECT_EQ(exec_.calls[4].type + exec_.calls[4].command, "bridgeDEL");
  EXPECT_EQ(domain_of_prev(exec_.calls[4]), "from-bridge");
  EXPECT_FALSE(std::filesystem::exists(driver.cache().path("podnet", "sandbox1", "eth0")));
}

TEST_F(CniDriverTest, ErrorWithoutDocumentCarriesStderrAndExitStatus) {
  exec_.set("bridge", [](const testing::RecordedCall&) -> Result<ExecOutput> {
    return ExecOutput{2, "", "panic: runtime error\n"};
  });
  auto l = parse_conflist(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"}]})", "f");
  CniDriver driver(exec_, options());
  auto r = driver.add(*l, pod());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("exit status 2: panic: runtime error"), std::string::npos)
      << r.error().message();
}

TEST_F(CniDriverTest, MissingPluginAndBadAttachmentAreErrors) {
  CniDriver driver(exec_, options());
  auto r = driver.add(chain(), pod());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("plugin bridge ADD sandbox1/eth0: cni plugin \"bridge\" not found"),
            std::string::npos)
      << r.error().message();
  Attachment bad = pod();
  bad.ifname = "a-name-way-too-long";
  EXPECT_EQ(driver.add(chain(), bad).error().code(), ErrorCode::kInvalidArgument);
  bad = pod();
  bad.container_id = "../etc";
  EXPECT_EQ(driver.del(chain(), bad).error().code(), ErrorCode::kInvalidArgument);
  bad = pod();
  bad.netns.clear();
  EXPECT_EQ(driver.add(chain(), bad).error().code(), ErrorCode::kInvalidArgument);
  bad = pod();
  bad.args.emplace_back("X", "a;b");
  EXPECT_EQ(driver.add(chain(), bad).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(exec_.calls.empty());
}

TEST_F(CniDriverTest, DelAfterRestartUsesTheCachedResultInReverse) {
  install_chain();
  {
    CniDriver driver(exec_, options());
    ASSERT_TRUE(driver.add(chain(), pod()).ok());
    EXPECT_TRUE(std::filesystem::exists(cache_.path() + "/results/podnet-sandbox1-eth0"));
  }
  exec_.calls.clear();
  CniDriver restarted(exec_, options());
  auto cached = restarted.cached_result(chain(), "sandbox1", "eth0");
  ASSERT_TRUE(cached.ok()) << cached.error().to_string();
  ASSERT_TRUE(cached->has_value());
  EXPECT_EQ((*cached)->dns.domain, "from-tuning");

  Attachment a = pod();
  a.netns.clear();  // the sandbox is gone
  a.capability_args = {};
  ASSERT_TRUE(restarted.del(chain(), a).ok());
  ASSERT_EQ(exec_.calls.size(), 3u);
  const char* order[] = {"tuning", "portmap", "bridge"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(exec_.calls[i].type, order[i]);
    EXPECT_EQ(exec_.calls[i].command, "DEL");
    EXPECT_EQ(domain_of_prev(exec_.calls[i]), "from-tuning");
    // Never the cached path: that pid may belong to another pod by now.
    EXPECT_EQ(exec_.calls[i].env.at("CNI_NETNS"), "");
  }
  // portmap still gets its mappings from the cache (it needs them to find its rules).
  EXPECT_NE(json::get_object(exec_.calls[1].config, "runtimeConfig"), nullptr);
  EXPECT_FALSE(std::filesystem::exists(cache_.path() + "/results/podnet-sandbox1-eth0"));
}

TEST_F(CniDriverTest, DelIsIdempotent) {
  install_chain();
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.del(chain(), pod()).ok());  // never added
  ASSERT_TRUE(driver.del(chain(), pod()).ok());
  ASSERT_EQ(exec_.calls.size(), 6u);
  for (const auto& c : exec_.calls) EXPECT_EQ(domain_of_prev(c), "<none>");
}

TEST_F(CniDriverTest, FailedDelKeepsTheCacheForTheRetry) {
  install_chain();
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.add(chain(), pod()).ok());
  exec_.set("portmap", failing("DEL", 5, "cannot write", answering(result_of("p"))));
  auto d = driver.del(chain(), pod());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message().find("error code 5 (I/O failure): cannot write"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(driver.cache().path("podnet", "sandbox1", "eth0")));
  exec_.set("portmap", answering(result_of("p")));
  EXPECT_TRUE(driver.del(chain(), pod()).ok());
  EXPECT_FALSE(std::filesystem::exists(driver.cache().path("podnet", "sandbox1", "eth0")));
}

TEST_F(CniDriverTest, DelOfAPre040ListPassesNoPrevResult) {
  install_chain();
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.add(chain("0.3.1"), pod()).ok());
  exec_.calls.clear();
  ASSERT_TRUE(driver.del(chain("0.3.1"), pod()).ok());
  for (const auto& c : exec_.calls) EXPECT_EQ(domain_of_prev(c), "<none>");
}

TEST_F(CniDriverTest, CorruptCacheStillDeletes) {
  install_chain();
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.add(chain(), pod()).ok());
  { std::ofstream(driver.cache().path("podnet", "sandbox1", "eth0")) << "{torn"; }
  exec_.calls.clear();
  ASSERT_TRUE(driver.del(chain(), pod()).ok());
  EXPECT_EQ(exec_.calls.size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(driver.cache().path("podnet", "sandbox1", "eth0")));
}

TEST_F(CniDriverTest, Check) {
  install_chain();
  CniDriver driver(exec_, options());
  auto none = driver.check(chain(), pod());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(driver.add(chain(), pod()).ok());
  exec_.calls.clear();
  ASSERT_TRUE(driver.check(chain(), pod()).ok());
  ASSERT_EQ(exec_.calls.size(), 3u);
  EXPECT_EQ(exec_.calls[0].type + exec_.calls[0].command, "bridgeCHECK");
  for (const auto& c : exec_.calls) EXPECT_EQ(domain_of_prev(c), "from-tuning");

  exec_.calls.clear();
  EXPECT_TRUE(driver.check(chain("1.0.0", /*disable_check=*/true), pod()).ok());
  EXPECT_TRUE(exec_.calls.empty());
  EXPECT_EQ(driver.check(chain("0.3.1"), pod()).error().code(), ErrorCode::kInvalidArgument);

  exec_.set("portmap", failing("CHECK", 100, "rule missing", answering(result_of("p"))));
  auto bad = driver.check(chain(), pod());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("error code 100 (plugin-specific error): rule missing"),
            std::string::npos);
}

TEST_F(CniDriverTest, StatusAndVersion) {
  install_chain();
  exec_.set("bridge", [](const testing::RecordedCall& c) -> Result<ExecOutput> {
    if (c.command == "VERSION") {
      return ExecOutput{0, R"({"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]})", ""};
    }
    if (c.command == "STATUS") {
      return ExecOutput{1, R"({"code":50,"msg":"no ipam ranges left"})", ""};
    }
    return ExecOutput{};
  });
  CniDriver driver(exec_, options());
  auto v = driver.version("bridge");
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(*v, (std::vector<std::string>{"0.4.0", "1.0.0"}));
  EXPECT_EQ(json::dump(exec_.calls.back().config), R"({"cniVersion":"1.0.0"})");
  EXPECT_EQ(exec_.calls.back().env.count("CNI_CONTAINERID"), 0u);

  exec_.calls.clear();
  EXPECT_TRUE(driver.status(chain("1.0.0")).ok());  // STATUS came with 1.1.0
  EXPECT_TRUE(exec_.calls.empty());
  auto s = driver.status(chain("1.1.0"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message().find("plugin not available"), std::string::npos);
}

TEST_F(CniDriverTest, GcDeletesCachedAttachmentsNotKept) {
  install_chain();
  CniDriver driver(exec_, options());
  ASSERT_TRUE(driver.add(chain("1.1.0"), pod("keep")).ok());
  ASSERT_TRUE(driver.add(chain("1.1.0"), pod("gone")).ok());
  exec_.calls.clear();
  ASSERT_TRUE(driver.gc(chain("1.1.0"), {{"keep", "eth0"}}).ok());
  // DEL of "gone" in reverse, then GC on every plugin with the attachments to keep.
  ASSERT_EQ(exec_.calls.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(exec_.calls[i].command, "DEL");
    EXPECT_EQ(exec_.calls[i].env.at("CNI_CONTAINERID"), "gone");
  }
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(exec_.calls[i].command, "GC");
    const json::array* valid = json::get_array(exec_.calls[i].config, "cni.dev/valid-attachments");
    ASSERT_NE(valid, nullptr);
    EXPECT_NE(json::get_array(exec_.calls[i].config, "cni.dev/attachments"), nullptr);
    EXPECT_EQ(exec_.calls[i].env.count("CNI_CONTAINERID"), 0u);
    ASSERT_EQ(valid->size(), 1u);
    EXPECT_EQ(json::get_string(valid->at(0).get_object(), "containerID"), "keep");
    EXPECT_EQ(json::get_string(valid->at(0).get_object(), "ifname"), "eth0");
  }
  EXPECT_TRUE(std::filesystem::exists(driver.cache().path("podnet", "keep", "eth0")));
  EXPECT_FALSE(std::filesystem::exists(driver.cache().path("podnet", "gone", "eth0")));
}

}  // namespace
}  // namespace kernlet::cni
