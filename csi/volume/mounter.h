// Mounter: the mount side effects of the volume manager behind one small interface, so the
// manager's logic is unit-tested without root (tests use a fake that records calls).
// LinuxMounter is the real implementation (mount(2), umount2(2), open_tree(2)/move_mount(2)).
//
// Thread-safety: LinuxMounter is stateless and safe to call concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::csi {

class Mounter {
 public:
  virtual ~Mounter() = default;

  // Mounts a fresh tmpfs on the existing directory `target`, `size_bytes` big (nullopt: the
  // kernel's default, half of RAM). Errors name the target.
  virtual Result<void> mount_tmpfs(const std::string& target, std::optional<uint64_t> size_bytes) = 0;
  // Bind-mounts the file or directory that `fd` (an O_PATH fd) refers to onto `target`,
  // which must exist and be of the same type. The fd pins the source: whatever happens to
  // the path it was opened by afterwards, the mount shows that very inode. Not recursive.
  virtual Result<void> bind_mount_fd(int fd, const std::string& target) = 0;
  // Unmounts `target` (no symlink followed). Not mounted (EINVAL) or gone (ENOENT) is ok.
  virtual Result<void> unmount(const std::string& target) = 0;
  // Whether `path` is the root of a mount. A missing path is false, not an error.
  virtual Result<bool> is_mount_point(const std::string& path) = 0;
  // The mount points at or below `dir` (symlinks in `dir` resolved, as mountinfo shows
  // paths), deepest first: the order to unmount them in.
  virtual Result<std::vector<std::string>> mounts_under(const std::string& dir) = 0;
};

class LinuxMounter final : public Mounter {
 public:
  Result<void> mount_tmpfs(const std::string& target, std::optional<uint64_t> size_bytes) override;
  Result<void> bind_mount_fd(int fd, const std::string& target) override;
  Result<void> unmount(const std::string& target) override;
  Result<bool> is_mount_point(const std::string& path) override;
  Result<std::vector<std::string>> mounts_under(const std::string& dir) override;
};

// Makes `dir` (which must exist) the root of a shared mount, as the kubelet makes its root
// dir rshared at start: unless it already is one, `dir` is bound onto itself (recursively,
// also over a mount point there that is not shared)
// and that new mount, with the mounts under it, made shared. Only the mount it creates
// changes propagation. Volumes under `dir` then honour HostToContainer and Bidirectional
// mountPropagation. Idempotent (a restart finds the shared mount). Errors name `dir`.
Result<void> ensure_shared_mount(const std::string& dir);

// The mount points listed in a /proc/<pid>/mountinfo text, octal escapes (\040) decoded, in
// file order. Pure: unit-tested.
std::vector<std::string> parse_mountinfo_mount_points(std::string_view mountinfo);

}  // namespace kernlet::csi
