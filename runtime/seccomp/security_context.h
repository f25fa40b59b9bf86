// Kubernetes securityContext → ProcessSecurityRequest, with the kubelet's rules for the
// fields this part owns: privileged, capabilities add/drop, allowPrivilegeEscalation and
// seccompProfile. The user/group identity (image USER, runAsUser, runAsGroup,
// supplementalGroups, fsGroup) is resolved by the container code, which knows the image;
// it fills ProcessSecurityRequest::identity afterwards. Pure except for reading a
// Localhost profile file; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "api/json.h"
#include "api/result.h"
#include "runtime/seccomp/process_security.h"

namespace kernlet::seccomp {

struct SecurityContextOptions {
  // Where Localhost profiles live (the kubelet's <root-dir>/seccomp).
  std::string seccomp_profile_root = "/var/lib/kernlet/seccomp";
  // The kubelet's --seccomp-default: a container without any seccompProfile runs
  // RuntimeDefault instead of Unconfined.
  bool seccomp_default = false;
};

// Parses securityContext.seccompProfile.type ("RuntimeDefault", "Unconfined",
// "Localhost"); `path` names the field in errors:
// `spec.containers[0].securityContext.seccompProfile.type: unsupported value "Strict"`.
Result<SeccompProfileType> parse_seccomp_profile_type(std::string_view type, std::string_view path);

// Builds the request for `container` (an element of spec.containers / initContainers,
// whose field path is `container_path`, e.g. "spec.containers[1]") of a pod with
// `pod_spec`:
//   - seccompProfile: the container's, else the pod's (spec.securityContext), else
//     RuntimeDefault with `seccomp_default`, else Unconfined; Localhost loads and parses
//     the profile now, so a bad profile fails the container with a message naming it;
//   - privileged and capabilities.add/drop as given; unknown names are errors naming the
//     field;
//   - no_new_privs exactly when allowPrivilegeEscalation is false (the kubelet's rule;
//     API validation already refuses false together with privileged or CAP_SYS_ADMIN).
Result<ProcessSecurityRequest> security_request(const json::object& pod_spec, const json::object& container,
                                                std::string_view container_path,
                                                const SecurityContextOptions& options = {});

}  // namespace kernlet::seccomp
