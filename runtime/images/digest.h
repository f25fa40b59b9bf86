// Content digests (OCI "algorithm:hex"): only sha256 is accepted, as the OCI spec requires
// of implementations and as every registry serves.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::images {

// A validated "sha256:<64 lowercase hex>" digest.
class Digest {
 public:
  Digest() = default;
  // Parses and validates; errors name the input.
  static Result<Digest> parse(std::string_view text);
  // From 32 raw bytes.
  static Digest from_bytes(const unsigned char* sha256);
  // Digest of an in-memory buffer.
  static Digest of(std::string_view data);

  const std::string& str() const { return s_; }
  std::string_view hex() const { return std::string_view(s_).substr(7); }
  bool empty() const { return s_.empty(); }
  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  std::string s_;
};

// Incremental sha256.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  Digest finish();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

}  // namespace kernlet::images
