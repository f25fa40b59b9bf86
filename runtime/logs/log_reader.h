// Reading CRI log files back for `kubectl logs`, the way the kubelet does: partial
// records are joined into lines, `--timestamps` prefixes each line with the time of its
// first record (Go's RFC3339Nano), `--since-time` drops lines older than it, `--tail`
// keeps the last N lines, `--limit-bytes` cuts the output, and `--follow` keeps reading
// as the file grows and across rotation until the container stops.
//
// Lines that are not valid records (a torn write after a crash) are skipped. Tail counts
// whole lines (joined partial records), not records as the kubelet does, so a tail never
// starts in the middle of a long line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/result.h"
#include "runtime/logs/cri_format.h"

namespace kernlet::logs {

struct LogReadOptions {
  std::optional<int64_t> tail_lines = {};  // last N lines; nullopt = all
  std::optional<TimePoint> since = {};     // lines whose first record is older are dropped
  bool timestamps = false;
  std::optional<int64_t> limit_bytes = {};  // stop after this many bytes of output
  bool include_stdout = true;
  bool include_stderr = true;
  bool follow = false;
};

// In follow mode: when to stop once the file is drained.
struct FollowControl {
  int stop_fd = -1;                       // readable (eventfd, pipe) → stop now
  std::function<bool()> still_running = {};  // false → drain, then stop; empty → run until stop_fd
  std::chrono::milliseconds recheck{1000};  // how often still_running is asked while idle
};

// Receives output; returns false to stop reading (client went away).
using LogSink = std::function<bool(std::string_view)>;

// Reads `path` with `opts` into `sink`. Errors: the file cannot be opened (kNotFound when
// it does not exist), inotify setup in follow mode.
Result<void> read_logs(const std::string& path, const LogReadOptions& opts, const LogSink& sink,
                       const FollowControl& follow = {});

}  // namespace kernlet::logs
