#include "runtime/seccomp/security_context.h"

#include <cctype>

#include "api/objects/pod.h"

namespace kernlet::seccomp {
namespace {

struct Chosen {
  const json::object* profile = nullptr;
  std::string path;  // field path of the seccompProfile object
};

Chosen choose_profile(const json::object& pod_spec, const json::object& container, std::string_view container_path) {
  if (const json::object* sc = json::get_object(container, "securityContext")) {
    if (const json::object* p = json::get_object(*sc, "seccompProfile")) {
      return {p, std::string(container_path) + ".securityContext.seccompProfile"};
    }
  }
  if (const json::object* sc = json::get_object(pod_spec, "securityContext")) {
    if (const json::object* p = json::get_object(*sc, "seccompProfile")) {
      return {p, "spec.securityContext.seccompProfile"};
    }
  }
  return {};
}

Result<void> check_names(const std::vector<std::string>& names, const std::string& path) {
  for (const std::string& n : names) {
    std::string upper;
    for (char c : n) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "ALL") continue;
    KL_TRY(parse_capability(n, path));
  }
  return Ok();
}

}  // namespace

Result<SeccompProfileType> parse_seccomp_profile_type(std::string_view type, std::string_view path) {
  if (type == "RuntimeDefault") return SeccompProfileType::kRuntimeDefault;
  if (type == "Unconfined") return SeccompProfileType::kUnconfined;
  if (type == "Localhost") return SeccompProfileType::kLocalhost;
  if (type.empty()) return Error(ErrorCode::kInvalidArgument, std::string(path) + ": required");
  return Error(ErrorCode::kInvalidArgument,
               std::string(path) + ": unsupported value \"" + std::string(type) +
                   "\" (supported: \"Localhost\", \"RuntimeDefault\", \"Unconfined\")");
}

Result<ProcessSecurityRequest> security_request(const json::object& pod_spec, const json::object& container,
                                                std::string_view container_path,
                                                const SecurityContextOptions& options) {
  ProcessSecurityRequest req;
  std::string sc_path = std::string(container_path) + ".securityContext";
  if (const json::object* sc = json::get_object(container, "securityContext")) {
    api::SecurityContextView view(*sc);
    req.capabilities.privileged = view.privileged();
    for (std::string_view c : view.capabilities_add()) req.capabilities.add.emplace_back(c);
    for (std::string_view c : view.capabilities_drop()) req.capabilities.drop.emplace_back(c);
    KL_TRY(check_names(req.capabilities.add, sc_path + ".capabilities.add"));
    KL_TRY(check_names(req.capabilities.drop, sc_path + ".capabilities.drop"));
    std::optional<bool> escalate = view.allow_privilege_escalation();
    req.no_new_privs = escalate.has_value() && !*escalate;
  }

  Chosen chosen = choose_profile(pod_spec, container, container_path);
  if (chosen.profile == nullptr) {
    req.seccomp = options.seccomp_default ? SeccompProfileType::kRuntimeDefault : SeccompProfileType::kUnconfined;
    return req;
  }
  KL_ASSIGN_OR_RETURN(req.seccomp, parse_seccomp_profile_type(json::get_string(*chosen.profile, "type"),
                                                              chosen.path + ".type"));
  if (req.seccomp == SeccompProfileType::kLocalhost) {
    std::string_view ref = json::get_string(*chosen.profile, "localhostProfile");
    if (ref.empty()) {
      return Error(ErrorCode::kInvalidArgument, chosen.path + ".localhostProfile: required when type is Localhost");
    }
    Result<SeccompProfile> profile = load_localhost_profile(options.seccomp_profile_root, ref);
    if (!profile.ok()) return std::move(profile).error().context(chosen.path);
    req.localhost_profile = std::move(profile).value();
  }
  return req;
}

}  // namespace kernlet::seccomp
