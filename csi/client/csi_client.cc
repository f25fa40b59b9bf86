// CsiClient over the generated csi.v1 stubs (see csi_client.h).
#include "csi/client/csi_client.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "csi/client/rpc_error.h"
#include "csi/proto/csi.grpc.pb.h"

namespace kernlet::csi {
namespace {

namespace pb = ::csi::v1;

StringMap to_map(const google::protobuf::Map<std::string, std::string>& m) {
  return StringMap(m.begin(), m.end());
}

void fill_map(google::protobuf::Map<std::string, std::string>* out, const StringMap& in) {
  for (const auto& [k, v] : in) (*out)[k] = v;
}

void fill_capability(pb::VolumeCapability* out, const VolumeCapability& in) {
  if (in.block) {
    out->mutable_block();
  } else {
    auto* mount = out->mutable_mount();
    mount->set_fs_type(in.fs_type);
    for (const auto& f : in.mount_flags) mount->add_mount_flags(f);
    mount->set_volume_mount_group(in.volume_mount_group);
  }
  out->mutable_access_mode()->set_mode(static_cast<pb::VolumeCapability::AccessMode::Mode>(in.access_mode));
}

// Runs one unary RPC with its deadline; the error names the method.
template <class Stub, class Req, class Resp>
Result<void> call(std::string_view method, std::chrono::milliseconds timeout, Stub* stub,
                  grpc::Status (Stub::*fn)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                  Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Status status = (stub->*fn)(&ctx, req, resp);
  if (!status.ok()) return rpc_error(method, status);
  return Ok();
}

}  // namespace

Result<AccessMode> access_mode_from_k8s(std::string_view mode) {
  if (mode == "ReadWriteOnce") return AccessMode::kSingleNodeWriter;
  if (mode == "ReadOnlyMany") return AccessMode::kMultiNodeReaderOnly;
  if (mode == "ReadWriteMany") return AccessMode::kMultiNodeMultiWriter;
  if (mode == "ReadWriteOncePod") return AccessMode::kSingleNodeSingleWriter;
  return Error(ErrorCode::kInvalidArgument, "access mode \"" + std::string(mode) +
                                                "\": not one of ReadWriteOnce, ReadOnlyMany, "
                                                "ReadWriteMany, ReadWriteOncePod");
}

Result<std::string> endpoint_socket_path(std::string_view endpoint) {
  std::string_view path = endpoint;
  if (path.starts_with("unix://")) path.remove_prefix(7);
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument,
                 "CSI endpoint \"" + std::string(endpoint) + "\": want unix:///absolute/path or /absolute/path");
  return std::string(path);
}

struct CsiClient::Impl {
  std::string endpoint;
  std::chrono::milliseconds default_timeout;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Identity::Stub> identity;
  std::unique_ptr<pb::Controller::Stub> controller;
  std::unique_ptr<pb::Node::Stub> node;

  std::chrono::milliseconds timeout(CallOptions o) const {
    return o.timeout.count() > 0 ? o.timeout : default_timeout;
  }
};

CsiClient::CsiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CsiClient::~CsiClient() = default;

Result<std::unique_ptr<CsiClient>> CsiClient::connect(std::string_view endpoint,
                                                      std::chrono::milliseconds default_timeout) {
  KL_ASSIGN_OR_RETURN(std::string path, endpoint_socket_path(endpoint));
  auto impl = std::make_unique<Impl>();
  impl->endpoint = "unix://" + path;
  impl->default_timeout = default_timeout;
  grpc::ChannelArguments args;
  // A driver restarting is routine: reconnect quickly rather than after gRPC's default
  // back-off of up to two minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  impl->channel = grpc::CreateCustomChannel(impl->endpoint, grpc::InsecureChannelCredentials(), args);
  impl->identity = pb::Identity::NewStub(impl->channel);
  impl->controller = pb::Controller::NewStub(impl->channel);
  impl->node = pb::Node::NewStub(impl->channel);
  return std::unique_ptr<CsiClient>(new CsiClient(std::move(impl)));
}

const std::string& CsiClient::endpoint() const { return impl_->endpoint; }

// ---------------------------------------------------------------- identity

Result<PluginInfo> CsiClient::get_plugin_info(CallOptions opts) {
  pb::GetPluginInfoResponse resp;
  KL_TRY(call("GetPluginInfo", impl_->timeout(opts), impl_->identity.get(), &pb::Identity::Stub::GetPluginInfo,
              pb::GetPluginInfoRequest(), &resp));
  if (resp.name().empty())
    return Error(ErrorCode::kInternal, "GetPluginInfo: driver at " + impl_->endpoint + " returned no name");
  return PluginInfo{resp.name(), resp.vendor_version(), to_map(resp.manifest())};
}

Result<PluginCapabilities> CsiClient::get_plugin_capabilities(CallOptions opts) {
  pb::GetPluginCapabilitiesResponse resp;
  KL_TRY(call("GetPluginCapabilities", impl_->timeout(opts), impl_->identity.get(),
              &pb::Identity::Stub::GetPluginCapabilities, pb::GetPluginCapabilitiesRequest(), &resp));
  PluginCapabilities caps;
  for (const auto& c : resp.capabilities()) {
    if (c.has_service()) {
      switch (c.service().type()) {
        case pb::PluginCapability::Service::CONTROLLER_SERVICE: caps.controller_service = true; break;
        case pb::PluginCapability::Service::VOLUME_ACCESSIBILITY_CONSTRAINTS:
          caps.volume_accessibility_constraints = true;
          break;
        default: break;
      }
    } else if (c.has_volume_expansion()) {
      switch (c.volume_expansion().type()) {
        case pb::PluginCapability::VolumeExpansion::ONLINE: caps.online_expansion = true; break;
        case pb::PluginCapability::VolumeExpansion::OFFLINE: caps.offline_expansion = true; break;
        default: break;
      }
    }
  }
  return caps;
}

Result<bool> CsiClient::probe(CallOptions opts) {
  pb::ProbeResponse resp;
  KL_TRY(call("Probe", impl_->timeout(opts), impl_->identity.get(), &pb::Identity::Stub::Probe,
              pb::ProbeRequest(), &resp));
  return !resp.has_ready() || resp.ready().value();
}

// ---------------------------------------------------------------- controller

Result<ControllerCapabilities> CsiClient::controller_get_capabilities(CallOptions opts) {
  pb::ControllerGetCapabilitiesResponse resp;
  KL_TRY(call("ControllerGetCapabilities", impl_->timeout(opts), impl_->controller.get(),
              &pb::Controller::Stub::ControllerGetCapabilities, pb::ControllerGetCapabilitiesRequest(), &resp));
  ControllerCapabilities caps;
  using Rpc = pb::ControllerServiceCapability::RPC;
  for (const auto& c : resp.capabilities()) {
    if (!c.has_rpc()) continue;
    switch (c.rpc().type()) {
      case Rpc::CREATE_DELETE_VOLUME: caps.create_delete_volume = true; break;
      case Rpc::PUBLISH_UNPUBLISH_VOLUME: caps.publish_unpublish_volume = true; break;
      case Rpc::GET_CAPACITY: caps.get_capacity = true; break;
      case Rpc::PUBLISH_READONLY: caps.publish_readonly = true; break;
      case Rpc::EXPAND_VOLUME: caps.expand_volume = true; break;
      default: break;
    }
  }
  return caps;
}

Result<Volume> CsiClient::create_volume(const CreateVolumeParams& p, CallOptions opts) {
  if (p.name.empty()) return Error(ErrorCode::kInvalidArgument, "CreateVolume: empty volume name");
  pb::CreateVolumeRequest req;
  req.set_name(p.name);
  if (p.required_bytes > 0 || p.limit_bytes > 0) {
    req.mutable_capacity_range()->set_required_bytes(p.required_bytes);
    req.mutable_capacity_range()->set_limit_bytes(p.limit_bytes);
  }
  for (const auto& c : p.capabilities) fill_capability(req.add_volume_capabilities(), c);
  fill_map(req.mutable_parameters(), p.parameters);
  fill_map(req.mutable_secrets(), p.secrets);
  if (!p.requisite_topology.empty() || !p.preferred_topology.empty()) {
    auto* ar = req.mutable_accessibility_requirements();
    for (const auto& t : p.requisite_topology) fill_map(ar->add_requisite()->mutable_segments(), t);
    for (const auto& t : p.preferred_topology) fill_map(ar->add_preferred()->mutable_segments(), t);
  }
  pb::CreateVolumeResponse resp;
  KL_TRY(call("CreateVolume", impl_->timeout(opts), impl_->controller.get(), &pb::Controller::Stub::CreateVolume,
              req, &resp));
  const pb::Volume& v = resp.volume();
  if (v.volume_id().empty())
    return Error(ErrorCode::kInternal, "CreateVolume " + p.name + ": driver returned no volume_id");
  Volume out{v.volume_id(), v.capacity_bytes(), to_map(v.volume_context()), {}};
  for (const auto& t : v.accessible_topology()) out.accessible_topology.push_back(to_map(t.segments()));
  return out;
}

Result<void> CsiClient::delete_volume(const std::string& volume_id, const StringMap& secrets, CallOptions opts) {
  pb::DeleteVolumeRequest req;
  req.set_volume_id(volume_id);
  fill_map(req.mutable_secrets(), secrets);
  pb::DeleteVolumeResponse resp;
  return call("DeleteVolume", impl_->timeout(opts), impl_->controller.get(), &pb::Controller::Stub::DeleteVolume,
              req, &resp);
}

Result<StringMap> CsiClient::controller_publish_volume(const std::string& volume_id, const std::string& node_id,
                                                       const VolumeCapability& capability, bool readonly,
                                                       const StringMap& volume_context, const StringMap& secrets,
                                                       CallOptions opts) {
  pb::ControllerPublishVolumeRequest req;
  req.set_volume_id(volume_id);
  req.set_node_id(node_id);
  fill_capability(req.mutable_volume_capability(), capability);
  req.set_readonly(readonly);
  fill_map(req.mutable_volume_context(), volume_context);
  fill_map(req.mutable_secrets(), secrets);
  pb::ControllerPublishVolumeResponse resp;
  KL_TRY(call("ControllerPublishVolume", impl_->timeout(opts), impl_->controller.get(),
              &pb::Controller::Stub::ControllerPublishVolume, req, &resp));
  return to_map(resp.publish_context());
}

Result<void> CsiClient::controller_unpublish_volume(const std::string& volume_id, const std::string& node_id,
                                                    const StringMap& secrets, CallOptions opts) {
  pb::ControllerUnpublishVolumeRequest req;
  req.set_volume_id(volume_id);
  req.set_node_id(node_id);
  fill_map(req.mutable_secrets(), secrets);
  pb::ControllerUnpublishVolumeResponse resp;
  return call("ControllerUnpublishVolume", impl_->timeout(opts), impl_->controller.get(),
              &pb::Controller::Stub::ControllerUnpublishVolume, req, &resp);
}

Result<ExpandResult> CsiClient::controller_expand_volume(const std::string& volume_id, int64_t required_bytes,
                                                         int64_t limit_bytes, const VolumeCapability& capability,
                                                         CallOptions opts) {
  pb::ControllerExpandVolumeRequest req;
  req.set_volume_id(volume_id);
  req.mutable_capacity_range()->set_required_bytes(required_bytes);
  req.mutable_capacity_range()->set_limit_bytes(limit_bytes);
  fill_capability(req.mutable_volume_capability(), capability);
  pb::ControllerExpandVolumeResponse resp;
  KL_TRY(call("ControllerExpandVolume", impl_->timeout(opts), impl_->controller.get(),
              &pb::Controller::Stub::ControllerExpandVolume, req, &resp));
  return ExpandResult{resp.capacity_bytes(), resp.node_expansion_required()};
}

// ---------------------------------------------------------------- node

Result<NodeInfo> CsiClient::node_get_info(CallOptions opts) {
  pb::NodeGetInfoResponse resp;
  KL_TRY(call("NodeGetInfo", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeGetInfo,
              pb::NodeGetInfoRequest(), &resp));
  if (resp.node_id().empty())
    return Error(ErrorCode::kInternal, "NodeGetInfo: driver at " + impl_->endpoint + " returned no node_id");
  NodeInfo info{resp.node_id(), resp.max_volumes_per_node(), std::nullopt};
  if (resp.has_accessible_topology()) info.accessible_topology = to_map(resp.accessible_topology().segments());
  return info;
}

Result<NodeCapabilities> CsiClient::node_get_capabilities(CallOptions opts) {
  pb::NodeGetCapabilitiesResponse resp;
  KL_TRY(call("NodeGetCapabilities", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeGetCapabilities,
              pb::NodeGetCapabilitiesRequest(), &resp));
  NodeCapabilities caps;
  using Rpc = pb::NodeServiceCapability::RPC;
  for (const auto& c : resp.capabilities()) {
    if (!c.has_rpc()) continue;
    switch (c.rpc().type()) {
      case Rpc::STAGE_UNSTAGE_VOLUME: caps.stage_unstage_volume = true; break;
      case Rpc::GET_VOLUME_STATS: caps.get_volume_stats = true; break;
      case Rpc::EXPAND_VOLUME: caps.expand_volume = true; break;
      case Rpc::VOLUME_CONDITION: caps.volume_condition = true; break;
      case Rpc::VOLUME_MOUNT_GROUP: caps.volume_mount_group = true; break;
      default: break;
    }
  }
  return caps;
}

Result<void> CsiClient::node_stage_volume(const StageParams& p, CallOptions opts) {
  pb::NodeStageVolumeRequest req;
  req.set_volume_id(p.volume_id);
  fill_map(req.mutable_publish_context(), p.publish_context);
  req.set_staging_target_path(p.staging_target_path);
  fill_capability(req.mutable_volume_capability(), p.capability);
  fill_map(req.mutable_secrets(), p.secrets);
  fill_map(req.mutable_volume_context(), p.volume_context);
  pb::NodeStageVolumeResponse resp;
  return call("NodeStageVolume", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeStageVolume, req,
              &resp);
}

Result<void> CsiClient::node_unstage_volume(const std::string& volume_id, const std::string& staging_target_path,
                                            CallOptions opts) {
  pb::NodeUnstageVolumeRequest req;
  req.set_volume_id(volume_id);
  req.set_staging_target_path(staging_target_path);
  pb::NodeUnstageVolumeResponse resp;
  return call("NodeUnstageVolume", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeUnstageVolume,
              req, &resp);
}

Result<void> CsiClient::node_publish_volume(const PublishParams& p, CallOptions opts) {
  pb::NodePublishVolumeRequest req;
  req.set_volume_id(p.volume_id);
  fill_map(req.mutable_publish_context(), p.publish_context);
  req.set_staging_target_path(p.staging_target_path);
  req.set_target_path(p.target_path);
  fill_capability(req.mutable_volume_capability(), p.capability);
  req.set_readonly(p.readonly);
  fill_map(req.mutable_secrets(), p.secrets);
  fill_map(req.mutable_volume_context(), p.volume_context);
  pb::NodePublishVolumeResponse resp;
  return call("NodePublishVolume", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodePublishVolume,
              req, &resp);
}

Result<void> CsiClient::node_unpublish_volume(const std::string& volume_id, const std::string& target_path,
                                              CallOptions opts) {
  pb::NodeUnpublishVolumeRequest req;
  req.set_volume_id(volume_id);
  req.set_target_path(target_path);
  pb::NodeUnpublishVolumeResponse resp;
  return call("NodeUnpublishVolume", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeUnpublishVolume,
              req, &resp);
}

Result<VolumeStats> CsiClient::node_get_volume_stats(const std::string& volume_id, const std::string& volume_path,
                                                     const std::string& staging_target_path, CallOptions opts) {
  pb::NodeGetVolumeStatsRequest req;
  req.set_volume_id(volume_id);
  req.set_volume_path(volume_path);
  req.set_staging_target_path(staging_target_path);
  pb::NodeGetVolumeStatsResponse resp;
  KL_TRY(call("NodeGetVolumeStats", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeGetVolumeStats,
              req, &resp));
  VolumeStats s;
  for (const auto& u : resp.usage()) {
    if (u.unit() == pb::VolumeUsage::BYTES) {
      s.bytes_total = u.total();
      s.bytes_used = u.used();
      s.bytes_available = u.available();
    } else if (u.unit() == pb::VolumeUsage::INODES) {
      s.has_inodes = true;
      s.inodes_total = u.total();
      s.inodes_used = u.used();
      s.inodes_free = u.available();
    }
  }
  if (resp.has_volume_condition()) {
    s.abnormal = resp.volume_condition().abnormal();
    s.condition_message = resp.volume_condition().message();
  }
  return s;
}

Result<int64_t> CsiClient::node_expand_volume(const std::string& volume_id, const std::string& volume_path,
                                              const std::string& staging_target_path, int64_t required_bytes,
                                              const VolumeCapability& capability, CallOptions opts) {
  pb::NodeExpandVolumeRequest req;
  req.set_volume_id(volume_id);
  req.set_volume_path(volume_path);
  req.set_staging_target_path(staging_target_path);
  req.mutable_capacity_range()->set_required_bytes(required_bytes);
  fill_capability(req.mutable_volume_capability(), capability);
  pb::NodeExpandVolumeResponse resp;
  KL_TRY(call("NodeExpandVolume", impl_->timeout(opts), impl_->node.get(), &pb::Node::Stub::NodeExpandVolume, req,
              &resp));
  return resp.capacity_bytes();
}

}  // namespace kernlet::csi
