// ApiPodEnvironment::build without an API server (nothing here makes it fetch): what
// resourceFieldRef reads for a limit the container leaves unset.
#include "agent/cmd/api_environment.h"

#include <gtest/gtest.h>

#include "api/object.h"

namespace kernlet::agent {
namespace {

// Nothing in these tests mounts: every call is refused loudly.
class NoMounter final : public csi::Mounter {
 public:
  Result<void> mount_tmpfs(const std::string& t, std::optional<uint64_t>) override { return refuse(t); }
  Result<void> bind_mount_fd(int, const std::string& t) override { return refuse(t); }
  Result<void> unmount(const std::string& t) override { return refuse(t); }
  Result<bool> is_mount_point(const std::string&) override { return false; }
  Result<std::vector<std::string>> mounts_under(const std::string&) override { return std::vector<std::string>{}; }

 private:
  static Error refuse(const std::string& t) { return Error(ErrorCode::kInternal, "unexpected mount call for " + t); }
};

json::object node_with_allocatable(const std::string& cpu, const std::string& memory) {
  auto o = api::decode_object(R"({"kind":"Node","metadata":{"name":"n1"},"status":{"allocatable":{"cpu":")" + cpu +
                              R"(","memory":")" + memory + R"(","pods":"110"}}})");
  EXPECT_TRUE(o.ok());
  return o.ok() ? *o : json::object{};
}

std::string env_value(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& kv : env)
    if (kv.rfind(name + "=", 0) == 0) return kv.substr(name.size() + 1);
  return "<unset>";
}

class ApiEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client::ClientConfig cc;
    cc.server = "https://127.0.0.1:1";  // never contacted: the pods here reference nothing
    auto c = client::RestClient::create(cc);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    client_ = *c;
    volumes_ = std::make_unique<csi::VolumeManager>("/nonexistent/pods", mounter_);
    net_ = no_network();
  }

  Result<PodEnvironment::Built> build(ApiEnvironmentOptions o, const std::string& limits) {
    ApiPodEnvironment env(client_, nullptr, volumes_.get(), net_.get(), std::move(o));
    auto doc = api::decode_object(R"({"kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u1"},
      "spec":{"nodeName":"n1","containers":[{"name":"app","image":"busybox:1",)" + limits + R"(
      "env":[{"name":"CPU","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}},
             {"name":"MEM_MI","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}}]}]}})");
    EXPECT_TRUE(doc.ok()) << doc.error().to_string();
    pod_ = std::move(*doc);
    api::PodView pod(pod_);
    ImageInfo image;
    image.config.cmd = {"sh"};
    return env.build(pod, pod.spec().containers()[0], image);
  }

  NoMounter mounter_;
  std::shared_ptr<client::RestClient> client_;
  std::unique_ptr<csi::VolumeManager> volumes_;
  std::unique_ptr<PodNetwork> net_;
  json::object pod_;
};

TEST_F(ApiEnvironmentTest, UnsetLimitsReadTheNodesAllocatable) {
  ApiEnvironmentOptions o;
  o.node_name = "n1";
  std::optional<json::object> node = node_with_allocatable("3500m", "2Gi");
  o.node_allocatable_source = [&node] { return node_allocatable_of(node); };
  auto b = build(o, "");
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(env_value(b->process.env, "CPU"), "4") << "3500m rounded up, as the kubelet";
  EXPECT_EQ(env_value(b->process.env, "MEM_MI"), "2048");
  // Read at each build: a later Node status is what the next container sees.
  node = node_with_allocatable("2", "1Gi");
  b = build(o, "");
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(env_value(b->process.env, "CPU"), "2");
  EXPECT_EQ(env_value(b->process.env, "MEM_MI"), "1024");
}

TEST_F(ApiEnvironmentTest, ContainerLimitsWinOverAllocatable) {
  ApiEnvironmentOptions o;
  o.node_name = "n1";
  std::optional<json::object> node = node_with_allocatable("8", "16Gi");
  o.node_allocatable_source = [&node] { return node_allocatable_of(node); };
  auto b = build(o, R"("resources":{"limits":{"cpu":"250m","memory":"64Mi"}},)");
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(env_value(b->process.env, "CPU"), "1");
  EXPECT_EQ(env_value(b->process.env, "MEM_MI"), "64");
}

TEST(NodeAllocatableOf, ReadsStatusAllocatable) {
  EXPECT_TRUE(node_allocatable_of(std::nullopt).empty()) << "before registration";
  auto list = node_allocatable_of(node_with_allocatable("2", "1Gi"));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(*list.at("memory").value(), int64_t{1} << 30);
  EXPECT_EQ(*list.at("cpu").milli_value(), 2000);
}

}  // namespace
}  // namespace kernlet::agent
