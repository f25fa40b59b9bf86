// Dialing into a pod's network namespace for port-forward. setns(CLONE_NEWNET) changes
// only the calling thread, so the socket is made on a short-lived thread of its own that
// enters the namespace and ends there: no thread of the agent ever runs in a pod's
// network afterwards. A socket keeps the namespace it was created in, so the connect
// itself runs on the caller's thread.
//
// Blocking (thread start and join, connect with a deadline): call from a worker thread.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

// A close-on-exec, non-blocking TCP socket of `family` (AF_INET, AF_INET6) created in the
// network namespace `netns_fd` (-1: the caller's). Errors: setns (EPERM without
// CAP_SYS_ADMIN, EINVAL for an fd that is not a network namespace), socket (naming the
// family).
Result<UniqueFd> socket_in_netns(int netns_fd, int family);

// A TCP connection to the pod's own loopback at `port`, made inside `netns_fd`: 127.0.0.1
// first and, when that fails, [::1] (as the kubelet's runtimes try localhost over both).
// The fd is non-blocking and close-on-exec. Errors (kUnavailable) name both attempts:
// `connect to 127.0.0.1:80: connection refused; [::1]:80: connection refused`; a
// connect that does not finish within `timeout` fails with "timed out".
Result<UniqueFd> dial_pod_loopback(int netns_fd, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace kernlet::agent
