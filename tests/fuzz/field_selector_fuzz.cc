// Fuzzes field selector parsing: any input either fails with an error or parses to a
// selector whose canonical text parses back to an equal selector with the same text;
// parsing for a resource accepts a subset of what plain parsing accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kernlet::api::FieldSelector;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = FieldSelector::parse(text);
  auto for_pods = FieldSelector::parse_for("pods", text);
  if (!s.ok()) {
    if (for_pods.ok()) std::abort();
    return 0;
  }

  std::string canonical = s->to_string();
  auto again = FieldSelector::parse(canonical);
  if (!again.ok() || !(*again == *s) || again->to_string() != canonical) std::abort();

  // Every term's own value must satisfy an `=` term and fail a `!=` term.
  kernlet::api::FieldSet fields;
  for (const auto& t : s->terms()) fields.emplace(t.field, t.value);
  for (const auto& t : s->terms()) {
    bool want = fields.at(t.field) == t.value ? t.equals : !t.equals;
    if (FieldSelector::one_term(t.field, t.value, t.equals).matches(fields) != want) std::abort();
  }
  (void)s->matches(fields);
  return 0;
}
