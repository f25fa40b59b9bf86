// The CRI container log format, as containerd writes it and the kubelet reads it:
//
//   <timestamp> <stream> <tag> <content>\n
//   2026-11-26T21:00:00.123456789Z stdout F hello
//
// timestamp: RFC 3339, UTC, always nine fractional digits; stream: stdout | stderr;
// tag: F (the content ends a line) or P (a partial line, continued by the next record of
// the same stream). The newline of the original line is not part of the content.
// Everything here is pure and thread-safe except LineSplitter, which is a value type
// without internal locking.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::logs {

using TimePoint = std::chrono::system_clock::time_point;

enum class Stream { kStdout, kStderr };
// "stdout" / "stderr".
std::string_view stream_name(Stream s);

// The longest content of one record; a longer line is split into partial records of this
// size. 16 KiB, containerd's max_container_log_line_size default.
inline constexpr std::size_t kMaxLineSize = 16 * 1024;

// "2026-11-26T21:00:00.123456789Z": UTC, nine fractional digits (what the runtime writes).
std::string format_timestamp(TimePoint t);
// Go's time.RFC3339Nano: UTC, trailing fractional zeros dropped ("...:00.5Z", "...:00Z");
// what `kubectl logs --timestamps` prints.
std::string format_timestamp_go(TimePoint t);

// Appends one record, newline included.
void append_record(std::string& out, TimePoint t, Stream s, bool partial, std::string_view content);

struct CriRecord {
  TimePoint time;
  Stream stream = Stream::kStdout;
  bool partial = false;
  std::string_view content;  // points into the parsed line
};

// Parses one record; `line` may or may not end with its '\n'. Errors name what is wrong:
// `CRI log line "x y": missing stream`. Tags other than F/P are refused; a tag list such
// as "F:x" (reserved by the CRI for future use) is accepted by its first tag.
Result<CriRecord> parse_record(std::string_view line);

// Cuts a byte stream into record contents the way containerd does: one record per line
// (the '\n' and one '\r' before it are dropped), lines longer than `max_line` split into
// partial records of exactly `max_line` bytes, and at end of stream an unterminated
// last line written as a partial record.
class LineSplitter {
 public:
  using Emit = std::function<void(std::string_view content, bool partial)>;

  explicit LineSplitter(std::size_t max_line = kMaxLineSize) : max_(max_line) {}

  // Consumes `data`, emitting every record it completes.
  void feed(std::string_view data, const Emit& emit);
  // End of stream: emits the pending unterminated line, if any, as a partial record.
  void finish(const Emit& emit);
  // Bytes held back waiting for their newline.
  std::size_t pending() const { return buf_.size(); }

 private:
  std::size_t max_;
  std::string buf_;
};

// /var/log/pods/<namespace>_<pod>_<uid> under `root` ("/var/log/pods").
std::string pod_log_directory(std::string_view root, std::string_view ns, std::string_view pod,
                              std::string_view uid);
// <pod dir>/<container>/<restart_count>.log, the kubelet's layout.
std::string container_log_path(std::string_view root, std::string_view ns, std::string_view pod,
                               std::string_view uid, std::string_view container, int restart_count);

}  // namespace kernlet::logs
