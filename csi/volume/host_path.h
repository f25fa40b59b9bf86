// hostPath volumes: the kubelet's type check (and creation for the *OrCreate types).
// Thread-safety: a free function; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::csi {

// Checks (and for DirectoryOrCreate / FileOrCreate, creates) `path` for hostPath.type:
// "" no check; DirectoryOrCreate (mkdir -p, 0755); Directory; FileOrCreate (an empty 0644
// file; the parent must exist, as upstream); File (as upstream: exists and is not a
// directory); Socket; CharDevice; BlockDevice.
// Symlinks are followed, as upstream. Errors carry the kubelet's text, e.g.
// `hostPath type check failed: /x is not a directory`; an unknown type is kInvalidArgument.
Result<void> check_host_path_type(const std::string& path, std::string_view type);

}  // namespace kernlet::csi
