// AtomicWriter: writes the files of a configMap, secret, downwardAPI or projected volume
// so that a reader in the container sees either the old set of files or the new one,
// never a mix. The layout is the kubelet's:
//
//   <dir>/..2026_11_27_00_30_00.123456789/<path>   the files of one version
//   <dir>/..data -> ..2026_11_27_00_30_00.123456789
//   <dir>/<first component of path> -> ..data/<first component of path>
//
// An update writes a new timestamped directory, points a fresh `..data_tmp` symlink at it
// and rename(2)s that over `..data` (atomic), then fixes the user-visible symlinks and
// removes the previous version.
//
// Thread-safety: one writer per directory at a time (the caller serialises per pod).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::csi {

// One file of a volume's payload.
struct FileProjection {
  std::string data;
  mode_t mode = 0644;
  bool operator==(const FileProjection&) const = default;
};

// Relative path (as the pod spec names it, e.g. "conf/app.yaml") -> file.
using Payload = std::map<std::string, FileProjection, std::less<>>;

// Checks a payload path as the kubelet does: not empty, at most 4096 bytes, relative, no
// ".." element, and a first element that does not start with "..". Errors name the path.
Result<void> validate_payload_path(std::string_view path);

class AtomicWriter {
 public:
  // `dir` must exist; `what` names the volume in errors ("pod ns/name volume cfg").
  AtomicWriter(std::string dir, std::string what);

  // Makes `dir` hold exactly `payload`. With `fs_group`, files and directories are given
  // that group, files g+r and directories g+rx and setgid, as the kubelet's volume
  // ownership does for read-only volumes. Returns true when something was written, false
  // when the current version already matched. Errors name the volume and the path; on
  // error the previous version stays visible and the partial new one is removed.
  Result<bool> write(const Payload& payload, std::optional<gid_t> fs_group);

 private:
  std::string dir_;
  std::string what_;
};

}  // namespace kernlet::csi
