// CsiNodeVolumes: the node side of persistentVolumeClaim volumes, the kubelet's CSI volume
// plugin for the VolumeManager. For a pod's claim it waits for the claim to be Bound, reads
// its PersistentVolume (spec.csi), finds the driver among those registered on this node,
// stages the volume once per node (NodeStageVolume, when the driver has
// STAGE_UNSTAGE_VOLUME) and publishes it into the pod (NodePublishVolume), then applies
// the pod's fsGroup as the CSIDriver's fsGroupPolicy says. Teardown unpublishes, and
// unstages once no pod on the node uses the volume any more.
//
// Layout (the kubelet's):
//   <root>/plugins/kubernetes.io/csi/<driver>/<sha256(volumeHandle)>/globalmount   staging
//   <root>/plugins/kubernetes.io/csi/<driver>/<sha256(volumeHandle)>/vol_data.json
//   <pods_dir>/<uid>/volumes/kubernetes.io~csi/<pv>/mount                           published
//   <pods_dir>/<uid>/volumes/kubernetes.io~csi/<pv>/vol_data.json
// vol_data.json (driver, handle, PV, staging path) is written before any CSI call, so
// teardown and the restart sweep work from the disk alone: pods deleted while the agent
// was down, and volumes staged for them, are released without the API.
//
// Nothing is mounted by this class itself: the driver mounts, only at the paths above.
//
// Thread-safety: every method may be called from any thread; operations on one volume
// (driver + handle) are serialised, so a pod's unstage and another's stage never overlap.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "csi/client/csi_client.h"
#include "csi/volume/mounter.h"
#include "csi/volume/volume_manager.h"

namespace kernlet::csi {

// The node calls of one CSI driver (CsiClient in production, a fake in tests).
class NodeDriver {
 public:
  virtual ~NodeDriver() = default;
  virtual Result<NodeCapabilities> node_get_capabilities() = 0;
  virtual Result<void> node_stage_volume(const StageParams& p) = 0;
  virtual Result<void> node_unstage_volume(const std::string& volume_id, const std::string& staging_path) = 0;
  virtual Result<void> node_publish_volume(const PublishParams& p) = 0;
  virtual Result<void> node_unpublish_volume(const std::string& volume_id, const std::string& target_path) = 0;
};

// A NodeDriver over a CsiClient (which must outlive it).
std::shared_ptr<NodeDriver> node_driver_of(std::shared_ptr<CsiClient> client);

struct CsiNodeDeps {
  // Fresh lookups (nullopt: the object does not exist; an error: cannot be known now).
  std::function<Result<std::optional<json::object>>(std::string_view ns, std::string_view name)> claim;
  std::function<Result<std::optional<json::object>>(std::string_view name)> volume;      // PV
  std::function<Result<std::optional<json::object>>(std::string_view name)> csi_driver;  // CSIDriver
  // The driver registered on this node under `name`; kNotFound when there is none.
  std::function<Result<std::shared_ptr<NodeDriver>>(std::string_view name)> driver;
};

// What vol_data.json records.
struct CsiVolumeRecord {
  std::string driver;
  std::string volume_handle;
  std::string pv_name;
  std::string staging_path;  // "" when the driver does not stage
};

class CsiNodeVolumes final : public PersistentVolumePlugin {
 public:
  // `root_dir` is the agent's --root-dir (staging under <root>/plugins), `pods_dir` the
  // volume manager's; `mounter` (must outlive this) tells what is mounted.
  CsiNodeVolumes(std::string root_dir, std::string pods_dir, Mounter& mounter, CsiNodeDeps deps);

  Result<VolumeInfo> setup(const json::object& pod, const api::VolumeView& v, const std::string& pod_dir) override;
  Result<void> teardown_pod(std::string_view pod_uid, const std::string& pod_dir) override;

  // Unstages every staged volume that no pod directory refers to any more (what a crash
  // between a pod's removal and the unstage leaves). Returns how many were released.
  Result<int> unstage_unused();

  // <root>/plugins/kubernetes.io/csi/<driver>/<sha256 hex of handle>
  std::string global_dir(std::string_view driver, std::string_view volume_handle) const;

 private:
  std::shared_ptr<std::mutex> volume_lock(const std::string& driver, const std::string& handle);
  Result<void> unpublish(const std::string& pv_dir, const CsiVolumeRecord& rec);
  Result<void> unstage_if_unused(const CsiVolumeRecord& rec);
  // Whether a pod directory other than `except_pv_dir` records this volume.
  Result<bool> used_by_a_pod(const CsiVolumeRecord& rec, const std::string& except_pv_dir);

  const std::string root_dir_;
  const std::string pods_dir_;
  Mounter& mounter_;
  const CsiNodeDeps deps_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;  // "driver/handle"
};

// The record in vol_data.json, and back. Pure.
std::string encode_volume_record(const CsiVolumeRecord& rec);
Result<CsiVolumeRecord> decode_volume_record(std::string_view text, std::string_view what);

// The lower-case hex SHA-256 of `s`.
std::string sha256_hex(std::string_view s);

}  // namespace kernlet::csi
