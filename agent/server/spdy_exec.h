// The remote-command protocol over SPDY/3.1, as kubectl before 1.30 speaks it for exec
// (and attach): after `101 Switching Protocols` (`Upgrade: SPDY/3.1`,
// `X-Stream-Protocol-Version: v4.channel.k8s.io`) the client opens one SPDY stream per
// channel, naming it in the `streamType` header: error, stdin, stdout, stderr, resize.
// The server replies to each stream at once (the client waits for the reply), waits until
// the streams the request asked for exist, then: stdin stream data → the command's stdin
// (its FIN → EOF), resize stream → JSON sizes one per line, output → data frames on the
// stdout/stderr streams, and at the end the metav1.Status JSON on the error stream (v4),
// a FIN on every stream the server writes, and a GOAWAY.
//
// PINGs are answered; SETTINGS, WINDOW_UPDATE, HEADERS and unknown control frames are
// ignored (the Kubernetes peers do no flow control). A malformed frame ends the
// connection with a GOAWAY (PROTOCOL_ERROR).
//
// Io thread only; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "agent/server/exec_stream.h"
#include "agent/server/spdy.h"
#include "agent/server/write_turn.h"
#include "api/result.h"

namespace kernlet::agent {

inline constexpr std::string_view kSpdyUpgrade = "SPDY/3.1";
inline constexpr std::string_view kStreamProtocolHeader = "X-Stream-Protocol-Version";

// The remote-command protocol versions spoken over SPDY, best first.
std::vector<std::string> spdy_exec_protocols();

// The first protocol of `offered` (the values of every X-Stream-Protocol-Version header,
// each possibly a comma-separated list, in the client's order) that `supported` names;
// nullopt when none.
std::optional<std::string> negotiate_stream_protocol(const std::vector<std::string>& offered,
                                                     const std::vector<std::string>& supported);

using SpdyTlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Which streams an exec asks for: error always; stdin, stdout with input/output; stderr
// when error and not tty; resize with tty.
struct SpdyExecStreams {
  bool stdin_ = false;
  bool stdout_ = false;
  bool stderr_ = false;
  bool resize = false;
};

class SpdyExecTransport final : public ExecTransport {
 public:
  // `initial`: bytes already read past the HTTP request.
  SpdyExecTransport(SpdyTlsStream& stream, std::string initial) : s_(stream), rbuf_(std::move(initial)) {}

  // Reads frames until the expected streams have been opened (each is replied to at once),
  // within `timeout`. Errors: the client went away, a protocol error, the timeout
  // (kDeadlineExceeded, naming the streams that are missing), a stream type not known.
  boost::asio::awaitable<Result<void>> accept_streams(SpdyExecStreams expected, std::chrono::seconds timeout);

  boost::asio::awaitable<bool> send(uint8_t channel, std::string_view data) override;
  boost::asio::awaitable<std::optional<ClientMessage>> receive() override;
  // FIN on every stream the server writes, GOAWAY, then waits (5 s at most) for the
  // client to hang up.
  boost::asio::awaitable<void> close() override;
  bool stdin_eof_signalled() const override { return true; }

 private:
  // One frame from the connection; nullopt when it has ended or is broken (then gone_).
  boost::asio::awaitable<std::optional<spdy::Frame>> read_frame();
  // Handles a frame: new streams get their reply, pings their echo; stream data becomes
  // messages in pending_. False when the connection must end.
  boost::asio::awaitable<bool> handle(spdy::Frame& f);
  boost::asio::awaitable<bool> write(std::string_view bytes);
  boost::asio::awaitable<void> protocol_error(std::string_view why);

  SpdyTlsStream& s_;
  std::string rbuf_;
  spdy::HeaderCompressor deflate_;
  spdy::HeaderDecompressor inflate_;
  WriteTurn turn_;
  uint32_t error_id_ = 0, stdin_id_ = 0, stdout_id_ = 0, stderr_id_ = 0, resize_id_ = 0;
  uint32_t last_stream_ = 0;
  std::string resize_buf_;
  std::deque<ClientMessage> pending_;
  bool gone_ = false;
  bool closing_ = false;
};

}  // namespace kernlet::agent
