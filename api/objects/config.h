// Views of the core/v1 configuration kinds, ConfigMap and Secret (pattern:
// api/objects/pod.h). Binary values are base64 in JSON and decoded only when asked for,
// so a malformed one is an error where it is used, naming the key.
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/json.h"
#include "api/object.h"
#include "api/result.h"

namespace kernlet::api {

// Secret types kernlet treats specially.
inline constexpr std::string_view kSecretTypeOpaque = "Opaque";
inline constexpr std::string_view kSecretTypeServiceAccountToken =
    "kubernetes.io/service-account-token";
inline constexpr std::string_view kSecretTypeDockerConfigJson = "kubernetes.io/dockerconfigjson";
inline constexpr std::string_view kSecretTypeTls = "kubernetes.io/tls";

// Decoded key -> bytes contents of a Secret or ConfigMap.
using DataMap = std::map<std::string, std::string, std::less<>>;

// A whole ConfigMap.
class ConfigMapView {
 public:
  explicit ConfigMapView(const json::object& cm) : cm_(&cm) {}
  Meta meta() const { return Meta(*cm_); }
  // data: UTF-8 values; nullptr when unset.
  const json::object* data() const;
  std::optional<std::string_view> data_value(std::string_view key) const;
  // binaryData: base64 values; nullptr when unset.
  const json::object* binary_data() const;
  // binaryData[key] decoded; nullopt when the key is absent. Errors (kInvalidArgument)
  // name the key: `binaryData[cert]: illegal base64 data at input byte 4`.
  Result<std::optional<std::string>> binary_data_value(std::string_view key) const;
  // data and binaryData together (Kubernetes forbids a key in both), binary decoded: what
  // a configMap volume projects. Errors as binary_data_value().
  Result<DataMap> all_data() const;
  bool immutable() const;  // default false
  const json::object& raw() const { return *cm_; }

 private:
  const json::object* cm_;
};

// A whole Secret.
class SecretView {
 public:
  explicit SecretView(const json::object& s) : s_(&s) {}
  Meta meta() const { return Meta(*s_); }
  std::string_view type() const;  // default "Opaque"
  // data: base64 values; nullptr when unset.
  const json::object* data() const;
  // data[key] decoded; nullopt when the key is absent. Errors (kInvalidArgument) name the
  // key: `data[password]: illegal base64 data at input byte 4`.
  Result<std::optional<std::string>> data_value(std::string_view key) const;
  // stringData: write-only plain values; nullptr when unset (stored Secrets never have it).
  const json::object* string_data() const;
  std::optional<std::string_view> string_data_value(std::string_view key) const;
  // data decoded, with stringData laid over it as the API server merges them on write.
  // Errors as data_value().
  Result<DataMap> decoded_data() const;
  bool immutable() const;  // default false
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

}  // namespace kernlet::api
