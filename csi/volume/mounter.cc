#include "csi/volume/mounter.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "api/unique_fd.h"

namespace kernlet::csi {

Result<void> LinuxMounter::mount_tmpfs(const std::string& target,
                                       std::optional<uint64_t> size_bytes) {
  std::string opts;
  if (size_bytes) opts = "size=" + std::to_string(*size_bytes);
  if (::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              opts.empty() ? nullptr : opts.c_str()) != 0)
    return Error::from_errno("mount tmpfs on " + target);
  return Ok();
}

Result<void> LinuxMounter::bind_mount_fd(int fd, const std::string& target) {
  // The new mount API clones the mount of exactly the inode the fd holds, no path walk in
  // between. Kernels without it (ENOSYS) get the classic bind of the /proc/self/fd magic
  // link, which also resolves to the fd's inode, not to whatever the path names now.
  UniqueFd tree(::open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (tree) {
    if (::move_mount(tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
      return Error::from_errno("move_mount onto " + target);
    return Ok();
  }
  if (errno != ENOSYS) return Error::from_errno("open_tree for bind onto " + target);
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  if (::mount(proc.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return Error::from_errno("bind mount " + proc + " onto " + target);
  return Ok();
}

Result<void> LinuxMounter::unmount(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) != 0) {
    if (errno == EINVAL || errno == ENOENT) return Ok();
    return Error::from_errno("unmount " + target);
  }
  return Ok();
}

Result<bool> LinuxMounter::is_mount_point(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Error::from_errno("statx " + path);
  }
  if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0)
    return Error("statx " + path + ": kernel does not report STATX_ATTR_MOUNT_ROOT");
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

std::vector<std::string> parse_mountinfo_mount_points(std::string_view mountinfo) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t eol = mountinfo.find('\n', pos);
    if (eol == std::string_view::npos) eol = mountinfo.size();
    std::string_view line = mountinfo.substr(pos, eol - pos);
    pos = eol + 1;
    // Fields: id parent major:minor root mount-point ...; the fifth is the mount point.
    size_t start = 0;
    for (int field = 0; field < 4 && start != std::string_view::npos; ++field) {
      start = line.find(' ', start);
      if (start != std::string_view::npos) ++start;
    }
    if (start == std::string_view::npos) continue;
    size_t end = line.find(' ', start);
    std::string_view raw = line.substr(start, end == std::string_view::npos ? end : end - start);
    std::string decoded;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '3') {
        decoded.push_back(static_cast<char>((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 +
                                            (raw[i + 3] - '0')));
        i += 3;
      } else {
        decoded.push_back(raw[i]);
      }
    }
    out.push_back(std::move(decoded));
  }
  return out;
}

Result<std::vector<std::string>> LinuxMounter::mounts_under(const std::string& dir_in) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Error::from_errno("open /proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> all = parse_mountinfo_mount_points(ss.str());
  // mountinfo shows resolved paths: compare with the resolved `dir` (the pods directory
  // may sit behind a symlink such as /var/lib/kernlet -> /data/kernlet).
  std::string dir = dir_in;
  if (char* real = ::realpath(dir_in.c_str(), nullptr)) {
    dir = real;
    ::free(real);
  }
  std::vector<std::string> out;
  // Later lines are mounted later (on top): walk backwards so stacked mounts come off in order.
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (*it == dir || (it->size() > dir.size() && it->starts_with(dir) && (*it)[dir.size()] == '/'))
      out.push_back(*it);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

Result<void> ensure_shared_mount(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  char real[PATH_MAX];
  if (::realpath(dir.c_str(), real) == nullptr) return Error::from_errno("shared mount " + dir + ": realpath");
  // Is `real` itself a mount point whose top mount is shared?
  bool shared = false, found = false;
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string w; ls >> w;) f.push_back(w);
    if (f.size() < 7) continue;
    std::vector<std::string> mp = parse_mountinfo_mount_points(line);
    if (mp.empty() || mp[0] != real) continue;
    found = true;
    shared = false;  // the last listed (topmost) mount at this point decides
    for (size_t i = 6; i < f.size() && f[i] != "-"; ++i)
      if (f[i].rfind("shared:", 0) == 0) shared = true;
  }
  if (found && shared) return Ok();
  // Also over a mount point that is not shared: that mount is not ours to change.
  if (::mount(real, real, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return Error::from_errno(std::string("shared mount ") + dir + ": bind onto itself");
  if (::mount(nullptr, real, nullptr, MS_SHARED | MS_REC, nullptr) != 0)
    return Error::from_errno(std::string("shared mount ") + dir + ": make rshared");
  return Ok();
}

}  // namespace kernlet::csi
