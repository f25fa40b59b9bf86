// Small filesystem helpers of the volume manager (internal to csi/volume).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::csi {

// mkdir -p: creates `path` and missing parents with `mode` (before umask). Errors name the
// directory that could not be made.
Result<void> make_dirs(const std::string& path, mode_t mode);

// rm -rf that never leaves the filesystem `path` is on and never follows a symlink: a
// directory on another device (a mount left behind) is an error naming it, so a forgotten
// mount never gets its contents deleted. A missing path is ok.
Result<void> remove_tree(const std::string& path);

// The names of the directories directly in `dir` (symlinks are not followed, so a link to
// a directory is not one), sorted. A missing `dir` has none.
Result<std::vector<std::string>> list_subdirs(const std::string& dir);

}  // namespace kernlet::csi
