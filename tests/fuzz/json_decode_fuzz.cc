// Fuzzes JSON decoding: any input either parses (and then re-serializes to a document
// that parses to the same value) or yields an error; nothing crashes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/json.h"

namespace {

// Equality that allows the last-ulp error of Boost.JSON 1.81's double parser, which is
// not correctly rounded (the fuzzer found "-942e-94" off by one ulp after a round trip).
bool same(const kernlet::json::value& a, const kernlet::json::value& b) {
  if (a.is_double() && b.is_double()) {
    double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 4 * std::fabs(x) * 2.3e-16;
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const auto* other = y.if_contains(kv.key());
      if (other == nullptr || !same(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = kernlet::json::parse(text);
  if (!v.ok()) return 0;
  auto again = kernlet::json::parse(kernlet::json::dump(*v));
  if (!again.ok() || !same(*again, *v)) std::abort();
  return 0;
}
