// CsiClient against a fake CSI driver: a real gRPC server in this process on a unix socket
// in a temporary directory, whose answers (and failures) each test sets. Checks that every
// call sends the spec's fields and reads the response, and that gRPC codes become Errors
// with the right ErrorCode, the driver's message and the retry decision.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "csi/client/csi_client.h"
#include "csi/client/rpc_error.h"
#include "csi/proto/csi.grpc.pb.h"

namespace kernlet::csi {
namespace {

namespace pb = ::csi::v1;

// What the fake answers with: OK, or this status.
struct Fail {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  grpc::Status status() const { return code == grpc::StatusCode::OK ? grpc::Status::OK : grpc::Status(code, message); }
};

class FakeDriver final : public pb::Identity::Service, public pb::Controller::Service, public pb::Node::Service {
 public:
  std::mutex mu;
  Fail fail;                                // applied to every call
  std::chrono::milliseconds delay{0};       // before answering
  bool probe_ready_set = true, probe_ready = true;
  pb::CreateVolumeRequest last_create;
  pb::NodeStageVolumeRequest last_stage;
  pb::NodePublishVolumeRequest last_publish;
  pb::ControllerPublishVolumeRequest last_cpublish;
  pb::NodeExpandVolumeRequest last_nexpand;
  std::atomic<int> calls{0};

  grpc::Status answer() {
    ++calls;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);  // the deadline test: the server is slow on purpose
    std::lock_guard l(mu);
    return fail.status();
  }

  grpc::Status GetPluginInfo(grpc::ServerContext*, const pb::GetPluginInfoRequest*, pb::GetPluginInfoResponse* r) override {
    r->set_name("fake.csi.example.com");
    r->set_vendor_version("9.9");
    (*r->mutable_manifest())["k"] = "v";
    return answer();
  }
  grpc::Status GetPluginCapabilities(grpc::ServerContext*, const pb::GetPluginCapabilitiesRequest*,
                                     pb::GetPluginCapabilitiesResponse* r) override {
    r->add_capabilities()->mutable_service()->set_type(pb::PluginCapability::Service::CONTROLLER_SERVICE);
    r->add_capabilities()->mutable_volume_expansion()->set_type(pb::PluginCapability::VolumeExpansion::ONLINE);
    return answer();
  }
  grpc::Status Probe(grpc::ServerContext*, const pb::ProbeRequest*, pb::ProbeResponse* r) override {
    if (probe_ready_set) r->mutable_ready()->set_value(probe_ready);
    return answer();
  }
  grpc::Status CreateVolume(grpc::ServerContext*, const pb::CreateVolumeRequest* q, pb::CreateVolumeResponse* r) override {
    {
      std::lock_guard l(mu);
      last_create = *q;
    }
    r->mutable_volume()->set_volume_id("vol-" + q->name());
    r->mutable_volume()->set_capacity_bytes(q->capacity_range().required_bytes());
    (*r->mutable_volume()->mutable_volume_context())["ctx"] = "1";
    (*r->mutable_volume()->add_accessible_topology()->mutable_segments())["zone"] = "z1";
    return answer();
  }
  grpc::Status DeleteVolume(grpc::ServerContext*, const pb::DeleteVolumeRequest*, pb::DeleteVolumeResponse*) override {
    return answer();
  }
  grpc::Status ControllerPublishVolume(grpc::ServerContext*, const pb::ControllerPublishVolumeRequest* q,
                                       pb::ControllerPublishVolumeResponse* r) override {
    {
      std::lock_guard l(mu);
      last_cpublish = *q;
    }
    (*r->mutable_publish_context())["device"] = "/dev/fake0";
    return answer();
  }
  grpc::Status ControllerGetCapabilities(grpc::ServerContext*, const pb::ControllerGetCapabilitiesRequest*,
                                         pb::ControllerGetCapabilitiesResponse* r) override {
    r->add_capabilities()->mutable_rpc()->set_type(pb::ControllerServiceCapability::RPC::CREATE_DELETE_VOLUME);
    r->add_capabilities()->mutable_rpc()->set_type(pb::ControllerServiceCapability::RPC::PUBLISH_UNPUBLISH_VOLUME);
    return answer();
  }
  grpc::Status NodeStageVolume(grpc::ServerContext*, const pb::NodeStageVolumeRequest* q, pb::NodeStageVolumeResponse*) override {
    {
      std::lock_guard l(mu);
      last_stage = *q;
    }
    return answer();
  }
  grpc::Status NodeUnstageVolume(grpc::ServerContext*, const pb::NodeUnstageVolumeRequest*, pb::NodeUnstageVolumeResponse*) override {
    return answer();
  }
  grpc::Status NodePublishVolume(grpc::ServerContext*, const pb::NodePublishVolumeRequest* q,
                                 pb::NodePublishVolumeResponse*) override {
    {
      std::lock_guard l(mu);
      last_publish = *q;
    }
    return answer();
  }
  grpc::Status NodeUnpublishVolume(grpc::ServerContext*, const pb::NodeUnpublishVolumeRequest*,
                                   pb::NodeUnpublishVolumeResponse*) override {
    return answer();
  }
  grpc::Status ControllerUnpublishVolume(grpc::ServerContext*, const pb::ControllerUnpublishVolumeRequest*,
                                         pb::ControllerUnpublishVolumeResponse*) override {
    return answer();
  }
  grpc::Status NodeGetVolumeStats(grpc::ServerContext*, const pb::NodeGetVolumeStatsRequest*,
                                  pb::NodeGetVolumeStatsResponse* r) override {
    auto* b = r->add_usage();
    b->set_unit(pb::VolumeUsage::BYTES);
    b->set_total(100);
    b->set_used(30);
    b->set_available(70);
    auto* i = r->add_usage();
    i->set_unit(pb::VolumeUsage::INODES);
    i->set_total(10);
    i->set_used(1);
    i->set_available(9);
    r->mutable_volume_condition()->set_abnormal(true);
    r->mutable_volume_condition()->set_message("disk sad");
    return answer();
  }
  grpc::Status NodeExpandVolume(grpc::ServerContext*, const pb::NodeExpandVolumeRequest* q, pb::NodeExpandVolumeResponse* r) override {
    {
      std::lock_guard l(mu);
      last_nexpand = *q;
    }
    r->set_capacity_bytes(q->capacity_range().required_bytes());
    return answer();
  }
  grpc::Status NodeGetCapabilities(grpc::ServerContext*, const pb::NodeGetCapabilitiesRequest*,
                                   pb::NodeGetCapabilitiesResponse* r) override {
    r->add_capabilities()->mutable_rpc()->set_type(pb::NodeServiceCapability::RPC::STAGE_UNSTAGE_VOLUME);
    r->add_capabilities()->mutable_rpc()->set_type(pb::NodeServiceCapability::RPC::GET_VOLUME_STATS);
    return answer();
  }
  grpc::Status NodeGetInfo(grpc::ServerContext*, const pb::NodeGetInfoRequest*, pb::NodeGetInfoResponse* r) override {
    r->set_node_id("node-a");
    r->set_max_volumes_per_node(7);
    (*r->mutable_accessible_topology()->mutable_segments())["topology.kernlet.io/node"] = "node-a";
    return answer();
  }
};

class CsiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/kl-csi-client-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/csi.sock";
    grpc::ServerBuilder b;
    b.AddListeningPort("unix://" + socket_, grpc::InsecureServerCredentials());
    b.RegisterService(static_cast<pb::Identity::Service*>(&fake_));
    b.RegisterService(static_cast<pb::Controller::Service*>(&fake_));
    b.RegisterService(static_cast<pb::Node::Service*>(&fake_));
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    auto c = CsiClient::connect("unix://" + socket_, std::chrono::seconds(10));
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    client_ = std::move(c).value();
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void fail_with(grpc::StatusCode code, std::string msg) {
    std::lock_guard l(fake_.mu);
    fake_.fail = {code, std::move(msg)};
  }

  std::string dir_, socket_;
  FakeDriver fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<CsiClient> client_;
};

TEST_F(CsiClientTest, IdentityCalls) {
  auto info = client_->get_plugin_info();
  ASSERT_TRUE(info.ok()) << info.error().to_string();
  EXPECT_EQ(info->name, "fake.csi.example.com");
  EXPECT_EQ(info->vendor_version, "9.9");
  EXPECT_EQ(info->manifest.at("k"), "v");

  auto caps = client_->get_plugin_capabilities();
  ASSERT_TRUE(caps.ok());
  EXPECT_TRUE(caps->controller_service);
  EXPECT_FALSE(caps->volume_accessibility_constraints);
  EXPECT_TRUE(caps->online_expansion);
  EXPECT_FALSE(caps->offline_expansion);

  auto ready = client_->probe();
  ASSERT_TRUE(ready.ok());
  EXPECT_TRUE(*ready);
  fake_.probe_ready = false;
  EXPECT_FALSE(*client_->probe());
  fake_.probe_ready_set = false;  // unset means ready
  EXPECT_TRUE(*client_->probe());
}

TEST_F(CsiClientTest, CreateVolumeSendsSpecFields) {
  CreateVolumeParams p;
  p.name = "pvc-123";
  p.required_bytes = 1 << 20;
  p.limit_bytes = 2 << 20;
  VolumeCapability cap;
  cap.fs_type = "ext4";
  cap.mount_flags = {"noatime"};
  cap.access_mode = *access_mode_from_k8s("ReadWriteOnce");
  p.capabilities = {cap};
  p.parameters = {{"type", "fast"}};
  p.requisite_topology = {{{"topology.kernlet.io/node", "n1"}}};
  auto v = client_->create_volume(p);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->volume_id, "vol-pvc-123");
  EXPECT_EQ(v->capacity_bytes, 1 << 20);
  EXPECT_EQ(v->volume_context.at("ctx"), "1");
  ASSERT_EQ(v->accessible_topology.size(), 1u);
  EXPECT_EQ(v->accessible_topology[0].at("zone"), "z1");

  std::lock_guard l(fake_.mu);
  const auto& q = fake_.last_create;
  EXPECT_EQ(q.name(), "pvc-123");
  EXPECT_EQ(q.capacity_range().limit_bytes(), 2 << 20);
  ASSERT_EQ(q.volume_capabilities_size(), 1);
  EXPECT_EQ(q.volume_capabilities(0).mount().fs_type(), "ext4");
  EXPECT_EQ(q.volume_capabilities(0).mount().mount_flags(0), "noatime");
  EXPECT_EQ(q.volume_capabilities(0).access_mode().mode(), pb::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);
  EXPECT_EQ(q.parameters().at("type"), "fast");
  EXPECT_EQ(q.accessibility_requirements().requisite(0).segments().at("topology.kernlet.io/node"), "n1");
}

TEST_F(CsiClientTest, ControllerAndNodeCalls) {
  auto ccaps = client_->controller_get_capabilities();
  ASSERT_TRUE(ccaps.ok());
  EXPECT_TRUE(ccaps->create_delete_volume);
  EXPECT_TRUE(ccaps->publish_unpublish_volume);
  EXPECT_FALSE(ccaps->expand_volume);

  VolumeCapability cap;
  auto pctx = client_->controller_publish_volume("v1", "node-a", cap, true);
  ASSERT_TRUE(pctx.ok());
  EXPECT_EQ(pctx->at("device"), "/dev/fake0");
  {
    std::lock_guard l(fake_.mu);
    EXPECT_EQ(fake_.last_cpublish.node_id(), "node-a");
    EXPECT_TRUE(fake_.last_cpublish.readonly());
  }
  EXPECT_TRUE(client_->controller_unpublish_volume("v1", "node-a").ok());
  EXPECT_TRUE(client_->delete_volume("v1").ok());

  auto info = client_->node_get_info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->node_id, "node-a");
  EXPECT_EQ(info->max_volumes_per_node, 7);
  ASSERT_TRUE(info->accessible_topology);
  EXPECT_EQ(info->accessible_topology->at("topology.kernlet.io/node"), "node-a");

  auto ncaps = client_->node_get_capabilities();
  ASSERT_TRUE(ncaps.ok());
  EXPECT_TRUE(ncaps->stage_unstage_volume);
  EXPECT_TRUE(ncaps->get_volume_stats);
  EXPECT_FALSE(ncaps->expand_volume);

  StageParams sp{"v1", {{"device", "/dev/fake0"}}, "/stage/v1", cap, {}, {{"ctx", "1"}}};
  ASSERT_TRUE(client_->node_stage_volume(sp).ok());
  PublishParams pp{"v1", {}, "/stage/v1", "/pods/p/vol", cap, true, {}, {}};
  ASSERT_TRUE(client_->node_publish_volume(pp).ok());
  {
    std::lock_guard l(fake_.mu);
    EXPECT_EQ(fake_.last_stage.staging_target_path(), "/stage/v1");
    EXPECT_EQ(fake_.last_stage.publish_context().at("device"), "/dev/fake0");
    EXPECT_EQ(fake_.last_stage.volume_context().at("ctx"), "1");
    EXPECT_EQ(fake_.last_publish.target_path(), "/pods/p/vol");
    EXPECT_EQ(fake_.last_publish.staging_target_path(), "/stage/v1");
    EXPECT_TRUE(fake_.last_publish.readonly());
    EXPECT_TRUE(fake_.last_publish.volume_capability().has_mount());
  }
  EXPECT_TRUE(client_->node_unpublish_volume("v1", "/pods/p/vol").ok());
  EXPECT_TRUE(client_->node_unstage_volume("v1", "/stage/v1").ok());

  auto stats = client_->node_get_volume_stats("v1", "/pods/p/vol");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->bytes_total, 100);
  EXPECT_EQ(stats->bytes_used, 30);
  EXPECT_EQ(stats->bytes_available, 70);
  EXPECT_TRUE(stats->has_inodes);
  EXPECT_EQ(stats->inodes_free, 9);
  EXPECT_TRUE(stats->abnormal);
  EXPECT_EQ(stats->condition_message, "disk sad");

  auto grown = client_->node_expand_volume("v1", "/pods/p/vol", "/stage/v1", 4096, cap);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(*grown, 4096);
  std::lock_guard l(fake_.mu);
  EXPECT_EQ(fake_.last_nexpand.staging_target_path(), "/stage/v1");
}

// Each gRPC code maps to its ErrorCode, keeps the driver's message, and is retriable or not.
TEST_F(CsiClientTest, ErrorCodesMapToResultErrors) {
  struct Case {
    grpc::StatusCode code;
    ErrorCode want;
    const char* name;
    bool retriable;
  };
  const Case cases[] = {
      {grpc::StatusCode::ABORTED, ErrorCode::kAborted, "Aborted", true},
      {grpc::StatusCode::UNAVAILABLE, ErrorCode::kUnavailable, "Unavailable", true},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, ErrorCode::kResourceExhausted, "ResourceExhausted", true},
      {grpc::StatusCode::INTERNAL, ErrorCode::kInternal, "Internal", true},
      {grpc::StatusCode::INVALID_ARGUMENT, ErrorCode::kInvalidArgument, "InvalidArgument", false},
      {grpc::StatusCode::OUT_OF_RANGE, ErrorCode::kInvalidArgument, "OutOfRange", false},
      {grpc::StatusCode::NOT_FOUND, ErrorCode::kNotFound, "NotFound", false},
      {grpc::StatusCode::ALREADY_EXISTS, ErrorCode::kAlreadyExists, "AlreadyExists", false},
      {grpc::StatusCode::FAILED_PRECONDITION, ErrorCode::kFailedPrecondition, "FailedPrecondition", false},
      {grpc::StatusCode::UNIMPLEMENTED, ErrorCode::kUnimplemented, "Unimplemented", false},
      {grpc::StatusCode::PERMISSION_DENIED, ErrorCode::kPermissionDenied, "PermissionDenied", false},
  };
  for (const auto& c : cases) {
    fail_with(c.code, "driver says no");
    StageParams sp{"v1", {}, "/stage/v1", {}, {}, {}};
    auto r = client_->node_stage_volume(sp);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code(), c.want) << c.name;
    EXPECT_EQ(r.error().message(), std::string("NodeStageVolume: rpc error: code = ") + c.name + " desc = driver says no");
    EXPECT_EQ(is_retriable(r.error()), c.retriable) << c.name;
  }
  // A value-returning call fails the same way.
  fail_with(grpc::StatusCode::NOT_FOUND, "no such volume");
  auto stats = client_->node_get_volume_stats("v9", "/x");
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(stats.error().message().find("no such volume"), std::string::npos);
}

TEST_F(CsiClientTest, PerCallDeadline) {
  fake_.delay = std::chrono::milliseconds(1500);
  auto t0 = std::chrono::steady_clock::now();
  auto r = client_->probe(CallOptions{std::chrono::milliseconds(200)});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_TRUE(is_retriable(r.error()));
  EXPECT_LT(took, std::chrono::milliseconds(1200));
}

TEST_F(CsiClientTest, MissingDriverIsUnavailable) {
  auto c = CsiClient::connect(dir_ + "/nobody.sock", std::chrono::seconds(2));
  ASSERT_TRUE(c.ok());
  auto r = (*c)->get_plugin_info();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable) << r.error().to_string();
  EXPECT_TRUE(is_retriable(r.error()));
}

TEST(CsiClientEndpoint, AcceptsUnixSocketsOnly) {
  EXPECT_EQ(*endpoint_socket_path("unix:///run/csi.sock"), "/run/csi.sock");
  EXPECT_EQ(*endpoint_socket_path("/run/csi.sock"), "/run/csi.sock");
  for (const char* bad : {"", "tcp://1.2.3.4:5", "unix://relative.sock", "csi.sock"}) {
    auto r = endpoint_socket_path(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(bad), std::string::npos);
  }
  EXPECT_FALSE(CsiClient::connect("tcp://x:1").ok());
}

TEST(CsiClientAccessMode, FromKubernetes) {
  EXPECT_EQ(*access_mode_from_k8s("ReadWriteOnce"), AccessMode::kSingleNodeWriter);
  EXPECT_EQ(*access_mode_from_k8s("ReadOnlyMany"), AccessMode::kMultiNodeReaderOnly);
  EXPECT_EQ(*access_mode_from_k8s("ReadWriteMany"), AccessMode::kMultiNodeMultiWriter);
  EXPECT_EQ(*access_mode_from_k8s("ReadWriteOncePod"), AccessMode::kSingleNodeSingleWriter);
  auto bad = access_mode_from_k8s("ReadSometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("ReadSometimes"), std::string::npos);
}

}  // namespace
}  // namespace kernlet::csi
