#include "api/objects/common.h"

#include <array>

namespace kernlet::api {
namespace {

std::string_view sv(const json::string& s) { return {s.data(), s.size()}; }

// 0-63 for a base64 alphabet byte, -1 otherwise.
constexpr std::array<int8_t, 256> make_base64_table() {
  std::array<int8_t, 256> t{};
  for (auto& e : t) e = -1;
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kBase64 = make_base64_table();

Error illegal_base64(std::size_t at) {
  return Error(ErrorCode::kInvalidArgument,
               "illegal base64 data at input byte " + std::to_string(at));
}

}  // namespace

std::string_view string_or_default(const json::object& o, std::string_view key,
                                   std::string_view fallback) {
  std::string_view v = json::get_string(o, key);
  return v.empty() ? fallback : v;
}

std::optional<std::string_view> get_optional_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return sv(v->get_string());
}

Result<std::optional<Quantity>> get_optional_quantity(const json::object& o, std::string_view key,
                                                      std::string_view path) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<Quantity>();
  auto q = quantity_from_json(*v);
  if (!q.ok()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": " + q.error().message());
  return std::optional<Quantity>(*q);
}

std::optional<std::string_view> map_value(const json::object* map, std::string_view key) {
  if (map == nullptr) return std::nullopt;
  return get_optional_string(*map, key);
}

std::vector<std::pair<std::string_view, std::string_view>> string_entries(const json::object* map) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  if (map == nullptr) return out;
  out.reserve(map->size());
  for (const auto& kv : *map) {
    if (kv.value().is_string()) out.emplace_back(kv.key(), sv(kv.value().get_string()));
  }
  return out;
}

Result<std::string> decode_base64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t quad[4] = {};
  int n = 0;             // sextets collected in the current quantum
  std::size_t pads = 0;  // '=' seen in the current quantum
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      // Padding may only fill the last one or two places of a quantum, and ends the input.
      if (n < 2) return illegal_base64(i);
      ++pads;
      if (n + static_cast<int>(pads) == 4) {
        ++i;
        break;
      }
      continue;
    }
    if (pads > 0) return illegal_base64(i);
    const int8_t d = kBase64[static_cast<unsigned char>(c)];
    if (d < 0) return illegal_base64(i);
    quad[n++] = static_cast<uint32_t>(d);
    if (n == 4) {
      const uint32_t bits = quad[0] << 18 | quad[1] << 12 | quad[2] << 6 | quad[3];
      out.push_back(static_cast<char>(bits >> 16 & 0xff));
      out.push_back(static_cast<char>(bits >> 8 & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      n = 0;
    }
  }
  // Only line breaks may follow the padding.
  for (; i < text.size(); ++i) {
    if (text[i] != '\r' && text[i] != '\n') return illegal_base64(i);
  }
  if (pads > 0) {
    if (n + static_cast<int>(pads) != 4) return illegal_base64(text.size());
    const uint32_t bits = quad[0] << 18 | quad[1] << 12 | (n == 3 ? quad[2] << 6 : 0);
    out.push_back(static_cast<char>(bits >> 16 & 0xff));
    if (n == 3) out.push_back(static_cast<char>(bits >> 8 & 0xff));
  } else if (n != 0) {
    // Unpadded tail: Go reports the position just past the input.
    return illegal_base64(text.size());
  }
  return out;
}

std::string_view ObjectReferenceView::kind() const { return json::get_string(*r_, "kind"); }
std::string_view ObjectReferenceView::namespace_() const {
  return json::get_string(*r_, "namespace");
}
std::string_view ObjectReferenceView::name() const { return json::get_string(*r_, "name"); }
std::string_view ObjectReferenceView::uid() const { return json::get_string(*r_, "uid"); }
std::string_view ObjectReferenceView::api_version() const {
  return json::get_string(*r_, "apiVersion");
}
std::string_view ObjectReferenceView::resource_version() const {
  return json::get_string(*r_, "resourceVersion");
}
std::string_view ObjectReferenceView::field_path() const {
  return json::get_string(*r_, "fieldPath");
}

}  // namespace kernlet::api
