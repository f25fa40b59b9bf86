#include "api/objects/config.h"

#include <string>

#include "api/objects/common.h"

namespace kernlet::api {
namespace {

// `member[key]` decoded from base64; nullopt when absent.
Result<std::optional<std::string>> decoded_member(const json::object* map, std::string_view member,
                                                  std::string_view key) {
  std::optional<std::string_view> text = map_value(map, key);
  if (!text) return std::optional<std::string>();
  auto bytes = decode_base64(*text);
  if (!bytes.ok()) {
    return Error(ErrorCode::kInvalidArgument, std::string(member) + "[" + std::string(key) +
                                                  "]: " + bytes.error().message());
  }
  return std::optional<std::string>(std::move(bytes).value());
}

// Every entry of a base64 map, decoded, into `out`.
Result<void> decode_all_into(const json::object* map, std::string_view member, DataMap& out) {
  for (const auto& [key, text] : string_entries(map)) {
    auto bytes = decode_base64(text);
    if (!bytes.ok()) {
      return Error(ErrorCode::kInvalidArgument, std::string(member) + "[" + std::string(key) +
                                                    "]: " + bytes.error().message());
    }
    out.insert_or_assign(std::string(key), std::move(bytes).value());
  }
  return Ok();
}

}  // namespace

const json::object* ConfigMapView::data() const { return json::get_object(*cm_, "data"); }
std::optional<std::string_view> ConfigMapView::data_value(std::string_view key) const {
  return map_value(data(), key);
}
const json::object* ConfigMapView::binary_data() const {
  return json::get_object(*cm_, "binaryData");
}
Result<std::optional<std::string>> ConfigMapView::binary_data_value(std::string_view key) const {
  return decoded_member(binary_data(), "binaryData", key);
}
Result<DataMap> ConfigMapView::all_data() const {
  DataMap out;
  for (const auto& [key, value] : string_entries(data())) out.emplace(key, value);
  KL_TRY(decode_all_into(binary_data(), "binaryData", out));
  return out;
}
bool ConfigMapView::immutable() const { return json::get_bool_or(*cm_, "immutable", false); }

std::string_view SecretView::type() const { return string_or_default(*s_, "type", kSecretTypeOpaque); }
const json::object* SecretView::data() const { return json::get_object(*s_, "data"); }
Result<std::optional<std::string>> SecretView::data_value(std::string_view key) const {
  return decoded_member(data(), "data", key);
}
const json::object* SecretView::string_data() const { return json::get_object(*s_, "stringData"); }
std::optional<std::string_view> SecretView::string_data_value(std::string_view key) const {
  return map_value(string_data(), key);
}
Result<DataMap> SecretView::decoded_data() const {
  DataMap out;
  KL_TRY(decode_all_into(data(), "data", out));
  for (const auto& [key, value] : string_entries(string_data())) {
    out.insert_or_assign(std::string(key), std::string(value));
  }
  return out;
}
bool SecretView::immutable() const { return json::get_bool_or(*s_, "immutable", false); }

}  // namespace kernlet::api
