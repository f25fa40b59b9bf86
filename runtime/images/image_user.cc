#include "runtime/images/image_user.h"

#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

namespace kernlet::images {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

std::optional<uint32_t> number(std::string_view s) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The file as the merged image shows it: the topmost layer that has it, unless a
// whiteout above hides it.
std::string read_image_file(const std::vector<std::string>& layers, std::string_view dir, std::string_view name) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    const std::string path = *it + "/" + std::string(dir) + "/" + std::string(name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return {};  // overlayfs whiteout
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  return {};
}

}  // namespace

Result<ResolvedUser> resolve_user_from(std::string_view passwd, std::string_view group, std::string_view user) {
  ResolvedUser r;
  const auto colon = user.find(':');
  const std::string_view u = user.substr(0, colon);
  const std::string_view g = colon == std::string_view::npos ? std::string_view{} : user.substr(colon + 1);
  std::string user_name;
  if (u.empty()) {
    r.uid = 0;
  } else if (auto n = number(u)) {
    r.uid = *n;
    // A numeric uid still takes its primary group from passwd when it is listed there.
    for (std::string_view line : split(passwd, '\n')) {
      auto f = split(line, ':');
      if (f.size() >= 4 && number(f[2]) == *n) {
        if (auto gid = number(f[3])) r.gid = *gid;
        user_name = std::string(f[0]);
        break;
      }
    }
  } else {
    bool found = false;
    for (std::string_view line : split(passwd, '\n')) {
      auto f = split(line, ':');
      if (f.size() >= 4 && f[0] == u) {
        auto uid = number(f[2]);
        auto gid = number(f[3]);
        if (!uid || !gid) {
          return Error(ErrorCode::kInvalidArgument, "user \"" + std::string(u) + "\": malformed /etc/passwd line");
        }
        r.uid = *uid;
        r.gid = *gid;
        found = true;
        break;
      }
    }
    if (!found) {
      return Error(ErrorCode::kNotFound, "user \"" + std::string(u) + "\" not found in the image's /etc/passwd");
    }
    user_name = std::string(u);
  }
  if (!g.empty()) {
    if (auto n = number(g)) {
      r.gid = *n;
    } else {
      bool found = false;
      for (std::string_view line : split(group, '\n')) {
        auto f = split(line, ':');
        if (f.size() >= 3 && f[0] == g) {
          auto gid = number(f[2]);
          if (!gid) return Error(ErrorCode::kInvalidArgument, "group \"" + std::string(g) + "\": malformed /etc/group line");
          r.gid = *gid;
          found = true;
          break;
        }
      }
      if (!found) {
        return Error(ErrorCode::kNotFound, "group \"" + std::string(g) + "\" not found in the image's /etc/group");
      }
    }
  }
  // Supplementary groups: those that list the user as a member (when no group was forced).
  if (!user_name.empty() && g.empty()) {
    for (std::string_view line : split(group, '\n')) {
      auto f = split(line, ':');
      if (f.size() < 4) continue;
      for (std::string_view member : split(f[3], ',')) {
        if (member == user_name) {
          if (auto gid = number(f[2]); gid && *gid != r.gid) r.additional_gids.push_back(*gid);
        }
      }
    }
  }
  return r;
}

Result<ResolvedUser> resolve_user(const std::vector<std::string>& layer_dirs, std::string_view user) {
  return resolve_user_from(read_image_file(layer_dirs, "etc", "passwd"), read_image_file(layer_dirs, "etc", "group"),
                           user);
}

}  // namespace kernlet::images
