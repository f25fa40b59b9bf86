// mountinfo parsing (see mount_info.h).
#include "csi/driver/mount_info.h"

#include <fstream>
#include <sstream>

namespace kernlet::csi::local {
namespace {

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) f.push_back(line.substr(i, j - i));
    i = j;
  }
  return f;
}

Result<std::vector<MountEntry>> read_self() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Error::from_errno("open /proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_mountinfo(ss.str());
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    auto f = split(line);
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (f.size() < 6 || dash == 0 || dash + 2 >= f.size()) continue;
    MountEntry e;
    e.root = unescape(f[3]);
    e.mount_point = unescape(f[4]);
    std::string_view opts = f[5];
    e.read_only = opts == "ro" || opts.starts_with("ro,");
    e.fs_type = unescape(f[dash + 1]);
    e.source = unescape(f[dash + 2]);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<MountEntry>> mount_at(const std::string& path) {
  KL_ASSIGN_OR_RETURN(auto all, read_self());
  std::optional<MountEntry> found;
  for (auto& e : all)
    if (e.mount_point == path) found = std::move(e);
  return found;
}

Result<std::vector<MountEntry>> mounts_of_device(const std::string& device) {
  KL_ASSIGN_OR_RETURN(auto all, read_self());
  std::vector<MountEntry> out;
  for (auto& e : all)
    if (e.source == device) out.push_back(std::move(e));
  return out;
}

}  // namespace kernlet::csi::local
