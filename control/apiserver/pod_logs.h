// pods/<name>/log and pods/<name>/exec: which container and which kubelet, decided from
// the Pod and its Node the way kube-apiserver's pod log and exec REST do. Pure functions;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/json.h"
#include "api/status.h"
#include "control/apiserver/node_proxy.h"
#include "control/apiserver/request_info.h"

namespace kernlet::apiserver {

// The container whose log is asked for: ?container, or the only container. Errors
// (400): `a container name must be specified for pod web, choose one of: [a b]` (with
// the init and ephemeral containers named too), `container c is not valid for pod web`,
// `pod web does not have a host assigned` when it is not scheduled yet.
std::variant<std::string, api::Status> pod_log_container(const json::object& pod, const RequestInfo& info);

// The kubelet of `node`: its InternalIP (else its Hostname address) and
// status.daemonEndpoints.kubeletEndpoint.Port (10250 when unset). Errors (500): the
// node has no usable address.
std::variant<NodeTarget, api::Status> kubelet_endpoint(const json::object& node);

// /containerLogs/<ns>/<pod>/<container>?... with the log options of the request passed
// on (follow, previous, timestamps, tailLines, sinceSeconds, sinceTime, limitBytes).
// Errors (400): a malformed option, named.
std::variant<std::string, api::Status> kubelet_log_target(std::string_view ns, std::string_view pod,
                                                          std::string_view container, const RequestInfo& info);

// /exec/<ns>/<pod>/<container>?command=...&input=1&output=1&error=1&tty=1 from a
// PodExecOptions query (command repeated, in order; stdin, stdout, stderr, tty), as
// kube-apiserver builds the kubelet's URL. Errors (400): a malformed boolean, no command
// (`you must specify at least one command for the container`), no stream (`you must
// specify at least one of stdin, stdout, stderr`).
std::variant<std::string, api::Status> kubelet_exec_target(std::string_view ns, std::string_view pod,
                                                           std::string_view container, const RequestInfo& info);

// /attach/<ns>/<pod>/<container>?input=1&output=1&error=1&tty=1 from a PodAttachOptions
// query (stdin, stdout, stderr, tty; a command is not one of its fields). Errors (400): a
// malformed boolean, no stream.
std::variant<std::string, api::Status> kubelet_attach_target(std::string_view ns, std::string_view pod,
                                                             std::string_view container, const RequestInfo& info);

// /portForward/<ns>/<pod>, with ?ports passed on when given (each 1..65535; the kubelet's
// WebSocket channel protocol reads them; SPDY clients name ports per stream). Errors
// (400): a port that is not a number in range, named.
std::variant<std::string, api::Status> kubelet_port_forward_target(std::string_view ns, std::string_view pod,
                                                                   const RequestInfo& info);

// Why pods/portforward cannot reach `pod` now, as a Status: 400 `pod web does not have a
// host assigned`, 400 `unable to forward port because pod is not running. Current
// status=Pending` (kubectl's own wording for the check it makes first); nullopt when the
// pod is scheduled and Running.
std::optional<api::Status> port_forward_refusal(const json::object& pod);

}  // namespace kernlet::apiserver
