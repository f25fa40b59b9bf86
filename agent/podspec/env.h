// A container's environment, command and args, computed from the pod the way the kubelet
// does it (kubelet_pods.go makeEnvironmentVariables, envvars.FromServices, the forked
// expansion.Expand, kubecontainer.ExpandContainerCommandAndArgs).
//
// Everything here is pure: the pod, its ConfigMaps, Secrets and Services come in through
// EnvContext, so the rules are unit-tested without an API server. Errors carry the
// kubelet's CreateContainerConfigError message text unchanged (`configmap "x" not found`,
// `couldn't find key k in ConfigMap default/x`), so the pod worker can show them as the
// container's waiting message.
// Thread-safety: the functions are reentrant; the context's callbacks are called on the
// calling thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/pod.h"
#include "api/result.h"

namespace kernlet::agent::podspec {

// What the kubelet knows besides the container when it builds the environment.
struct EnvContext {
  // The pod, as the API server stored it (defaulted). Must not be null.
  const json::object* pod = nullptr;
  std::string node_name;
  // The node's addresses for status.hostIP / status.hostIPs; host_ips wins when not empty,
  // host_ip alone otherwise. The first one decides which pod IP family comes first.
  std::string host_ip;
  std::vector<std::string> host_ips;
  // The sandbox's IPs (CNI result), in any order; sorted by the node's family preference.
  std::vector<std::string> pod_ips;
  // Lookups in the pod's namespace; nullptr means not found. Unset means nothing exists.
  std::function<const json::object*(std::string_view name)> config_map;
  std::function<const json::object*(std::string_view name)> secret;
  // The Services the agent sees: those of the pod's namespace and default/kubernetes.
  // Others are ignored (filtered here by namespace, as the kubelet does with its lister).
  std::vector<const json::object*> services;
  // The node's allocatable, read by resourceFieldRef for a limit the container leaves unset.
  api::ResourceList node_allocatable;
};

// The container's environment as "NAME=value" strings, by the kubelet's rules:
//   1. envFrom in order: every key of the ConfigMap's data / the Secret's data (base64
//      decoded), with the prefix; a later source overrides an earlier one. A missing
//      source is an error unless optional. Keys (with the prefix) that are not printable
//      ASCII other than '=' are skipped, as the kubelet does with
//      RelaxedEnvironmentVariableValidation (default since 1.32); "1key" or "a.b" pass.
//   2. env in order, overriding envFrom: value with $(VAR) expanded against the variables
//      defined so far and the service variables; or valueFrom fieldRef, resourceFieldRef,
//      configMapKeyRef, secretKeyRef (an optional one that is missing leaves the variable
//      out).
//   3. the service variables (enableServiceLinks; default/kubernetes always) whose names
//      the steps above did not set.
// Order: names in the order they were first set by steps 1-2, then the service variables
// in FromServices order over the services sorted by name. (The kubelet emits a Go map in
// random order; any fixed order is as faithful, this one is stable for tests and hashes.)
// Errors: the kubelet's messages, e.g. `configmap "x" not found`, `secret "s" not found`,
// `couldn't find key k in ConfigMap ns/x`, `couldn't find key k in Secret ns/s`,
// `unsupported fieldPath: spec.restartPolicy`, `unsupported container resource : limits.gpu`.
Result<std::vector<std::string>> container_env(const EnvContext& ctx, const api::ContainerView& container);

// The service link variables the kubelet gives a pod in `pod_namespace`: for each
// service with a ClusterIP (not "" or "None") of that namespace when enable_service_links,
// and default/kubernetes always (a same-named service of the pod's namespace wins over
// it): <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT, <NAME>_SERVICE_PORT_<PORTNAME>, and the
// Docker link variables <NAME>_PORT, <NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
// NAME is the service name upper-cased with '-' as '_'. As (name, value) pairs, services
// sorted by name.
std::vector<std::pair<std::string, std::string>> service_env(std::string_view pod_namespace,
                                                             bool enable_service_links,
                                                             const std::vector<const json::object*>& services);

// Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $(NAME) becomes
// lookup(NAME), or stays "$(NAME)" verbatim when lookup has no value; "$$" is a literal
// "$"; a "$" before anything else, and an unclosed "$(", are copied unchanged.
std::string expand(std::string_view in, const std::function<std::optional<std::string>(std::string_view)>& lookup);

// expand() of each element against an environment of "NAME=value" strings (the last
// definition of a name wins), as the kubelet expands command and args with the
// container's environment from container_env (not the image's).
std::vector<std::string> expand_command(const std::vector<std::string_view>& in, const std::vector<std::string>& env);

struct ExpandedCommand {
  std::vector<std::string> command;
  std::vector<std::string> args;
};
// The container's command and args expanded against `env` (ExpandContainerCommandAndArgs).
ExpandedCommand expand_command_and_args(const api::ContainerView& container, const std::vector<std::string>& env);

// A volumeMount's subPathExpr expanded against `env` (ExpandContainerVolumeMounts): a
// reference to a variable that is missing or empty is an error listing the names, sorted:
// `missing value for A, B`.
Result<std::string> expand_sub_path_expr(std::string_view expr, const std::vector<std::string>& env);

}  // namespace kernlet::agent::podspec
