// File-system helpers the image store builds on: RAII fds, crash-safe writes, removal
// through fds (never a path re-resolved after the fact).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::images {

using UniqueFd = ::kernlet::UniqueFd;  // api/unique_fd.h

// Creates `path` and its missing parents (mode 0700 for new ones).
Result<void> make_dirs(const std::string& path, unsigned mode = 0700);
// Opens an existing directory O_RDONLY|O_DIRECTORY.
Result<UniqueFd> open_dir(const std::string& path);
// Reads a whole file (at most max_bytes, else an error).
Result<std::string> read_file(const std::string& path, size_t max_bytes = 64 << 20);
Result<std::string> read_file_at(int dirfd, const std::string& name, size_t max_bytes = 64 << 20);
// Writes dirfd/name so that a crash leaves either the old or the new content: a temp file
// in the same directory, fsync, renameat over the name, fsync of the directory.
Result<void> write_file_atomic(int dirfd, const std::string& name, std::string_view data);
// Removes dirfd/name and everything under it, through fds; missing is fine.
Result<void> remove_tree_at(int dirfd, const std::string& name);
// A random 16-hex-digit string for temp names.
std::string random_suffix();

}  // namespace kernlet::images
