// ExecStream: one exec of the kubelet API once its connection is upgraded: moves the
// process's output to the stdout and stderr channels, the client's stdin channel to its
// stdin, resize messages to the pty's window size, stdin EOF (v5 close signal, SPDY FIN)
// to the command; when the process has exited and its output is drained, sends the
// status on the error channel and ends the session normally. A client that goes away
// first gets its process killed. An attach session is served the same way: its
// ExecProcess is the container's own streams (attach_source.h).
//
// The wire protocol is an ExecTransport: WebSocket channels (WebSocketExecTransport
// below) or SPDY streams (spdy_exec.h).
//
// Runs on the server's io thread only (every fd is non-blocking and waited on through
// Asio); the process object is handed to `dispose` at the end, which destroys it off the
// io thread. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "agent/server/exec_source.h"
#include "agent/server/write_turn.h"

namespace kernlet::agent {

// A message from the client: a channel of exec_protocol.h (stdin, resize, close) and its
// data.
struct ClientMessage {
  uint8_t channel = 0;
  std::string data;
};

// The session's wire. send() and close() may be called while a receive() is pending;
// implementations serialize their own writes. Io thread only.
class ExecTransport {
 public:
  virtual ~ExecTransport() = default;
  // `data` on an output channel (stdout, stderr, error). False once the client is gone.
  virtual boost::asio::awaitable<bool> send(uint8_t channel, std::string_view data) = 0;
  // The next client message; nullopt once the client has closed or gone away.
  virtual boost::asio::awaitable<std::optional<ClientMessage>> receive() = 0;
  // After the status: ends the session the protocol's normal way.
  virtual boost::asio::awaitable<void> close() = 0;
  // True when the client can say it has no more input (v5 close signal, SPDY FIN); a v4
  // WebSocket client cannot.
  virtual bool stdin_eof_signalled() const = 0;
};

using ExecWebSocket = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>&>;

// remote-command over an accepted WebSocket: every message binary, its first byte the
// channel. `v5`: the negotiated protocol has the close signal.
class WebSocketExecTransport final : public ExecTransport {
 public:
  WebSocketExecTransport(ExecWebSocket& ws, bool v5) : ws_(ws), v5_(v5) {}
  boost::asio::awaitable<bool> send(uint8_t channel, std::string_view data) override;
  boost::asio::awaitable<std::optional<ClientMessage>> receive() override;
  boost::asio::awaitable<void> close() override;
  bool stdin_eof_signalled() const override { return v5_; }

 private:
  ExecWebSocket& ws_;
  bool v5_;
  WriteTurn turn_;
};

// Serves one exec until the command has ended and the status is sent (or the client is
// gone).
boost::asio::awaitable<void> run_exec_stream(ExecTransport& transport, std::unique_ptr<ExecProcess> process,
                                             std::vector<std::string> command,
                                             std::function<void(std::unique_ptr<ExecProcess>)> dispose);

// Sends a Failure status (the command could not be started) and closes.
boost::asio::awaitable<void> fail_exec_stream(ExecTransport& transport, std::string message);

}  // namespace kernlet::agent
