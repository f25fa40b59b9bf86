// What is mounted where, read from /proc/self/mountinfo, for kernlet-csi-local's idempotency
// and safety checks: a path is only unmounted when the mount there is this volume's
// filesystem (its source is a loop device backed by the volume's image).
//
// Thread-safety: pure functions, and a read of procfs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::csi::local {

struct MountEntry {
  std::string mount_point;
  std::string root;     // the subtree of the filesystem mounted there ("/" for a whole fs)
  std::string fs_type;
  std::string source;   // e.g. /dev/loop7
  bool read_only = false;  // the per-mount "ro" option
};

// Parses a mountinfo text (octal escapes like \040 decoded), in file order. Malformed lines
// are skipped. Pure: unit-tested.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// The top-most mount at exactly `path` (the last one listed there), if any.
Result<std::optional<MountEntry>> mount_at(const std::string& path);

// Every mount whose source is `device`.
Result<std::vector<MountEntry>> mounts_of_device(const std::string& device);

}  // namespace kernlet::csi::local
