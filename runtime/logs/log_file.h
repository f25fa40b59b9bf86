// A container's CRI log file with size-based rotation, as the kubelet's container log
// manager does it: when a write would take the file past `max_size`, the file is renamed
// to `<path>.<YYYYMMDD-HHMMSS>` (UTC, the kubelet's suffix) and a new one started; at most
// `max_files` files exist per container, the current one included, and the oldest
// rotated files are deleted beyond that. Rotated files are not compressed (the kubelet
// gzips all but the newest; kernlet keeps them plain so `logs` can read them directly).
//
// Not thread-safe: one owner (the LogPump's thread) writes it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/logs/cri_format.h"
#include "runtime/logs/unique_fd.h"

namespace kernlet::logs {

struct RotationPolicy {
  uint64_t max_size = 10 * 1024 * 1024;  // kubelet containerLogMaxSize default (10Mi)
  int max_files = 5;                     // kubelet containerLogMaxFiles default
};

class RotatingLogFile {
 public:
  using Clock = std::function<TimePoint()>;

  // Opens (creating, 0640) `path` for appending; its parent directories are created
  // (0755). Errors: max_files < 2 or max_size < 1024 (kInvalidArgument), or the syscall.
  static Result<RotatingLogFile> open(std::string path, RotationPolicy policy,
                                      Clock clock = std::chrono::system_clock::now);

  RotatingLogFile(RotatingLogFile&&) = default;
  RotatingLogFile& operator=(RotatingLogFile&&) = default;

  // Appends whole records, rotating between records so no file exceeds max_size.
  Result<void> write(std::string_view records);
  // Renames the current file away and starts a new one, then prunes old files.
  Result<void> rotate();
  // Closes and reopens `path` (after someone else rotated it).
  Result<void> reopen();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

 private:
  RotatingLogFile(std::string path, RotationPolicy policy, Clock clock)
      : path_(std::move(path)), policy_(policy), clock_(std::move(clock)) {}
  Result<void> open_current();
  Result<void> prune();

  std::string path_;
  RotationPolicy policy_;
  Clock clock_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

// The rotated files of `path` (`<path>.<suffix>`), oldest first.
std::vector<std::string> rotated_log_files(const std::string& path);

}  // namespace kernlet::logs
