// CgroupFs: the cgroupfs file operations the cgroup v2 driver needs, behind one small
// interface so the driver's logic is unit-tested against FakeCgroupFs (fake_cgroup_fs.h) and
// the real kernel is touched only by RealCgroupFs.
//
// Paths are absolute. Errors keep the errno and name the path
// (`write /sys/fs/cgroup/kernlet/pod-x/cpu.max: EINVAL`); ENOENT becomes ErrorCode::kNotFound
// and EEXIST ErrorCode::kAlreadyExists so callers can branch without errno.
//
// Thread-safety: RealCgroupFs is stateless and safe to use from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/cgroups/unique_fd.h"

namespace kernlet::cgroups {

// statfs(2) f_type of a cgroup2 mount (linux/magic.h CGROUP2_SUPER_MAGIC).
inline constexpr int64_t kCgroup2SuperMagic = 0x63677270;

class CgroupFs {
 public:
  virtual ~CgroupFs() = default;

  // statfs(path).f_type.
  virtual Result<int64_t> fs_type(const std::string& path) = 0;
  // Whether path exists (any file type).
  virtual Result<bool> exists(const std::string& path) = 0;
  // mkdir(path, 0755); kAlreadyExists when it exists.
  virtual Result<void> mkdir(const std::string& path) = 0;
  // rmdir(path); EBUSY (populated or has children) is kept as the errno.
  virtual Result<void> rmdir(const std::string& path) = 0;
  // The whole content of an interface file.
  virtual Result<std::string> read(const std::string& path) = 0;
  // Writes `value` with one write(2), as cgroupfs requires; a short write is an error.
  virtual Result<void> write(const std::string& path, std::string_view value) = 0;
  // Names of the subdirectories (child cgroups) of path, unsorted.
  virtual Result<std::vector<std::string>> subdirs(const std::string& path) = 0;
  // An O_RDONLY|O_DIRECTORY|O_CLOEXEC fd of a cgroup directory, e.g. for
  // clone3(CLONE_INTO_CGROUP).
  virtual Result<UniqueFd> open_dir(const std::string& path) = 0;
  // A non-blocking fd that becomes readable (POLLIN) after `file` is modified; reading it
  // drains the notifications. The real one is an inotify fd with an IN_MODIFY watch, which
  // cgroupfs raises on every change of cgroup.events / memory.events.
  virtual Result<UniqueFd> watch_modify(const std::string& file) = 0;
};

// The real cgroupfs.
class RealCgroupFs final : public CgroupFs {
 public:
  Result<int64_t> fs_type(const std::string& path) override;
  Result<bool> exists(const std::string& path) override;
  Result<void> mkdir(const std::string& path) override;
  Result<void> rmdir(const std::string& path) override;
  Result<std::string> read(const std::string& path) override;
  Result<void> write(const std::string& path, std::string_view value) override;
  Result<std::vector<std::string>> subdirs(const std::string& path) override;
  Result<UniqueFd> open_dir(const std::string& path) override;
  Result<UniqueFd> watch_modify(const std::string& file) override;
};

// An Error for a failed syscall on `path` with errno `e`: kNotFound for ENOENT,
// kAlreadyExists for EEXIST, else kUnknown; the errno is kept either way.
Error fs_error(std::string_view op, const std::string& path, int e);

}  // namespace kernlet::cgroups
