// Fuzzes YAML manifest decoding: any input converts to JSON documents or yields an
// error naming where; nothing crashes, hangs or exhausts memory (alias bombs included).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  auto docs = kernlet::yaml::to_json_documents(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (docs.ok()) {
    for (const auto& d : *docs) (void)kernlet::json::dump(d);
  }
  return 0;
}
