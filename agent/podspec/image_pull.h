// Image pulls the way the kubelet decides them: the pull policy, and the registry
// credentials from the pod's imagePullSecrets matched the way the kubelet's
// credentialprovider keyring matches them (BasicDockerKeyring, URLsMatch).
//
// How the pod worker uses it (kuberuntime_image.go): when pull_credentials returns
// candidates, try them in order and stop at the first pull that succeeds; when all fail,
// the pull fails (there is no anonymous retry); when there are none, pull anonymously.
// A pull secret that cannot be fetched is skipped (the kubelet logs it and goes on).
// Pure; thread-safety: reentrant, a DockerKeyring is safe to read concurrently.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "runtime/images/registry_client.h"

namespace kernlet::agent::podspec {

// The reasons the kubelet puts in a waiting container's state for pull failures.
inline constexpr std::string_view kReasonErrImagePull = "ErrImagePull";
inline constexpr std::string_view kReasonImagePullBackOff = "ImagePullBackOff";
inline constexpr std::string_view kReasonErrImageNeverPull = "ErrImageNeverPull";
inline constexpr std::string_view kReasonInvalidImageName = "InvalidImageName";

// shouldPullImage: "Never" never pulls, "Always" always does, "IfNotPresent" when the
// image is not present; anything else (the API server defaults the field) does not pull.
bool should_pull(std::string_view policy, bool present);

// The ErrImageNeverPull message: `Container image "x" is not present with pull policy of Never`.
std::string never_pull_message(std::string_view image);
// The event message when no pull is needed: `Container image "x" already present on machine`.
std::string already_present_message(std::string_view image);
// The InvalidImageName message: `Failed to apply default image tag "x": couldn't parse
// image name "x": invalid reference format`.
std::string invalid_image_name_message(std::string_view image);

// Registry credentials indexed the way the kubelet's BasicDockerKeyring indexes them.
class DockerKeyring {
 public:
  // Adds a docker config: {"<registry>": {"auth": base64(user:pass)} | {"username", "password"}}.
  // A registry may carry a scheme and a path ("https://index.docker.io/v1/",
  // "quay.io/org"); /v1/ and /v2/ path prefixes mean the host. An entry whose location
  // does not parse as a URL is skipped, as the kubelet skips it. Errors: an entry that is
  // not an object, an `auth` that is not base64 of "user:password" (the kubelet's
  // `unable to parse auth field, must be formatted as base64(username:password)`).
  Result<void> add_config(const json::object& config);

  // The credentials for a normalized repository name ("docker.io/library/busybox",
  // "quay.io/org/app", "127.0.0.1:5000/x"), most specific registry key first (keys in
  // reverse lexical order, as the kubelet), each key's credentials in the order added.
  // A key matches when the port is equal, the host has as many dot-separated parts, each
  // part matches as a glob ("*.example.com"), and the key's path is a prefix of the
  // repository's path. With no match, an image on Docker Hub gets the index.docker.io
  // credentials. Empty: pull anonymously.
  std::vector<images::Credentials> lookup(std::string_view repository) const;

  bool empty() const { return creds_.empty(); }

 private:
  std::map<std::string, std::vector<images::Credentials>, std::less<>> creds_;  // key -> credentials
};

// A keyring from pull Secrets (the pod's imagePullSecrets as fetched; nullptr entries are
// skipped): type kubernetes.io/dockerconfigjson with a non-empty .dockerconfigjson
// ({"auths": {...}}), type kubernetes.io/dockercfg with a non-empty .dockercfg (the
// registry map itself); other secrets are ignored. Errors name the secret:
// `secret ns/regcred: .dockerconfigjson: ...`.
Result<DockerKeyring> keyring_from_secrets(const std::vector<const json::object*>& secrets);

// The candidate credentials for pulling `image` (as written in the pod: "busybox",
// "quay.io/org/app:1.0", "host:5000/x@sha256:...") with the given pull Secrets, in the
// order to try them. Errors: a malformed secret (see keyring_from_secrets), an image
// reference that does not parse.
Result<std::vector<images::Credentials>> pull_credentials(std::string_view image,
                                                          const std::vector<const json::object*>& secrets);

}  // namespace kernlet::agent::podspec
