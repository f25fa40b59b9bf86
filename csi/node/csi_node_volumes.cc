#include "csi/node/csi_node_volumes.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "api/object.h"
#include "api/objects/pod.h"
#include "csi/node/fs_group.h"
#include "csi/volume/fs_util.h"

namespace kernlet::csi {

namespace {

constexpr std::string_view kRecordFile = "vol_data.json";

class ClientNodeDriver final : public NodeDriver {
 public:
  explicit ClientNodeDriver(std::shared_ptr<CsiClient> c) : c_(std::move(c)) {}
  Result<NodeCapabilities> node_get_capabilities() override { return c_->node_get_capabilities(); }
  Result<void> node_stage_volume(const StageParams& p) override { return c_->node_stage_volume(p); }
  Result<void> node_unstage_volume(const std::string& id, const std::string& path) override {
    return c_->node_unstage_volume(id, path);
  }
  Result<void> node_publish_volume(const PublishParams& p) override { return c_->node_publish_volume(p); }
  Result<void> node_unpublish_volume(const std::string& id, const std::string& path) override {
    return c_->node_unpublish_volume(id, path);
  }

 private:
  std::shared_ptr<CsiClient> c_;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::optional<std::string>> read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error::from_errno("open " + path);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Error::from_errno("read " + path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) {
      ::close(fd);
      return Error(ErrorCode::kInvalidArgument, path + ": larger than 1 MiB");
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(out));
}

// Written to a temporary and renamed, and fsynced: a crash leaves the old record or the new.
Result<void> write_record(const std::string& dir, const CsiVolumeRecord& rec) {
  std::string path = dir + "/" + std::string(kRecordFile);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return Error::from_errno("create " + tmp);
  std::string text = encode_volume_record(rec);
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd) != 0) {
    Error e = Error::from_errno("write " + tmp);
    ::close(fd);
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename " + tmp);
  return Ok();
}

Result<std::optional<CsiVolumeRecord>> load_record(const std::string& dir) {
  std::string path = dir + "/" + std::string(kRecordFile);
  KL_ASSIGN_OR_RETURN(std::optional<std::string> text, read_small_file(path));
  if (!text) return std::optional<CsiVolumeRecord>();
  KL_ASSIGN_OR_RETURN(CsiVolumeRecord rec, decode_volume_record(*text, path));
  return std::optional<CsiVolumeRecord>(std::move(rec));
}

bool safe_component(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

std::vector<std::string> strings_of(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* a = json::get_array(o, key))
    for (const json::value& v : *a)
      if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

StringMap string_map_of(const json::object* o) {
  StringMap out;
  if (o == nullptr) return out;
  for (const auto& kv : *o)
    if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().get_string());
  return out;
}

}  // namespace

std::shared_ptr<NodeDriver> node_driver_of(std::shared_ptr<CsiClient> client) {
  return std::make_shared<ClientNodeDriver>(std::move(client));
}

std::string sha256_hex(std::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::string encode_volume_record(const CsiVolumeRecord& rec) {
  json::object o;
  o["driverName"] = rec.driver;
  o["volumeHandle"] = rec.volume_handle;
  o["specVolID"] = rec.pv_name;
  if (!rec.staging_path.empty()) o["stagingPath"] = rec.staging_path;
  return json::dump(o);
}

Result<CsiVolumeRecord> decode_volume_record(std::string_view text, std::string_view what) {
  Result<json::object> o = json::parse_object(text, what);
  if (!o.ok()) return std::move(o).error();
  CsiVolumeRecord rec;
  rec.driver = std::string(json::get_string(*o, "driverName"));
  rec.volume_handle = std::string(json::get_string(*o, "volumeHandle"));
  rec.pv_name = std::string(json::get_string(*o, "specVolID"));
  rec.staging_path = std::string(json::get_string(*o, "stagingPath"));
  if (rec.driver.empty() || rec.volume_handle.empty())
    return Error(ErrorCode::kInvalidArgument, std::string(what) + ": driverName or volumeHandle missing");
  return rec;
}

CsiNodeVolumes::CsiNodeVolumes(std::string root_dir, std::string pods_dir, Mounter& mounter, CsiNodeDeps deps)
    : root_dir_(std::move(root_dir)), pods_dir_(std::move(pods_dir)), mounter_(mounter), deps_(std::move(deps)) {}

std::string CsiNodeVolumes::global_dir(std::string_view driver, std::string_view volume_handle) const {
  return root_dir_ + "/plugins/kubernetes.io/csi/" + std::string(driver) + "/" + sha256_hex(volume_handle);
}

std::shared_ptr<std::mutex> CsiNodeVolumes::volume_lock(const std::string& driver, const std::string& handle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& m = locks_[driver + "/" + handle];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

Result<VolumeInfo> CsiNodeVolumes::setup(const json::object& pod, const api::VolumeView& v,
                                         const std::string& pod_dir) {
  const json::object& src = *v.source();
  std::string ns(api::Meta(pod).namespace_());
  std::string claim_name(json::get_string(src, "claimName"));
  if (claim_name.empty()) return Error(ErrorCode::kInvalidArgument, "persistentVolumeClaim.claimName missing");
  bool read_only = json::get_bool_or(src, "readOnly", false);

  // The claim, Bound to a volume made for it.
  if (!deps_.claim) return Error("no claim source configured");
  KL_ASSIGN_OR_RETURN(std::optional<json::object> claim, deps_.claim(ns, claim_name));
  if (!claim) return Error(ErrorCode::kNotFound, "persistentvolumeclaim \"" + claim_name + "\" not found");
  api::Meta cm(*claim);
  const json::object* cstatus = json::get_object(*claim, "status");
  const json::object* cspec = json::get_object(*claim, "spec");
  std::string phase(cstatus ? json::get_string(*cstatus, "phase") : "");
  std::string pv_name(cspec ? json::get_string(*cspec, "volumeName") : "");
  if (cm.being_deleted()) {
    // A claim deleted under a running pod stays (pvc-protection) until the pod goes: a
    // volume this pod already has stays usable (an agent restart sets it up again), a new
    // mount is refused, as the kubelet does.
    bool published = false;
    if (safe_component(pv_name)) {
      KL_ASSIGN_OR_RETURN(published, mounter_.is_mount_point(pod_dir + "/volumes/" +
                                                             std::string(plugin_dir_name(VolumeKind::kCsi)) + "/" +
                                                             pv_name + "/mount"));
    }
    if (!published)
      return Error(ErrorCode::kFailedPrecondition, "persistentvolumeclaim \"" + claim_name + "\" is being deleted");
  }
  if (phase != "Bound" || pv_name.empty())
    return Error(ErrorCode::kUnavailable, "PVC " + ns + "/" + claim_name + " has non-bound phase (\"" + phase +
                                              "\") or empty pvc.Spec.VolumeName (\"" + pv_name + "\")");
  if (!safe_component(pv_name)) return Error(ErrorCode::kInvalidArgument, "invalid volume name \"" + pv_name + "\"");
  KL_ASSIGN_OR_RETURN(std::optional<json::object> pv, deps_.volume(pv_name));
  if (!pv) return Error(ErrorCode::kNotFound, "persistentvolume \"" + pv_name + "\" not found");
  const json::object* pspec = json::get_object(*pv, "spec");
  const json::object* claim_ref = pspec ? json::get_object(*pspec, "claimRef") : nullptr;
  if (claim_ref == nullptr || json::get_string(*claim_ref, "uid") != cm.uid())
    return Error(ErrorCode::kFailedPrecondition, "persistentvolume \"" + pv_name + "\" is not bound to claim " + ns +
                                                     "/" + claim_name + " (claimRef uid mismatch)");
  const json::object* csi = pspec ? json::get_object(*pspec, "csi") : nullptr;
  if (csi == nullptr)
    return Error(ErrorCode::kInvalidArgument,
                 "persistentvolume \"" + pv_name + "\": only CSI persistent volumes are supported yet");
  if (json::get_object(*csi, "nodeStageSecretRef") || json::get_object(*csi, "nodePublishSecretRef"))
    return Error(ErrorCode::kInvalidArgument,
                 "persistentvolume \"" + pv_name + "\": CSI node secrets are not supported yet");
  std::string driver_name(json::get_string(*csi, "driver"));
  std::string handle(json::get_string(*csi, "volumeHandle"));
  if (driver_name.empty() || handle.empty() || !safe_component(driver_name))
    return Error(ErrorCode::kInvalidArgument, "persistentvolume \"" + pv_name + "\": spec.csi driver or volumeHandle missing");
  read_only = read_only || json::get_bool_or(*csi, "readOnly", false);
  std::vector<std::string> access_modes = strings_of(*pspec, "accessModes");

  // The driver on this node (kubelet's wording, so users searching for it find answers).
  Result<std::shared_ptr<NodeDriver>> drv = deps_.driver(driver_name);
  if (!drv.ok()) {
    if (drv.error().code() == ErrorCode::kNotFound)
      return Error(ErrorCode::kUnavailable, "driver name " + driver_name + " not found in the list of registered CSI drivers");
    return std::move(drv).error();
  }
  std::string mount_failed = "MountVolume.SetUp failed for volume \"" + pv_name + "\"";
  Result<NodeCapabilities> caps = (*drv)->node_get_capabilities();
  if (!caps.ok()) return std::move(caps).error().context(mount_failed);

  VolumeCapability cap;
  cap.fs_type = std::string(json::get_string(*csi, "fsType"));
  cap.mount_flags = strings_of(*pspec, "mountOptions");
  if (!access_modes.empty()) {
    KL_ASSIGN_OR_RETURN(cap.access_mode, access_mode_from_k8s(access_modes.front()));
  }
  StringMap attributes = string_map_of(json::get_object(*csi, "volumeAttributes"));

  std::shared_ptr<std::mutex> vlock = volume_lock(driver_name, handle);
  std::lock_guard<std::mutex> guard(*vlock);

  CsiVolumeRecord rec{driver_name, handle, pv_name, ""};
  // Stage once per node.
  if (caps->stage_unstage_volume) {
    std::string gdir = global_dir(driver_name, handle);
    rec.staging_path = gdir + "/globalmount";
    KL_TRY(make_dirs(rec.staging_path, 0750));
    KL_TRY(write_record(gdir, rec));
    KL_ASSIGN_OR_RETURN(bool staged, mounter_.is_mount_point(rec.staging_path));
    if (!staged) {
      StageParams sp;
      sp.volume_id = handle;
      sp.staging_target_path = rec.staging_path;
      sp.capability = cap;
      sp.volume_context = attributes;
      if (auto r = (*drv)->node_stage_volume(sp); !r.ok())
        return std::move(r).error().context("MountVolume.MountDevice failed for volume \"" + pv_name + "\"");
    }
  }

  // Publish into the pod. The record goes first: a crash after the driver mounted still
  // leaves teardown a way to find the mount.
  std::string pv_dir = pod_dir + "/volumes/" + std::string(plugin_dir_name(VolumeKind::kCsi)) + "/" + pv_name;
  std::string target = pv_dir + "/mount";
  KL_TRY(make_dirs(pv_dir, 0750));
  KL_TRY(write_record(pv_dir, rec));
  KL_ASSIGN_OR_RETURN(bool published, mounter_.is_mount_point(target));
  if (!published) {
    PublishParams pp;
    pp.volume_id = handle;
    pp.staging_target_path = rec.staging_path;
    pp.target_path = target;
    pp.capability = cap;
    pp.readonly = read_only;
    pp.volume_context = attributes;
    if (auto r = (*drv)->node_publish_volume(pp); !r.ok()) return std::move(r).error().context(mount_failed);

    // fsGroup, once, when the volume is published (OnRootMismatch skips the walk if the
    // root already has the group).
    const json::object* sc = api::PodView(pod).spec().security_context();
    std::optional<int64_t> fs_group = sc ? json::get_int(*sc, "fsGroup") : std::nullopt;
    if (fs_group && *fs_group >= 0) {
      std::string policy;
      KL_ASSIGN_OR_RETURN(std::optional<json::object> cd, deps_.csi_driver(driver_name));
      if (cd) {
        if (const json::object* s = json::get_object(*cd, "spec")) policy = std::string(json::get_string(*s, "fsGroupPolicy"));
      }
      if (fs_group_applies(policy, cap.fs_type, access_modes, read_only)) {
        bool on_mismatch = json::get_string(*sc, "fsGroupChangePolicy") == "OnRootMismatch";
        if (auto r = apply_fs_group(target, static_cast<gid_t>(*fs_group), on_mismatch); !r.ok())
          return std::move(r).error().context(mount_failed);
      }
    }
  }

  VolumeInfo info;
  info.name = std::string(v.name());
  info.kind = VolumeKind::kCsi;
  info.host_path = target;
  info.read_only = read_only;
  return info;
}

Result<void> CsiNodeVolumes::unpublish(const std::string& pv_dir, const CsiVolumeRecord& rec) {
  std::string target = pv_dir + "/mount";
  KL_ASSIGN_OR_RETURN(bool mounted, mounter_.is_mount_point(target));
  if (mounted || exists(target)) {
    Result<std::shared_ptr<NodeDriver>> drv = deps_.driver(rec.driver);
    if (!drv.ok())
      return Error(ErrorCode::kUnavailable, "UnmountVolume.TearDown failed for volume \"" + rec.pv_name +
                                                "\" : driver name " + rec.driver +
                                                " not found in the list of registered CSI drivers");
    if (auto r = (*drv)->node_unpublish_volume(rec.volume_handle, target); !r.ok())
      return std::move(r).error().context("UnmountVolume.TearDown failed for volume \"" + rec.pv_name + "\"");
    KL_ASSIGN_OR_RETURN(bool still, mounter_.is_mount_point(target));
    if (still) return Error("UnmountVolume.TearDown failed for volume \"" + rec.pv_name + "\" : " + target + " is still mounted");
  }
  KL_TRY(remove_tree(pv_dir));
  return Ok();
}

Result<bool> CsiNodeVolumes::used_by_a_pod(const CsiVolumeRecord& rec, const std::string& except_pv_dir) {
  KL_ASSIGN_OR_RETURN(std::vector<std::string> pods, list_subdirs(pods_dir_));
  for (const std::string& uid : pods) {
    std::string csi_dir = pods_dir_ + "/" + uid + "/volumes/" + std::string(plugin_dir_name(VolumeKind::kCsi));
    KL_ASSIGN_OR_RETURN(std::vector<std::string> pvs, list_subdirs(csi_dir));
    for (const std::string& pv : pvs) {
      std::string dir = csi_dir + "/" + pv;
      if (dir == except_pv_dir) continue;
      Result<std::optional<CsiVolumeRecord>> other = load_record(dir);
      if (!other.ok()) return std::move(other).error();
      if (*other && (*other)->driver == rec.driver && (*other)->volume_handle == rec.volume_handle) return true;
    }
  }
  return false;
}

Result<void> CsiNodeVolumes::unstage_if_unused(const CsiVolumeRecord& rec) {
  if (rec.staging_path.empty()) return Ok();
  KL_ASSIGN_OR_RETURN(bool used, used_by_a_pod(rec, ""));
  if (used) return Ok();
  std::string gdir = global_dir(rec.driver, rec.volume_handle);
  // Only the path this class made for the volume is ever handed to the driver.
  if (rec.staging_path != gdir + "/globalmount")
    return Error(ErrorCode::kInvalidArgument, "volume " + rec.pv_name + ": recorded staging path " + rec.staging_path +
                                                  " is not " + gdir + "/globalmount");
  KL_ASSIGN_OR_RETURN(bool staged, mounter_.is_mount_point(rec.staging_path));
  if (staged) {
    Result<std::shared_ptr<NodeDriver>> drv = deps_.driver(rec.driver);
    if (!drv.ok())
      return Error(ErrorCode::kUnavailable, "UnmountDevice failed for volume \"" + rec.pv_name + "\" : driver name " +
                                                rec.driver + " not found in the list of registered CSI drivers");
    if (auto r = (*drv)->node_unstage_volume(rec.volume_handle, rec.staging_path); !r.ok())
      return std::move(r).error().context("UnmountDevice failed for volume \"" + rec.pv_name + "\"");
    KL_ASSIGN_OR_RETURN(bool still, mounter_.is_mount_point(rec.staging_path));
    if (still) return Error("UnmountDevice failed for volume \"" + rec.pv_name + "\" : " + rec.staging_path + " is still mounted");
  }
  KL_TRY(remove_tree(gdir));
  return Ok();
}

Result<void> CsiNodeVolumes::teardown_pod(std::string_view pod_uid, const std::string& pod_dir) {
  std::string csi_dir = pod_dir + "/volumes/" + std::string(plugin_dir_name(VolumeKind::kCsi));
  KL_ASSIGN_OR_RETURN(std::vector<std::string> pvs, list_subdirs(csi_dir));
  for (const std::string& pv : pvs) {
    std::string pv_dir = csi_dir + "/" + pv;
    KL_ASSIGN_OR_RETURN(std::optional<CsiVolumeRecord> rec, load_record(pv_dir));
    if (!rec) {
      // setup failed before it wrote the record: nothing was handed to a driver. A mount
      // here is not ours: the manager's teardown refuses to delete through it.
      KL_ASSIGN_OR_RETURN(bool mounted, mounter_.is_mount_point(pv_dir + "/mount"));
      if (mounted) return Error("pod " + std::string(pod_uid) + ": " + pv_dir + "/mount is mounted but has no " + std::string(kRecordFile));
      KL_TRY(remove_tree(pv_dir));
      continue;
    }
    std::shared_ptr<std::mutex> vlock = volume_lock(rec->driver, rec->volume_handle);
    std::lock_guard<std::mutex> guard(*vlock);
    KL_TRY(unpublish(pv_dir, *rec));
    KL_TRY(unstage_if_unused(*rec));
  }
  return Ok();
}

Result<int> CsiNodeVolumes::unstage_unused() {
  int released = 0;
  std::string base = root_dir_ + "/plugins/kubernetes.io/csi";
  KL_ASSIGN_OR_RETURN(std::vector<std::string> drivers, list_subdirs(base));
  for (const std::string& d : drivers) {
    KL_ASSIGN_OR_RETURN(std::vector<std::string> vols, list_subdirs(base + "/" + d));
    for (const std::string& h : vols) {
      std::string gdir = base + "/" + d + "/" + h;
      KL_ASSIGN_OR_RETURN(std::optional<CsiVolumeRecord> rec, load_record(gdir));
      if (!rec || rec->driver != d || global_dir(rec->driver, rec->volume_handle) != gdir) continue;
      std::shared_ptr<std::mutex> vlock = volume_lock(rec->driver, rec->volume_handle);
      std::lock_guard<std::mutex> guard(*vlock);
      KL_ASSIGN_OR_RETURN(bool used, used_by_a_pod(*rec, ""));
      if (used) continue;
      KL_TRY(unstage_if_unused(*rec));
      ++released;
    }
  }
  return released;
}

}  // namespace kernlet::csi
