#include "api/quantity.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace kernlet {

namespace quantity_internal {
// Where the pieces of a scanned quantity are.
struct Scan {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
  std::string_view suffix;
};

struct Unit {
  int base = 10;  // 10: exponent is a power of ten; 2: a power of two
  int64_t exponent = 0;
  Quantity::Format format = Quantity::Format::DecimalSI;
};

}  // namespace quantity_internal

using quantity_internal::Scan;
using quantity_internal::Unit;

namespace {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

using Format = Quantity::Format;

constexpr int kMaxDigits = 38;
constexpr uint64_t kNano = 1'000'000'000;

constexpr std::array<u128, kMaxDigits + 1> kPow10 = [] {
  std::array<u128, kMaxDigits + 1> p{};
  p[0] = 1;
  for (std::size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 10;
  return p;
}();
// Every stored |unscaled| is below this, so sums and 10x products have u128 headroom.
constexpr u128 kLimit = kPow10[kMaxDigits];
constexpr u128 kU128Max = ~static_cast<u128>(0);
// kMulLimit[d]: the largest m with m * 10^d in u128 (u128 division is slow on hot paths).
constexpr std::array<u128, kMaxDigits + 1> kMulLimit = [] {
  std::array<u128, kMaxDigits + 1> l{};
  for (std::size_t i = 0; i < l.size(); ++i) l[i] = kU128Max / kPow10[i];
  return l;
}();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

u128 magnitude(i128 v) { return v < 0 ? static_cast<u128>(0) - static_cast<u128>(v) : static_cast<u128>(v); }

i128 with_sign(u128 m, bool negative) {
  return negative ? -static_cast<i128>(m) : static_cast<i128>(m);
}

// Moves trailing decimal zeros of m into the exponent; zero becomes (0, 0).
void strip_zeros(u128& m, int64_t& scale) {
  if (m == 0) {
    scale = 0;
    return;
  }
  while (m > std::numeric_limits<uint64_t>::max()) {
    if (m % 10 != 0) return;
    m /= 10;
    ++scale;
  }
  auto x = static_cast<uint64_t>(m);
  while (x % 10 == 0) {
    x /= 10;
    ++scale;
  }
  m = x;
}

// m * 10^d, or false when that does not fit in u128.
bool mul_pow10(u128& m, int64_t d) {
  if (m == 0 || d == 0) return true;
  if (d > kMaxDigits || m > kMulLimit[static_cast<std::size_t>(d)]) return false;
  m *= kPow10[static_cast<std::size_t>(d)];
  return true;
}

bool scale_fits(int64_t scale) {
  return scale >= std::numeric_limits<int32_t>::min() && scale <= std::numeric_limits<int32_t>::max();
}

// The integer spelled by the first `count` digits of a ++ b (count <= 38).
u128 leading_digits(std::string_view a, std::string_view b, std::size_t count) {
  uint64_t lo = 0;
  u128 acc = 0;
  std::size_t in_lo = 0;
  auto push = [&](char c) {
    lo = lo * 10 + static_cast<uint64_t>(c - '0');
    if (++in_lo == 19) {
      acc = acc * kPow10[19] + lo;
      lo = 0;
      in_lo = 0;
    }
  };
  for (std::size_t i = 0; i < count; ++i) push(i < a.size() ? a[i] : b[i - a.size()]);
  return acc * kPow10[in_lo] + lo;
}

// Printable, bounded copy of user input for error messages.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  out += '"';
  return out;
}

[[gnu::cold, gnu::noinline]] Error parse_error(std::string_view text, std::string_view why) {
  return Error("quantity " + quote(text) + ": " + std::string(why));
}

constexpr std::string_view kSuffixHint =
    " (want n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3)";

enum class Status { Ok, OutOfRange };

// The table suffixes; exponent forms are handled by the caller.
bool lookup_suffix(std::string_view s, Unit& unit) {
  if (s.empty()) {
    unit = {10, 0, Format::DecimalSI};
    return true;
  }
  if (s.size() == 1) {
    int e = 0;
    switch (s[0]) {
      case 'n': e = -9; break;
      case 'u': e = -6; break;
      case 'm': e = -3; break;
      case 'k': e = 3; break;
      case 'M': e = 6; break;
      case 'G': e = 9; break;
      case 'T': e = 12; break;
      case 'P': e = 15; break;
      case 'E': e = 18; break;
      default: return false;
    }
    unit = {10, e, Format::DecimalSI};
    return true;
  }
  if (s.size() == 2 && s[1] == 'i') {
    int e = 0;
    switch (s[0]) {
      case 'K': e = 10; break;
      case 'M': e = 20; break;
      case 'G': e = 30; break;
      case 'T': e = 40; break;
      case 'P': e = 50; break;
      case 'E': e = 60; break;
      default: return false;
    }
    unit = {2, e, Format::BinarySI};
    return true;
  }
  return false;
}

// digits(ip ++ fp) * 10^(exponent - |fp|), rounded away from zero to a multiple of 1n.
Status decimal_value(std::string_view ip, std::string_view fp, int64_t exponent, u128& m,
                     int64_t& scale) {
  while (!fp.empty() && fp.back() == '0') fp.remove_suffix(1);
  int64_t s = exponent - static_cast<int64_t>(fp.size());
  if (fp.empty()) {
    while (!ip.empty() && ip.back() == '0') {
      ip.remove_suffix(1);
      ++s;
    }
  }
  while (!ip.empty() && ip.front() == '0') ip.remove_prefix(1);
  if (ip.empty()) {
    while (!fp.empty() && fp.front() == '0') fp.remove_prefix(1);
  }
  const std::size_t n = ip.size() + fp.size();
  if (n == 0) {
    m = 0;
    scale = 0;
    return Status::Ok;
  }
  if (s >= -9) {
    if (n > kMaxDigits || !scale_fits(s)) return Status::OutOfRange;
    m = leading_digits(ip, fp, n);
    scale = s;
    return Status::Ok;
  }
  // Finer than 1n. The last digit is non-zero (zeros were stripped), so whatever is cut
  // off is non-zero and the kept part rounds up by one.
  const uint64_t drop = static_cast<uint64_t>(-9 - s);
  if (drop >= n) {
    m = 1;
  } else {
    const std::size_t keep = n - static_cast<std::size_t>(drop);
    if (keep > kMaxDigits) return Status::OutOfRange;
    m = leading_digits(ip, fp, keep) + 1;
  }
  scale = -9;
  strip_zeros(m, scale);
  return m < kLimit ? Status::Ok : Status::OutOfRange;
}

// ceil(fp-as-fraction * 2^e * 10^9) for the fraction digits fp, exactly, for any length.
// Multiplies the digit string by 2^e from its last digit up; the product's digits below
// the nano position only decide whether to round up.
u128 binary_fraction_nanos(std::string_view fp, int e) {
  const std::size_t k = fp.size();
  if (k == 0) return 0;
  if (k <= 9) {
    uint64_t v = 0;
    for (char c : fp) v = v * 10 + static_cast<uint64_t>(c - '0');
    return static_cast<u128>(v * static_cast<uint64_t>(kPow10[9 - k])) << e;
  }
  // carry < 2^e <= 2^60 throughout, so digit * 2^e + carry < 10 * 2^60 fits in uint64.
  uint64_t carry = 0;
  uint64_t top = 0;
  bool sticky = false;
  const std::size_t below = k - 9;
  for (std::size_t p = 0; p < k; ++p) {
    const uint64_t t = (static_cast<uint64_t>(fp[k - 1 - p] - '0') << e) + carry;
    const uint64_t digit = t % 10;
    carry = t / 10;
    if (p < below) {
      sticky |= digit != 0;
    } else {
      top += digit * static_cast<uint64_t>(kPow10[p - below]);
    }
  }
  return static_cast<u128>(carry) * kNano + top + (sticky ? 1 : 0);
}

// digits(ip).digits(fp) * 2^e in nanos, rounded up; capped at 2^63-1 units.
void binary_value(std::string_view ip, std::string_view fp, int e, u128& m, int64_t& scale,
                  bool& capped) {
  while (!ip.empty() && ip.front() == '0') ip.remove_prefix(1);
  while (!fp.empty() && fp.back() == '0') fp.remove_suffix(1);
  constexpr auto kMax = static_cast<u128>(std::numeric_limits<int64_t>::max());
  capped = ip.size() > 19;  // >= 10^19 > 2^63 before even applying the unit
  u128 nanos = 0;
  if (!capped) {
    const u128 whole = leading_digits(ip, {}, ip.size()) << e;
    capped = whole > kMax;
    if (!capped && fp.empty()) {
      m = whole;
      scale = 0;
      strip_zeros(m, scale);
      return;
    }
    if (!capped) {
      nanos = whole * kNano + binary_fraction_nanos(fp, e);
      capped = nanos > kMax * kNano;
    }
  }
  if (capped) {
    m = kMax;
    scale = 0;
    return;
  }
  m = nanos;
  scale = -9;
  strip_zeros(m, scale);
}

// Splits text into sign, number and suffix; false if the number has no digits.
bool scan(std::string_view text, Scan& out) {
  std::size_t pos = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    out.negative = text[pos] == '-';
    ++pos;
  }
  std::size_t start = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  out.int_digits = text.substr(start, pos - start);
  if (pos < text.size() && text[pos] == '.') {
    start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    out.frac_digits = text.substr(start, pos - start);
  }
  out.suffix = text.substr(pos);
  return !out.int_digits.empty() || !out.frac_digits.empty();
}

constexpr std::string_view kUnknownSuffix = "unknown suffix";

// Interprets a suffix. Returns why it cannot (kUnknownSuffix when it is no suffix at
// all), or an empty view on success.
std::string_view read_unit(std::string_view suffix, Unit& unit) {
  if (lookup_suffix(suffix, unit)) return {};
  if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E') ||
      !(is_digit(suffix[1]) || suffix[1] == '+' || suffix[1] == '-')) {
    return kUnknownSuffix;
  }
  std::size_t pos = 1;
  bool negative = false;
  if (suffix[pos] == '+' || suffix[pos] == '-') negative = suffix[pos++] == '-';
  if (pos == suffix.size()) return "malformed exponent";
  int64_t e = 0;
  for (; pos < suffix.size(); ++pos) {
    if (!is_digit(suffix[pos])) return "malformed exponent";
    // Saturates: past this the value only needs to be known to exceed int32.
    if (e < (int64_t{1} << 40)) e = e * 10 + (suffix[pos] - '0');
  }
  if (e > std::numeric_limits<int32_t>::max()) return "exponent out of range";
  unit = {10, negative ? -e : e, Format::DecimalExponent};
  return {};
}

[[gnu::cold, gnu::noinline]] Error explain_failure(std::string_view text, const Scan& s,
                                                   bool has_digits, std::string_view why) {
  if (text.empty()) return parse_error(text, "empty string");
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      return parse_error(text, "whitespace is not allowed");
    }
  }
  if (!s.suffix.empty() &&
      (is_digit(s.suffix[0]) || s.suffix[0] == '.' || s.suffix[0] == '+' || s.suffix[0] == '-')) {
    return parse_error(text, "malformed number");
  }
  if (!has_digits) return parse_error(text, "no digits before the suffix");
  if (why != kUnknownSuffix) return parse_error(text, why);
  return parse_error(text, "unknown suffix " + quote(s.suffix) + std::string(kSuffixHint));
}

// Decimal digits of m, most significant first, into buf; returns the end.
char* write_digits(char* buf, u128 m) {
  char tmp[40];
  char* p = tmp + sizeof(tmp);
  while (m > std::numeric_limits<uint64_t>::max()) {
    *--p = static_cast<char>('0' + static_cast<int>(m % 10));
    m /= 10;
  }
  auto x = static_cast<uint64_t>(m);
  do {
    *--p = static_cast<char>('0' + static_cast<int>(x % 10));
    x /= 10;
  } while (x != 0);
  const auto len = static_cast<std::size_t>(tmp + sizeof(tmp) - p);
  std::memcpy(buf, p, len);
  return buf + len;
}

std::string_view decimal_suffix(int64_t exponent) {
  switch (exponent) {
    case -9: return "n";
    case -6: return "u";
    case -3: return "m";
    case 0: return "";
    case 3: return "k";
    case 6: return "M";
    case 9: return "G";
    case 12: return "T";
    case 15: return "P";
    case 18: return "E";
    default: return "?";
  }
}

constexpr std::array<std::string_view, 7> kBinarySuffixes = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};

}  // namespace

Result<Quantity> Quantity::from_parts(std::string_view text, const Scan& s, const Unit& unit) {
  u128 m = 0;
  int64_t scale = 0;
  Format format = unit.format;
  if (unit.base == 2) {
    bool capped = false;
    binary_value(s.int_digits, s.frac_digits, static_cast<int>(unit.exponent), m, scale, capped);
    // Kubernetes shows a non-zero BinarySI value below one unit in decimal.
    if (!capped && m != 0 && scale < 0 && m < kPow10[static_cast<std::size_t>(-scale)]) {
      format = Format::DecimalSI;
    }
  } else if (decimal_value(s.int_digits, s.frac_digits, unit.exponent, m, scale) !=
             Status::Ok) {
    return parse_error(text, "out of range (more than 38 significant digits or exponent too large)");
  }
  return Quantity(with_sign(m, s.negative), static_cast<int32_t>(scale), format);
}

Result<Quantity> Quantity::parse(std::string_view text) {
  Scan s;
  const bool has_digits = scan(text, s);
  Unit unit;
  const std::string_view why = read_unit(s.suffix, unit);
  if (has_digits && why.empty()) return from_parts(text, s, unit);
  return explain_failure(text, s, has_digits, why);
}

Quantity Quantity::from_int(int64_t value, Format format) { return from_scaled(value, 0, format); }

Quantity Quantity::from_milli(int64_t milli, Format format) {
  return from_scaled(milli, -3, format);
}

Quantity Quantity::from_scaled(int64_t value, int32_t scale, Format format) {
  u128 m = magnitude(value);
  int64_t s = scale;
  strip_zeros(m, s);
  if (!scale_fits(s)) {
    throw std::out_of_range("Quantity::from_scaled: scale " + std::to_string(scale) +
                            " leaves no room for the value's trailing zeros");
  }
  return Quantity(with_sign(m, value < 0), static_cast<int32_t>(s), format);
}

Result<Quantity> Quantity::from_json(const json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return Quantity();
    case boost::json::kind::string: {
      std::string_view text(v.get_string().data(), v.get_string().size());
      // Kubernetes trims whitespace around a quoted quantity before parsing it.
      constexpr std::string_view kSpace = " \t\n\r\v\f";
      const std::size_t b = text.find_first_not_of(kSpace);
      text = b == std::string_view::npos ? std::string_view() : text.substr(b);
      text = text.substr(0, text.find_last_not_of(kSpace) + 1);
      return parse(text);
    }
    case boost::json::kind::int64:
      return from_int(v.get_int64());
    case boost::json::kind::uint64: {
      u128 m = v.get_uint64();
      int64_t s = 0;
      strip_zeros(m, s);
      return Quantity(static_cast<i128>(m), static_cast<int32_t>(s), Format::DecimalSI);
    }
    case boost::json::kind::double_: {
      // Boost.JSON 1.81 does not round every decimal to the nearest double, so a
      // 15-significant-digit spelling within two ulps is taken as what the user wrote
      // ("0.1", not "0.10000000000000002").
      const double d = v.get_double();
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific, 14);
      double back = 0;
      std::from_chars(buf, r.ptr, back);
      if (back != d && std::nextafter(back, d) != d &&
          std::nextafter(std::nextafter(back, d), d) != d) {
        r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
      }
      const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
      Scan s;
      Unit unit;
      if (!scan(text, s) || !read_unit(s.suffix, unit).empty() ||
          unit.format != Format::DecimalExponent) {
        return Error("quantity " + std::string(text) + ": cannot read JSON number");
      }
      // `memory: 1.5` is DecimalSI in Kubernetes, like "1.5".
      unit.format = Format::DecimalSI;
      return from_parts(text, s, unit);
    }
    default: {
      std::string dumped = json::dump(v);
      if (dumped.size() > 64) dumped = dumped.substr(0, 64) + "...";
      return Error("quantity: expected a string or a number, got " + dumped);
    }
  }
}

json::value Quantity::to_json() const { return json::value(to_string()); }

std::string Quantity::to_string() const {
  if (unscaled_ == 0) return "0";
  char buf[96];
  char* p = buf;
  if (unscaled_ < 0) *p++ = '-';
  const u128 m = magnitude(unscaled_);
  Format format = format_;
  if (format == Format::BinarySI) {
    // Whole values of at least 1024 print in units of 1024; anything else (fractions,
    // small values, values too large to expand) falls back to DecimalSI, as Kubernetes does.
    u128 whole = m;
    if (scale_ >= 0 && mul_pow10(whole, scale_) && whole >= 1024) {
      std::size_t k = 0;
      while (k + 1 < kBinarySuffixes.size() && (whole & 1023) == 0) {
        whole >>= 10;
        ++k;
      }
      p = write_digits(p, whole);
      const std::string_view suffix = kBinarySuffixes[k];
      std::memcpy(p, suffix.data(), suffix.size());
      return std::string(buf, static_cast<std::size_t>(p + suffix.size() - buf));
    }
    format = Format::DecimalSI;
  }
  // The exponent goes down to a multiple of three; the difference becomes zeros.
  int64_t exponent = scale_;
  const int64_t pad = ((exponent % 3) + 3) % 3;
  exponent -= pad;
  p = write_digits(p, m);
  for (int64_t i = 0; i < pad; ++i) *p++ = '0';
  if (format == Format::DecimalSI && exponent >= -9 && exponent <= 18) {
    const std::string_view suffix = decimal_suffix(exponent);
    std::memcpy(p, suffix.data(), suffix.size());
    p += suffix.size();
  } else if (exponent != 0) {
    // DecimalExponent, or DecimalSI beyond its suffixes (Kubernetes prints 10^21 as "1e21").
    *p++ = 'e';
    p = std::to_chars(p, buf + sizeof(buf), exponent).ptr;
  }
  return std::string(buf, static_cast<std::size_t>(p - buf));
}

Result<int64_t> Quantity::scaled_int(int32_t target_scale, std::string_view what) const {
  if (unscaled_ == 0) return int64_t{0};
  u128 m = magnitude(unscaled_);
  const int64_t d = int64_t{scale_} - target_scale;
  bool ok = true;
  if (d >= 0) {
    ok = mul_pow10(m, d);
  } else if (-d > kMaxDigits) {
    m = 1;  // |value| < 10^38 * 10^d: a non-zero fraction of one unit
  } else {
    const u128 p = kPow10[static_cast<std::size_t>(-d)];
    m = m / p + (m % p != 0 ? 1 : 0);
  }
  const u128 limit = static_cast<u128>(std::numeric_limits<int64_t>::max()) + (unscaled_ < 0 ? 1 : 0);
  if (!ok || m > limit) {
    return Error("quantity " + to_string() + ": " + std::string(what) + " does not fit in int64");
  }
  return unscaled_ < 0 ? static_cast<int64_t>(-static_cast<i128>(m)) : static_cast<int64_t>(m);
}

Result<int64_t> Quantity::milli_value() const { return scaled_int(-3, "milli-value"); }

Result<int64_t> Quantity::value() const { return scaled_int(0, "value"); }

double Quantity::as_double() const {
  static constexpr std::array<double, 23> kExact = {
      1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const auto m = static_cast<double>(unscaled_);
  if (scale_ == 0 || unscaled_ == 0) return m;
  // Powers of ten up to 1e22 are exact doubles, so these are correctly rounded when m is.
  if (scale_ < 0 && scale_ >= -22) return m / kExact[static_cast<std::size_t>(-scale_)];
  if (scale_ > 0 && scale_ <= 22) return m * kExact[static_cast<std::size_t>(scale_)];
  return m * std::pow(10.0, static_cast<double>(scale_));
}

Result<Quantity> Quantity::add(const Quantity& other) const {
  const Format format = is_zero() ? other.format_ : format_;
  if (other.is_zero()) return Quantity(unscaled_, scale_, format);
  if (is_zero()) return Quantity(other.unscaled_, other.scale_, format);
  u128 a = magnitude(unscaled_);
  u128 b = magnitude(other.unscaled_);
  const bool a_neg = unscaled_ < 0;
  const bool b_neg = other.unscaled_ < 0;
  int64_t scale = std::min(scale_, other.scale_);
  // Aligning the coarser operand cannot lose a representable result: the finer one has
  // no trailing zeros, so neither has the sum, and an overflow here means > 2^128 - 10^38.
  bool ok = mul_pow10(a, int64_t{scale_} - scale) && mul_pow10(b, int64_t{other.scale_} - scale);
  u128 m = 0;
  bool negative = false;
  if (ok && a_neg == b_neg) {
    m = a + b;
    ok = m >= a;
    negative = a_neg;
  } else if (ok) {
    negative = a >= b ? a_neg : b_neg;
    m = a >= b ? a - b : b - a;
  }
  if (ok) {
    strip_zeros(m, scale);
    ok = m < kLimit && scale_fits(scale);
  }
  if (!ok) {
    return Error("quantity " + to_string() + " + " + other.to_string() + ": result out of range");
  }
  return Quantity(with_sign(m, negative), static_cast<int32_t>(scale), format);
}

Result<Quantity> Quantity::sub(const Quantity& other) const {
  if (other.is_zero()) return Quantity(unscaled_, scale_, is_zero() ? other.format_ : format_);
  Result<Quantity> r = add(other.neg());
  if (!r.ok()) {
    return Error("quantity " + to_string() + " - " + other.to_string() + ": result out of range");
  }
  return r;
}

Quantity Quantity::neg() const { return Quantity(-unscaled_, scale_, format_); }

std::strong_ordering Quantity::operator<=>(const Quantity& other) const {
  const int sa = sign();
  const int sb = other.sign();
  if (sa != sb) return sa < sb ? std::strong_ordering::less : std::strong_ordering::greater;
  if (sa == 0) return std::strong_ordering::equal;
  int mag = 0;  // sign of |this| - |other|
  if (scale_ == other.scale_) {
    const u128 a = magnitude(unscaled_);
    const u128 b = magnitude(other.unscaled_);
    mag = a < b ? -1 : (a > b ? 1 : 0);
  } else {
    // Scale the coarser magnitude up; once it reaches 10^38 it exceeds any stored value.
    const bool this_coarser = scale_ > other.scale_;
    u128 coarse = magnitude(this_coarser ? unscaled_ : other.unscaled_);
    const u128 fine = magnitude(this_coarser ? other.unscaled_ : unscaled_);
    const int64_t d = this_coarser ? int64_t{scale_} - other.scale_ : int64_t{other.scale_} - scale_;
    int coarse_vs_fine = 1;
    if (mul_pow10(coarse, d) && coarse < kLimit) {
      coarse_vs_fine = coarse < fine ? -1 : (coarse > fine ? 1 : 0);
    }
    mag = this_coarser ? coarse_vs_fine : -coarse_vs_fine;
  }
  if (sa < 0) mag = -mag;
  return mag < 0 ? std::strong_ordering::less
                 : (mag > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

}  // namespace kernlet
