// Reading one container instance's log across rotation: its rotated files
// (<path>.<suffix>, oldest first) and then the current file, with tail, since,
// timestamps and limitBytes applied to the whole, and following on the current file.
#pragma once

#include <string>
#include <vector>

#include "api/result.h"
#include "runtime/logs/log_reader.h"

namespace kernlet::agent {

// The files that make up the log whose current file is `path`, oldest first: the rotated
// ones that exist now, then `path`.
std::vector<std::string> container_log_files(const std::string& path);

// Writes the log of `path` (and its rotated files) into `sink`. A tail counts lines
// across files, newest first, so `--tail` reaches into rotated files when the current one
// is short; limit_bytes counts the whole output. With opts.follow the current file is
// followed (see logs::read_logs). A line cut by rotation (a partial record at the end of
// a rotated file) is joined across the files, except that its time is printed twice with
// timestamps. Errors: the current file cannot be read (kNotFound when it does not exist).
// Blocking; thread-safe (no shared state).
Result<void> stream_container_logs(const std::string& path, const logs::LogReadOptions& opts,
                                   const logs::LogSink& sink, const logs::FollowControl& follow = {});

}  // namespace kernlet::agent
