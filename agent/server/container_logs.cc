#include "agent/server/container_logs.h"

#include "runtime/logs/log_file.h"

namespace kernlet::agent {
namespace {

// Output lines `file` holds on its own (a line cut by rotation counts in the next file).
Result<int64_t> count_lines(const std::string& file) {
  int64_t n = 0;
  logs::LogReadOptions o;
  KL_TRY(logs::read_logs(file, o, [&](std::string_view s) {
    for (char c : s) n += c == '\n' ? 1 : 0;
    return true;
  }));
  return n;
}

}  // namespace

std::vector<std::string> container_log_files(const std::string& path) {
  std::vector<std::string> files = logs::rotated_log_files(path);
  files.push_back(path);
  return files;
}

Result<void> stream_container_logs(const std::string& path, const logs::LogReadOptions& opts,
                                   const logs::LogSink& sink, const logs::FollowControl& follow) {
  std::vector<std::string> files = container_log_files(path);
  std::size_t first = 0;
  std::optional<int64_t> first_tail;  // tail for files[first]; the files after it are read whole
  if (opts.tail_lines) {
    first = files.size() - 1;
    first_tail = *opts.tail_lines;
    int64_t after = 0;  // lines in the files after `first`
    for (std::size_t i = files.size(); i-- > 0;) {
      Result<int64_t> n = count_lines(files[i]);
      if (!n.ok()) {
        if (i + 1 == files.size()) return n.error();
        first_tail.reset();  // a rotated file pruned meanwhile: all of the newer ones
        break;
      }
      first = i;
      first_tail = *opts.tail_lines - after;
      after += *n;
      if (after >= *opts.tail_lines) break;
      if (i == 0) first_tail.reset();  // not enough lines anywhere: everything
    }
  }

  int64_t written = 0;
  bool stopped = false;
  logs::LogSink counted = [&](std::string_view s) {
    written += static_cast<int64_t>(s.size());
    if (!sink(s)) {
      stopped = true;
      return false;
    }
    return true;
  };
  for (std::size_t i = first; i < files.size(); ++i) {
    const bool current = i + 1 == files.size();
    logs::LogReadOptions o = opts;
    o.tail_lines = i == first ? first_tail : std::nullopt;
    o.follow = current && opts.follow;
    if (opts.limit_bytes) {
      if (written >= *opts.limit_bytes) return Ok();
      o.limit_bytes = *opts.limit_bytes - written;
    }
    Result<void> r = logs::read_logs(files[i], o, counted, follow);
    if (!r.ok() && (current || r.error().code() != ErrorCode::kNotFound)) return r;
    if (stopped) return Ok();
  }
  return Ok();
}

}  // namespace kernlet::agent
