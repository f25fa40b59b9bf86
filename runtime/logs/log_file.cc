#include "runtime/logs/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace kernlet::logs {
namespace {

Result<void> make_parents(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Error("create log directory for " + path, ec.value());
  return Ok();
}

std::string suffix(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

std::vector<std::string> rotated_log_files(const std::string& path) {
  std::vector<std::string> out;
  std::filesystem::path p(path);
  std::string prefix = p.filename().string() + ".";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(p.parent_path(), ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.find(".tmp") == std::string::npos) {
      out.push_back(entry.path().string());
    }
  }
  // The suffix is a UTC timestamp, with ".0001", ... added on a clash within one second, so
  // name order is age order.
  std::sort(out.begin(), out.end());
  return out;
}

Result<RotatingLogFile> RotatingLogFile::open(std::string path, RotationPolicy policy, Clock clock) {
  if (policy.max_files < 2) {
    return Error(ErrorCode::kInvalidArgument, "log rotation: max_files must be at least 2, got " +
                                                  std::to_string(policy.max_files));
  }
  if (policy.max_size < 1024) {
    return Error(ErrorCode::kInvalidArgument, "log rotation: max_size must be at least 1024 bytes, got " +
                                                  std::to_string(policy.max_size));
  }
  RotatingLogFile f(std::move(path), policy, std::move(clock));
  KL_TRY(make_parents(f.path_));
  KL_TRY(f.open_current());
  return f;
}

Result<void> RotatingLogFile::open_current() {
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.valid()) return Error::from_errno("open log " + path_);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat log " + path_);
  fd_ = std::move(fd);
  size_ = static_cast<uint64_t>(st.st_size);
  return Ok();
}

Result<void> RotatingLogFile::reopen() {
  fd_.reset();
  return open_current();
}

Result<void> RotatingLogFile::rotate() {
  std::string target = path_ + "." + suffix(clock_());
  for (int n = 1; ::access(target.c_str(), F_OK) == 0; ++n) {
    char counter[16];
    std::snprintf(counter, sizeof counter, ".%04d", n);  // padded: name order stays age order
    target = path_ + "." + suffix(clock_()) + counter;
  }
  if (::rename(path_.c_str(), target.c_str()) != 0 && errno != ENOENT) {
    return Error::from_errno("rotate log " + path_ + " to " + target);
  }
  KL_TRY(reopen());
  return prune();
}

Result<void> RotatingLogFile::prune() {
  std::vector<std::string> old = rotated_log_files(path_);
  std::size_t keep = static_cast<std::size_t>(policy_.max_files - 1);
  for (std::size_t i = 0; i + keep < old.size(); ++i) {
    if (::unlink(old[i].c_str()) != 0 && errno != ENOENT) return Error::from_errno("remove old log " + old[i]);
  }
  return Ok();
}

Result<void> RotatingLogFile::write(std::string_view records) {
  // Whole records only: a batch is cut at the last record that still fits, the file is
  // rotated, and the rest goes to the new one. A record longer than max_size (only with
  // a tiny max_size) gets a file of its own.
  while (!records.empty()) {
    uint64_t room = size_ < policy_.max_size ? policy_.max_size - size_ : 0;
    std::string_view chunk = records;
    if (chunk.size() > room) {
      std::size_t cut = room > 0 ? records.rfind('\n', static_cast<std::size_t>(room - 1)) : std::string_view::npos;
      if (cut == std::string_view::npos) {
        if (size_ > 0) {
          KL_TRY(rotate());
          continue;
        }
        cut = records.find('\n');
        if (cut == std::string_view::npos) cut = records.size() - 1;
      }
      chunk = records.substr(0, cut + 1);
    }
    records.remove_prefix(chunk.size());
    while (!chunk.empty()) {
      ssize_t n = ::write(fd_.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno("write log " + path_);
      size_ += static_cast<uint64_t>(n);
      chunk.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  return Ok();
}

}  // namespace kernlet::logs
