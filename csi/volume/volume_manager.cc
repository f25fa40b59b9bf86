#include "csi/volume/volume_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "api/objects/config.h"
#include "csi/volume/atomic_writer.h"
#include "csi/volume/downward_api.h"
#include "csi/volume/fs_util.h"
#include "csi/volume/host_path.h"

namespace kernlet::csi {

namespace {

constexpr mode_t kDefaultMode = 0644;  // ConfigMap/Secret/DownwardAPI/Projected default

Error not_supported(std::string what) {
  return Error(ErrorCode::kInvalidArgument, std::move(what) + " not supported yet");
}

bool safe_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string pod_label(const json::object& pod) {
  api::Meta m(pod);
  return std::string(m.namespace_()) + "/" + std::string(m.name());
}

std::optional<gid_t> fs_group_of(const json::object& pod) {
  const json::object* sc = api::PodView(pod).spec().security_context();
  if (sc == nullptr) return std::nullopt;
  std::optional<int64_t> g = json::get_int(*sc, "fsGroup");
  if (!g || *g < 0) return std::nullopt;
  return static_cast<gid_t>(*g);
}

Result<mode_t> mode_field(const json::object& o, std::string_view key, mode_t fallback) {
  std::optional<int64_t> m = json::get_int(o, key);
  if (!m) return fallback;
  if (*m < 0 || *m > 0777)
    return Error(ErrorCode::kInvalidArgument, std::string(key) + ": " + std::to_string(*m) +
                                                  " is not a valid file mode (0-0777)");
  return static_cast<mode_t>(*m);
}

// The items/all-keys payload of a configMap or secret (kubelet's MakePayload).
Result<void> add_keyed_payload(const api::DataMap& data, const json::object& src, mode_t default_mode,
                               bool optional, std::string_view kind, Payload& out) {
  const json::array* items = json::get_array(src, "items");
  if (items == nullptr || items->empty()) {
    for (const auto& [k, v] : data) out[k] = FileProjection{v, default_mode};
    return Ok();
  }
  for (const json::object* item : api::get_object_array(src, "items")) {
    std::string_view key = json::get_string(*item, "key");
    std::string_view path = json::get_string(*item, "path");
    auto it = data.find(key);
    if (it == data.end()) {
      if (optional) continue;
      if (kind == "configmap")
        return Error(ErrorCode::kNotFound, "configmap references non-existent config key: " + std::string(key));
      return Error(ErrorCode::kNotFound, "secret references non-existent secret key: " + std::string(key));
    }
    KL_ASSIGN_OR_RETURN(mode_t mode, mode_field(*item, "mode", default_mode));
    out[std::string(path)] = FileProjection{it->second, mode};
  }
  return Ok();
}

// Looks a configMap (kind "configmap") or secret up and adds its payload.
Result<void> add_object_payload(const json::object& pod, const json::object& src, std::string_view name_key,
                                mode_t default_mode, std::string_view kind, const VolumeSources& sources,
                                Payload& out) {
  std::string_view name = json::get_string(src, name_key);
  bool optional = json::get_bool_or(src, "optional", false);
  const auto& lookup = kind == "configmap" ? sources.config_map : sources.secret;
  if (!lookup) return Error(std::string("no ") + std::string(kind) + " source configured");
  Result<std::optional<json::object>> got = lookup(api::Meta(pod).namespace_(), name);
  if (!got.ok()) return std::move(got).error().context("get " + std::string(kind) + " " + std::string(name));
  api::DataMap data;
  if (!got->has_value()) {
    if (!optional)
      return Error(ErrorCode::kNotFound, (kind == "configmap" ? "configmap \"" : "secret \"") +
                                             std::string(name) + "\" not found");
  } else if (kind == "configmap") {
    KL_ASSIGN_OR_RETURN(data, api::ConfigMapView(**got).all_data());
  } else {
    KL_ASSIGN_OR_RETURN(data, api::SecretView(**got).decoded_data());
  }
  return add_keyed_payload(data, src, default_mode, optional, kind, out);
}

// downwardAPI items (a downwardAPI volume or projected source).
Result<void> add_downward_payload(const json::object& pod, const json::object& src, mode_t default_mode,
                                  const VolumeSources& sources, Payload& out) {
  for (const json::object* item : api::get_object_array(src, "items")) {
    std::string path(json::get_string(*item, "path"));
    KL_ASSIGN_OR_RETURN(mode_t mode, mode_field(*item, "mode", default_mode));
    std::string value;
    if (const json::object* f = json::get_object(*item, "fieldRef")) {
      Result<std::string> v = downward_field_value(pod, json::get_string(*f, "fieldPath"));
      if (!v.ok()) return std::move(v).error().context("downwardAPI item " + path);
      value = std::move(*v);
    } else if (const json::object* r = json::get_object(*item, "resourceFieldRef")) {
      Result<std::string> v =
          downward_resource_value(pod, json::get_string(*r, "containerName"), json::get_string(*r, "resource"),
                                  json::find(*r, "divisor"), sources.node_allocatable);
      if (!v.ok()) return std::move(v).error().context("downwardAPI item " + path);
      value = std::move(*v);
    } else {
      return Error(ErrorCode::kInvalidArgument, "downwardAPI item " + path + ": neither fieldRef nor resourceFieldRef");
    }
    out[path] = FileProjection{std::move(value), mode};
  }
  return Ok();
}

Result<std::optional<uint64_t>> quantity_bytes(const json::value* v, std::string_view what) {
  if (v == nullptr || v->is_null()) return std::optional<uint64_t>();
  Result<Quantity> q = api::quantity_from_json(*v);
  if (!q.ok()) return std::move(q).error().context(what);
  Result<int64_t> b = q->value();
  if (!b.ok()) return std::move(b).error().context(what);
  if (*b < 0) return Error(ErrorCode::kInvalidArgument, std::string(what) + ": negative");
  return std::optional<uint64_t>(static_cast<uint64_t>(*b));
}

// The pod's memory limit as its cgroup gets it, nullopt when some container has none.
Result<std::optional<uint64_t>> pod_memory_limit(const json::object& pod) {
  api::PodSpecView spec = api::PodView(pod).spec();
  if (spec.resources().limits().has("memory")) {
    KL_ASSIGN_OR_RETURN(Quantity q, spec.resources().limit("memory"));
    KL_ASSIGN_OR_RETURN(int64_t v, q.value());
    return std::optional<uint64_t>(static_cast<uint64_t>(v));
  }
  int64_t sum = 0, init_max = 0;
  for (const auto& c : spec.containers()) {
    if (!c.resources().limits().has("memory")) return std::optional<uint64_t>();
    KL_ASSIGN_OR_RETURN(Quantity q, c.resources().limit("memory"));
    KL_ASSIGN_OR_RETURN(int64_t v, q.value());
    sum += v;
  }
  for (const auto& c : spec.init_containers()) {
    if (!c.resources().limits().has("memory")) return std::optional<uint64_t>();
    KL_ASSIGN_OR_RETURN(Quantity q, c.resources().limit("memory"));
    KL_ASSIGN_OR_RETURN(int64_t v, q.value());
    if (c.is_sidecar()) {
      sum += v;
    } else {
      init_max = std::max(init_max, v);
    }
  }
  int64_t limit = std::max(sum, init_max);
  if (spec.overhead().has("memory")) {
    KL_ASSIGN_OR_RETURN(Quantity q, spec.overhead().get("memory"));
    KL_ASSIGN_OR_RETURN(int64_t v, q.value());
    limit += v;
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(limit));
}

}  // namespace

std::string_view plugin_dir_name(VolumeKind kind) {
  switch (kind) {
    case VolumeKind::kEmptyDir: return "kubernetes.io~empty-dir";
    case VolumeKind::kHostPath: return "kubernetes.io~host-path";
    case VolumeKind::kConfigMap: return "kubernetes.io~configmap";
    case VolumeKind::kSecret: return "kubernetes.io~secret";
    case VolumeKind::kDownwardAPI: return "kubernetes.io~downward-api";
    case VolumeKind::kProjected: return "kubernetes.io~projected";
    case VolumeKind::kCsi: return "kubernetes.io~csi";
  }
  return "";
}

Result<std::optional<uint64_t>> memory_volume_size(const json::object& pod,
                                                   const std::optional<uint64_t>& size_limit,
                                                   const api::ResourceList& node_allocatable) {
  std::optional<uint64_t> size;
  if (auto it = node_allocatable.find("memory"); it != node_allocatable.end()) {
    KL_ASSIGN_OR_RETURN(int64_t v, it->second.value());
    if (v > 0) size = static_cast<uint64_t>(v);
  }
  KL_ASSIGN_OR_RETURN(std::optional<uint64_t> pod_limit, pod_memory_limit(pod));
  if (pod_limit && *pod_limit > 0 && (!size || *pod_limit <= *size)) size = pod_limit;
  if (size_limit && *size_limit > 0 && (!size || *size_limit <= *size)) size = size_limit;
  return size;
}

VolumeManager::VolumeManager(std::string pods_dir, Mounter& mounter)
    : pods_dir_(std::move(pods_dir)), mounter_(mounter) {}

std::string VolumeManager::pod_dir(std::string_view pod_uid) const {
  return pods_dir_ + "/" + std::string(pod_uid);
}

Result<void> VolumeManager::setup_content_volume(const json::object& pod, const api::VolumeView& v,
                                                 const VolumeSources& sources, VolumeInfo& info,
                                                 bool refresh_only) {
  const json::object& src = *v.source();
  Payload payload;
  switch (info.kind) {
    case VolumeKind::kConfigMap: {
      KL_ASSIGN_OR_RETURN(mode_t dm, mode_field(src, "defaultMode", kDefaultMode));
      KL_TRY(add_object_payload(pod, src, "name", dm, "configmap", sources, payload));
      break;
    }
    case VolumeKind::kSecret: {
      KL_ASSIGN_OR_RETURN(mode_t dm, mode_field(src, "defaultMode", kDefaultMode));
      KL_TRY(add_object_payload(pod, src, "secretName", dm, "secret", sources, payload));
      break;
    }
    case VolumeKind::kDownwardAPI: {
      KL_ASSIGN_OR_RETURN(mode_t dm, mode_field(src, "defaultMode", kDefaultMode));
      KL_TRY(add_downward_payload(pod, src, dm, sources, payload));
      break;
    }
    case VolumeKind::kProjected: {
      KL_ASSIGN_OR_RETURN(mode_t dm, mode_field(src, "defaultMode", kDefaultMode));
      for (const json::object* s : api::get_object_array(src, "sources")) {
        if (const json::object* cm = json::get_object(*s, "configMap")) {
          KL_TRY(add_object_payload(pod, *cm, "name", dm, "configmap", sources, payload));
        } else if (const json::object* sec = json::get_object(*s, "secret")) {
          KL_TRY(add_object_payload(pod, *sec, "name", dm, "secret", sources, payload));
        } else if (const json::object* d = json::get_object(*s, "downwardAPI")) {
          KL_TRY(add_downward_payload(pod, *d, dm, sources, payload));
        } else if (json::get_object(*s, "serviceAccountToken") != nullptr) {
          return not_supported("projected serviceAccountToken sources are");
        } else if (json::get_object(*s, "clusterTrustBundle") != nullptr) {
          return not_supported("projected clusterTrustBundle sources are");
        } else {
          return not_supported("this projected volume source is");
        }
      }
      break;
    }
    default:
      return Error("not a content volume");
  }

  bool existed = exists(info.host_path);
  if (refresh_only && !existed) return Ok();
  KL_TRY(make_dirs(info.host_path, 0750));
  bool mounted_now = false;
  auto undo = [&](Error e) {
    // A volume this call created does not stay half-built: the retry starts clean.
    if (mounted_now) (void)mounter_.unmount(info.host_path);
    if (!existed) (void)remove_tree(info.host_path);
    return e;
  };
  // Upstream wraps these volumes in an emptyDir, whose directory is 0777 (a tmpfs root is
  // 1777): a container running as any user must be able to reach the files.
  if (!existed && !info.tmpfs && ::chmod(info.host_path.c_str(), 0777) != 0)
    return undo(Error::from_errno("chmod " + info.host_path));
  if (info.tmpfs) {
    Result<bool> mp = mounter_.is_mount_point(info.host_path);
    if (!mp.ok()) return undo(std::move(mp).error());
    if (!*mp) {
      if (auto r = mounter_.mount_tmpfs(info.host_path, info.tmpfs_size); !r.ok()) return undo(std::move(r).error());
      mounted_now = true;
    }
  }
  AtomicWriter writer(info.host_path, "volume " + info.name);
  Result<bool> wrote = writer.write(payload, fs_group_of(pod));
  if (!wrote.ok()) return undo(std::move(wrote).error());
  return Ok();
}

Result<VolumeInfo> VolumeManager::setup_volume(const json::object& pod, const api::VolumeView& v,
                                               const VolumeSources& sources, bool refresh_only) {
  VolumeInfo info;
  info.name = std::string(v.name());
  std::string_view kind = v.source_kind();
  const json::object* src = v.source();
  if (kind == "emptyDir") info.kind = VolumeKind::kEmptyDir;
  else if (kind == "hostPath") info.kind = VolumeKind::kHostPath;
  else if (kind == "configMap") info.kind = VolumeKind::kConfigMap;
  else if (kind == "secret") info.kind = VolumeKind::kSecret;
  else if (kind == "downwardAPI") info.kind = VolumeKind::kDownwardAPI;
  else if (kind == "projected") info.kind = VolumeKind::kProjected;
  else if (kind == "persistentVolumeClaim" && persistent_ != nullptr) {
    if (refresh_only) return info;
    return persistent_->setup(pod, v, pod_dir(std::string(api::Meta(pod).uid())));
  }
  else if (kind.empty()) return Error(ErrorCode::kInvalidArgument, "no volume source given");
  else return not_supported(std::string(kind) + " volumes are");

  std::string uid(api::Meta(pod).uid());
  if (info.kind == VolumeKind::kHostPath) {
    info.host_path = std::string(json::get_string(*src, "path"));
    if (info.host_path.empty() || info.host_path.front() != '/')
      return Error(ErrorCode::kInvalidArgument, "hostPath.path must be an absolute path");
    if (!refresh_only) KL_TRY(check_host_path_type(info.host_path, json::get_string(*src, "type")));
    return info;
  }
  info.host_path = pod_dir(uid) + "/volumes/" + std::string(plugin_dir_name(info.kind)) + "/" + info.name;

  if (info.kind == VolumeKind::kEmptyDir) {
    KL_ASSIGN_OR_RETURN(info.size_limit, quantity_bytes(json::find(*src, "sizeLimit"), "emptyDir.sizeLimit"));
    std::string_view medium = json::get_string(*src, "medium");
    if (!medium.empty() && medium != "Memory") return not_supported("emptyDir medium \"" + std::string(medium) + "\" is");
    info.tmpfs = medium == "Memory";
    if (info.tmpfs) {
      KL_ASSIGN_OR_RETURN(info.tmpfs_size, memory_volume_size(pod, info.size_limit, sources.node_allocatable));
    }
    if (refresh_only) return info;
    bool existed = exists(info.host_path);
    KL_TRY(make_dirs(info.host_path, 0750));
    auto undo = [&](Error e) {
      if (!existed) (void)remove_tree(info.host_path);
      return e;
    };
    if (info.tmpfs) {
      Result<bool> mp = mounter_.is_mount_point(info.host_path);
      if (!mp.ok()) return undo(std::move(mp).error());
      if (*mp) return info;
      // The tmpfs root keeps the kernel's 1777, as upstream.
      if (auto r = mounter_.mount_tmpfs(info.host_path, info.tmpfs_size); !r.ok()) return undo(std::move(r).error());
    } else if (!existed) {
      // Upstream makes emptyDir world-writable (0777), whatever the umask left.
      if (::chmod(info.host_path.c_str(), 0777) != 0) return undo(Error::from_errno("chmod " + info.host_path));
    }
    if (std::optional<gid_t> g = fs_group_of(pod)) {
      struct stat st {};
      if (::stat(info.host_path.c_str(), &st) != 0 ||
          ::chown(info.host_path.c_str(), static_cast<uid_t>(-1), *g) != 0 ||
          ::chmod(info.host_path.c_str(), (st.st_mode & 07777) | 02770) != 0) {
        Error e = Error::from_errno("set fsGroup " + std::to_string(*g) + " on " + info.host_path);
        if (info.tmpfs) (void)mounter_.unmount(info.host_path);
        return undo(std::move(e));
      }
    }
    return info;
  }

  // configMap, secret, downwardAPI, projected. Secret-bearing kinds (and downwardAPI, as
  // upstream) live on tmpfs so their contents never reach a disk.
  info.read_only = true;
  info.tmpfs = info.kind != VolumeKind::kConfigMap;
  if (info.tmpfs) {
    KL_ASSIGN_OR_RETURN(info.tmpfs_size, memory_volume_size(pod, std::nullopt, sources.node_allocatable));
  }
  KL_TRY(setup_content_volume(pod, v, sources, info, refresh_only));
  return info;
}

Result<PodVolumes> VolumeManager::setup(const json::object& pod, const VolumeSources& sources) {
  std::string label = "pod " + pod_label(pod);
  std::string uid(api::Meta(pod).uid());
  if (!safe_name(uid)) return Error(ErrorCode::kInvalidArgument, label + ": invalid uid \"" + uid + "\"");
  PodVolumes out;
  out.pod_uid = uid;
  KL_TRY(make_dirs(pod_dir(uid) + "/volumes", 0750));
  for (const api::VolumeView& v : api::PodView(pod).spec().volumes()) {
    std::string what = label + " volume " + std::string(v.name());
    if (!safe_name(v.name())) return Error(ErrorCode::kInvalidArgument, what + ": invalid volume name");
    if (out.volumes.count(v.name()) != 0)
      return Error(ErrorCode::kInvalidArgument, what + ": duplicate volume name");
    Result<VolumeInfo> info = setup_volume(pod, v, sources, false);
    if (!info.ok()) return std::move(info).error().context(what);
    out.volumes.emplace(info->name, std::move(*info));
  }
  return out;
}

Result<void> VolumeManager::refresh(const json::object& pod, const VolumeSources& sources) {
  std::string label = "pod " + pod_label(pod);
  if (!safe_name(api::Meta(pod).uid())) return Error(ErrorCode::kInvalidArgument, label + ": invalid uid");
  for (const api::VolumeView& v : api::PodView(pod).spec().volumes()) {
    std::string_view kind = v.source_kind();
    if (kind != "configMap" && kind != "secret" && kind != "downwardAPI" && kind != "projected") continue;
    if (!safe_name(v.name())) continue;
    Result<VolumeInfo> info = setup_volume(pod, v, sources, true);
    if (!info.ok()) return std::move(info).error().context(label + " volume " + std::string(v.name()));
  }
  return Ok();
}

Result<std::string> VolumeManager::bind_sub_path(const std::string& pod_uid, const VolumeInfo& vol,
                                                 std::string_view container, size_t index,
                                                 std::string_view sub_path) {
  KL_ASSIGN_OR_RETURN(UniqueFd fd, open_sub_path(vol.host_path, sub_path));
  struct stat src {};
  if (::fstat(fd.get(), &src) != 0) return Error::from_errno("stat subpath " + std::string(sub_path));
  bool is_dir = S_ISDIR(src.st_mode);
  std::string parent = pod_dir(pod_uid) + "/volume-subpaths/" + vol.name + "/" + std::string(container);
  std::string target = parent + "/" + std::to_string(index);
  KL_TRY(make_dirs(parent, 0750));

  KL_ASSIGN_OR_RETURN(bool mounted, mounter_.is_mount_point(target));
  if (mounted) {
    // A container restart: keep the bind when it still shows the same inode.
    struct stat cur {};
    if (::stat(target.c_str(), &cur) == 0 && cur.st_dev == src.st_dev && cur.st_ino == src.st_ino) return target;
    KL_TRY(mounter_.unmount(target));
  }
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode) != is_dir) KL_TRY(remove_tree(target));
  if (is_dir) {
    if (::mkdir(target.c_str(), 0750) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + target);
  } else {
    int f = ::open(target.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (f < 0) return Error::from_errno("create " + target);
    ::close(f);
  }
  KL_TRY(mounter_.bind_mount_fd(fd.get(), target));
  return target;
}

Result<std::vector<VolumeMount>> VolumeManager::container_mounts(const json::object& pod,
                                                                 const api::ContainerView& c,
                                                                 const PodVolumes& volumes) {
  EnvMap env;
  for (const api::EnvVarView& e : c.env())
    if (e.value_from() == nullptr) env[std::string(e.name())] = std::string(e.value());
  return container_mounts(pod, c, volumes, env);
}

Result<std::vector<VolumeMount>> VolumeManager::container_mounts(const json::object& pod,
                                                                 const api::ContainerView& c,
                                                                 const PodVolumes& volumes, const EnvMap& env) {
  std::string what = "pod " + pod_label(pod) + " container \"" + std::string(c.name()) + "\"";
  std::vector<VolumeMount> out;
  std::set<std::string, std::less<>> paths;
  std::vector<api::VolumeMountView> mounts = c.volume_mounts();
  for (size_t i = 0; i < mounts.size(); ++i) {
    const api::VolumeMountView& m = mounts[i];
    auto vol = volumes.volumes.find(m.name());
    if (vol == volumes.volumes.end())
      return Error(ErrorCode::kInvalidArgument, "cannot find volume \"" + std::string(m.name()) +
                                                    "\" to mount into container \"" + std::string(c.name()) + "\"");
    VolumeMount vm;
    vm.volume = vol->second.name;
    vm.container_path = std::string(m.mount_path());
    while (vm.container_path.size() > 1 && vm.container_path.back() == '/') vm.container_path.pop_back();
    if (vm.container_path.empty())
      return Error(ErrorCode::kInvalidArgument, what + ": volumeMount " + vm.volume + " has no mountPath");
    // As upstream: a relative mountPath is taken from the container's root.
    if (vm.container_path.front() != '/') vm.container_path.insert(0, "/");
    if (!paths.insert(vm.container_path).second)
      return Error(ErrorCode::kInvalidArgument, what + ": duplicate mountPath \"" + vm.container_path + "\"");
    std::string_view prop = m.mount_propagation();
    if (prop.empty() || prop == "None") {
      vm.propagation = MountPropagation::kNone;
    } else if (prop == "HostToContainer") {
      vm.propagation = MountPropagation::kHostToContainer;
    } else if (prop == "Bidirectional") {
      std::optional<api::SecurityContextView> sc = c.security_context();
      if (!sc || !sc->privileged())
        return Error(ErrorCode::kInvalidArgument,
                     what + ": Bidirectional mount propagation is available only to privileged containers");
      vm.propagation = MountPropagation::kBidirectional;
    } else {
      return Error(ErrorCode::kInvalidArgument, what + ": invalid MountPropagation mode: \"" + std::string(prop) + "\"");
    }
    vm.read_only = m.read_only() || vol->second.read_only;

    std::string sub(m.sub_path());
    if (!m.sub_path_expr().empty()) {
      if (!sub.empty())
        return Error(ErrorCode::kInvalidArgument, what + ": subPath and subPathExpr are mutually exclusive");
      Result<std::string> expanded = expand_sub_path_expr(m.sub_path_expr(), env);
      if (!expanded.ok()) return std::move(expanded).error().context(what + " subPathExpr");
      sub = std::move(*expanded);
      if (sub.empty()) return Error(ErrorCode::kInvalidArgument, what + ": subPathExpr expanded to \"\"");
    }
    if (sub.empty()) {
      vm.host_path = vol->second.host_path;
    } else {
      Result<std::string> target = bind_sub_path(volumes.pod_uid, vol->second, c.name(), i, sub);
      if (!target.ok()) return std::move(target).error().context(what + " volume " + vm.volume + " subPath");
      vm.host_path = std::move(*target);
      vm.sub_path = std::move(sub);
    }
    out.push_back(std::move(vm));
  }
  return out;
}

Result<void> VolumeManager::teardown(std::string_view pod_uid) {
  if (!safe_name(pod_uid)) return Error(ErrorCode::kInvalidArgument, "teardown: invalid pod uid \"" + std::string(pod_uid) + "\"");
  std::string dir = pod_dir(pod_uid);
  if (!exists(dir)) return Ok();
  std::string what = "teardown pod " + std::string(pod_uid);
  if (persistent_ != nullptr) {
    if (auto r = persistent_->teardown_pod(pod_uid, dir); !r.ok()) return std::move(r).error().context(what);
  }
  Result<std::vector<std::string>> mounts = mounter_.mounts_under(dir);
  if (!mounts.ok()) return std::move(mounts).error().context(what);
  for (const std::string& m : *mounts) {
    if (auto r = mounter_.unmount(m); !r.ok()) return std::move(r).error().context(what);
  }
  mounts = mounter_.mounts_under(dir);
  if (!mounts.ok()) return std::move(mounts).error().context(what);
  if (!mounts->empty()) return Error(what + ": still mounted: " + mounts->front());
  if (auto r = remove_tree(dir); !r.ok()) return std::move(r).error().context(what);
  return Ok();
}

Result<std::vector<std::string>> VolumeManager::pods_on_disk() { return list_subdirs(pods_dir_); }

}  // namespace kernlet::csi
