// LocalDriver: kernlet-csi-local, the CSI driver shipped with kernlet. A volume is an ext4
// filesystem in a sparse image file under --data-dir, so its capacity is enforced by the
// filesystem itself (a write past it gets ENOSPC). The one process serves all three CSI
// services for its own node:
//   Controller  CreateVolume (sparse file + mkfs.ext4), DeleteVolume, ControllerExpandVolume
//               (grow the file), GetCapacity; no ControllerPublish (nothing to attach)
//   Node        NodeStage (loop-attach + mount at the staging path), NodePublish (bind
//               mount, readonly honoured), NodeUnpublish/NodeUnstage (unmount; the loop
//               device detaches with it), NodeGetVolumeStats (statfs), NodeExpandVolume
//               (LOOP_SET_CAPACITY + resize2fs, online)
// Volumes are reachable from this node only: they carry the topology segment
// {topology.kernlet.io/node: <node-id>}, and only single-node access modes are accepted.
//
// Every call is idempotent, and a path is unmounted only when it is one the CO passed and
// the mount there is this volume's filesystem. Two calls for the same volume at once: the
// second gets ABORTED (the spec's "operation pending"), so the CO retries it later.
//
// Thread-safety: all methods may be called concurrently (gRPC's thread pool does).
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "api/result.h"
#include "csi/driver/volume_store.h"

namespace grpc {
class Service;
}

namespace kernlet::csi::local {

inline constexpr const char* kDriverName = "local.csi.kernlet.io";
inline constexpr const char* kTopologyKey = "topology.kernlet.io/node";

struct DriverOptions {
  std::string node_id;
  std::string data_dir;
  std::string vendor_version = "0.1.0";
};

class LocalDriver {
 public:
  explicit LocalDriver(DriverOptions options);
  ~LocalDriver();

  // Prepares --data-dir (see VolumeStore::init). Errors name the directory.
  Result<void> init();

  // The gRPC services to register on a server (Identity, Controller, Node). The driver
  // owns them: it must outlive every server they are registered on.
  grpc::Service* identity_service();
  grpc::Service* controller_service();
  grpc::Service* node_service();

  struct Services;

 private:
  std::unique_ptr<Services> services_;
};

}  // namespace kernlet::csi::local
