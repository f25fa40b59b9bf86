// Fuzzes the three PATCH kinds: the input is an original document and a patch document
// separated by a NUL byte (no NUL: the input is the patch against an empty object). Every
// patch either applies, giving a document that serializes and parses back, or yields an
// error; nothing crashes, hangs or grows without bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/json.h"
#include "api/patch.h"

namespace {

namespace json = kernlet::json;
using kernlet::Result;

void check(const Result<json::value>& r) {
  if (!r.ok()) {
    (void)kernlet::api::patch_error_status(r.error());
    return;
  }
  std::string text = json::dump(*r);
  // Results may nest one level deeper than the inputs (a copied or added subtree), which
  // json::parse refuses past 100 levels: only shallow results must round-trip.
  if (text.size() < 4096 && text.find("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[") == std::string::npos) {
    (void)json::parse(text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view original_text = "{}";
  std::string_view patch_text = in;
  if (auto nul = in.find('\0'); nul != std::string_view::npos) {
    original_text = in.substr(0, nul);
    patch_text = in.substr(nul + 1);
  }
  auto original = json::parse(original_text);
  auto patch = json::parse(patch_text);
  if (!original.ok() || !patch.ok()) return 0;

  check(kernlet::api::apply_merge_patch(*original, *patch));
  check(kernlet::api::apply_json_patch(*original, *patch));
  static constexpr std::string_view kKinds[][2] = {
      {"v1", "Pod"}, {"apps/v1", "Deployment"}, {"batch/v1", "CronJob"}, {"v1", "Node"},
      {"policy/v1", "PodDisruptionBudget"}, {"example.com/v1", "Widget"}};
  for (const auto& k : kKinds) {
    check(kernlet::api::apply_strategic_merge_patch(*original, *patch, k[0], k[1]));
  }
  return 0;
}
