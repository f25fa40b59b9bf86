#include "runtime/images/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/images/fs.h"

namespace kernlet::images {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// The decompressed stream. A "raw" libarchive reader undoes gzip/zstd (or nothing) on a
// thread of its own, hashing every byte it yields, and hands fixed-size chunks to the tar
// reader through a small bounded queue: decompression overlaps with the writes (as
// `tar -z` overlaps with its gzip process), and the diff_id is checked against exactly the
// bytes that were unpacked.
class RawStream {
 public:
  explicit RawStream(archive* raw) : raw_(raw) {
    for (auto& c : pool_) free_.push_back(&c);
    thread_ = std::thread([this] { produce(); });
  }
  ~RawStream() { stop(); }

  // libarchive read callback: the next chunk; the previous one is recycled (libarchive
  // promises not to touch it after asking for the next).
  static la_ssize_t read(archive* /*tar*/, void* ctx, const void** out) {
    auto* s = static_cast<RawStream*>(ctx);
    std::unique_lock lock(s->mu_);
    if (s->current_ != nullptr) {
      s->free_.push_back(s->current_);
      s->current_ = nullptr;
      s->cv_.notify_all();
    }
    s->cv_.wait(lock, [s] { return !s->ready_.empty() || s->done_; });
    if (s->ready_.empty()) return s->error_.empty() ? 0 : -1;
    s->current_ = s->ready_.front();
    s->ready_.pop_front();
    *out = s->current_->data.data();
    return static_cast<la_ssize_t>(s->current_->size);
  }

  // Reads (and discards) whatever the tar reader left, waits for the end, returns the hash.
  Result<Digest> finish() {
    for (;;) {
      const void* p;
      la_ssize_t n = read(nullptr, this, &p);
      if (n < 0) return Error(ErrorCode::kInvalidArgument, "read layer: " + error());
      if (n == 0) break;
    }
    stop();
    return digest_;
  }

  std::string error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  struct Chunk {
    std::vector<char> data = std::vector<char>(1 << 20);
    size_t size = 0;
  };

  void produce() {
    Sha256 hash;
    for (;;) {
      Chunk* c;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !free_.empty() || cancel_; });
        if (cancel_) break;
        c = free_.back();
        free_.pop_back();
      }
      la_ssize_t n = archive_read_data(raw_, c->data.data(), c->data.size());
      std::lock_guard lock(mu_);
      if (n <= 0) {
        if (n < 0) error_ = archive_error_string(raw_) != nullptr ? archive_error_string(raw_) : "decompression failed";
        free_.push_back(c);
        break;
      }
      hash.update(c->data.data(), static_cast<size_t>(n));
      c->size = static_cast<size_t>(n);
      ready_.push_back(c);
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    digest_ = hash.finish();
    done_ = true;
    cv_.notify_all();
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      cancel_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  archive* raw_;
  std::array<Chunk, 4> pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Chunk*> free_;
  std::deque<Chunk*> ready_;
  Chunk* current_ = nullptr;
  bool done_ = false;
  bool cancel_ = false;
  std::string error_;
  Digest digest_;
  std::thread thread_;  // last: started after everything it uses exists
};

long openat2_fd(int dirfd, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
    if (fd < 0 && errno == EAGAIN) continue;
    return fd;
  }
}

// Splits "a/b/c" into ("a/b", "c"); "c" into (".", "c").
std::pair<std::string, std::string> split(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  std::string parent = path.substr(0, slash);
  return {parent.empty() ? "." : parent, path.substr(slash + 1)};
}

// Removes "./" prefixes, repeated and trailing slashes; keeps ".." (the kernel clamps it to
// the root under RESOLVE_IN_ROOT) and a leading "/" (resolved against the root too).
std::string clean_name(const char* raw) {
  std::string in = raw != nullptr ? raw : "";
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    size_t j = in.find('/', i);
    if (j == std::string::npos) j = in.size();
    std::string comp = in.substr(i, j - i);
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out += comp;
    }
    i = j + 1;
  }
  return out;
}

struct DirTimes {
  std::string path;
  timespec mtime;
};

class Unpacker {
 public:
  Unpacker(int root, const UnpackOptions& opts) : root_(root), opts_(opts) {}

  Result<void> entry(archive* a, archive_entry* e, UnpackStats& stats);
  Result<void> finish();

 private:
  Result<UniqueFd> open_dir(const std::string& rel, bool create, int depth = 0);
  Result<void> replace_existing(int pfd, const std::string& base, bool keep_dir);
  Result<void> set_meta_fd(int fd, archive_entry* e, const std::string& name);
  Result<void> set_meta_at(int pfd, const std::string& base, archive_entry* e, const std::string& name);
  Result<void> write_data(archive* a, int fd, const std::string& name, UnpackStats& stats);

  int root_;
  UnpackOptions opts_;
  std::vector<DirTimes> dirs_;
};

Result<UniqueFd> Unpacker::open_dir(const std::string& rel, bool create, int depth) {
  if (depth > 256) return Error(ErrorCode::kInvalidArgument, "directory nesting too deep at " + rel);
  long fd = openat2_fd(root_, rel, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno != ENOENT || !create) return Error::from_errno("open directory " + rel + " in layer");
  auto [parent, base] = split(rel);
  KL_ASSIGN_OR_RETURN(UniqueFd pfd, open_dir(parent, true, depth + 1));
  if (::mkdirat(pfd.get(), base.c_str(), 0755) != 0 && errno != EEXIST)
    return Error::from_errno("mkdir " + rel + " in layer");
  fd = openat2_fd(root_, rel, O_RDONLY | O_DIRECTORY);
  // Still missing after mkdir: the name is a symlink whose target does not exist in the
  // layer (it may point at a host path). Never create directories through it.
  if (fd < 0) return Error::from_errno("open directory " + rel + " in layer");
  return UniqueFd(static_cast<int>(fd));
}

Result<void> Unpacker::replace_existing(int pfd, const std::string& base, bool keep_dir) {
  struct stat st;
  if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Ok();
    return Error::from_errno("stat " + base);
  }
  if (keep_dir && S_ISDIR(st.st_mode)) return Ok();
  if (S_ISDIR(st.st_mode)) return remove_tree_at(pfd, base);
  if (::unlinkat(pfd, base.c_str(), 0) != 0) return Error::from_errno("unlink " + base);
  return Ok();
}

Result<void> Unpacker::set_meta_fd(int fd, archive_entry* e, const std::string& name) {
  if (opts_.preserve_ownership &&
      ::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) != 0)
    return Error::from_errno("chown " + name);
  // After chown: chown clears set-id bits, the mode puts them back.
  if (::fchmod(fd, archive_entry_perm(e)) != 0) return Error::from_errno("chmod " + name);
  archive_entry_xattr_reset(e);
  const char* xname;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
    std::string_view n = xname;
    // Overlay metadata comes only from whiteouts; a layer must not forge it.
    if (n.starts_with("trusted.overlay.")) continue;
    if (::fsetxattr(fd, xname, value, size, 0) != 0)
      return Error::from_errno("set xattr " + std::string(n) + " on " + name);
  }
  return Ok();
}

Result<void> Unpacker::set_meta_at(int pfd, const std::string& base, archive_entry* e, const std::string& name) {
  if (opts_.preserve_ownership && ::fchownat(pfd, base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                                             static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0)
    return Error::from_errno("chown " + name);
  timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
  ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return Error::from_errno("set times on " + name);
  return Ok();
}

Result<void> Unpacker::write_data(archive* a, int fd, const std::string& name, UnpackStats& stats) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK)
      return Error(ErrorCode::kInvalidArgument, "read data of " + name + ": " + archive_error_string(a));
    const char* p = static_cast<const char*>(buf);
    off_t off = offset;
    while (size > 0) {
      ssize_t w = ::pwrite(fd, p, size, off);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno("write " + name);
      }
      p += w;
      off += w;
      size -= static_cast<size_t>(w);
      stats.bytes += static_cast<uint64_t>(w);
    }
  }
  return Ok();
}

Result<void> Unpacker::entry(archive* a, archive_entry* e, UnpackStats& stats) {
  const char* raw_name = archive_entry_pathname(e);
  if (raw_name == nullptr || raw_name[0] == '\0')
    return Error(ErrorCode::kInvalidArgument, "tar entry with an empty name");
  std::string name = clean_name(raw_name);
  const char* hardlink = archive_entry_hardlink(e);
  mode_t type = archive_entry_filetype(e);

  if (name.empty() || name == "/") {
    // "./" or "/": the layer root itself. Only a directory entry makes sense here.
    if (hardlink != nullptr || type != AE_IFDIR)
      return Error(ErrorCode::kInvalidArgument,
                   "tar entry \"" + std::string(raw_name) + "\" names the layer root but is not a directory");
    KL_TRY(set_meta_fd(root_, e, "/"));
    dirs_.push_back({".", {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}});
    return Ok();
  }

  auto [parent, base] = split(name);
  if (base == "..") {
    if (type != AE_IFDIR || hardlink != nullptr)
      return Error(ErrorCode::kInvalidArgument, "tar entry \"" + std::string(raw_name) + "\": invalid name");
    // "a/.." as a directory: it exists once its parent exists; nothing else to do.
    KL_ASSIGN_OR_RETURN(UniqueFd ignored, open_dir(name, true));
    return Ok();
  }
  KL_ASSIGN_OR_RETURN(UniqueFd pfd, open_dir(parent, true));

  // Whiteouts.
  if (std::string_view(base).starts_with(kWhiteoutPrefix)) {
    if (base == kOpaqueMarker) {
      if (::fsetxattr(pfd.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
        return Error::from_errno("mark " + parent + " opaque (trusted.overlay.opaque)");
      return Ok();
    }
    std::string hidden = base.substr(kWhiteoutPrefix.size());
    if (hidden.starts_with(".wh.")) return Ok();  // aufs metadata (.wh..wh.plnk etc.): not ours
    if (hidden.empty() || hidden == "." || hidden == "..")
      return Error(ErrorCode::kInvalidArgument, "tar entry \"" + std::string(raw_name) + "\": invalid whiteout");
    KL_TRY(replace_existing(pfd.get(), hidden, false));
    if (::mknodat(pfd.get(), hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
      return Error::from_errno("create whiteout for " + parent + "/" + hidden);
    KL_TRY(set_meta_at(pfd.get(), hidden, e, name));
    return Ok();
  }

  if (hardlink != nullptr) {
    std::string target = clean_name(hardlink);
    if (target.empty()) return Error(ErrorCode::kInvalidArgument, "hardlink " + name + ": empty target");
    auto [tparent, tbase] = split(target);
    if (tbase == "..") return Error(ErrorCode::kInvalidArgument, "hardlink " + name + ": invalid target " + target);
    KL_ASSIGN_OR_RETURN(UniqueFd tpfd, open_dir(tparent, false));
    KL_TRY(replace_existing(pfd.get(), base, false));
    // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink, never what it points to.
    if (::linkat(tpfd.get(), tbase.c_str(), pfd.get(), base.c_str(), 0) != 0)
      return Error::from_errno("hardlink " + name + " to " + target);
    return Ok();
  }

  switch (type) {
    case AE_IFDIR: {
      KL_TRY(replace_existing(pfd.get(), base, true));
      if (::mkdirat(pfd.get(), base.c_str(), 0700) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + name);
      UniqueFd fd(::openat(pfd.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) return Error::from_errno("open directory " + name);
      KL_TRY(set_meta_fd(fd.get(), e, name));
      dirs_.push_back({name, {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}});
      return Ok();
    }
    case AE_IFREG: {
      KL_TRY(replace_existing(pfd.get(), base, false));
      // O_EXCL|O_NOFOLLOW: the name was just removed; if anything reappeared (a symlink
      // above all) the open fails instead of writing through it.
      UniqueFd fd(::openat(pfd.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd.valid()) return Error::from_errno("create " + name);
      KL_TRY(write_data(a, fd.get(), name, stats));
      if (archive_entry_size_is_set(e) && ::ftruncate(fd.get(), archive_entry_size(e)) != 0)
        return Error::from_errno("truncate " + name);
      KL_TRY(set_meta_fd(fd.get(), e, name));
      timespec ts[2];
      ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
      ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
      if (::futimens(fd.get(), ts) != 0) return Error::from_errno("set times on " + name);
      return Ok();
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr || target[0] == '\0')
        return Error(ErrorCode::kInvalidArgument, "symlink " + name + ": empty target");
      KL_TRY(replace_existing(pfd.get(), base, false));
      // The target is stored verbatim: it is resolved later inside the container's root
      // (or, here, by our own openat2 calls with RESOLVE_IN_ROOT), never by us on the host.
      if (::symlinkat(target, pfd.get(), base.c_str()) != 0) return Error::from_errno("symlink " + name);
      return set_meta_at(pfd.get(), base, e, name);
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      KL_TRY(replace_existing(pfd.get(), base, false));
      dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      if (::mknodat(pfd.get(), base.c_str(), static_cast<mode_t>(type) | 0600, dev) != 0)
        return Error::from_errno("mknod " + name);
      KL_TRY(set_meta_at(pfd.get(), base, e, name));
      // The node was created by us a moment ago in our private directory: fchmodat
      // (which follows a final symlink) cannot be redirected here.
      if (::fchmodat(pfd.get(), base.c_str(), archive_entry_perm(e), 0) != 0) return Error::from_errno("chmod " + name);
      return Ok();
    }
    case AE_IFSOCK:
      return Ok();  // sockets are not content
    default:
      return Error(ErrorCode::kInvalidArgument,
                   "tar entry " + name + ": unsupported file type " + std::to_string(type));
  }
}

Result<void> Unpacker::finish() {
  // Directory mtimes last: creating their children changed them.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    auto fd = open_dir(it->path, false);
    if (!fd.ok()) continue;  // removed or replaced by a later entry
    timespec ts[2] = {it->mtime, it->mtime};
    if (::futimens(fd->get(), ts) != 0) return Error::from_errno("set times on " + it->path);
  }
  if (opts_.sync && ::syncfs(root_) != 0) return Error::from_errno("syncfs layer directory");
  return Ok();
}

}  // namespace

Result<UnpackStats> unpack_layer(int blob_fd, int dest_dirfd, const Digest& expected_diff_id,
                                 const UnpackOptions& options) {
  ArchivePtr raw(archive_read_new());
  ArchivePtr tar(archive_read_new());
  if (!raw || !tar) return Error(ErrorCode::kInternal, "archive_read_new failed");
  archive_read_support_filter_gzip(raw.get());
  archive_read_support_filter_zstd(raw.get());
  archive_read_support_filter_none(raw.get());
  archive_read_support_format_raw(raw.get());
  if (archive_read_open_fd(raw.get(), blob_fd, 1 << 17) != ARCHIVE_OK)
    return Error(ErrorCode::kInvalidArgument, std::string("open layer: ") + archive_error_string(raw.get()));
  archive_entry* rawe;
  if (archive_read_next_header(raw.get(), &rawe) != ARCHIVE_OK)
    return Error(ErrorCode::kInvalidArgument, std::string("open layer: ") + archive_error_string(raw.get()));

  // Declared after `raw` so it is destroyed (its thread joined) before `raw` is freed.
  RawStream stream(raw.get());
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), &stream, nullptr, RawStream::read, nullptr) != ARCHIVE_OK) {
    std::string why = stream.error();
    return Error(ErrorCode::kInvalidArgument,
                 "layer is not a tar archive: " + (why.empty() ? std::string(archive_error_string(tar.get())) : why));
  }

  Unpacker u(dest_dirfd, options);
  UnpackStats stats;
  for (;;) {
    archive_entry* e;
    int r = archive_read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      std::string why = stream.error();
      if (why.empty())
        why = archive_error_string(tar.get()) != nullptr ? archive_error_string(tar.get()) : "unknown error";
      return Error(ErrorCode::kInvalidArgument,
                   "read layer tar after " + std::to_string(stats.entries) + " entries: " + why);
    }
    auto res = u.entry(tar.get(), e, stats);
    if (!res.ok()) return std::move(res).error().context("unpack layer");
    ++stats.entries;
  }
  // The tar reader stops at the end-of-archive blocks; the rest (padding) is hashed too.
  KL_ASSIGN_OR_RETURN(stats.diff_id, stream.finish());
  if (!expected_diff_id.empty() && stats.diff_id != expected_diff_id)
    return Error(ErrorCode::kInvalidArgument, "layer diff_id mismatch: config says " + expected_diff_id.str() +
                                                  ", content is " + stats.diff_id.str());
  KL_TRY(u.finish());
  return stats;
}

}  // namespace kernlet::images
