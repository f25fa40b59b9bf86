#include "csi/volume/host_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "csi/volume/fs_util.h"

namespace kernlet::csi {

namespace {

Error type_failed(const std::string& path, std::string_view what) {
  return Error(ErrorCode::kInvalidArgument,
               "hostPath type check failed: " + path + " is not a " + std::string(what));
}

// The file type of `path` (symlinks followed), 0 when nothing is there.
Result<mode_t> file_type(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return mode_t{0};
    return Error::from_errno("hostPath type check: stat " + path);
  }
  return static_cast<mode_t>(st.st_mode & S_IFMT);
}

}  // namespace

Result<void> check_host_path_type(const std::string& path, std::string_view type) {
  if (type.empty()) return Ok();
  KL_ASSIGN_OR_RETURN(mode_t t, file_type(path));
  if (type == "DirectoryOrCreate") {
    if (t == 0) {
      // As upstream: MkdirAll with 0755 (the umask applies).
      return make_dirs(path, 0755);
    }
    if (t != S_IFDIR) return type_failed(path, "directory");
    return Ok();
  }
  if (type == "Directory") {
    if (t != S_IFDIR) return type_failed(path, "directory");
    return Ok();
  }
  if (type == "FileOrCreate") {
    if (t == 0) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return Error::from_errno("hostPath: create file " + path);
      ::close(fd);
      return Ok();
    }
    if (t == S_IFDIR) return type_failed(path, "file");
    return Ok();
  }
  if (type == "File") {
    // As upstream: anything that exists and is not a directory passes (a socket too).
    if (t == 0 || t == S_IFDIR) return type_failed(path, "file");
    return Ok();
  }
  if (type == "Socket") {
    if (t != S_IFSOCK) return type_failed(path, "socket file");
    return Ok();
  }
  if (type == "CharDevice") {
    if (t != S_IFCHR) return type_failed(path, "character device");
    return Ok();
  }
  if (type == "BlockDevice") {
    if (t != S_IFBLK) return type_failed(path, "block device");
    return Ok();
  }
  return Error(ErrorCode::kInvalidArgument, std::string(type) + " is an invalid volume type");
}

}  // namespace kernlet::csi
