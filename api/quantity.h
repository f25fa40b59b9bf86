// Quantity: a fixed-point number with Kubernetes' resource.Quantity syntax and semantics.
//
//   <quantity>  ::= <signedNumber><suffix>
//   <suffix>    ::= Ki | Mi | Gi | Ti | Pi | Ei          (binary SI, format BinarySI)
//                 | n | u | m | "" | k | M | G | T | P | E (decimal SI, format DecimalSI)
//                 | e<signedNumber> | E<signedNumber>     (format DecimalExponent)
//
// A parsed quantity remembers its format and prints in canonical form for that format
// (1.5 -> "1500m", 1.5Gi -> "1536Mi", 1e3 -> "1e3"), as Kubernetes does. Values finer than
// 1n are rounded up to the next nano, as Kubernetes does.
// Thread-safety: a value type; const methods are safe to call concurrently.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet {

class Quantity {
 public:
  enum class Format { DecimalSI, BinarySI, DecimalExponent };

  // Zero, DecimalSI.
  Quantity() = default;

  // Parses the Kubernetes string form. Errors name the input and what is wrong with it
  // (`quantity "12Q": unknown suffix "Q"`); values beyond the representable range are
  // errors, never wrapped.
  static Result<Quantity> parse(std::string_view text);

  // Exact constructors: value * 10^scale (e.g. from_scaled(250, -3) == 250m).
  static Quantity from_int(int64_t value, Format format = Format::DecimalSI);
  static Quantity from_milli(int64_t milli, Format format = Format::DecimalSI);
  static Quantity from_scaled(int64_t value, int32_t scale, Format format = Format::DecimalSI);

  Format format() const { return format_; }

  // Canonical string form, e.g. "1500m", "1536Mi", "1e3", "0".
  std::string to_string() const;

  // Value in thousandths, rounded up (Kubernetes' MilliValue). Error on int64 overflow.
  Result<int64_t> milli_value() const;
  // Value rounded up to an integer (Kubernetes' Value). Error on int64 overflow.
  Result<int64_t> value() const;
  // Approximate value as a double (for ratios and scores, never for accounting).
  double as_double() const;

  bool is_zero() const;
  int sign() const;

  // Exact arithmetic; error on overflow of the internal range. The result keeps the
  // left operand's format (as Kubernetes' Add/Sub do).
  Result<Quantity> add(const Quantity& other) const;
  Result<Quantity> sub(const Quantity& other) const;
  Quantity neg() const;

  // Exact comparison of values; the format plays no part.
  std::strong_ordering operator<=>(const Quantity& other) const;
  bool operator==(const Quantity& other) const;

 private:
  __extension__ typedef __int128 int128;  // __extension__: no -Wpedantic noise
  // value = unscaled_ * 10^scale_ (scale_ >= -9 after parsing: nano precision).
  int128 unscaled_ = 0;
  int32_t scale_ = 0;
  Format format_ = Format::DecimalSI;
};

}  // namespace kernlet
