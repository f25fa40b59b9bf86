// A Mounter that records mounts instead of making them (unit tests, no root).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "csi/volume/mounter.h"

namespace kernlet::csi::testing {

class FakeMounter final : public Mounter {
 public:
  struct Mount {
    std::string kind;    // "tmpfs" or "bind"
    std::optional<uint64_t> size;
    std::string source;  // bind: what the fd pointed to (readlink of /proc/self/fd/N)
  };

  Result<void> mount_tmpfs(const std::string& target, std::optional<uint64_t> size_bytes) override {
    if (fail_next_mount) {
      fail_next_mount = false;
      errno = ENOSPC;
      return Error::from_errno("mount tmpfs on " + target);
    }
    mounts[target] = Mount{"tmpfs", size_bytes, ""};
    return Ok();
  }
  Result<void> bind_mount_fd(int fd, const std::string& target) override {
    char buf[4096];
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf);
    if (n < 0) return Error::from_errno("readlink " + proc);
    mounts[target] = Mount{"bind", std::nullopt, std::string(buf, static_cast<size_t>(n))};
    return Ok();
  }
  Result<void> unmount(const std::string& target) override {
    mounts.erase(target);
    unmounted.push_back(target);
    return Ok();
  }
  Result<bool> is_mount_point(const std::string& path) override { return mounts.count(path) != 0; }
  Result<std::vector<std::string>> mounts_under(const std::string& dir) override {
    std::vector<std::string> out;
    for (const auto& [p, m] : mounts)
      if (p == dir || p.starts_with(dir + "/")) out.push_back(p);
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return out;
  }

  std::map<std::string, Mount> mounts;
  std::vector<std::string> unmounted;
  bool fail_next_mount = false;
};

}  // namespace kernlet::csi::testing
