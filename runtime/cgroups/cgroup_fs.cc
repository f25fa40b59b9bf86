#include "runtime/cgroups/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

namespace kernlet::cgroups {

Error fs_error(std::string_view op, const std::string& path, int e) {
  std::string msg = std::string(op) + " " + path;
  Error err(std::move(msg), e);
  if (e == ENOENT) return Error(ErrorCode::kNotFound, err.to_string());
  if (e == EEXIST) return Error(ErrorCode::kAlreadyExists, err.to_string());
  return err;
}

Result<int64_t> RealCgroupFs::fs_type(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return fs_error("statfs", path, errno);
  return static_cast<int64_t>(st.f_type);
}

Result<bool> RealCgroupFs::exists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return fs_error("stat", path, errno);
}

Result<void> RealCgroupFs::mkdir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return fs_error("mkdir", path, errno);
  return Ok();
}

Result<void> RealCgroupFs::rmdir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return fs_error("rmdir", path, errno);
  return Ok();
}

Result<std::string> RealCgroupFs::read(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fs_error("open", path, errno);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fs_error("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<void> RealCgroupFs::write(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fs_error("open", path, errno);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fs_error("write \"" + std::string(value) + "\" to", path, errno);
  if (static_cast<size_t>(n) != value.size())
    return Error("write \"" + std::string(value) + "\" to " + path + ": short write");
  return Ok();
}

Result<std::vector<std::string>> RealCgroupFs::subdirs(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return fs_error("opendir", path, errno);
  std::vector<std::string> out;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      dir = ::fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (dir) out.emplace_back(name);
  }
  int e = errno;
  ::closedir(d);
  if (e != 0) return fs_error("readdir", path, e);
  return out;
}

Result<UniqueFd> RealCgroupFs::open_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fs_error("open", path, errno);
  return fd;
}

Result<UniqueFd> RealCgroupFs::watch_modify(const std::string& file) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return Error::from_errno("inotify_init1 for " + file);
  if (::inotify_add_watch(fd.get(), file.c_str(), IN_MODIFY) < 0)
    return fs_error("inotify_add_watch", file, errno);
  return fd;
}

}  // namespace kernlet::cgroups
