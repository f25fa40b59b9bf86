#include "runtime/images/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace kernlet::images {

Result<void> make_dirs(const std::string& path, unsigned mode) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "make_dirs: empty path");
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = path.find('/', pos);
    std::string prefix = pos == std::string::npos ? path : path.substr(0, pos);
    if (pos != std::string::npos) ++pos;
    if (prefix.empty() || prefix.back() == '/') continue;
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + prefix);
  }
  return Ok();
}

Result<UniqueFd> open_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open directory " + path);
  return UniqueFd(fd);
}

static Result<std::string> read_fd(int fd, const std::string& what, size_t max_bytes) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + what);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes)
      return Error(ErrorCode::kResourceExhausted, what + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  return read_file_at(AT_FDCWD, path, max_bytes);
}

Result<std::string> read_file_at(int dirfd, const std::string& name, size_t max_bytes) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    Error e = Error::from_errno("open " + name);
    if (errno == ENOENT) e = Error(ErrorCode::kNotFound, "open " + name + ": no such file");
    return e;
  }
  return read_fd(fd.get(), name, max_bytes);
}

std::string random_suffix() {
  unsigned char b[8];
  if (::getrandom(b, sizeof b, 0) != sizeof b) {
    for (auto& c : b) c = static_cast<unsigned char>(::rand());
  }
  char out[17];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 2 * i, 3, "%02x", b[i]);
  return std::string(out, 16);
}

Result<void> write_file_atomic(int dirfd, const std::string& name, std::string_view data) {
  std::string tmp = "." + name + ".tmp-" + random_suffix();
  UniqueFd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return Error::from_errno("create " + tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Error::from_errno("write " + tmp);
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return e;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    Error e = Error::from_errno("fsync " + tmp);
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return e;
  }
  fd.reset();
  if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
    Error e = Error::from_errno("rename " + tmp + " to " + name);
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return e;
  }
  if (::fsync(dirfd) != 0) return Error::from_errno("fsync directory of " + name);
  return Ok();
}

static Result<void> remove_children(int dfd, const std::string& what) {
  int dup = ::dup(dfd);
  if (dup < 0) return Error::from_errno("dup " + what);
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    ::close(dup);
    return Error::from_errno("fdopendir " + what);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    entries.emplace_back(n, e->d_type == DT_DIR || e->d_type == DT_UNKNOWN);
  }
  ::closedir(dir);
  for (auto& [n, maybe_dir] : entries) KL_TRY(remove_tree_at(dfd, n));
  return Ok();
}

Result<void> remove_tree_at(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return Ok();
  if (errno != EISDIR && errno != EPERM) return Error::from_errno("unlink " + name);
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Ok();
    return Error::from_errno("open " + name);
  }
  // A directory without write or search permission (an image may ship mode 0555 dirs)
  // is still removable by root; fix the mode for non-root owners.
  ::fchmod(fd.get(), 0700);
  KL_TRY(remove_children(fd.get(), name));
  fd.reset();
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return Error::from_errno("rmdir " + name);
  return Ok();
}

}  // namespace kernlet::images
