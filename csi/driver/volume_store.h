// The durable state of kernlet-csi-local, and the pure decisions made on it.
//
// Layout under --data-dir:
//   volumes/<id>.json   one record per volume, replaced atomically (write a temporary file,
//                       fsync, rename, fsync the directory), so a crash leaves the old or
//                       the new record, never a torn one
//   images/<id>.img     the volume's ext4 filesystem image, a sparse file
// Records are the truth: a restarted driver lists volumes/ and knows every volume.
//
// Thread-safety: VolumeStore methods are safe to call concurrently for different volumes;
// the driver serialises calls per volume.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::csi::local {

struct VolumeRecord {
  std::string id;
  std::string name;             // the CreateVolume name (idempotency key)
  int64_t capacity_bytes = 0;   // the image size
  int64_t fs_bytes = 0;         // the size the ext4 filesystem was last made or grown to
  std::string node_id;          // the node the image lives on (topology)
  int access_mode = 1;          // csi.v1 AccessMode.Mode the volume was created for
};

// Serialises a record as one JSON object, and reads one back; errors name what is wrong.
std::string encode_record(const VolumeRecord& r);
Result<VolumeRecord> decode_record(std::string_view text);

// The volume id for a CreateVolume name: the name itself, which must be 1-128 characters of
// [a-z0-9.-] starting and ending alphanumeric (PV names like "pvc-<uid>" are); ids become
// file names, so anything else is kInvalidArgument naming the name.
Result<std::string> volume_id_for_name(std::string_view name);
// The same rule applied to an id a caller passes in.
Result<void> validate_volume_id(std::string_view id);

constexpr int64_t kMiB = int64_t{1} << 20;
// Smallest image: ext4 with a journal needs a few MiB to hold anything at all.
constexpr int64_t kMinVolumeBytes = 16 * kMiB;
constexpr int64_t kDefaultVolumeBytes = 1024 * kMiB;

// The image size for a CapacityRange: at least required (0: kDefaultVolumeBytes, raised to
// kMinVolumeBytes), rounded up to whole MiB, never above limit (when set). kInvalidArgument
// for negative values or limit < required; kOutOfRange-like kInvalidArgument when the limit
// is below what an ext4 image can be.
Result<int64_t> plan_capacity(int64_t required_bytes, int64_t limit_bytes);

class VolumeStore {
 public:
  explicit VolumeStore(std::string data_dir);

  // Creates volumes/ and images/ (0700), resolves the data directory's path (symlinks) and
  // removes temporary files a crash left behind.
  Result<void> init();

  std::string image_path(std::string_view id) const;
  std::string record_path(std::string_view id) const;

  Result<std::optional<VolumeRecord>> load(std::string_view id) const;
  Result<std::vector<VolumeRecord>> list() const;
  // Writes (or replaces) the record atomically and durably.
  Result<void> save(const VolumeRecord& r) const;
  // Makes renames in images/ durable (fsync of the directory).
  Result<void> sync_images() const;
  // Removes the record; a missing one is ok.
  Result<void> remove(std::string_view id) const;

 private:
  std::string dir_;
};

}  // namespace kernlet::csi::local
