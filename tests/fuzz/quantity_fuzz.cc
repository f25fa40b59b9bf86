// Fuzzes Quantity: any input either parses or yields an error naming it; a parsed value
// prints a canonical string that parses back to the same value and (but for one
// Kubernetes quirk, below) the same string, and the integer accessors, arithmetic and
// comparison agree with one another exactly.
// The input is one quantity, or two separated by a newline; its first 8 bytes are also
// read as a double and fed through the JSON-number path.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "api/quantity.h"

namespace {

using kernlet::Quantity;

void check(bool ok) {
  if (!ok) std::abort();
}

std::strong_ordering ordering_of(int sign) {
  return sign < 0 ? std::strong_ordering::less
                  : (sign > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

// v must be x rounded away from zero to a multiple of one unit (unit = 1 or 1/1000).
void check_rounded(const Quantity& x, int64_t v, bool milli) {
  auto make = [milli](int64_t n) { return milli ? Quantity::from_milli(n) : Quantity::from_int(n); };
  const Quantity at = make(v);
  if (x.sign() >= 0) {
    check(at >= x);
    if (v > 0) check(make(v - 1) < x);
  } else {
    check(at <= x);
    check(make(v + 1) > x);
  }
}

void check_one(const Quantity& x) {
  const std::string s = x.to_string();
  auto again = Quantity::parse(s);
  check(again.ok());
  check(*again == x);
  check((*again <=> x) == std::strong_ordering::equal);
  const std::string s2 = again->to_string();
  if (s2 != s) {
    // Kubernetes prints a BinarySI value that is no whole number of Ki as bare digits
    // ("62.5Ki" -> "64000"), which read back as DecimalSI ("64k"). That second form is final.
    check(x.format() == Quantity::Format::BinarySI);
    check(s.find_first_not_of("-0123456789") == std::string::npos);
    auto third = Quantity::parse(s2);
    check(third.ok() && *third == x && third->to_string() == s2);
  }

  check(x.neg().neg() == x);
  check(x.neg().sign() == -x.sign());
  auto zero = x.add(x.neg());
  check(zero.ok() && zero->is_zero() && zero->to_string() == "0");

  if (auto v = x.value(); v.ok()) check_rounded(x, *v, false);
  if (auto m = x.milli_value(); m.ok()) check_rounded(x, *m, true);

  const double d = x.as_double();
  check(!std::isnan(d));
  if (d != 0) check((d < 0) == (x.sign() < 0));

  auto from_json = Quantity::from_json(x.to_json());
  check(from_json.ok() && *from_json == x);
}

void check_pair(const Quantity& a, const Quantity& b) {
  const auto order = a <=> b;
  check((b <=> a) == (0 <=> order));
  check((a == b) == (order == std::strong_ordering::equal));
  if (auto diff = a.sub(b); diff.ok()) {
    check(ordering_of(diff->sign()) == order);
  }
  if (auto sum = a.add(b); sum.ok()) {
    // The exact a + b - b is a, which is representable, so this cannot fail.
    auto back = sum->sub(b);
    check(back.ok() && *back == a);
  }
}

void check_double(double d) {
  if (!std::isfinite(d)) return;
  auto r = Quantity::from_json(kernlet::json::value(d));
  check(r.ok());
  // Parsing keeps nanos (rounding up) and reads the double to 15 significant digits.
  const double got = r->as_double();
  check(std::fabs(got - d) <= 1.01e-9 + 1e-13 * std::fabs(d));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (size >= sizeof(double)) {
    double d = 0;
    std::memcpy(&d, data, sizeof(d));
    check_double(d);
  }
  const std::size_t nl = text.find('\n');
  const std::string_view first = text.substr(0, nl);
  auto a = Quantity::parse(first);
  if (!a.ok()) {
    check(a.error().message().rfind("quantity \"", 0) == 0);
    return 0;
  }
  check_one(*a);
  if (nl == std::string_view::npos) return 0;
  auto b = Quantity::parse(text.substr(nl + 1));
  if (!b.ok()) return 0;
  check_one(*b);
  check_pair(*a, *b);
  return 0;
}
