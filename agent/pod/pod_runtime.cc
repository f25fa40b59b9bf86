#include "agent/pod/pod_runtime.h"

#include <charconv>

namespace kernlet::agent {

std::string container_instance_id(std::string_view pod_uid, std::string_view name, int attempt) {
  return std::string(pod_uid) + "_" + std::string(name) + "_" + std::to_string(attempt);
}

std::optional<InstanceName> parse_container_instance_id(std::string_view id) {
  // Pod uids and container names (RFC 1123 labels) never contain '_'.
  auto a = id.find('_');
  auto b = id.rfind('_');
  if (a == std::string_view::npos || a == b || a == 0 || b + 1 >= id.size()) return std::nullopt;
  InstanceName n;
  n.pod_uid = std::string(id.substr(0, a));
  n.name = std::string(id.substr(a + 1, b - a - 1));
  auto digits = id.substr(b + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n.attempt);
  if (ec != std::errc() || p != digits.data() + digits.size() || n.name.empty() || n.attempt < 0) return std::nullopt;
  return n;
}

}  // namespace kernlet::agent
