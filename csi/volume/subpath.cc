#include "csi/volume/subpath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>
#include <vector>

namespace kernlet::csi {

namespace {

std::vector<std::string> split(std::string_view p) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    std::string_view part = p.substr(pos, next - pos);
    if (!part.empty() && part != ".") out.emplace_back(part);
    pos = next + 1;
  }
  return out;
}

int openat2_fd(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    // EAGAIN: a rename or mount raced the lookup (the kernel asks for a retry).
    if (fd < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return static_cast<int>(fd);
  }
}

constexpr uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

Error not_within(std::string_view sub, const std::string& root) {
  return Error(ErrorCode::kInvalidArgument,
               "subpath \"" + std::string(sub) + "\" not within volume path \"" + root + "\"");
}

// Creates the missing directories of `parts` beneath root_fd.
Result<void> make_beneath(int root_fd, const std::vector<std::string>& parts, mode_t mode,
                          std::string_view sub, const std::string& root) {
  std::string prefix;
  for (const std::string& part : parts) {
    std::string parent = prefix.empty() ? "." : prefix;
    prefix = prefix.empty() ? part : prefix + "/" + part;
    UniqueFd probe(openat2_fd(root_fd, prefix, O_PATH | O_CLOEXEC, kBeneath));
    if (probe) continue;
    if (errno == EXDEV || errno == ELOOP) return not_within(sub, root);
    if (errno != ENOENT) return Error::from_errno("open " + root + "/" + prefix);
    UniqueFd parent_fd(openat2_fd(root_fd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, kBeneath));
    if (!parent_fd) {
      if (errno == EXDEV || errno == ELOOP) return not_within(sub, root);
      return Error::from_errno("open " + root + "/" + parent);
    }
    if (::mkdirat(parent_fd.get(), part.c_str(), mode & 0777) != 0 && errno != EEXIST)
      return Error::from_errno("mkdir " + root + "/" + prefix);
    // The mode of the volume root, setgid included, not what the umask leaves of it.
    if (::fchmodat(parent_fd.get(), part.c_str(), mode & 07777, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno != EOPNOTSUPP)
      return Error::from_errno("chmod " + root + "/" + prefix);
  }
  return Ok();
}

}  // namespace

EnvMap env_map_from_strings(const std::vector<std::string>& env) {
  EnvMap out;
  for (const std::string& kv : env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

Result<std::string> expand_sub_path_expr(std::string_view expr, const EnvMap& env) {
  std::string out;
  std::set<std::string> missing;
  for (size_t i = 0; i < expr.size(); ++i) {
    if (expr[i] != '$' || i + 1 >= expr.size()) {
      out += expr[i];
      continue;
    }
    char next = expr[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
    } else if (next == '(') {
      size_t close = expr.find(')', i + 2);
      if (close == std::string_view::npos) {
        out.append(expr.substr(i));
        break;
      }
      std::string name(expr.substr(i + 2, close - i - 2));
      auto it = env.find(name);
      if (it == env.end() || it->second.empty()) {
        missing.insert(name);
      } else {
        out += it->second;
      }
      i = close;
    } else {
      out += '$';
    }
  }
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    return Error(ErrorCode::kInvalidArgument, "missing value for " + names);
  }
  return out;
}

Result<void> validate_sub_path(std::string_view sub_path) {
  if (!sub_path.empty() && sub_path.front() == '/')
    return Error(ErrorCode::kInvalidArgument,
                 "error SubPath `" + std::string(sub_path) + "` must not be an absolute path");
  for (const std::string& part : split(sub_path))
    if (part == "..")
      return Error(ErrorCode::kInvalidArgument,
                   "unable to provision SubPath `" + std::string(sub_path) + "`: must not contain '..'");
  return Ok();
}

Result<UniqueFd> open_sub_path(const std::string& root, std::string_view sub_path) {
  KL_TRY(validate_sub_path(sub_path));
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return Error::from_errno("open volume path " + root);
  std::vector<std::string> parts = split(sub_path);
  std::string rel;
  for (const std::string& p : parts) rel += (rel.empty() ? "" : "/") + p;
  if (rel.empty()) rel = ".";

  UniqueFd fd(openat2_fd(root_fd.get(), rel, O_PATH | O_CLOEXEC, kBeneath));
  if (!fd && errno == ENOENT) {
    struct stat st {};
    if (::fstat(root_fd.get(), &st) != 0) return Error::from_errno("stat " + root);
    KL_TRY(make_beneath(root_fd.get(), parts, st.st_mode, sub_path, root));
    fd.reset(openat2_fd(root_fd.get(), rel, O_PATH | O_CLOEXEC, kBeneath));
  }
  if (fd) return fd;
  if (errno != EXDEV && errno != ELOOP) return Error::from_errno("open subpath " + root + "/" + rel);

  // An absolute symlink (or ".." through one) in the way. Upstream resolves symlinks as the
  // host sees them and accepts a target inside the volume; do the same, then walk the
  // resolved path again with no symlink allowed at all, so a swap after realpath() is
  // refused rather than followed.
  char real_root[PATH_MAX], real_sub[PATH_MAX];
  std::string full = root + "/" + rel;
  if (::realpath(root.c_str(), real_root) == nullptr) return Error::from_errno("realpath " + root);
  if (::realpath(full.c_str(), real_sub) == nullptr) return not_within(sub_path, root);
  std::string rr = real_root, rs = real_sub;
  if (rs != rr && !(rs.starts_with(rr) && (rr == "/" || rs[rr.size()] == '/')))
    return not_within(sub_path, root);
  std::string inside = rs == rr ? "." : rs.substr(rr == "/" ? 1 : rr.size() + 1);
  UniqueFd real_root_fd(::open(real_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!real_root_fd) return Error::from_errno("open volume path " + rr);
  fd.reset(openat2_fd(real_root_fd.get(), inside, O_PATH | O_CLOEXEC,
                      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
  if (!fd) {
    if (errno == EXDEV || errno == ELOOP) return not_within(sub_path, root);
    return Error::from_errno("open subpath " + rr + "/" + inside);
  }
  return fd;
}

}  // namespace kernlet::csi
