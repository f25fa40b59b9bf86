#include "runtime/logs/log_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <filesystem>
#include <vector>

#include "runtime/logs/log_file.h"
#include "runtime/logs/unique_fd.h"

namespace kernlet::logs {
namespace {

struct Line {
  Stream stream;
  TimePoint time;
  std::string text;
  bool complete;  // false: a partial line at the end of the data
};

// Joins partial records per stream into lines and filters them.
class Joiner {
 public:
  explicit Joiner(const LogReadOptions& o) : opts_(o) {}

  // Feeds one record; returns a finished line when this record completes one.
  std::optional<Line> feed(const CriRecord& r) {
    if ((r.stream == Stream::kStdout && !opts_.include_stdout) ||
        (r.stream == Stream::kStderr && !opts_.include_stderr)) {
      return std::nullopt;
    }
    Pending& p = pending_[r.stream == Stream::kStdout ? 0 : 1];
    if (!p.active) {
      p.active = true;
      p.first = r.time;
      p.text.clear();
    }
    p.text.append(r.content);
    if (r.partial) return std::nullopt;
    p.active = false;
    return Line{r.stream, p.first, std::move(p.text), true};
  }

  // The unfinished lines, for the end of a non-follow read.
  std::vector<Line> flush() {
    std::vector<Line> out;
    for (int i = 0; i < 2; ++i) {
      if (!pending_[i].active) continue;
      out.push_back(Line{i == 0 ? Stream::kStdout : Stream::kStderr, pending_[i].first,
                         std::move(pending_[i].text), false});
      pending_[i].active = false;
    }
    return out;
  }

 private:
  struct Pending {
    bool active = false;
    TimePoint first;
    std::string text;
  };
  const LogReadOptions& opts_;
  Pending pending_[2];
};

// Writes lines to the sink, applying since/timestamps/limit.
class Writer {
 public:
  Writer(const LogReadOptions& o, const LogSink& sink) : opts_(o), sink_(sink) {}

  // False when reading should stop (sink refused, or the byte limit is reached).
  bool write(const Line& l) {
    if (opts_.since && l.time < *opts_.since) return true;
    std::string out;
    if (opts_.timestamps) out = format_timestamp_go(l.time) + " ";
    out += l.text;
    if (l.complete) out += '\n';
    if (opts_.limit_bytes) {
      int64_t left = *opts_.limit_bytes - written_;
      if (left <= 0) return false;
      if (static_cast<int64_t>(out.size()) > left) out.resize(static_cast<std::size_t>(left));
    }
    written_ += static_cast<int64_t>(out.size());
    if (!sink_(out)) return false;
    return !opts_.limit_bytes || written_ < *opts_.limit_bytes;
  }

 private:
  const LogReadOptions& opts_;
  const LogSink& sink_;
  int64_t written_ = 0;
};

// Reads complete '\n'-terminated lines from an fd, keeping a torn tail for later.
class FileLines {
 public:
  explicit FileLines(UniqueFd fd) : fd_(std::move(fd)) {}

  // Calls each(line) for every complete line readable now. False if each() said stop.
  Result<bool> drain(const std::function<bool(std::string_view)>& each) {
    char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno("read log");
      if (n == 0) return true;
      buf_.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!each(std::string_view(buf_).substr(start, nl - start))) {
          buf_.erase(0, nl + 1);
          return false;
        }
      }
      buf_.erase(0, start);
    }
  }

  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::string buf_;
};

Result<UniqueFd> open_log(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "log file " + path + " does not exist");
    return Error::from_errno("open log " + path);
  }
  return fd;
}

bool same_file(const struct stat& a, const std::string& path) {
  struct stat b {};
  if (::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool same_file(int fd, const std::string& path) {
  struct stat a {};
  return ::fstat(fd, &a) == 0 && same_file(a, path);
}

// The file to read after the one open on `fd`, which is no longer `path`: the rotated
// file that came next, or `path` itself. Several rotations may have happened since the
// last look; taking `path` directly would skip the files in between. Rotated files are
// pruned oldest first, so when ours is gone every rotated file left is newer.
std::string next_file(int fd, const std::string& path) {
  struct stat cur {};
  if (::fstat(fd, &cur) != 0) return path;
  std::vector<std::string> rotated = rotated_log_files(path);
  for (std::size_t i = 0; i < rotated.size(); ++i) {
    if (same_file(cur, rotated[i])) return i + 1 < rotated.size() ? rotated[i + 1] : path;
  }
  return rotated.empty() ? path : rotated.front();
}

}  // namespace

Result<void> read_logs(const std::string& path, const LogReadOptions& opts, const LogSink& sink,
                       const FollowControl& follow) {
  // Set the watch up before the first read, so nothing written in between is missed.
  UniqueFd inotify;
  if (opts.follow) {
    inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify.valid()) return Error::from_errno("inotify_init1");
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (::inotify_add_watch(inotify.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
      return Error::from_errno("inotify_add_watch " + dir);
    }
  }
  KL_ASSIGN_OR_RETURN(UniqueFd fd, open_log(path));
  auto file = std::make_unique<FileLines>(std::move(fd));
  Joiner joiner(opts);
  Writer writer(opts, sink);

  // The initial contents: with a tail, keep only the last N lines before writing.
  std::deque<Line> tail;
  bool keep_going = true;
  auto collect = [&](std::string_view text) {
    Result<CriRecord> r = parse_record(text);
    if (!r.ok()) return true;  // torn or foreign line: skip, as the kubelet does
    std::optional<Line> line = joiner.feed(*r);
    if (!line) return true;
    if (opts.tail_lines) {
      if (*opts.tail_lines <= 0) return true;
      tail.push_back(std::move(*line));
      if (static_cast<int64_t>(tail.size()) > *opts.tail_lines) tail.pop_front();
      return true;
    }
    keep_going = writer.write(*line);
    return keep_going;
  };
  KL_ASSIGN_OR_RETURN(bool more, file->drain(collect));
  for (const Line& l : tail) {
    if (!keep_going) break;
    keep_going = writer.write(l);
  }
  if (!more || !keep_going) return Ok();

  auto stream_on = [&](std::string_view text) {
    Result<CriRecord> r = parse_record(text);
    if (!r.ok()) return true;
    std::optional<Line> line = joiner.feed(*r);
    return !line || writer.write(*line);
  };

  if (!opts.follow) {
    for (const Line& l : joiner.flush()) {
      if (!writer.write(l)) break;
    }
    return Ok();
  }

  for (;;) {
    KL_ASSIGN_OR_RETURN(bool go, file->drain(stream_on));
    if (!go) return Ok();
    // Rotated: the name now points at a new file. Finish the old one (a rotated file no
    // longer grows), then move to its successor.
    if (!same_file(file->fd(), path)) {
      Result<UniqueFd> next = open_log(next_file(file->fd(), path));
      // Drained after the successor was opened, not before: a writer finishes the old file
      // before it starts the new one, so whatever it wrote to the old file is there now
      // (drained before the open, a last write in between would be skipped).
      KL_ASSIGN_OR_RETURN(go, file->drain(stream_on));
      if (!go) return Ok();
      if (next.ok()) {
        file = std::make_unique<FileLines>(std::move(next).value());
        continue;
      }
      // Pruned or not yet recreated: look again after the next event.
    }
    if (follow.still_running && !follow.still_running()) {
      KL_ASSIGN_OR_RETURN(go, file->drain(stream_on));
      for (const Line& l : joiner.flush()) {
        if (!go || !writer.write(l)) break;
      }
      return Ok();
    }
    pollfd p[2] = {{inotify.get(), POLLIN, 0}, {follow.stop_fd, POLLIN, 0}};
    int n = ::poll(p, follow.stop_fd >= 0 ? 2 : 1, static_cast<int>(follow.recheck.count()));
    if (n < 0 && errno != EINTR) return Error::from_errno("poll while following " + path);
    if (follow.stop_fd >= 0 && (p[1].revents & POLLIN) != 0) return Ok();
    if ((p[0].revents & POLLIN) != 0) {
      char events[4096];
      while (::read(inotify.get(), events, sizeof events) > 0) {
      }
    }
  }
}

}  // namespace kernlet::logs
