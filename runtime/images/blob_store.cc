#include "runtime/images/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kernlet::images {

BlobStore::Writer::~Writer() {
  if (!done_ && store_ != nullptr && !tmp_.empty()) ::unlinkat(store_->tmp_.get(), tmp_.c_str(), 0);
}

Result<void> BlobStore::Writer::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  hash_.update(p, n);
  size_ += n;
  while (n > 0) {
    ssize_t w = ::write(fd_.get(), p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("write blob temp file " + tmp_);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Ok();
}

Result<Digest> BlobStore::Writer::commit(const Digest& expected, int64_t expected_size) {
  Digest got = hash_.finish();
  if (expected_size >= 0 && static_cast<uint64_t>(expected_size) != size_)
    return Error(ErrorCode::kInvalidArgument, "blob " + (expected.empty() ? got.str() : expected.str()) + ": size " +
                                                  std::to_string(size_) + ", expected " +
                                                  std::to_string(expected_size));
  if (!expected.empty() && got != expected)
    return Error(ErrorCode::kInvalidArgument,
                 "blob digest mismatch: expected " + expected.str() + ", content is " + got.str());
  if (::fsync(fd_.get()) != 0) return Error::from_errno("fsync blob " + got.str());
  fd_.reset();
  std::string name(got.hex());
  if (::renameat(store_->tmp_.get(), tmp_.c_str(), store_->blobs_.get(), name.c_str()) != 0)
    return Error::from_errno("publish blob " + got.str());
  done_ = true;
  if (::fsync(store_->blobs_.get()) != 0) return Error::from_errno("fsync blob directory");
  return got;
}

Result<BlobStore> BlobStore::open(const std::string& root) {
  BlobStore s;
  s.root_ = root;
  s.blobs_path_ = root + "/blobs/sha256";
  s.tmp_path_ = root + "/tmp";
  KL_TRY(make_dirs(s.blobs_path_));
  KL_TRY(make_dirs(s.tmp_path_));
  KL_ASSIGN_OR_RETURN(s.blobs_, open_dir(s.blobs_path_));
  KL_ASSIGN_OR_RETURN(s.tmp_, open_dir(s.tmp_path_));
  return s;
}

Result<BlobStore::Writer> BlobStore::writer() const {
  std::string name = "blob-" + random_suffix();
  UniqueFd fd(::openat(tmp_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return Error::from_errno("create blob temp file " + tmp_path_ + "/" + name);
  return Writer(this, std::move(fd), name);
}

Result<Digest> BlobStore::put(std::string_view data, const Digest& expected) const {
  if (!expected.empty() && has(expected)) return expected;
  KL_ASSIGN_OR_RETURN(Writer w, writer());
  KL_TRY(w.write(data.data(), data.size()));
  return w.commit(expected, -1);
}

Result<Digest> BlobStore::put_file(const std::string& path, const Digest& expected, int64_t expected_size) const {
  if (!expected.empty() && has(expected)) return expected;
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return Error::from_errno("open " + path);
  KL_ASSIGN_OR_RETURN(Writer w, writer());
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + path);
    }
    if (n == 0) break;
    KL_TRY(w.write(buf, static_cast<size_t>(n)));
  }
  auto d = w.commit(expected, expected_size);
  if (!d.ok()) return std::move(d).error().context(path);
  return d;
}

bool BlobStore::has(const Digest& d) const {
  struct stat st;
  std::string name(d.hex());
  return ::fstatat(blobs_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

Result<std::string> BlobStore::read(const Digest& d, size_t max_bytes) const {
  auto data = read_file_at(blobs_.get(), std::string(d.hex()), max_bytes);
  if (!data.ok()) {
    if (data.error().code() == ErrorCode::kNotFound)
      return Error(ErrorCode::kNotFound, "blob " + d.str() + " not in store");
    return std::move(data).error().context("blob " + d.str());
  }
  if (Digest::of(*data) != d) return Error(ErrorCode::kInternal, "blob " + d.str() + " is corrupt on disk");
  return data;
}

Result<UniqueFd> BlobStore::open_blob(const Digest& d) const {
  std::string name(d.hex());
  UniqueFd fd(::openat(blobs_.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "blob " + d.str() + " not in store");
    return Error::from_errno("open blob " + d.str());
  }
  return fd;
}

std::string BlobStore::path(const Digest& d) const { return blobs_path_ + "/" + std::string(d.hex()); }

Result<std::vector<Digest>> BlobStore::list() const {
  std::vector<Digest> out;
  int dup = ::dup(blobs_.get());
  if (dup < 0) return Error::from_errno("dup blob directory");
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    ::close(dup);
    return Error::from_errno("list " + blobs_path_);
  }
  ::rewinddir(dir);
  while (dirent* e = ::readdir(dir)) {
    auto d = Digest::parse(std::string("sha256:") + e->d_name);
    if (d.ok()) out.push_back(*d);
  }
  ::closedir(dir);
  return out;
}

Result<void> BlobStore::remove(const Digest& d) const {
  std::string name(d.hex());
  if (::unlinkat(blobs_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
    return Error::from_errno("remove blob " + d.str());
  return Ok();
}

}  // namespace kernlet::images
