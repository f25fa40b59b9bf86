// PluginRegistry against fake registration servers (real gRPC servers on unix sockets in a
// temporary directory): a socket appearing is noticed by inotify, GetInfo read, the outcome
// told through NotifyRegistrationStatus; a socket removed unregisters its driver.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <condition_variable>
#include <mutex>

#include "csi/client/plugin_registry.h"
#include "csi/proto/pluginregistration.grpc.pb.h"

namespace kernlet::csi {
namespace {

namespace reg = ::pluginregistration;

class FakeRegistration final : public reg::Registration::Service {
 public:
  FakeRegistration(std::string type, std::string name, std::string endpoint, std::vector<std::string> versions)
      : type_(std::move(type)), name_(std::move(name)), endpoint_(std::move(endpoint)), versions_(std::move(versions)) {}

  grpc::Status GetInfo(grpc::ServerContext*, const reg::InfoRequest*, reg::PluginInfo* info) override {
    info->set_type(type_);
    info->set_name(name_);
    info->set_endpoint(endpoint_);
    for (const auto& v : versions_) info->add_supported_versions(v);
    return grpc::Status::OK;
  }
  grpc::Status NotifyRegistrationStatus(grpc::ServerContext*, const reg::RegistrationStatus* s,
                                        reg::RegistrationStatusResponse*) override {
    std::lock_guard l(mu_);
    if (!notified_) {
      notified_ = true;
      status_.set_value(*s);
    }
    return grpc::Status::OK;
  }
  // The status the registry sent, waiting up to 10 s for it.
  std::optional<reg::RegistrationStatus> wait_status() {
    auto f = status_.get_future();
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return std::nullopt;
    return f.get();
  }

 private:
  std::string type_, name_, endpoint_;
  std::vector<std::string> versions_;
  std::mutex mu_;
  bool notified_ = false;
  std::promise<reg::RegistrationStatus> status_;
};

struct Served {
  std::unique_ptr<FakeRegistration> service;
  std::unique_ptr<grpc::Server> server;
  ~Served() {
    if (server) server->Shutdown(std::chrono::system_clock::now());
  }
};

std::unique_ptr<Served> serve(const std::string& socket, FakeRegistration* svc) {
  auto s = std::make_unique<Served>();
  s->service.reset(svc);
  grpc::ServerBuilder b;
  b.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
  b.RegisterService(s->service.get());
  s->server = b.BuildAndStart();
  return s;
}

class PluginRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/kl-csi-registry-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/plugins_registry";
  }
  void TearDown() override {
    if (registry_) registry_->stop();
    servers_.clear();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void start() {
    registry_ = std::make_unique<PluginRegistry>(
        dir_,
        [this](const RegisteredDriver& d, bool added) {
          std::lock_guard l(mu_);
          events_.push_back((added ? "+" : "-") + d.name);
          cv_.notify_all();
        },
        PluginRegistry::Options{std::chrono::seconds(2), std::chrono::milliseconds(50)});
    auto r = registry_->start();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }
  // The callback's events once there are `n` of them (waiting up to 10 s).
  std::vector<std::string> events(size_t n) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, std::chrono::seconds(10), [&] { return events_.size() >= n; });
    return events_;
  }

  std::string root_, dir_;
  std::unique_ptr<PluginRegistry> registry_;
  std::vector<std::unique_ptr<Served>> servers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

TEST_F(PluginRegistryTest, RegistersSocketCreatedAfterStartAndForgetsItWhenRemoved) {
  start();
  ASSERT_TRUE(std::filesystem::is_directory(dir_));
  auto* svc = new FakeRegistration("CSIPlugin", "fake.csi.example.com", "unix:///run/fake/csi.sock", {"1.0.0"});
  const std::string socket = dir_ + "/fake.csi.example.com-reg.sock";
  servers_.push_back(serve(socket, svc));

  ASSERT_TRUE(registry_->wait_for("fake.csi.example.com", std::chrono::seconds(10)));
  auto d = registry_->find("fake.csi.example.com");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->endpoint, "unix:///run/fake/csi.sock");
  EXPECT_EQ(d->registration_socket, socket);
  auto status = svc->wait_status();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->plugin_registered());
  EXPECT_EQ(status->error(), "");

  servers_.clear();  // a stopped gRPC server leaves its socket file: the driver removes it
  ::unlink(socket.c_str());
  ASSERT_TRUE(registry_->wait_gone("fake.csi.example.com", std::chrono::seconds(10)));
  EXPECT_EQ(events(2), (std::vector<std::string>{"+fake.csi.example.com", "-fake.csi.example.com"}));
}

TEST_F(PluginRegistryTest, FindsSocketsPresentBeforeStartAndEmptyEndpointMeansTheSocket) {
  ASSERT_TRUE(std::filesystem::create_directories(dir_));
  const std::string socket = dir_ + "/early.sock";
  auto* svc = new FakeRegistration("CSIPlugin", "early.example.com", "", {"v1.5.0"});
  servers_.push_back(serve(socket, svc));
  start();
  ASSERT_TRUE(registry_->wait_for("early.example.com", std::chrono::seconds(10)));
  EXPECT_EQ(registry_->find("early.example.com")->endpoint, "unix://" + socket);
  EXPECT_EQ(registry_->drivers().size(), 1u);
}

TEST_F(PluginRegistryTest, RefusesWhatIsNotACsiV1DriverAndSaysWhy) {
  start();
  auto* device = new FakeRegistration("DevicePlugin", "gpu.example.com", "", {"v1beta1"});
  servers_.push_back(serve(dir_ + "/gpu.sock", device));
  auto st = device->wait_status();
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->plugin_registered());
  EXPECT_NE(st->error().find("DevicePlugin"), std::string::npos) << st->error();

  auto* old = new FakeRegistration("CSIPlugin", "old.example.com", "", {"0.3.0"});
  servers_.push_back(serve(dir_ + "/old.sock", old));
  st = old->wait_status();
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->plugin_registered());
  EXPECT_NE(st->error().find("no CSI 1.x version"), std::string::npos) << st->error();
  EXPECT_TRUE(registry_->drivers().empty());
}

TEST(ValidatePluginInfo, Rules) {
  auto ok = validate_plugin_info("CSIPlugin", "a.b", "/run/a.sock", {"1.2.0"}, "/reg/a.sock");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->endpoint, "unix:///run/a.sock");
  EXPECT_FALSE(validate_plugin_info("CSIPlugin", "", "", {"1.0.0"}, "/reg/a.sock").ok());
  EXPECT_FALSE(validate_plugin_info("CSIPlugin", std::string(64, 'a'), "", {"1.0.0"}, "/reg/a.sock").ok());
  auto tcp = validate_plugin_info("CSIPlugin", "a.b", "tcp://1.2.3.4:1", {"1.0.0"}, "/reg/a.sock");
  ASSERT_FALSE(tcp.ok());
  EXPECT_NE(tcp.error().message().find("/reg/a.sock"), std::string::npos);
  EXPECT_FALSE(validate_plugin_info("CSIPlugin", "a.b", "", {"2.0.0", "10.0"}, "/reg/a.sock").ok());
}

}  // namespace
}  // namespace kernlet::csi
