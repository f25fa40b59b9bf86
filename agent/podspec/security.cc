#include "agent/podspec/security.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <limits>

#include "runtime/seccomp/capabilities.h"
#include "runtime/seccomp/seccomp_profile.h"

namespace kernlet::agent::podspec {
namespace {

constexpr int kCapSysAdmin = 21;
constexpr int64_t kMaxUserId = std::numeric_limits<int32_t>::max();

// DetermineEffectiveSecurityContext for the fields the pod level can also set.
struct Effective {
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::optional<bool> run_as_non_root;
  const json::object* seccomp_profile = nullptr;  // the container's, else the pod's
};

Effective effective(const json::object* pod_sc, const json::object* ctr_sc) {
  Effective e;
  for (const json::object* sc : {pod_sc, ctr_sc}) {  // the container's, applied last, wins
    if (sc == nullptr) continue;
    if (auto v = json::get_int(*sc, "runAsUser")) e.run_as_user = v;
    if (auto v = json::get_int(*sc, "runAsGroup")) e.run_as_group = v;
    if (auto v = json::get_bool(*sc, "runAsNonRoot")) e.run_as_non_root = v;
    if (const json::object* p = json::get_object(*sc, "seccompProfile")) e.seccomp_profile = p;
  }
  return e;
}

// containerd's getUserFromImage: the part before ':', a uid when it parses as an integer,
// else a user name.
struct ImageUser {
  std::optional<int64_t> uid;
  std::string name;
};
ImageUser image_user_of(std::string_view user) {
  ImageUser out;
  std::string_view u = user.substr(0, user.find(':'));
  if (u.empty()) return out;
  std::string_view digits = u;
  if (digits.front() == '+') digits.remove_prefix(1);  // Go's ParseInt takes a sign
  int64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (!digits.empty() && ec == std::errc() && p == digits.data() + digits.size()) {
    out.uid = v;
  } else {
    out.name = std::string(u);
  }
  return out;
}

Result<void> verify_run_as_non_root(const api::PodView& pod, const api::ContainerView& c, const Effective& e,
                                    const ImageUser& image) {
  if (!e.run_as_non_root.value_or(false)) return Ok();
  const std::string where = "(pod: \"" + pod_description(pod) + "\", container: " + std::string(c.name()) + ")";
  if (e.run_as_user) {
    if (*e.run_as_user == 0) return Error("container's runAsUser breaks non-root policy " + where);
    return Ok();
  }
  if (!image.uid && !image.name.empty()) {
    return Error("container has runAsNonRoot and image has non-numeric user (" + image.name +
                 "), cannot verify user is non-root " + where);
  }
  // No USER at all: the kubelet treats the image as running as root.
  const int64_t uid = image.uid.value_or(0);
  if (uid == 0) return Error("container has runAsNonRoot and image will run as root " + where);
  if (uid < 0 || uid > kMaxUserId) {
    return Error("container has runAsNonRoot and image has an invalid user id (" + std::to_string(uid) +
                 "). (Must be 1-(" + std::to_string(kMaxUserId) + ")): must be between 0 and " +
                 std::to_string(kMaxUserId) + ", inclusive " + where);
  }
  return Ok();
}

bool is_all(std::string_view name) {
  if (name.size() != 3) return false;
  return std::toupper(static_cast<unsigned char>(name[0])) == 'A' &&
         std::toupper(static_cast<unsigned char>(name[1])) == 'L' &&
         std::toupper(static_cast<unsigned char>(name[2])) == 'L';
}

Result<bool> check_capabilities(const std::vector<std::string>& names, const std::string& path) {
  bool sys_admin = false;
  for (const std::string& n : names) {
    if (is_all(n)) continue;
    KL_ASSIGN_OR_RETURN(int cap, seccomp::parse_capability(n, path));
    sys_admin = sys_admin || cap == kCapSysAdmin;
  }
  return sys_admin;
}

Result<uint32_t> id_from(int64_t v, std::string_view field) {
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return Error(ErrorCode::kInvalidArgument, std::string(field) + ": " + std::to_string(v) + " is not a valid id");
  }
  return static_cast<uint32_t>(v);
}

bool relative_descending(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

UserResolver image_user_resolver(std::vector<std::string> layer_dirs) {
  return [dirs = std::move(layer_dirs)](std::string_view user) { return images::resolve_user(dirs, user); };
}

FileReader host_file_reader() {
  return [](const std::string& path) -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::from_errno("open " + path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Error::from_errno("read " + path);
    return text.str();
  };
}

std::string pod_description(const api::PodView& pod) {
  return std::string(pod.meta().name()) + "_" + std::string(pod.meta().namespace_()) + "(" +
         std::string(pod.meta().uid()) + ")";
}

Result<ContainerSecurity> container_security(const api::PodView& pod, const api::ContainerView& container,
                                             std::string_view image_user, const UserResolver& resolve,
                                             const SecurityOptions& options) {
  const json::object* pod_sc = pod.spec().security_context();
  const json::object* ctr_sc = json::get_object(container.raw(), "securityContext");
  const Effective eff = effective(pod_sc, ctr_sc);
  const ImageUser img = image_user_of(image_user);
  KL_TRY(verify_run_as_non_root(pod, container, eff, img));

  ContainerSecurity out;
  // The user string containerd resolves in the image: the kubelet sends runAsUser, else
  // the image's uid, else its user name, and never the image's group.
  std::string user;
  if (eff.run_as_user) {
    KL_ASSIGN_OR_RETURN(uint32_t uid, id_from(*eff.run_as_user, "runAsUser"));
    user = std::to_string(uid);
  } else if (img.uid) {
    KL_ASSIGN_OR_RETURN(uint32_t uid, id_from(*img.uid, "image user"));
    user = std::to_string(uid);
  } else if (!img.name.empty()) {
    user = img.name;
  } else {
    user = "0";
  }
  if (!resolve) return Error(ErrorCode::kInvalidArgument, "container_security: no user resolver");
  Result<images::ResolvedUser> who = resolve(user);
  if (!who.ok()) return std::move(who).error();
  out.uid = who->uid;
  out.gid = who->gid;
  if (eff.run_as_group) {
    KL_ASSIGN_OR_RETURN(out.gid, id_from(*eff.run_as_group, "runAsGroup"));
  }

  // Supplemental groups in containerd's order: the image's groups for the user (not with
  // the Strict policy), the primary gid put first unless it is among them, then the pod's.
  const bool strict =
      pod_sc != nullptr && json::get_string(*pod_sc, "supplementalGroupsPolicy") == "Strict";
  if (!strict) out.supplemental_gids.assign(who->additional_gids.begin(), who->additional_gids.end());
  if (std::find(out.supplemental_gids.begin(), out.supplemental_gids.end(), out.gid) == out.supplemental_gids.end()) {
    out.supplemental_gids.insert(out.supplemental_gids.begin(), out.gid);
  }
  if (pod_sc != nullptr) {
    if (auto fs = json::get_int(*pod_sc, "fsGroup")) {
      KL_ASSIGN_OR_RETURN(uint32_t g, id_from(*fs, "spec.securityContext.fsGroup"));
      out.supplemental_gids.push_back(g);
    }
    if (const json::array* groups = json::get_array(*pod_sc, "supplementalGroups")) {
      for (const json::value& v : *groups) {
        if (!v.is_int64() && !v.is_uint64()) continue;
        const int64_t n = v.is_int64() ? v.get_int64() : static_cast<int64_t>(v.get_uint64());
        KL_ASSIGN_OR_RETURN(uint32_t g, id_from(n, "spec.securityContext.supplementalGroups"));
        out.supplemental_gids.push_back(g);
      }
    }
  }

  // Container-only fields.
  std::optional<bool> allow_escalation;
  if (ctr_sc != nullptr) {
    const api::SecurityContextView sc(*ctr_sc);
    out.privileged = sc.privileged();
    out.read_only_rootfs = sc.read_only_root_filesystem();
    allow_escalation = sc.allow_privilege_escalation();
    for (std::string_view c : sc.capabilities_add()) out.request.capabilities.add.emplace_back(c);
    for (std::string_view c : sc.capabilities_drop()) out.request.capabilities.drop.emplace_back(c);
  }
  const std::string cpath = "container " + std::string(container.name()) + ": securityContext.capabilities";
  KL_ASSIGN_OR_RETURN(bool adds_sys_admin, check_capabilities(out.request.capabilities.add, cpath + ".add"));
  KL_TRY(check_capabilities(out.request.capabilities.drop, cpath + ".drop"));

  out.request.identity = seccomp::ProcessIdentity{out.uid, out.gid, {}};
  out.request.identity->additional_gids.assign(out.supplemental_gids.begin(), out.supplemental_gids.end());
  out.request.capabilities.privileged = out.privileged;
  out.request.capabilities.uid = out.uid;
  out.request.no_new_privs = allow_escalation.has_value() && !*allow_escalation && !out.privileged && !adds_sys_admin;

  // Seccomp (getSeccompProfile / fieldSeccompProfile).
  if (out.privileged) {
    out.request.seccomp = seccomp::SeccompProfileType::kUnconfined;  // containerd skips seccomp
  } else if (eff.seccomp_profile == nullptr) {
    out.request.seccomp =
        options.seccomp_default ? seccomp::SeccompProfileType::kRuntimeDefault : seccomp::SeccompProfileType::kUnconfined;
  } else {
    std::string_view type = json::get_string(*eff.seccomp_profile, "type");
    if (type == "RuntimeDefault") {
      out.request.seccomp = seccomp::SeccompProfileType::kRuntimeDefault;
    } else if (type == "Localhost") {
      std::string_view ref = json::get_string(*eff.seccomp_profile, "localhostProfile");
      if (ref.empty()) return Error("localhostProfile must be set if seccompProfile type is Localhost.");
      if (!relative_descending(ref)) {
        return Error(ErrorCode::kInvalidArgument,
                     "seccompProfile.localhostProfile " + std::string(ref) + ": must be a relative path without '..'");
      }
      out.request.seccomp = seccomp::SeccompProfileType::kLocalhost;
      std::string root = options.seccomp_profile_root;
      while (root.size() > 1 && root.back() == '/') root.pop_back();
      out.localhost_profile_path = root + "/" + std::string(ref);
    } else {
      out.request.seccomp = seccomp::SeccompProfileType::kUnconfined;  // Unconfined, and types it does not know
    }
  }
  return out;
}

Result<void> load_localhost_profile(ContainerSecurity& security, const FileReader& read) {
  if (!security.localhost_profile_path) return Ok();
  const std::string& path = *security.localhost_profile_path;
  if (!read) return Error(ErrorCode::kInvalidArgument, "seccomp profile " + path + ": no file reader");
  Result<std::string> text = read(path);
  if (!text.ok()) return std::move(text).error().context("seccomp profile " + path);
  Result<seccomp::SeccompProfile> profile = seccomp::parse_seccomp_profile(*text);
  if (!profile.ok()) return std::move(profile).error().context("seccomp profile " + path);
  security.request.localhost_profile = std::move(profile).value();
  return Ok();
}

}  // namespace kernlet::agent::podspec
