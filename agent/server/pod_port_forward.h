// serve_pod_port_forward: runs one port-forward session (spdy_port_forward.h) against a
// pod: each forwarded connection is dialed on the server's worker pool inside the pod's
// network namespace (netns_dial.h), and the session is stopped when the pod's sandbox
// ends (its pidfd turns readable), so a forward to a deleted pod ends instead of
// answering every new connection with an error.
// Io thread only.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "agent/server/byte_stream.h"
#include "agent/server/port_forward_source.h"
#include "agent/server/spdy_port_forward.h"

namespace kernlet::agent {

// Serves `wire` (upgraded; `initial` is what was read past the request) until the client
// leaves or the pod ends.
boost::asio::awaitable<void> serve_pod_port_forward(ByteStream& wire, std::string initial,
                                                    std::shared_ptr<PortForwardTarget> pod, boost::asio::thread_pool& workers,
                                                    SpdyPortForwardOptions options);

}  // namespace kernlet::agent
