// ExecStream: one exec of the kubelet API after its WebSocket is accepted: moves the
// process's output to channels 1 and 2, channel 0 to its stdin, channel 4 to the pty's
// window size, the v5 close signal to stdin EOF; when the process has exited and its
// output is drained, sends the status on channel 3 and closes the WebSocket (normal
// closure). A client that goes away first gets its process killed.
//
// Runs on the server's io thread only (every fd is non-blocking and waited on through
// Asio); the process object is handed to `dispose` at the end, which destroys it off the
// io thread. Not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "agent/server/exec_source.h"

namespace kernlet::agent {

using ExecWebSocket = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>&>;

// Serves one accepted exec WebSocket until the command has ended and the status is sent
// (or the client is gone). `v5`: the negotiated protocol has the close signal.
boost::asio::awaitable<void> run_exec_stream(ExecWebSocket& ws, bool v5, std::unique_ptr<ExecProcess> process,
                                             std::vector<std::string> command,
                                             std::function<void(std::unique_ptr<ExecProcess>)> dispose);

// Sends a Failure status (the command could not be started) on channel 3 and closes.
boost::asio::awaitable<void> fail_exec_stream(ExecWebSocket& ws, std::string message);

}  // namespace kernlet::agent
