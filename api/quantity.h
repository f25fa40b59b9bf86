// Quantity: a fixed-point number with Kubernetes' resource.Quantity syntax and semantics.
//
//   <quantity>  ::= <signedNumber><suffix>
//   <number>    ::= <digits> | <digits>. | <digits>.<digits> | .<digits>
//   <suffix>    ::= Ki | Mi | Gi | Ti | Pi | Ei          (binary SI, format BinarySI)
//                 | n | u | m | "" | k | M | G | T | P | E (decimal SI, format DecimalSI)
//                 | e<signedInt> | E<signedInt>           (format DecimalExponent)
//
// A parsed quantity remembers its format and prints in canonical form for that format
// (1.5 -> "1500m", 1.5Gi -> "1536Mi", 1e3 -> "1e3"), as Kubernetes does. Parsing keeps
// values down to 1n and rounds anything finer away from zero ("0.1n" -> "1n", "-0.1n" ->
// "-1n"); a BinarySI value above 2^63-1 is capped there, silently, as Kubernetes does
// ("9Ei" -> 9223372036854775807). Also as in Kubernetes, a BinarySI value that is no whole
// number of Ki prints as bare digits ("62.5Ki" -> "64000"), which read back as DecimalSI.
//
// Range: the value is held exactly as unscaled * 10^scale with |unscaled| < 10^38 and a
// 32-bit scale, so any quantity with at most 38 significant digits is exact ("1e999999999"
// included). Kubernetes' arbitrary-precision fallback accepts longer digit strings; here
// they are errors, never rounded or wrapped. A number needs a digit: Kubernetes' scanner
// lets some digit-less spellings through as zero ("Ki", ".", "-") but not others ("Ei");
// all are errors here.
//
// Thread-safety: a value type; const methods are safe to call concurrently.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/json.h"
#include "api/result.h"

namespace kernlet {

namespace quantity_internal {
struct Scan;  // a quantity split into sign, digits and suffix (quantity.cc)
struct Unit;  // what a suffix means (quantity.cc)
}  // namespace quantity_internal

class Quantity {
 public:
  enum class Format { DecimalSI, BinarySI, DecimalExponent };

  // Zero, DecimalSI.
  Quantity() = default;

  // Parses the Kubernetes string form. Errors name the input and what is wrong with it
  // (`quantity "12Q": unknown suffix "Q"`); values beyond the representable range are
  // errors, never wrapped. Allocates only on the error path.
  static Result<Quantity> parse(std::string_view text);

  // Exact constructors: value * 10^scale (e.g. from_scaled(250, -3) == 250m). Unlike
  // parse, they never round to nano. from_scaled throws std::out_of_range (a programmer
  // error) when the value's trailing zeros would carry the scale past INT32_MAX.
  static Quantity from_int(int64_t value, Format format = Format::DecimalSI);
  static Quantity from_milli(int64_t milli, Format format = Format::DecimalSI);
  static Quantity from_scaled(int64_t value, int32_t scale, Format format = Format::DecimalSI);

  // Reads a quantity from JSON as the API server accepts it: a string (surrounding
  // whitespace ignored), a number (`cpu: 1`, `memory: 1.5`) or null (zero). Errors name
  // the offending value. Numbers arrive as Boost.JSON values, not text, so they are
  // DecimalSI read to 15 significant digits (`1e3` prints "1k" where Kubernetes keeps "1e3").
  static Result<Quantity> from_json(const json::value& v);
  // The canonical string as a JSON string.
  json::value to_json() const;

  Format format() const { return format_; }

  // Canonical string form, e.g. "1500m", "1536Mi", "1e3", "0".
  std::string to_string() const;

  // Value in thousandths, rounded away from zero (Kubernetes' MilliValue: ceil for
  // non-negative values, "-1.5m" -> -2). Error on int64 overflow.
  Result<int64_t> milli_value() const;
  // Value rounded away from zero to an integer (Kubernetes' Value). Error on int64 overflow.
  Result<int64_t> value() const;
  // Approximate value as a double (for ratios and scores, never for accounting);
  // +-inf beyond the double range.
  double as_double() const;

  bool is_zero() const { return unscaled_ == 0; }
  int sign() const { return unscaled_ < 0 ? -1 : (unscaled_ > 0 ? 1 : 0); }

  // Exact arithmetic; error when the exact result has more than 38 significant digits.
  // The result keeps the left operand's format unless the left operand is zero, then it
  // takes the right one's (as Kubernetes' Add/Sub do).
  Result<Quantity> add(const Quantity& other) const;
  Result<Quantity> sub(const Quantity& other) const;
  Quantity neg() const;

  // Exact comparison of values; the format plays no part.
  std::strong_ordering operator<=>(const Quantity& other) const;
  bool operator==(const Quantity& other) const {
    return unscaled_ == other.unscaled_ && scale_ == other.scale_;
  }

 private:
  __extension__ typedef __int128 int128;  // __extension__: no -Wpedantic noise

  Quantity(int128 unscaled, int32_t scale, Format format)
      : unscaled_(unscaled), scale_(scale), format_(format) {}
  Result<int64_t> scaled_int(int32_t target_scale, std::string_view what) const;
  // Builds the value of a scanned quantity; `text` is only used in errors.
  static Result<Quantity> from_parts(std::string_view text, const quantity_internal::Scan& s,
                                     const quantity_internal::Unit& unit);

  // value = unscaled_ * 10^scale_. Always normalized: unscaled_ has no trailing decimal
  // zeros and zero is (0, 0), so equal values have equal members. |unscaled_| < 10^38.
  int128 unscaled_ = 0;
  int32_t scale_ = 0;
  Format format_ = Format::DecimalSI;
};

}  // namespace kernlet
