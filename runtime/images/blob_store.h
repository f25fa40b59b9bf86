// A content-addressed blob store: <root>/blobs/sha256/<hex>. A blob becomes visible under
// its digest only after its bytes were hashed, checked against the expected digest and size,
// fsynced and renamed into place; partial writes live in <root>/tmp and are removed on open.
// Thread-safe: every operation works on its own fds; concurrent writers of one digest race
// harmlessly (rename of identical content).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/images/digest.h"
#include "runtime/images/fs.h"

namespace kernlet::images {

class BlobStore {
 public:
  // Streams one blob into a temp file; commit() verifies and publishes it. Destroying an
  // uncommitted writer removes the temp file.
  class Writer {
   public:
    Writer(Writer&&) noexcept = default;
    Writer& operator=(Writer&&) noexcept = default;
    ~Writer();
    Result<void> write(const void* data, size_t n);
    // Verifies the content against `expected` (when not empty) and `expected_size` (when
    // >= 0), then publishes it. Returns the digest of what was written.
    Result<Digest> commit(const Digest& expected = {}, int64_t expected_size = -1);
    uint64_t size() const { return size_; }

   private:
    friend class BlobStore;
    Writer(const BlobStore* store, UniqueFd fd, std::string tmp_name)
        : store_(store), fd_(std::move(fd)), tmp_(std::move(tmp_name)) {}
    const BlobStore* store_ = nullptr;
    UniqueFd fd_;
    std::string tmp_;
    Sha256 hash_;
    uint64_t size_ = 0;
    bool done_ = false;
  };

  // Opens (creating) the store under `root`; removes leftover temp files.
  static Result<BlobStore> open(const std::string& root);

  Result<Writer> writer() const;
  // Stores an in-memory blob, verified against `expected` when given.
  Result<Digest> put(std::string_view data, const Digest& expected = {}) const;
  // Copies the file at `path` into the store, verified against `expected` (and size).
  Result<Digest> put_file(const std::string& path, const Digest& expected, int64_t expected_size = -1) const;

  bool has(const Digest& d) const;
  // Reads a (small, metadata) blob and checks its digest again: corruption on disk is an error.
  Result<std::string> read(const Digest& d, size_t max_bytes = 16 << 20) const;
  // An O_RDONLY fd on the blob.
  Result<UniqueFd> open_blob(const Digest& d) const;
  std::string path(const Digest& d) const;
  Result<std::vector<Digest>> list() const;
  Result<void> remove(const Digest& d) const;
  // The directory for the store's temp files (same file system as the blobs).
  const std::string& tmp_dir() const { return tmp_path_; }

 private:
  std::string root_;
  std::string blobs_path_;
  std::string tmp_path_;
  UniqueFd blobs_;
  UniqueFd tmp_;
};

}  // namespace kernlet::images
