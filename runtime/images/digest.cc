#include "runtime/images/digest.h"

#include <stdexcept>

namespace kernlet::images {

Result<Digest> Digest::parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (!text.starts_with(kPrefix)) {
    auto colon = text.find(':');
    if (colon != std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "digest " + std::string(text) + ": unsupported algorithm " +
                                                    std::string(text.substr(0, colon)) + " (only sha256)");
    return Error(ErrorCode::kInvalidArgument, "digest " + std::string(text) + ": missing sha256: prefix");
  }
  auto hex = text.substr(kPrefix.size());
  if (hex.size() != 64)
    return Error(ErrorCode::kInvalidArgument,
                 "digest " + std::string(text) + ": want 64 hex digits, got " + std::to_string(hex.size()));
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return Error(ErrorCode::kInvalidArgument, "digest " + std::string(text) + ": not lowercase hex");
  Digest d;
  d.s_ = std::string(text);
  return d;
}

Digest Digest::from_bytes(const unsigned char* sha256) {
  static constexpr char kHex[] = "0123456789abcdef";
  Digest d;
  d.s_.reserve(71);
  d.s_ = "sha256:";
  for (int i = 0; i < 32; ++i) {
    d.s_.push_back(kHex[sha256[i] >> 4]);
    d.s_.push_back(kHex[sha256[i] & 15]);
  }
  return d;
}

Digest Digest::of(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.finish();
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP sha256 init failed");
}

void Sha256::update(const void* data, size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }

Digest Sha256::finish() {
  unsigned char out[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), out, &len);
  return Digest::from_bytes(out);
}

}  // namespace kernlet::images
