#include "csi/node/fs_group.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kernlet::csi {

bool fs_group_applies(std::string_view policy, std::string_view fs_type,
                      const std::vector<std::string>& access_modes, bool read_only) {
  if (read_only) return false;
  if (policy == "None") return false;
  if (policy == "File") return true;
  // ReadWriteOnceWithFSType (also for an unknown policy: the API validates the enum).
  if (fs_type.empty()) return false;
  return std::find(access_modes.begin(), access_modes.end(), "ReadWriteOnce") != access_modes.end();
}

namespace {

// nftw gives no user pointer: the walk's state lives here for the one walk at a time per
// thread.
thread_local gid_t walk_gid;
thread_local int walk_errno;
thread_local std::string* walk_failed_path;

int change_one(const char* path, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_NS || type == FTW_DNR) {
    walk_errno = EACCES;
    *walk_failed_path = path;
    return 1;
  }
  if (::lchown(path, static_cast<uid_t>(-1), walk_gid) != 0) {
    walk_errno = errno;
    *walk_failed_path = path;
    return 1;
  }
  if (S_ISLNK(st->st_mode)) return 0;
  mode_t mode = st->st_mode & 07777;
  mode_t want = mode | 0060;
  if (S_ISDIR(st->st_mode)) want |= 02070;
  else if (mode & 0100) want |= 0010;
  // chown clears setuid/setgid on files: re-apply the mode even when it looks the same.
  if (::chmod(path, want) != 0) {
    walk_errno = errno;
    *walk_failed_path = path;
    return 1;
  }
  return 0;
}

}  // namespace

Result<void> apply_fs_group(const std::string& root, gid_t gid, bool on_root_mismatch) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) return Error::from_errno("set fsGroup " + std::to_string(gid) + " on " + root);
  if (on_root_mismatch && st.st_gid == gid && (st.st_mode & 02070) == 02070) return Ok();
  std::string failed;
  walk_gid = gid;
  walk_errno = 0;
  walk_failed_path = &failed;
  int rc = ::nftw(root.c_str(), change_one, 16, FTW_PHYS | FTW_MOUNT);
  walk_failed_path = nullptr;
  if (rc != 0) {
    errno = walk_errno != 0 ? walk_errno : errno;
    return Error::from_errno("set fsGroup " + std::to_string(gid) + " on " + (failed.empty() ? root : failed));
  }
  return Ok();
}

}  // namespace kernlet::csi
