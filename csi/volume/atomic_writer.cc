#include "csi/volume/atomic_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <set>
#include <vector>

#include "api/unique_fd.h"
#include "csi/volume/fs_util.h"

namespace kernlet::csi {

namespace {

constexpr std::string_view kDataDir = "..data";
constexpr std::string_view kDataTmp = "..data_tmp";

std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    std::string_view part = p.substr(pos, next - pos);
    if (!part.empty() && part != ".") out.push_back(part);
    pos = next + 1;
  }
  return out;
}

std::string join(const std::vector<std::string_view>& parts) {
  std::string out;
  for (std::string_view p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

Result<std::string> read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return Error::from_errno("readlink " + path);
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<void> write_new_file(const std::string& path, const FileProjection& f) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("create " + path);
  size_t off = 0;
  while (off < f.data.size()) {
    ssize_t n = ::write(fd.get(), f.data.data() + off, f.data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("write " + path);
    }
    off += static_cast<size_t>(n);
  }
  // fchmod, not the open mode: the umask must not strip the mode the pod asked for.
  if (::fchmod(fd.get(), f.mode & 07777) != 0) return Error::from_errno("chmod " + path);
  return Ok();
}

mode_t expected_mode(mode_t mode, std::optional<gid_t> fs_group) {
  return fs_group ? ((mode & 07777) | 0440) : (mode & 07777);
}

// Whether the version in `ts_dir` already holds exactly `payload` (contents, modes, group).
bool version_matches(const std::string& ts_dir, const std::map<std::string, FileProjection>& payload,
                     std::optional<gid_t> fs_group) {
  namespace fs = std::filesystem;
  std::error_code ec;
  size_t files = 0;
  for (fs::recursive_directory_iterator it(ts_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) continue;
    ++files;
    std::string rel = fs::relative(it->path(), ts_dir, ec).string();
    auto want = payload.find(rel);
    if (want == payload.end()) return false;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if ((st.st_mode & 07777) != expected_mode(want->second.mode, fs_group)) return false;
    if (fs_group && st.st_gid != *fs_group) return false;
    Result<std::string> data = read_file(it->path());
    if (!data.ok() || *data != want->second.data) return false;
  }
  return !ec && files == payload.size();
}

Result<void> apply_group(const std::string& path, gid_t gid, bool is_dir) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  if (::lchown(path.c_str(), static_cast<uid_t>(-1), gid) != 0)
    return Error::from_errno("chown " + path + " to group " + std::to_string(gid));
  mode_t mode = st.st_mode & 07777;
  mode |= is_dir ? (0550 | S_ISGID) : 0440;
  if (::chmod(path.c_str(), mode) != 0) return Error::from_errno("chmod " + path);
  return Ok();
}

}  // namespace

Result<void> validate_payload_path(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument, "invalid path \"" + std::string(path) + "\": " + std::string(why));
  };
  if (path.empty()) return bad("must not be empty");
  if (path.size() > 4096) return bad("must be less than or equal to 4096 characters");
  if (path.front() == '/') return bad("must be a relative path");
  for (std::string_view part : split_path(path))
    if (part == "..") return bad("must not contain '..'");
  if (path.starts_with("..")) return bad("must not start with '..'");
  return Ok();
}

AtomicWriter::AtomicWriter(std::string dir, std::string what)
    : dir_(std::move(dir)), what_(std::move(what)) {}

Result<bool> AtomicWriter::write(const Payload& in, std::optional<gid_t> fs_group) {
  auto fail = [&](Error e) { return std::move(e).context("write " + what_ + " into " + dir_); };

  // Clean the paths ("a//b/./c" -> "a/b/c") so the comparison with the disk is exact.
  std::map<std::string, FileProjection> payload;
  std::set<std::string> visible;
  for (const auto& [path, file] : in) {
    if (auto r = validate_payload_path(path); !r.ok()) return fail(std::move(r).error());
    std::vector<std::string_view> parts = split_path(path);
    if (parts.empty()) return fail(Error(ErrorCode::kInvalidArgument, "invalid path \"" + path + "\""));
    visible.insert(std::string(parts.front()));
    payload[join(parts)] = file;
  }

  std::string data_link = dir_ + "/" + std::string(kDataDir);
  std::string old_ts;
  if (Result<std::string> l = read_link(data_link); l.ok()) {
    old_ts = *l;
  } else if (l.error().sys_errno() != ENOENT) {
    return fail(std::move(l).error());
  }
  if (!old_ts.empty() && version_matches(dir_ + "/" + old_ts, payload, fs_group)) {
    // Still make sure each visible entry exists (a crash may have stopped an earlier write
    // between the swap and the symlinks).
    bool complete = true;
    for (const std::string& v : visible) {
      struct stat st {};
      if (::lstat((dir_ + "/" + v).c_str(), &st) != 0) complete = false;
    }
    if (complete) return false;
  }

  // A new version directory, named like the kubelet's: ..<UTC time>.<random>.
  char stamp[64];
  std::time_t now = std::time(nullptr);
  std::tm tm {};
  ::gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "..%Y_%m_%d_%H_%M_%S.", &tm);
  std::string tmpl = dir_ + "/" + stamp + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return fail(Error::from_errno("mkdtemp " + tmpl));
  std::string ts_path = tmpl;
  std::string ts_name = ts_path.substr(dir_.size() + 1);
  auto discard = [&](Error e) {
    (void)remove_tree(ts_path);
    return fail(std::move(e));
  };
  if (::chmod(ts_path.c_str(), 0755) != 0) return discard(Error::from_errno("chmod " + ts_path));

  for (const auto& [path, file] : payload) {
    std::vector<std::string_view> parts = split_path(path);
    std::string cur = ts_path;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      cur += "/";
      cur += parts[i];
      if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        return discard(Error::from_errno("mkdir " + cur));
      if (fs_group) {
        if (auto r = apply_group(cur, *fs_group, true); !r.ok()) return discard(std::move(r).error());
      }
    }
    std::string file_path = ts_path + "/" + path;
    if (auto r = write_new_file(file_path, file); !r.ok()) return discard(std::move(r).error());
    if (fs_group) {
      if (auto r = apply_group(file_path, *fs_group, false); !r.ok()) return discard(std::move(r).error());
    }
  }
  if (fs_group) {
    if (auto r = apply_group(ts_path, *fs_group, true); !r.ok()) return discard(std::move(r).error());
    if (auto r = apply_group(dir_, *fs_group, true); !r.ok()) return discard(std::move(r).error());
  }

  // The swap: a fresh symlink renamed over ..data. rename(2) replaces it atomically, so a
  // reader resolving ..data sees the old version or the new one, nothing in between.
  std::string tmp_link = dir_ + "/" + std::string(kDataTmp);
  if (::unlink(tmp_link.c_str()) != 0 && errno != ENOENT)
    return discard(Error::from_errno("unlink " + tmp_link));
  if (::symlink(ts_name.c_str(), tmp_link.c_str()) != 0)
    return discard(Error::from_errno("symlink " + tmp_link));
  if (::rename(tmp_link.c_str(), data_link.c_str()) != 0) {
    Error e = Error::from_errno("rename " + tmp_link + " to " + data_link);
    (void)::unlink(tmp_link.c_str());
    return discard(std::move(e));
  }

  // From here on the new version is live: failures are reported, the version stays.
  for (const std::string& v : visible) {
    std::string link = dir_ + "/" + v;
    std::string want = std::string(kDataDir) + "/" + v;
    Result<std::string> cur = read_link(link);
    if (cur.ok() && *cur == want) continue;
    if (!cur.ok() && cur.error().sys_errno() != ENOENT)
      return fail(Error("user-visible path " + link + " exists and is not a symlink into ..data"));
    if (cur.ok()) {
      if (::unlink(link.c_str()) != 0) return fail(Error::from_errno("unlink " + link));
    }
    if (::symlink(want.c_str(), link.c_str()) != 0) return fail(Error::from_errno("symlink " + link));
  }

  // Drop visible links of paths no longer projected, and every older version directory.
  std::error_code ec;
  std::vector<std::string> stale_links, stale_dirs;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("..")) {
      if (name != kDataDir && name != ts_name && e.is_directory(ec) && !e.is_symlink(ec))
        stale_dirs.push_back(e.path().string());
      continue;
    }
    if (visible.count(name) != 0) continue;
    Result<std::string> target = read_link(e.path().string());
    if (target.ok() && target->starts_with(std::string(kDataDir) + "/")) stale_links.push_back(e.path().string());
  }
  if (ec) return fail(Error("list " + dir_ + ": " + ec.message()));
  for (const std::string& l : stale_links)
    if (::unlink(l.c_str()) != 0 && errno != ENOENT) return fail(Error::from_errno("unlink " + l));
  for (const std::string& d : stale_dirs) KL_TRY(remove_tree(d));
  return true;
}

}  // namespace kernlet::csi
