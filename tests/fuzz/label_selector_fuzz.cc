// Fuzzes label selector parsing: any input either fails with an error or parses to a
// selector whose canonical text parses back to an equal selector with the same text,
// whose LabelSelector JSON form (when it has one) selects the same way, and whose
// matching never crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/labels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kernlet::api::Selector;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = Selector::parse(text);
  if (!s.ok()) return 0;

  std::string canonical = s->to_string();
  auto again = Selector::parse(canonical);
  if (!again.ok() || !(*again == *s) || again->to_string() != canonical) std::abort();

  // Build a label set from the selector's own keys and values, so matching is exercised
  // on labels the selector cares about; the JSON round trip must agree on it.
  kernlet::api::LabelSet labels;
  for (const auto& r : s->requirements())
    labels.emplace(r.key(), r.values().empty() ? std::string() : r.values().front());
  bool m = s->matches(labels);
  if (auto j = s->to_json(); j.ok()) {
    kernlet::json::value v = *j;
    auto back = Selector::from_json(&v, Selector::NullMeans::kNothing);
    if (!back.ok() || back->matches(labels) != m) std::abort();
  }
  return 0;
}
