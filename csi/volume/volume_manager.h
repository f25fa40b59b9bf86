// VolumeManager: the node agent's volumes for ordinary manifests, with the kubelet's
// semantics and on-disk layout. The pod worker calls setup() before it creates a pod's
// containers, container_mounts() per container (turning the result into runtime bind
// mounts), refresh() on later syncs so configMap/secret/downwardAPI/projected contents
// follow their sources, and teardown() once the pod's containers are gone.
//
// Layout (as the kubelet's, so tools that know it find their way):
//   <pods_dir>/<uid>/volumes/kubernetes.io~empty-dir/<name>     directory, or tmpfs (Memory)
//   <pods_dir>/<uid>/volumes/kubernetes.io~configmap/<name>     AtomicWriter layout
//   <pods_dir>/<uid>/volumes/kubernetes.io~secret/<name>        tmpfs + AtomicWriter
//   <pods_dir>/<uid>/volumes/kubernetes.io~downward-api/<name>  tmpfs + AtomicWriter
//   <pods_dir>/<uid>/volumes/kubernetes.io~projected/<name>     tmpfs + AtomicWriter
//   <pods_dir>/<uid>/volumes/kubernetes.io~csi/<pv>/mount       persistentVolumeClaim (CSI)
//   <pods_dir>/<uid>/volume-subpaths/<volume>/<container>/<i>   fd-pinned subPath binds
// hostPath volumes use the host path itself and leave nothing under the pod.
//
// Supported sources: emptyDir, hostPath, configMap, secret, downwardAPI, projected
// (configMap, secret and downwardAPI sources), and persistentVolumeClaim when a
// PersistentVolumePlugin is set (csi/node's CsiNodeVolumes: claim -> PV -> CSI driver).
// Not supported yet, each a clear error: inline csi, ephemeral and the other in-tree or
// network sources, the HugePages emptyDir media, and projected serviceAccountToken /
// clusterTrustBundle sources.
//
// Thread-safety: calls for one pod must be serialised (the pod worker does: one sync per
// pod at a time); calls for different pods may run concurrently if the Mounter allows it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/pod.h"
#include "api/result.h"
#include "csi/volume/mounter.h"
#include "csi/volume/subpath.h"

namespace kernlet::csi {

// Where the contents of configMap/secret volumes come from, and node facts.
struct VolumeSources {
  // Fresh lookups by namespace and name (the worker serves them from informer caches):
  // nullopt when the object does not exist, an error when it cannot be known now.
  std::function<Result<std::optional<json::object>>(std::string_view ns, std::string_view name)>
      config_map, secret;
  // Node allocatable: the tmpfs size of Memory volumes without sizeLimit and the value of
  // downwardAPI limits.* for containers without that limit.
  api::ResourceList node_allocatable;
  // The node's name. Not read yet (no volume here needs it); kept for the CSI node calls
  // that will.
  std::string node_name;
};

enum class VolumeKind { kEmptyDir, kHostPath, kConfigMap, kSecret, kDownwardAPI, kProjected, kCsi };

// One set-up volume of a pod.
struct VolumeInfo {
  std::string name;
  VolumeKind kind = VolumeKind::kEmptyDir;
  std::string host_path;  // what container mounts bind (the host path for hostPath)
  // configMap, secret, downwardAPI and projected volumes are always mounted read-only,
  // whatever the volumeMount says (as the kubelet since 1.10).
  bool read_only = false;
  bool tmpfs = false;                     // backed by a tmpfs this manager mounted
  std::optional<uint64_t> tmpfs_size;     // the size= given to it (nullopt: kernel default)
  std::optional<uint64_t> size_limit;     // emptyDir.sizeLimit in bytes, for eviction
};

// The volumes of one pod after setup().
struct PodVolumes {
  std::string pod_uid;
  std::map<std::string, VolumeInfo, std::less<>> volumes;  // by volume name
};

enum class MountPropagation { kNone, kHostToContainer, kBidirectional };

// One bind mount a container needs.
struct VolumeMount {
  std::string volume;          // the volume's name
  std::string host_path;       // the source: volume path, or the pinned subPath mount
  std::string container_path;  // mountPath
  bool read_only = false;      // volumeMount.readOnly or a read-only volume kind
  MountPropagation propagation = MountPropagation::kNone;  // rprivate / rslave / rshared
  std::string sub_path;        // the (expanded) subPath, "" for the whole volume
};

// The persistentVolumeClaim volumes of pods: implemented over CSI by csi/node's
// CsiNodeVolumes, an interface here so the manager (and its tests) need no driver.
class PersistentVolumePlugin {
 public:
  virtual ~PersistentVolumePlugin() = default;
  // Makes the claim volume `v` of `pod` available under `pod_dir` (<pods_dir>/<uid>):
  // kind kCsi, host_path the directory containers bind, read_only as the pod and the PV
  // say. Idempotent. Errors name the claim/volume and carry the driver's message.
  virtual Result<VolumeInfo> setup(const json::object& pod, const api::VolumeView& v, const std::string& pod_dir) = 0;
  // Releases every claim volume of the pod whose directory is `pod_dir`, from what is on
  // disk (so it works for pods the agent no longer knows), before the manager removes the
  // directory. Idempotent; an error leaves the directory for the retry.
  virtual Result<void> teardown_pod(std::string_view pod_uid, const std::string& pod_dir) = 0;
};

class VolumeManager {
 public:
  // `pods_dir` is <root-dir>/pods; `mounter` must outlive the manager.
  VolumeManager(std::string pods_dir, Mounter& mounter);

  // Serves persistentVolumeClaim volumes through `plugin` (must outlive the manager); set
  // before the first setup. Without one such volumes are "not supported yet".
  void set_persistent_volume_plugin(PersistentVolumePlugin* plugin) { persistent_ = plugin; }

  // Sets up every volume of the pod; idempotent (a mounted tmpfs is kept, unchanged
  // contents are not rewritten). A volume whose setup fails and that this call created is
  // removed again (tmpfs unmounted), earlier ones are kept for the retry. Errors name the
  // pod and the volume: `pod ns/web volume cfg: configmap "cfg" not found`.
  Result<PodVolumes> setup(const json::object& pod, const VolumeSources& sources);

  // Brings configMap, secret, downwardAPI and projected contents up to date (each swapped
  // in atomically); volumes not set up yet are skipped. Errors as setup().
  Result<void> refresh(const json::object& pod, const VolumeSources& sources);

  // The mounts of container `c`: one per volumeMount, in order. subPath/subPathExpr are
  // resolved beneath the volume (never through a symlink or ".." out of it) and handed out
  // as an fd-pinned bind mount under volume-subpaths/, so swapping a symlink later changes
  // nothing. `env` is the container's resolved environment (for subPathExpr). Errors: an
  // unknown volume (`cannot find volume "x" to mount into container "c"`), a duplicate
  // mountPath, Bidirectional propagation in an unprivileged container, a bad subPath.
  Result<std::vector<VolumeMount>> container_mounts(const json::object& pod, const api::ContainerView& c,
                                                    const PodVolumes& volumes, const EnvMap& env);
  // As above with the container's literal env values (`value:` entries) as environment.
  Result<std::vector<VolumeMount>> container_mounts(const json::object& pod, const api::ContainerView& c,
                                                    const PodVolumes& volumes);

  // Releases the pod's claim volumes through the plugin, then unmounts everything under
  // <pods_dir>/<uid> (deepest first) and removes that directory; idempotent. Refuses to delete anything while a mount is left there.
  Result<void> teardown(std::string_view pod_uid);

  // The uids of the pod directories under pods_dir, to tear down orphans after a restart.
  Result<std::vector<std::string>> pods_on_disk();

  // <pods_dir>/<uid>: the pod's directory.
  std::string pod_dir(std::string_view pod_uid) const;

 private:
  Result<VolumeInfo> setup_volume(const json::object& pod, const api::VolumeView& v,
                                  const VolumeSources& sources, bool refresh_only);
  Result<void> setup_content_volume(const json::object& pod, const api::VolumeView& v,
                                    const VolumeSources& sources, VolumeInfo& info, bool refresh_only);
  Result<std::string> bind_sub_path(const std::string& pod_uid, const VolumeInfo& vol,
                                    std::string_view container, size_t index, std::string_view sub_path);

  std::string pods_dir_;
  Mounter& mounter_;
  PersistentVolumePlugin* persistent_ = nullptr;
};

// Upstream's tmpfs size for a Memory-backed volume: node allocatable memory, lowered to
// the pod's memory limit when it has one, lowered to sizeLimit when that is smaller
// (0 < value <= the size so far). nullopt when none of them is known.
Result<std::optional<uint64_t>> memory_volume_size(const json::object& pod,
                                                   const std::optional<uint64_t>& size_limit,
                                                   const api::ResourceList& node_allocatable);

// The plugin directory name of a volume kind ("kubernetes.io~empty-dir", ...).
std::string_view plugin_dir_name(VolumeKind kind);

}  // namespace kernlet::csi
