// kernlet-csi-local's per-volume records (see volume_store.h).
#include "csi/driver/volume_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>

#include "api/json.h"
#include "api/unique_fd.h"

namespace kernlet::csi::local {
namespace {

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

Result<void> fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + dir);
  if (::fsync(fd.get()) != 0) return Error::from_errno("fsync " + dir);
  return Ok();
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + path);
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

std::string encode_record(const VolumeRecord& r) {
  json::object o;
  o["id"] = r.id;
  o["name"] = r.name;
  o["capacityBytes"] = r.capacity_bytes;
  o["fsBytes"] = r.fs_bytes;
  o["nodeID"] = r.node_id;
  o["accessMode"] = r.access_mode;
  return json::dump(o) + "\n";
}

Result<VolumeRecord> decode_record(std::string_view text) {
  KL_ASSIGN_OR_RETURN(json::object o, json::parse_object(text, "volume record"));
  VolumeRecord r;
  r.id = std::string(json::get_string(o, "id"));
  r.name = std::string(json::get_string(o, "name"));
  r.capacity_bytes = json::get_int_or(o, "capacityBytes", 0);
  r.fs_bytes = json::get_int_or(o, "fsBytes", r.capacity_bytes);
  r.node_id = std::string(json::get_string(o, "nodeID"));
  r.access_mode = static_cast<int>(json::get_int_or(o, "accessMode", 1));
  if (!validate_volume_id(r.id).ok()) return Error(ErrorCode::kInvalidArgument, "volume record: bad id \"" + r.id + "\"");
  if (r.capacity_bytes <= 0) return Error(ErrorCode::kInvalidArgument, "volume record " + r.id + ": no capacityBytes");
  return r;
}

Result<void> validate_volume_id(std::string_view id) {
  auto alnum = [](char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); };
  bool ok = !id.empty() && id.size() <= 128 && alnum(id.front()) && alnum(id.back());
  for (char c : id) ok = ok && (alnum(c) || c == '-' || c == '.');
  if (!ok)
    return Error(ErrorCode::kInvalidArgument,
                 "volume id \"" + std::string(id) +
                     "\": want 1-128 characters of [a-z0-9.-], starting and ending alphanumeric");
  return Ok();
}

Result<std::string> volume_id_for_name(std::string_view name) {
  if (auto v = validate_volume_id(name); !v.ok())
    return Error(ErrorCode::kInvalidArgument,
                 "volume name \"" + std::string(name) +
                     "\": kernlet-csi-local wants 1-128 characters of [a-z0-9.-], starting and ending alphanumeric");
  return std::string(name);
}

Result<int64_t> plan_capacity(int64_t required, int64_t limit) {
  if (required < 0 || limit < 0)
    return Error(ErrorCode::kInvalidArgument, "capacity_range: negative bytes (required " + std::to_string(required) +
                                                  ", limit " + std::to_string(limit) + ")");
  if (limit > 0 && required > limit)
    return Error(ErrorCode::kInvalidArgument, "capacity_range: required_bytes " + std::to_string(required) +
                                                  " exceeds limit_bytes " + std::to_string(limit));
  int64_t want = required > 0 ? required : (limit > 0 ? std::min(limit, kDefaultVolumeBytes) : kDefaultVolumeBytes);
  want = std::max(want, kMinVolumeBytes);
  want = (want + kMiB - 1) / kMiB * kMiB;
  if (limit > 0 && want > limit) {
    // Round down instead when that still covers `required` and the minimum.
    int64_t down = limit / kMiB * kMiB;
    if (down >= required && down >= kMinVolumeBytes) return down;
    return Error(ErrorCode::kInvalidArgument, "capacity_range: limit_bytes " + std::to_string(limit) +
                                                  " is below the smallest volume kernlet-csi-local makes (" +
                                                  std::to_string(kMinVolumeBytes) + " bytes, whole MiB)");
  }
  return want;
}

VolumeStore::VolumeStore(std::string data_dir) : dir_(std::move(data_dir)) {}

std::string VolumeStore::image_path(std::string_view id) const { return dir_ + "/images/" + std::string(id) + ".img"; }
std::string VolumeStore::record_path(std::string_view id) const {
  return dir_ + "/volumes/" + std::string(id) + ".json";
}

Result<void> VolumeStore::init() {
  for (const std::string& d : {dir_, dir_ + "/volumes", dir_ + "/images"}) {
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return Error::from_errno("create " + d);
  }
  // The kernel reports a loop device's backing file by its resolved path, and the driver
  // recognises its own loop devices by comparing that with image_path(): resolve once.
  char buf[PATH_MAX];
  if (::realpath(dir_.c_str(), buf) == nullptr) return Error::from_errno("resolve " + dir_);
  dir_ = buf;
  // Temporaries end in ".tmp": a record or image whose writer crashed before its rename.
  for (const std::string& d : {dir_ + "/volumes", dir_ + "/images"}) {
    DIR* dir = ::opendir(d.c_str());
    if (dir == nullptr) return Error::from_errno("open " + d);
    while (dirent* e = ::readdir(dir)) {
      std::string_view n = e->d_name;
      if (n.ends_with(".tmp")) ::unlinkat(::dirfd(dir), e->d_name, 0);
    }
    ::closedir(dir);
  }
  return Ok();
}

Result<std::optional<VolumeRecord>> VolumeStore::load(std::string_view id) const {
  std::string path = record_path(id);
  auto text = read_file(path);
  if (!text.ok()) {
    if (text.error().sys_errno() == ENOENT) return std::optional<VolumeRecord>();
    return std::move(text).error();
  }
  auto rec = decode_record(*text);
  if (!rec.ok()) return std::move(rec).error().context(path);
  return std::optional<VolumeRecord>(std::move(rec).value());
}

Result<std::vector<VolumeRecord>> VolumeStore::list() const {
  std::string d = dir_ + "/volumes";
  DIR* dir = ::opendir(d.c_str());
  if (dir == nullptr) return Error::from_errno("open " + d);
  std::vector<std::string> ids;
  while (dirent* e = ::readdir(dir)) {
    std::string_view n = e->d_name;
    if (n.ends_with(".json")) ids.emplace_back(n.substr(0, n.size() - 5));
  }
  ::closedir(dir);
  std::vector<VolumeRecord> out;
  for (const auto& id : ids) {
    KL_ASSIGN_OR_RETURN(auto rec, load(id));
    if (rec) out.push_back(std::move(*rec));
  }
  return out;
}

Result<void> VolumeStore::save(const VolumeRecord& r) const {
  std::string path = record_path(r.id);
  std::string tmp = path + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno("create " + tmp);
    KL_TRY(write_all(fd.get(), encode_record(r), tmp));
    if (::fsync(fd.get()) != 0) return Error::from_errno("fsync " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename " + tmp + " to " + path);
  return fsync_dir(dir_ + "/volumes");
}

Result<void> VolumeStore::sync_images() const { return fsync_dir(dir_ + "/images"); }

Result<void> VolumeStore::remove(std::string_view id) const {
  std::string path = record_path(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno("remove " + path);
  return fsync_dir(dir_ + "/volumes");
}

}  // namespace kernlet::csi::local
