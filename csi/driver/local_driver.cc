// kernlet-csi-local's three CSI services (see local_driver.h).
#include "csi/driver/local_driver.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <optional>

#include "api/unique_fd.h"
#include "csi/driver/command.h"
#include "csi/driver/loop_device.h"
#include "csi/driver/mount_info.h"
#include "csi/proto/csi.grpc.pb.h"

namespace kernlet::csi::local {
namespace {

namespace pb = ::csi::v1;
using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;
using Mode = pb::VolumeCapability::AccessMode;

constexpr auto kDetachWait = std::chrono::seconds(5);

Status status_of(const Error& e) {
  StatusCode code = StatusCode::INTERNAL;
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: code = StatusCode::INVALID_ARGUMENT; break;
    case ErrorCode::kNotFound: code = StatusCode::NOT_FOUND; break;
    case ErrorCode::kAlreadyExists: code = StatusCode::ALREADY_EXISTS; break;
    case ErrorCode::kResourceExhausted: code = StatusCode::RESOURCE_EXHAUSTED; break;
    case ErrorCode::kUnavailable: code = StatusCode::UNAVAILABLE; break;
    case ErrorCode::kAborted: code = StatusCode::ABORTED; break;
    case ErrorCode::kFailedPrecondition: code = StatusCode::FAILED_PRECONDITION; break;
    case ErrorCode::kUnimplemented: code = StatusCode::UNIMPLEMENTED; break;
    default: break;
  }
  return Status(code, e.to_string());
}

Status invalid(std::string msg) { return Status(StatusCode::INVALID_ARGUMENT, std::move(msg)); }

bool single_node(Mode::Mode m) {
  return m == Mode::SINGLE_NODE_WRITER || m == Mode::SINGLE_NODE_READER_ONLY ||
         m == Mode::SINGLE_NODE_SINGLE_WRITER || m == Mode::SINGLE_NODE_MULTI_WRITER;
}

bool reader_only(Mode::Mode m) { return m == Mode::SINGLE_NODE_READER_ONLY || m == Mode::MULTI_NODE_READER_ONLY; }

// A capability this driver can serve: a mounted ext4 filesystem on one node.
Result<void> check_capability(const pb::VolumeCapability& c) {
  if (c.has_block())
    return Error(ErrorCode::kInvalidArgument, "volume capability: block access is not supported (filesystem only)");
  if (c.has_mount() && !c.mount().fs_type().empty() && c.mount().fs_type() != "ext4")
    return Error(ErrorCode::kInvalidArgument,
                 "volume capability: fs_type \"" + c.mount().fs_type() + "\" is not supported (ext4 only)");
  if (!c.has_access_mode() || c.access_mode().mode() == Mode::UNKNOWN)
    return Error(ErrorCode::kInvalidArgument, "volume capability: access_mode missing");
  if (!single_node(c.access_mode().mode()))
    return Error(ErrorCode::kInvalidArgument,
                 "volume capability: access mode " + Mode::Mode_Name(c.access_mode().mode()) +
                     " is not supported: a local volume is reachable from one node only");
  return Ok();
}

// An absolute path given by the CO, as mountinfo shows it (symlinks resolved). The path
// must exist.
Result<std::string> resolve(const std::string& path, std::string_view field) {
  if (path.empty() || path.front() != '/')
    return Error(ErrorCode::kInvalidArgument, std::string(field) + " \"" + path + "\": want an absolute path");
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, std::string(field) + " " + path + ": does not exist");
    return Error::from_errno(std::string(field) + " " + path);
  }
  return std::string(buf);
}

// Whether the mount `m` is a filesystem living on `image` (its source a loop device whose
// backing file is the image).
bool mount_is_image(const MountEntry& m, const std::string& image) {
  if (!m.source.starts_with("/dev/loop")) return false;
  for (const auto& dev : loop_devices_backed_by(image))
    if (dev == m.source) return true;
  return false;
}

// mount(2) flags and ext4 data options from CSI mount_flags.
Result<std::pair<unsigned long, std::string>> parse_mount_flags(const pb::VolumeCapability& c) {
  static const std::map<std::string, unsigned long> kFlags = {
      {"ro", MS_RDONLY},         {"rw", 0},           {"noatime", MS_NOATIME}, {"relatime", MS_RELATIME},
      {"nodiratime", MS_NODIRATIME}, {"nodev", MS_NODEV}, {"nosuid", MS_NOSUID},   {"noexec", MS_NOEXEC},
      {"sync", MS_SYNCHRONOUS},  {"dirsync", MS_DIRSYNC}, {"lazytime", MS_LAZYTIME}, {"defaults", 0}};
  unsigned long flags = 0;
  std::string data;
  if (!c.has_mount()) return std::pair{flags, data};
  for (const auto& f : c.mount().mount_flags()) {
    if (f.find(',') != std::string::npos || f.empty())
      return Error(ErrorCode::kInvalidArgument, "mount flag \"" + f + "\": one option per entry");
    auto it = kFlags.find(f);
    if (it != kFlags.end()) {
      flags |= it->second;
    } else {
      // Anything else is an ext4 option (errors=remount-ro, discard, ...): ext4 judges it.
      data += (data.empty() ? "" : ",") + f;
    }
  }
  return std::pair{flags, data};
}

class VolumeLocks;

// Holds the per-volume "operation in flight" mark for one call.
class VolumeLock {
 public:
  VolumeLock(VolumeLocks* owner, std::string id) : owner_(owner), id_(std::move(id)) {}
  VolumeLock(VolumeLock&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), id_(std::move(o.id_)) {}
  VolumeLock(const VolumeLock&) = delete;
  ~VolumeLock();

 private:
  VolumeLocks* owner_;
  std::string id_;
};

class VolumeLocks {
 public:
  // The lock for `id`, or ABORTED while another call holds it.
  Result<VolumeLock> try_lock(const std::string& id) {
    std::lock_guard lock(mu_);
    if (!busy_.insert(id).second)
      return Error(ErrorCode::kAborted, "an operation on volume " + id + " is already in progress");
    return VolumeLock(this, id);
  }
  void unlock(const std::string& id) {
    std::lock_guard lock(mu_);
    busy_.erase(id);
  }

 private:
  std::mutex mu_;
  std::set<std::string> busy_;
};

VolumeLock::~VolumeLock() {
  if (owner_ != nullptr) owner_->unlock(id_);
}

// The driver's state shared by the three services.
struct Core {
  DriverOptions opts;
  VolumeStore store;
  VolumeLocks locks;

  explicit Core(DriverOptions o) : opts(std::move(o)), store(opts.data_dir) {}

  void fill_volume(const VolumeRecord& r, pb::Volume* v) const {
    v->set_volume_id(r.id);
    v->set_capacity_bytes(r.capacity_bytes);
    (*v->add_accessible_topology()->mutable_segments())[kTopologyKey] = r.node_id;
  }

  // Whether a topology requirement lets the volume live on this node.
  bool topology_allows(const pb::CreateVolumeRequest& req) const {
    if (!req.has_accessibility_requirements() || req.accessibility_requirements().requisite().empty()) return true;
    for (const auto& t : req.accessibility_requirements().requisite()) {
      auto it = t.segments().find(kTopologyKey);
      if (it != t.segments().end() && it->second == opts.node_id) return true;
    }
    return false;
  }

  Result<VolumeRecord> create(const pb::CreateVolumeRequest& req) {
    KL_ASSIGN_OR_RETURN(std::string id, volume_id_for_name(req.name()));
    if (req.volume_capabilities().empty())
      return Error(ErrorCode::kInvalidArgument, "CreateVolume " + req.name() + ": volume_capabilities missing");
    int mode = Mode::SINGLE_NODE_WRITER;
    for (const auto& c : req.volume_capabilities()) {
      if (auto ok = check_capability(c); !ok.ok()) return std::move(ok).error().context("CreateVolume " + req.name());
      mode = c.access_mode().mode();
    }
    if (req.has_volume_content_source())
      return Error(ErrorCode::kInvalidArgument, "CreateVolume " + req.name() + ": volume content sources (snapshots, clones) are not supported");
    if (!topology_allows(req))
      return Error(ErrorCode::kResourceExhausted, "CreateVolume " + req.name() + ": requisite topology does not include " +
                                                      kTopologyKey + "=" + opts.node_id);
    KL_ASSIGN_OR_RETURN(int64_t size, plan_capacity(req.capacity_range().required_bytes(), req.capacity_range().limit_bytes()));
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(id));

    KL_ASSIGN_OR_RETURN(auto existing, store.load(id));
    if (existing) {
      const int64_t req_b = req.capacity_range().required_bytes(), lim_b = req.capacity_range().limit_bytes();
      if (existing->capacity_bytes < req_b || (lim_b > 0 && existing->capacity_bytes > lim_b))
        return Error(ErrorCode::kAlreadyExists, "CreateVolume " + req.name() + ": exists with capacity " +
                                                    std::to_string(existing->capacity_bytes) +
                                                    " bytes, incompatible with the requested range");
      return *existing;
    }

    // The image is made under a temporary name and renamed into place once mkfs is done, so
    // a crash never leaves a half-made image under the volume's name (init removes *.tmp).
    const std::string image = store.image_path(id);
    const std::string tmp = image + ".tmp";
    {
      UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (!fd) return Error::from_errno("create volume image " + tmp);
      if (::ftruncate(fd.get(), size) != 0) {
        ::unlink(tmp.c_str());
        return Error::from_errno("size volume image " + tmp + " to " + std::to_string(size));
      }
    }
    // -m 0: no blocks reserved for root, so the capacity the pod sees is the capacity asked
    // for; lazy init keeps mkfs of a large sparse image fast.
    auto mkfs = run_command({"mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                             "nodiscard,lazy_itable_init=1,lazy_journal_init=1", tmp});
    if (!mkfs.ok()) {
      ::unlink(tmp.c_str());
      return std::move(mkfs).error().context("CreateVolume " + req.name());
    }
    {
      UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CLOEXEC));
      if (!fd || ::fsync(fd.get()) != 0) {
        ::unlink(tmp.c_str());
        return Error::from_errno("fsync volume image " + tmp);
      }
    }
    if (::rename(tmp.c_str(), image.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return Error::from_errno("rename " + tmp + " to " + image);
    }
    KL_TRY(store.sync_images());  // the image's name is durable before the record names it
    VolumeRecord rec{id, req.name(), size, size, opts.node_id, mode};
    KL_TRY(store.save(rec));
    return rec;
  }

  Result<void> remove(const std::string& id) {
    KL_TRY(validate_volume_id(id));
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(id));
    const std::string image = store.image_path(id);
    if (!loop_devices_backed_by(image).empty())
      return Error(ErrorCode::kFailedPrecondition, "DeleteVolume " + id + ": the volume is still staged (loop device attached)");
    // The record goes first: a crash in between leaves an image without a record, which
    // a retried DeleteVolume (or CreateVolume of the name) replaces, never a record whose
    // image is missing.
    KL_TRY(store.remove(id));
    if (::unlink(image.c_str()) != 0 && errno != ENOENT) return Error::from_errno("remove volume image " + image);
    return store.sync_images();
  }

  Result<VolumeRecord> must_load(const std::string& id) {
    KL_TRY(validate_volume_id(id));
    KL_ASSIGN_OR_RETURN(auto rec, store.load(id));
    if (!rec) return Error(ErrorCode::kNotFound, "volume " + id + " does not exist");
    return *rec;
  }

  Result<pb::ControllerExpandVolumeResponse> controller_expand(const pb::ControllerExpandVolumeRequest& req) {
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(req.volume_id()));
    KL_ASSIGN_OR_RETURN(VolumeRecord rec, must_load(req.volume_id()));
    KL_ASSIGN_OR_RETURN(int64_t size, plan_capacity(req.capacity_range().required_bytes(), req.capacity_range().limit_bytes()));
    pb::ControllerExpandVolumeResponse resp;
    resp.set_node_expansion_required(true);
    if (size <= rec.capacity_bytes) {  // never shrink; already big enough is success
      resp.set_capacity_bytes(rec.capacity_bytes);
      return resp;
    }
    const std::string image = store.image_path(rec.id);
    UniqueFd fd(::open(image.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) return Error::from_errno("open volume image " + image);
    if (::ftruncate(fd.get(), size) != 0 || ::fsync(fd.get()) != 0)
      return Error::from_errno("grow volume image " + image + " to " + std::to_string(size));
    rec.capacity_bytes = size;
    KL_TRY(store.save(rec));
    resp.set_capacity_bytes(size);
    return resp;
  }

  Result<void> stage(const pb::NodeStageVolumeRequest& req) {
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(req.volume_id()));
    KL_ASSIGN_OR_RETURN(VolumeRecord rec, must_load(req.volume_id()));
    if (!req.has_volume_capability()) return Error(ErrorCode::kInvalidArgument, "NodeStageVolume: volume_capability missing");
    KL_TRY(check_capability(req.volume_capability()));
    KL_ASSIGN_OR_RETURN(std::string staging, resolve(req.staging_target_path(), "staging_target_path"));
    const std::string image = store.image_path(rec.id);
    KL_ASSIGN_OR_RETURN(auto current, mount_at(staging));
    if (current) {
      if (mount_is_image(*current, image)) return Ok();  // staged already
      return Error(ErrorCode::kAlreadyExists, "NodeStageVolume " + rec.id + ": " + staging + " already has another mount (" +
                                                  current->source + ")");
    }
    KL_ASSIGN_OR_RETURN(auto flags, parse_mount_flags(req.volume_capability()));
    const bool ro = (flags.first & MS_RDONLY) != 0;
    if (rec.fs_bytes < rec.capacity_bytes) KL_TRY(grow_offline(&rec));
    KL_ASSIGN_OR_RETURN(AttachedLoop loop, attach_loop(image, ro));
    UniqueFd hold(loop.fd);  // autoclear: once mounted, the mount holds the device
    if (::mount(loop.device.c_str(), staging.c_str(), "ext4", flags.first,
                flags.second.empty() ? nullptr : flags.second.c_str()) != 0)
      return Error::from_errno("NodeStageVolume " + rec.id + ": mount " + loop.device + " (" + image + ") on " + staging);
    return Ok();
  }

  // The image was grown (ControllerExpandVolume) while not staged: grow the filesystem on
  // the unmounted image before mounting it. resize2fs wants a freshly checked filesystem
  // offline, hence e2fsck first. This also needs no CAP_SYS_RESOURCE, which ext4's online
  // resize ioctl does.
  Result<void> grow_offline(VolumeRecord* rec) {
    const std::string image = store.image_path(rec->id);
    if (auto r = run_command({"e2fsck", "-f", "-p", image}, 1); !r.ok())
      return std::move(r).error().context("NodeStageVolume " + rec->id + ": check before growing");
    if (auto r = run_command({"resize2fs", image}); !r.ok())
      return std::move(r).error().context("NodeStageVolume " + rec->id + ": grow filesystem");
    rec->fs_bytes = rec->capacity_bytes;
    return store.save(*rec);
  }

  Result<void> unstage(const pb::NodeUnstageVolumeRequest& req) {
    KL_TRY(validate_volume_id(req.volume_id()));
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(req.volume_id()));
    const std::string image = store.image_path(req.volume_id());
    auto staging = resolve(req.staging_target_path(), "staging_target_path");
    if (!staging.ok()) {
      if (staging.error().code() != ErrorCode::kNotFound) return std::move(staging).error();
    } else {
      KL_ASSIGN_OR_RETURN(auto current, mount_at(*staging));
      if (current) {
        if (!mount_is_image(*current, image))
          return Error(ErrorCode::kFailedPrecondition, "NodeUnstageVolume " + req.volume_id() + ": the mount at " + *staging +
                                                           " (" + current->source + ") is not this volume's; left alone");
        KL_ASSIGN_OR_RETURN(auto uses, mounts_of_device(current->source));
        for (const auto& m : uses)
          if (m.mount_point != *staging)
            return Error(ErrorCode::kFailedPrecondition, "NodeUnstageVolume " + req.volume_id() +
                                                             ": still published at " + m.mount_point);
        if (::umount2(staging->c_str(), UMOUNT_NOFOLLOW) != 0 && errno != EINVAL)
          return Error::from_errno("NodeUnstageVolume " + req.volume_id() + ": unmount " + *staging);
      }
    }
    // No mount of the image is left, so any loop device still bound to it is a leftover.
    return detach_all_backed_by(image, kDetachWait);
  }

  Result<void> publish(const pb::NodePublishVolumeRequest& req) {
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(req.volume_id()));
    KL_ASSIGN_OR_RETURN(VolumeRecord rec, must_load(req.volume_id()));
    if (!req.has_volume_capability()) return Error(ErrorCode::kInvalidArgument, "NodePublishVolume: volume_capability missing");
    KL_TRY(check_capability(req.volume_capability()));
    if (req.staging_target_path().empty())
      return Error(ErrorCode::kFailedPrecondition, "NodePublishVolume " + rec.id + ": staging_target_path missing (the driver stages)");
    KL_ASSIGN_OR_RETURN(std::string staging, resolve(req.staging_target_path(), "staging_target_path"));
    const std::string image = store.image_path(rec.id);
    KL_ASSIGN_OR_RETURN(auto staged, mount_at(staging));
    if (!staged || !mount_is_image(*staged, image))
      return Error(ErrorCode::kFailedPrecondition, "NodePublishVolume " + rec.id + ": not staged at " + staging);

    const std::string& raw_target = req.target_path();
    if (raw_target.empty() || raw_target.front() != '/')
      return Error(ErrorCode::kInvalidArgument, "target_path \"" + raw_target + "\": want an absolute path");
    // The CO makes the parent; the driver makes the target directory itself.
    if (::mkdir(raw_target.c_str(), 0750) != 0 && errno != EEXIST)
      return Error::from_errno("NodePublishVolume " + rec.id + ": create target " + raw_target);
    KL_ASSIGN_OR_RETURN(std::string target, resolve(raw_target, "target_path"));
    const bool ro = req.readonly() || reader_only(req.volume_capability().access_mode().mode());
    KL_ASSIGN_OR_RETURN(auto current, mount_at(target));
    if (current) {
      if (!mount_is_image(*current, image))
        return Error(ErrorCode::kAlreadyExists, "NodePublishVolume " + rec.id + ": " + target + " already has another mount (" +
                                                    current->source + ")");
      if (current->read_only != ro)
        return Error(ErrorCode::kAlreadyExists, "NodePublishVolume " + rec.id + ": published at " + target + " " +
                                                    (current->read_only ? "read-only" : "read-write") + " already");
      return Ok();
    }
    KL_ASSIGN_OR_RETURN(auto flags, parse_mount_flags(req.volume_capability()));
    if (::mount(staging.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return Error::from_errno("NodePublishVolume " + rec.id + ": bind " + staging + " on " + target);
    // A bind mount ignores most flags on creation; they apply on a remount of the bind.
    unsigned long remount = flags.first & (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_NODEV | MS_NOSUID | MS_NOEXEC);
    if (ro) remount |= MS_RDONLY;
    if (remount != 0 && ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | remount, nullptr) != 0) {
      Error e = Error::from_errno("NodePublishVolume " + rec.id + ": remount " + target + (ro ? " read-only" : ""));
      ::umount2(target.c_str(), UMOUNT_NOFOLLOW);
      return e;
    }
    return Ok();
  }

  Result<void> unpublish(const pb::NodeUnpublishVolumeRequest& req) {
    KL_TRY(validate_volume_id(req.volume_id()));
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(req.volume_id()));
    auto target = resolve(req.target_path(), "target_path");
    if (!target.ok()) {
      if (target.error().code() == ErrorCode::kNotFound) return Ok();  // unpublished already
      return std::move(target).error();
    }
    const std::string image = store.image_path(req.volume_id());
    KL_ASSIGN_OR_RETURN(auto current, mount_at(*target));
    if (current) {
      if (!mount_is_image(*current, image))
        return Error(ErrorCode::kFailedPrecondition, "NodeUnpublishVolume " + req.volume_id() + ": the mount at " + *target +
                                                         " (" + current->source + ") is not this volume's; left alone");
      if (::umount2(target->c_str(), UMOUNT_NOFOLLOW) != 0 && errno != EINVAL)
        return Error::from_errno("NodeUnpublishVolume " + req.volume_id() + ": unmount " + *target);
    }
    // The spec has the driver remove the target it made. A directory with files in it is not
    // ours to delete (something wrote there while it was not mounted): leave it.
    if (::rmdir(target->c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY)
      return Error::from_errno("NodeUnpublishVolume " + req.volume_id() + ": remove " + *target);
    return Ok();
  }

  // The mount at `path` if it is volume `id`'s filesystem; NOT_FOUND otherwise.
  Result<MountEntry> volume_mount(const std::string& id, const std::string& path, std::string_view what) {
    KL_ASSIGN_OR_RETURN(std::string p, resolve(path, "volume_path"));
    KL_ASSIGN_OR_RETURN(auto current, mount_at(p));
    if (!current || !mount_is_image(*current, store.image_path(id)))
      return Error(ErrorCode::kNotFound, std::string(what) + " " + id + ": " + p + " is not a mount of this volume");
    current->mount_point = p;
    return *current;
  }

  Result<pb::NodeGetVolumeStatsResponse> stats(const pb::NodeGetVolumeStatsRequest& req) {
    KL_ASSIGN_OR_RETURN(VolumeRecord rec, must_load(req.volume_id()));
    KL_ASSIGN_OR_RETURN(MountEntry m, volume_mount(rec.id, req.volume_path(), "NodeGetVolumeStats"));
    struct statvfs st {};
    if (::statvfs(m.mount_point.c_str(), &st) != 0) return Error::from_errno("statvfs " + m.mount_point);
    pb::NodeGetVolumeStatsResponse resp;
    const auto f = static_cast<int64_t>(st.f_frsize);
    auto* bytes = resp.add_usage();
    bytes->set_unit(pb::VolumeUsage::BYTES);
    bytes->set_total(static_cast<int64_t>(st.f_blocks) * f);
    bytes->set_available(static_cast<int64_t>(st.f_bavail) * f);
    bytes->set_used(static_cast<int64_t>(st.f_blocks - st.f_bfree) * f);
    auto* inodes = resp.add_usage();
    inodes->set_unit(pb::VolumeUsage::INODES);
    inodes->set_total(static_cast<int64_t>(st.f_files));
    inodes->set_available(static_cast<int64_t>(st.f_ffree));
    inodes->set_used(static_cast<int64_t>(st.f_files - st.f_ffree));
    resp.mutable_volume_condition()->set_abnormal(false);
    resp.mutable_volume_condition()->set_message("mounted");
    return resp;
  }

  Result<int64_t> node_expand(const pb::NodeExpandVolumeRequest& req) {
    KL_ASSIGN_OR_RETURN(VolumeLock lock, locks.try_lock(req.volume_id()));
    KL_ASSIGN_OR_RETURN(VolumeRecord rec, must_load(req.volume_id()));
    if (req.has_volume_capability()) KL_TRY(check_capability(req.volume_capability()));
    const std::string& path = req.volume_path().empty() ? req.staging_target_path() : req.volume_path();
    auto m = volume_mount(rec.id, path, "NodeExpandVolume");
    if (!m.ok()) {
      Error e = std::move(m).error();
      return Error(ErrorCode::kFailedPrecondition, e.message() + " (online expansion only)");
    }
    // The loop device keeps the size it had at attach until told to look again.
    KL_TRY(refresh_capacity(m->source));
    KL_ASSIGN_OR_RETURN(uint64_t size, block_device_size(m->source));
    if (rec.fs_bytes >= static_cast<int64_t>(size)) return static_cast<int64_t>(size);  // grown already
    // Online: resize2fs on the mounted device issues EXT4_IOC_RESIZE_FS, which needs
    // CAP_SYS_RESOURCE.
    if (auto r = run_command({"resize2fs", m->source}); !r.ok()) {
      if (r.error().message().find("Permission denied to resize") != std::string::npos)
        return Error(ErrorCode::kFailedPrecondition,
                     "NodeExpandVolume " + rec.id + ": " + r.error().message() +
                         " (online resize needs CAP_SYS_RESOURCE; unstaging and staging again grows it offline)");
      return std::move(r).error().context("NodeExpandVolume " + rec.id);
    }
    rec.fs_bytes = static_cast<int64_t>(size);
    KL_TRY(store.save(rec));
    return static_cast<int64_t>(size);
  }
};

// ---------------------------------------------------------------- gRPC services

class IdentityImpl final : public pb::Identity::Service {
 public:
  explicit IdentityImpl(Core* core) : core_(core) {}
  Status GetPluginInfo(ServerContext*, const pb::GetPluginInfoRequest*, pb::GetPluginInfoResponse* resp) override {
    resp->set_name(kDriverName);
    resp->set_vendor_version(core_->opts.vendor_version);
    return Status::OK;
  }
  Status GetPluginCapabilities(ServerContext*, const pb::GetPluginCapabilitiesRequest*,
                               pb::GetPluginCapabilitiesResponse* resp) override {
    resp->add_capabilities()->mutable_service()->set_type(pb::PluginCapability::Service::CONTROLLER_SERVICE);
    resp->add_capabilities()->mutable_service()->set_type(pb::PluginCapability::Service::VOLUME_ACCESSIBILITY_CONSTRAINTS);
    resp->add_capabilities()->mutable_volume_expansion()->set_type(pb::PluginCapability::VolumeExpansion::ONLINE);
    return Status::OK;
  }
  Status Probe(ServerContext*, const pb::ProbeRequest*, pb::ProbeResponse* resp) override {
    resp->mutable_ready()->set_value(true);
    return Status::OK;
  }

 private:
  Core* core_;
};

class ControllerImpl final : public pb::Controller::Service {
 public:
  explicit ControllerImpl(Core* core) : core_(core) {}
  Status CreateVolume(ServerContext*, const pb::CreateVolumeRequest* req, pb::CreateVolumeResponse* resp) override {
    auto rec = core_->create(*req);
    if (!rec.ok()) return status_of(rec.error());
    core_->fill_volume(*rec, resp->mutable_volume());
    return Status::OK;
  }
  Status DeleteVolume(ServerContext*, const pb::DeleteVolumeRequest* req, pb::DeleteVolumeResponse*) override {
    if (req->volume_id().empty()) return invalid("DeleteVolume: volume_id missing");
    auto r = core_->remove(req->volume_id());
    return r.ok() ? Status::OK : status_of(r.error());
  }
  Status ValidateVolumeCapabilities(ServerContext*, const pb::ValidateVolumeCapabilitiesRequest* req,
                                    pb::ValidateVolumeCapabilitiesResponse* resp) override {
    auto rec = core_->must_load(req->volume_id());
    if (!rec.ok()) return status_of(rec.error());
    if (req->volume_capabilities().empty()) return invalid("ValidateVolumeCapabilities: volume_capabilities missing");
    for (const auto& c : req->volume_capabilities()) {
      if (auto ok = check_capability(c); !ok.ok()) {
        resp->set_message(ok.error().to_string());
        return Status::OK;
      }
    }
    *resp->mutable_confirmed()->mutable_volume_capabilities() = req->volume_capabilities();
    return Status::OK;
  }
  Status GetCapacity(ServerContext*, const pb::GetCapacityRequest*, pb::GetCapacityResponse* resp) override {
    struct statvfs st {};
    if (::statvfs(core_->opts.data_dir.c_str(), &st) != 0)
      return status_of(Error::from_errno("statvfs " + core_->opts.data_dir));
    resp->set_available_capacity(static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize));
    resp->mutable_minimum_volume_size()->set_value(kMinVolumeBytes);
    return Status::OK;
  }
  Status ControllerGetCapabilities(ServerContext*, const pb::ControllerGetCapabilitiesRequest*,
                                   pb::ControllerGetCapabilitiesResponse* resp) override {
    using Rpc = pb::ControllerServiceCapability::RPC;
    for (auto t : {Rpc::CREATE_DELETE_VOLUME, Rpc::EXPAND_VOLUME, Rpc::GET_CAPACITY})
      resp->add_capabilities()->mutable_rpc()->set_type(t);
    return Status::OK;
  }
  Status ControllerExpandVolume(ServerContext*, const pb::ControllerExpandVolumeRequest* req,
                                pb::ControllerExpandVolumeResponse* resp) override {
    if (req->volume_id().empty()) return invalid("ControllerExpandVolume: volume_id missing");
    auto r = core_->controller_expand(*req);
    if (!r.ok()) return status_of(r.error());
    *resp = std::move(r).value();
    return Status::OK;
  }

 private:
  Core* core_;
};

class NodeImpl final : public pb::Node::Service {
 public:
  explicit NodeImpl(Core* core) : core_(core) {}
  Status NodeStageVolume(ServerContext*, const pb::NodeStageVolumeRequest* req, pb::NodeStageVolumeResponse*) override {
    if (req->volume_id().empty()) return invalid("NodeStageVolume: volume_id missing");
    if (req->staging_target_path().empty()) return invalid("NodeStageVolume: staging_target_path missing");
    auto r = core_->stage(*req);
    return r.ok() ? Status::OK : status_of(r.error());
  }
  Status NodeUnstageVolume(ServerContext*, const pb::NodeUnstageVolumeRequest* req, pb::NodeUnstageVolumeResponse*) override {
    if (req->volume_id().empty()) return invalid("NodeUnstageVolume: volume_id missing");
    if (req->staging_target_path().empty()) return invalid("NodeUnstageVolume: staging_target_path missing");
    auto r = core_->unstage(*req);
    return r.ok() ? Status::OK : status_of(r.error());
  }
  Status NodePublishVolume(ServerContext*, const pb::NodePublishVolumeRequest* req, pb::NodePublishVolumeResponse*) override {
    if (req->volume_id().empty()) return invalid("NodePublishVolume: volume_id missing");
    if (req->target_path().empty()) return invalid("NodePublishVolume: target_path missing");
    auto r = core_->publish(*req);
    return r.ok() ? Status::OK : status_of(r.error());
  }
  Status NodeUnpublishVolume(ServerContext*, const pb::NodeUnpublishVolumeRequest* req,
                             pb::NodeUnpublishVolumeResponse*) override {
    if (req->volume_id().empty()) return invalid("NodeUnpublishVolume: volume_id missing");
    if (req->target_path().empty()) return invalid("NodeUnpublishVolume: target_path missing");
    auto r = core_->unpublish(*req);
    return r.ok() ? Status::OK : status_of(r.error());
  }
  Status NodeGetVolumeStats(ServerContext*, const pb::NodeGetVolumeStatsRequest* req,
                            pb::NodeGetVolumeStatsResponse* resp) override {
    if (req->volume_id().empty()) return invalid("NodeGetVolumeStats: volume_id missing");
    if (req->volume_path().empty()) return invalid("NodeGetVolumeStats: volume_path missing");
    auto r = core_->stats(*req);
    if (!r.ok()) return status_of(r.error());
    *resp = std::move(r).value();
    return Status::OK;
  }
  Status NodeExpandVolume(ServerContext*, const pb::NodeExpandVolumeRequest* req, pb::NodeExpandVolumeResponse* resp) override {
    if (req->volume_id().empty()) return invalid("NodeExpandVolume: volume_id missing");
    if (req->volume_path().empty() && req->staging_target_path().empty())
      return invalid("NodeExpandVolume: volume_path missing");
    auto r = core_->node_expand(*req);
    if (!r.ok()) return status_of(r.error());
    resp->set_capacity_bytes(*r);
    return Status::OK;
  }
  Status NodeGetCapabilities(ServerContext*, const pb::NodeGetCapabilitiesRequest*,
                             pb::NodeGetCapabilitiesResponse* resp) override {
    using Rpc = pb::NodeServiceCapability::RPC;
    for (auto t : {Rpc::STAGE_UNSTAGE_VOLUME, Rpc::GET_VOLUME_STATS, Rpc::EXPAND_VOLUME, Rpc::VOLUME_CONDITION})
      resp->add_capabilities()->mutable_rpc()->set_type(t);
    return Status::OK;
  }
  Status NodeGetInfo(ServerContext*, const pb::NodeGetInfoRequest*, pb::NodeGetInfoResponse* resp) override {
    resp->set_node_id(core_->opts.node_id);
    (*resp->mutable_accessible_topology()->mutable_segments())[kTopologyKey] = core_->opts.node_id;
    return Status::OK;
  }

 private:
  Core* core_;
};

}  // namespace

struct LocalDriver::Services {
  Core core;
  IdentityImpl identity{&core};
  ControllerImpl controller{&core};
  NodeImpl node{&core};
  explicit Services(DriverOptions o) : core(std::move(o)) {}
};

LocalDriver::LocalDriver(DriverOptions options) : services_(std::make_unique<Services>(std::move(options))) {}
LocalDriver::~LocalDriver() = default;

Result<void> LocalDriver::init() {
  if (services_->core.opts.node_id.empty()) return Error(ErrorCode::kInvalidArgument, "kernlet-csi-local: --node-id is required");
  if (services_->core.opts.data_dir.empty() || services_->core.opts.data_dir.front() != '/')
    return Error(ErrorCode::kInvalidArgument, "kernlet-csi-local: --data-dir \"" + services_->core.opts.data_dir +
                                                  "\": want an absolute path");
  return services_->core.store.init();
}

grpc::Service* LocalDriver::identity_service() { return &services_->identity; }
grpc::Service* LocalDriver::controller_service() { return &services_->controller; }
grpc::Service* LocalDriver::node_service() { return &services_->node; }

}  // namespace kernlet::csi::local
