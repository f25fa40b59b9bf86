#include "csi/volume/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "api/unique_fd.h"

namespace kernlet::csi {

Result<void> make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Error("mkdir: empty path");
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
      return Error::from_errno("mkdir " + prefix);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISDIR(st.st_mode)) return Error("mkdir " + path + ": exists and is not a directory");
  return Ok();
}

namespace {

// Empties the directory `dir_fd` (on device `dev`); `path` is for errors only.
Result<void> remove_children(int dir_fd, dev_t dev, const std::string& path) {
  UniqueFd list_fd(::dup(dir_fd));
  if (!list_fd) return Error::from_errno("dup fd of " + path);
  DIR* d = ::fdopendir(list_fd.get());
  if (d == nullptr) return Error::from_errno("opendir " + path);
  list_fd.release();
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  for (const std::string& name : names) {
    std::string child = path + "/" + name;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return Error::from_errno("stat " + child);
    }
    if (S_ISDIR(st.st_mode)) {
      // A bind mount from the same filesystem has the same st_dev: ask statx as well, so
      // neither kind of leftover mount gets its (host's) contents deleted.
      struct statx stx {};
      bool mount_root = ::statx(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, 0, &stx) == 0 &&
                        (stx.stx_attributes & stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0;
      if (st.st_dev != dev || mount_root)
        return Error("remove " + child + ": a mount is still there");
      UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return Error::from_errno("open " + child);
      KL_TRY(remove_children(sub.get(), dev, child));
      if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        return Error::from_errno("rmdir " + child);
    } else if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return Error::from_errno("unlink " + child);
    }
  }
  return Ok();
}

}  // namespace

Result<void> remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok();
    return Error::from_errno("stat " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno("unlink " + path);
    return Ok();
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + path);
  struct stat parent {};
  if (::fstatat(fd.get(), "..", &parent, 0) != 0) return Error::from_errno("stat " + path + "/..");
  struct statx stx {};
  bool mount_root = ::statx(fd.get(), "", AT_EMPTY_PATH, 0, &stx) == 0 &&
                    (stx.stx_attributes & stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0;
  if (parent.st_dev != st.st_dev || mount_root)
    return Error("remove " + path + ": it is still a mount point");
  KL_TRY(remove_children(fd.get(), st.st_dev, path));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno("rmdir " + path);
  return Ok();
}

Result<std::vector<std::string>> list_subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return Error::from_errno("list " + dir);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      out.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kernlet::csi
