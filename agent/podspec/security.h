// A container's identity and privileges from pod.spec.securityContext, the container's
// securityContext and the image's USER, the way the kubelet (kuberuntime
// determineEffectiveSecurityContext, verifyRunAsNonRoot, getSeccompProfile) and containerd's
// CRI plugin (user string, additional gids) turn them into a process.
//
// Pure: the image's /etc/passwd and /etc/group are reached through a UserResolver (in the
// agent: images::resolve_user bound to the image's layer dirs; in tests:
// images::resolve_user_from over fixed texts), and a Localhost seccomp profile is read
// through a FileReader by load_localhost_profile, a separate step.
// Thread-safety: reentrant; callbacks run on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/objects/pod.h"
#include "api/result.h"
#include "runtime/images/image_user.h"
#include "runtime/seccomp/process_security.h"

namespace kernlet::agent::podspec {

struct SecurityOptions {
  // The kubelet's --seccomp-default: a container with no seccompProfile anywhere runs
  // RuntimeDefault instead of Unconfined.
  bool seccomp_default = false;
  // Where Localhost profiles live: the kubelet's <root-dir>/seccomp.
  std::string seccomp_profile_root = "/var/lib/kernlet/seccomp";
};

// Resolves a USER string ("1000", "app", "1000:50") in the image; see images::resolve_user.
using UserResolver = std::function<Result<images::ResolvedUser>(std::string_view user)>;

struct ContainerSecurity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // setgroups(2) list in containerd's order: the image's groups for the user with the
  // primary gid put first unless it is among them, then fsGroup, then supplementalGroups
  // (duplicates kept, as containerd keeps them).
  std::vector<uint32_t> supplemental_gids;
  // identity (uid, gid, supplemental_gids), capabilities, no_new_privs and the seccomp
  // type. For Localhost the profile is not loaded yet: see load_localhost_profile.
  seccomp::ProcessSecurityRequest request;
  bool read_only_rootfs = false;
  bool privileged = false;
  // <seccomp_profile_root>/<localhostProfile> when the effective profile is Localhost.
  std::optional<std::string> localhost_profile_path;
};

// The container's security, by the kubelet's rules:
//  - runAsUser, runAsGroup, runAsNonRoot, seccompProfile: the container's, else the pod's;
//    capabilities, privileged, allowPrivilegeEscalation, readOnlyRootFilesystem: the
//    container's only.
//  - runAsNonRoot is checked against runAsUser, else the image's USER (the part before
//    ':'), with the kubelet's messages: `container's runAsUser breaks non-root policy
//    (pod: "web_ns(uid)", container: app)`, `container has runAsNonRoot and image will run
//    as root (pod: ..., container: ...)`, `container has runAsNonRoot and image has
//    non-numeric user (app), cannot verify user is non-root (pod: ..., container: ...)`.
//  - the user: runAsUser, else the image USER's user part (numeric or a name; an image
//    without USER runs as 0). The image USER's group is NOT used: the kubelet passes only
//    the uid or name on, and containerd then takes the primary group from the image's
//    /etc/passwd, or 0 (kubernetes#61967, containerd#11607). runAsGroup overrides the gid.
//  - supplemental groups: see ContainerSecurity; the image's groups are left out with
//    supplementalGroupsPolicy Strict.
//  - capabilities add/drop as given (with or without CAP_, any case, ALL); unknown names
//    are errors naming the field. no_new_privs exactly when allowPrivilegeEscalation is
//    false, unless privileged or CAP_SYS_ADMIN is added (API validation refuses those).
//  - seccomp: container profile, else pod profile, else RuntimeDefault with
//    seccomp_default, else Unconfined; a type the kubelet does not know is Unconfined;
//    Localhost without localhostProfile is an error; privileged containers are
//    Unconfined (containerd). The deprecated seccomp annotations are ignored.
// Errors from `resolve` (a user name missing from the image) pass through.
Result<ContainerSecurity> container_security(const api::PodView& pod, const api::ContainerView& container,
                                             std::string_view image_user, const UserResolver& resolve,
                                             const SecurityOptions& options = {});

// Reads a file's whole content; errors name the path.
using FileReader = std::function<Result<std::string>(const std::string& path)>;

// For a Localhost profile (localhost_profile_path set): reads the file through `read` and
// parses it into security.request.localhost_profile. No-op otherwise. Errors name the
// file: `seccomp profile /var/lib/kernlet/seccomp/p.json: syscalls[0].action: ...`.
Result<void> load_localhost_profile(ContainerSecurity& security, const FileReader& read);

// The real seams for the pod worker: a resolver over the image's own /etc/passwd and
// /etc/group (images::resolve_user on `layer_dirs`, lowest first), and a reader of files
// on this host. Both read files only when called.
UserResolver image_user_resolver(std::vector<std::string> layer_dirs);
FileReader host_file_reader();

// The kubelet's format.Pod: "name_namespace(uid)".
std::string pod_description(const api::PodView& pod);

}  // namespace kernlet::agent::podspec
