// CsiClient: kernlet's CSI v1 client, one per driver socket. Calls the Identity, Controller
// and Node services over gRPC on a unix socket, each call with its own deadline, and turns
// every failure into an Error (rpc_error.h) that keeps the gRPC code and the driver's
// message, so the agent can show it as a FailedMount/FailedAttachVolume Event and decide
// from its code whether to retry.
//
// The types here are kernlet's own, so callers do not see protobuf; the conversion to the
// wire messages lives in csi_client.cc. ControllerPublish/Unpublish are only meaningful for
// a driver whose ControllerGetCapabilities lists PUBLISH_UNPUBLISH_VOLUME, NodeStage/Unstage
// only when NodeGetCapabilities lists STAGE_UNSTAGE_VOLUME: the caller checks (as the
// kubelet does); the client sends what it is asked to.
//
// Thread-safety: every method may be called concurrently (a gRPC channel is thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::csi {

using StringMap = std::map<std::string, std::string>;
// One topology segment set, e.g. {"topology.kernlet.io/node": "node-1"}.
using TopologySegments = StringMap;

// CSI access modes (VolumeCapability.AccessMode.Mode); values are the spec's.
enum class AccessMode {
  kUnknown = 0,
  kSingleNodeWriter = 1,         // ReadWriteOnce
  kSingleNodeReaderOnly = 2,
  kMultiNodeReaderOnly = 3,      // ReadOnlyMany
  kMultiNodeSingleWriter = 4,
  kMultiNodeMultiWriter = 5,     // ReadWriteMany
  kSingleNodeSingleWriter = 6,   // ReadWriteOncePod
  kSingleNodeMultiWriter = 7,
};

// The CSI mode for a PersistentVolume access mode ("ReadWriteOnce", "ReadOnlyMany",
// "ReadWriteMany", "ReadWriteOncePod"); kInvalidArgument naming anything else.
Result<AccessMode> access_mode_from_k8s(std::string_view mode);

// How the volume is to be used: a mounted filesystem (fs_type, mount flags) or a raw block
// device, and the access mode.
struct VolumeCapability {
  bool block = false;
  std::string fs_type;                   // mount only; empty: the driver's default
  std::vector<std::string> mount_flags;  // mount only
  std::string volume_mount_group;        // mount only: the pod's fsGroup, when the driver applies it
  AccessMode access_mode = AccessMode::kSingleNodeWriter;
};

struct PluginInfo {
  std::string name;
  std::string vendor_version;
  StringMap manifest;
};

struct PluginCapabilities {
  bool controller_service = false;
  bool volume_accessibility_constraints = false;
  bool online_expansion = false;
  bool offline_expansion = false;
};

struct ControllerCapabilities {
  bool create_delete_volume = false;
  bool publish_unpublish_volume = false;
  bool get_capacity = false;
  bool publish_readonly = false;
  bool expand_volume = false;
};

struct NodeCapabilities {
  bool stage_unstage_volume = false;
  bool get_volume_stats = false;
  bool expand_volume = false;
  bool volume_condition = false;
  bool volume_mount_group = false;
};

struct NodeInfo {
  std::string node_id;
  int64_t max_volumes_per_node = 0;  // 0: no limit
  std::optional<TopologySegments> accessible_topology;
};

struct CreateVolumeParams {
  std::string name;             // the idempotency key (the PV name)
  int64_t required_bytes = 0;   // 0: unspecified
  int64_t limit_bytes = 0;      // 0: unspecified
  std::vector<VolumeCapability> capabilities;
  StringMap parameters;         // the StorageClass parameters
  StringMap secrets;
  std::vector<TopologySegments> requisite_topology;
  std::vector<TopologySegments> preferred_topology;
};

struct Volume {
  std::string volume_id;
  int64_t capacity_bytes = 0;  // 0: unknown
  StringMap volume_context;
  std::vector<TopologySegments> accessible_topology;
};

struct StageParams {
  std::string volume_id;
  StringMap publish_context;
  std::string staging_target_path;
  VolumeCapability capability;
  StringMap secrets;
  StringMap volume_context;
};

struct PublishParams {
  std::string volume_id;
  StringMap publish_context;
  std::string staging_target_path;  // empty when the driver does not stage
  std::string target_path;
  VolumeCapability capability;
  bool readonly = false;
  StringMap secrets;
  StringMap volume_context;
};

struct VolumeStats {
  int64_t bytes_total = 0, bytes_used = 0, bytes_available = 0;
  bool has_inodes = false;
  int64_t inodes_total = 0, inodes_used = 0, inodes_free = 0;
  bool abnormal = false;             // the driver's VolumeCondition, when it reports one
  std::string condition_message;
};

struct ExpandResult {
  int64_t capacity_bytes = 0;
  bool node_expansion_required = false;  // controller expansion only
};

// Per-call deadline; zero means the client's default.
struct CallOptions {
  std::chrono::milliseconds timeout{0};
};

class CsiClient {
 public:
  // The kubelet's CSI timeout: long enough for mkfs of a large volume in NodeStage.
  static constexpr std::chrono::milliseconds kDefaultTimeout{std::chrono::minutes(2)};

  // A client of the driver at `endpoint`: "unix:///abs/path" or an absolute path. The
  // channel connects lazily, so a driver that is not there yet is no error here: calls fail
  // with kUnavailable until it is. kInvalidArgument for any other endpoint form.
  static Result<std::unique_ptr<CsiClient>> connect(std::string_view endpoint,
                                                    std::chrono::milliseconds default_timeout = kDefaultTimeout);
  ~CsiClient();
  CsiClient(const CsiClient&) = delete;
  CsiClient& operator=(const CsiClient&) = delete;

  const std::string& endpoint() const;

  // Identity.
  Result<PluginInfo> get_plugin_info(CallOptions opts = {});
  Result<PluginCapabilities> get_plugin_capabilities(CallOptions opts = {});
  // Whether the driver says it is ready (an unset `ready` counts as ready).
  Result<bool> probe(CallOptions opts = {});

  // Controller.
  Result<ControllerCapabilities> controller_get_capabilities(CallOptions opts = {});
  Result<Volume> create_volume(const CreateVolumeParams& params, CallOptions opts = {});
  Result<void> delete_volume(const std::string& volume_id, const StringMap& secrets = {},
                             CallOptions opts = {});
  // The publish context to pass to NodeStage/NodePublish.
  Result<StringMap> controller_publish_volume(const std::string& volume_id, const std::string& node_id,
                                              const VolumeCapability& capability, bool readonly,
                                              const StringMap& volume_context = {},
                                              const StringMap& secrets = {}, CallOptions opts = {});
  Result<void> controller_unpublish_volume(const std::string& volume_id, const std::string& node_id,
                                           const StringMap& secrets = {}, CallOptions opts = {});
  Result<ExpandResult> controller_expand_volume(const std::string& volume_id, int64_t required_bytes,
                                                int64_t limit_bytes, const VolumeCapability& capability,
                                                CallOptions opts = {});

  // Node.
  Result<NodeInfo> node_get_info(CallOptions opts = {});
  Result<NodeCapabilities> node_get_capabilities(CallOptions opts = {});
  Result<void> node_stage_volume(const StageParams& params, CallOptions opts = {});
  Result<void> node_unstage_volume(const std::string& volume_id, const std::string& staging_target_path,
                                   CallOptions opts = {});
  Result<void> node_publish_volume(const PublishParams& params, CallOptions opts = {});
  Result<void> node_unpublish_volume(const std::string& volume_id, const std::string& target_path,
                                     CallOptions opts = {});
  Result<VolumeStats> node_get_volume_stats(const std::string& volume_id, const std::string& volume_path,
                                            const std::string& staging_target_path = {},
                                            CallOptions opts = {});
  // The new capacity, 0 when the driver does not say.
  Result<int64_t> node_expand_volume(const std::string& volume_id, const std::string& volume_path,
                                     const std::string& staging_target_path, int64_t required_bytes,
                                     const VolumeCapability& capability, CallOptions opts = {});

 private:
  struct Impl;
  explicit CsiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The socket path of a CSI endpoint ("unix:///p" or "/p" -> "/p"); kInvalidArgument
// naming the endpoint for anything else (tcp://, relative paths, empty).
Result<std::string> endpoint_socket_path(std::string_view endpoint);

}  // namespace kernlet::csi
