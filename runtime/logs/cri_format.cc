#include "runtime/logs/cri_format.h"

#include <cstdio>
#include <ctime>

#include "api/time.h"

namespace kernlet::logs {
namespace {

// Seconds and nanoseconds since the epoch, flooring for times before 1970.
void split(TimePoint t, std::time_t& secs, long& nanos) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  secs = static_cast<std::time_t>(ns / 1000000000);
  nanos = static_cast<long>(ns % 1000000000);
  if (nanos < 0) {
    nanos += 1000000000;
    secs -= 1;
  }
}

std::string format(TimePoint t, bool trim) {
  std::time_t secs = 0;
  long nanos = 0;
  split(t, secs, nanos);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf, static_cast<std::size_t>(n));
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09ld", nanos);
  std::string f(frac);
  if (trim) {
    while (!f.empty() && f.back() == '0') f.pop_back();
  }
  if (!f.empty()) out += "." + f;
  out += 'Z';
  return out;
}

}  // namespace

std::string_view stream_name(Stream s) { return s == Stream::kStdout ? "stdout" : "stderr"; }

std::string format_timestamp(TimePoint t) { return format(t, false); }
std::string format_timestamp_go(TimePoint t) { return format(t, true); }

void append_record(std::string& out, TimePoint t, Stream s, bool partial, std::string_view content) {
  out += format_timestamp(t);
  out += ' ';
  out += stream_name(s);
  out += partial ? " P " : " F ";
  out += content;
  out += '\n';
}

Result<CriRecord> parse_record(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  auto bad = [&](const char* what) {
    std::string shown(line.substr(0, 80));
    return Error(ErrorCode::kInvalidArgument, "CRI log line \"" + shown + "\": " + what);
  };
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return bad("missing stream");
  Result<api::TimePoint> t = api::parse_rfc3339(line.substr(0, sp1));
  if (!t.ok()) return bad("bad timestamp");
  std::string_view rest = line.substr(sp1 + 1);
  std::size_t sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos) return bad("missing tag");
  std::string_view stream = rest.substr(0, sp2);
  CriRecord r;
  r.time = *t;
  if (stream == "stdout") {
    r.stream = Stream::kStdout;
  } else if (stream == "stderr") {
    r.stream = Stream::kStderr;
  } else {
    return bad("stream is neither stdout nor stderr");
  }
  rest = rest.substr(sp2 + 1);
  std::size_t sp3 = rest.find(' ');
  // A record with empty content may end right after the tag.
  std::string_view tags = sp3 == std::string_view::npos ? rest : rest.substr(0, sp3);
  std::string_view tag = tags.substr(0, tags.find(':'));
  if (tag == "F") {
    r.partial = false;
  } else if (tag == "P") {
    r.partial = true;
  } else {
    return bad("tag is neither F nor P");
  }
  r.content = sp3 == std::string_view::npos ? std::string_view() : rest.substr(sp3 + 1);
  return r;
}

void LineSplitter::feed(std::string_view data, const Emit& emit) {
  while (!data.empty()) {
    std::size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      buf_.append(data);
      // containerd cuts only once the pending line is longer than the limit.
      while (buf_.size() > max_) {
        emit(std::string_view(buf_).substr(0, max_), true);
        buf_.erase(0, max_);
      }
      return;
    }
    std::string_view piece = data.substr(0, nl);
    data.remove_prefix(nl + 1);
    std::string_view line;
    if (buf_.empty()) {
      line = piece;
    } else {
      buf_.append(piece);
      line = buf_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (line.size() > max_) {
      emit(line.substr(0, max_), true);
      line.remove_prefix(max_);
    }
    emit(line, false);
    buf_.clear();
  }
}

void LineSplitter::finish(const Emit& emit) {
  if (buf_.empty()) return;
  emit(buf_, true);
  buf_.clear();
}

std::string pod_log_directory(std::string_view root, std::string_view ns, std::string_view pod,
                              std::string_view uid) {
  std::string out(root);
  out += '/';
  out += ns;
  out += '_';
  out += pod;
  out += '_';
  out += uid;
  return out;
}

std::string container_log_path(std::string_view root, std::string_view ns, std::string_view pod,
                               std::string_view uid, std::string_view container, int restart_count) {
  return pod_log_directory(root, ns, pod, uid) + "/" + std::string(container) + "/" +
         std::to_string(restart_count) + ".log";
}

}  // namespace kernlet::logs
