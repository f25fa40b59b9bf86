// Fuzzes the protobuf request decoder and field validation: any input either decodes into
// a JSON object (which then serializes to JSON that parses back to the same document, and
// survives unknown-field pruning against its kind's schema) or yields an error. Inputs
// without the "k8s\0" prefix are also decoded as the raw message of a kind picked by the
// first byte, so the fuzzer reaches deep into typed messages without building envelopes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/json.h"
#include "api/schema/field_validation.h"
#include "api/schema/protobuf.h"
#include "api/schema/schema.h"

namespace {

using namespace kernlet::api::schema;
namespace json = kernlet::json;

void check(const json::object& obj, const Message* m) {
  std::string text = json::dump(obj);
  auto back = json::parse(text);
  if (!back.ok() || !(back->as_object() == obj)) std::abort();  // not valid, round-trippable JSON
  if (m != nullptr) {
    json::object copy = obj;
    auto unknown = drop_unknown_fields(*m, copy);
    // Decoded objects only carry schema fields (plus apiVersion/kind at the top).
    if (!unknown.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto obj = decode_protobuf_object(in); obj.ok()) {
    check(*obj, message_for_kind(json::get_string(*obj, "apiVersion"), json::get_string(*obj, "kind")));
  }
  if (!in.empty()) {
    const auto& all = all_messages();
    const Message* m = all[static_cast<uint8_t>(in[0]) % all.size()];
    if (auto obj = decode_protobuf_message(*m, in.substr(1)); obj.ok()) check(*obj, m);
  }
  (void)find_duplicate_fields(in);
  return 0;
}
