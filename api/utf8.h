// UTF-8 encoding and decoding for the places that must treat text the way Go does
// (quoting values in validation messages, field selector escapes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kernlet::api {

// Appends the UTF-8 encoding of code point `r` (which must be a valid scalar value).
inline void append_utf8(std::string& out, uint32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

// Decodes the sequence at s[i] (i < s.size()) into `r`; returns its length, or 0 when it
// is not valid UTF-8 (truncated, overlong, a surrogate, or beyond U+10FFFF).
inline std::size_t decode_utf8(std::string_view s, std::size_t i, uint32_t& r) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n;
  uint32_t min;
  if (b < 0x80) {
    r = b;
    return 1;
  } else if ((b & 0xE0) == 0xC0) {
    n = 2, r = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3, r = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4, r = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    r = (r << 6) | (c & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return 0;
  return n;
}

}  // namespace kernlet::api
