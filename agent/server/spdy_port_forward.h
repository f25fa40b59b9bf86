// SpdyPortForward: one port-forward connection of the kubelet API (portforward.k8s.io over
// SPDY/3.1), from the upgrade to the end. The client opens an error stream and a data
// stream per forwarded connection (port_forward_pairs.h); each new stream is replied to
// at once; once a pair is complete the session dials the pod (a PodDialer: the pod's own
// loopback, in its network namespace) and copies bytes both ways:
//   client DATA on the data stream → the pod socket; its FIN → shutdown(SHUT_WR) (the
//     half-close the forwarded program sees as EOF); RST_STREAM → the socket is closed;
//   pod socket → DATA on the data stream; its EOF → FIN on the data stream.
// The error stream gets the dial's failure as text (kubectl prints it), and a FIN when the
// forwarded connection is over (kubectl waits for it). PINGs are answered; SETTINGS,
// WINDOW_UPDATE and unknown control frames are ignored (Kubernetes peers do no flow
// control). A malformed frame ends the connection with a GOAWAY (PROTOCOL_ERROR).
//
// Writes to a pod socket are made from the frame reader, so a pod that stops reading
// holds up the other forwarded connections of the same session until it reads again or
// its stream is reset (the back-pressure SPDY without flow control has).
//
// The session ends when the client hangs up, sends GOAWAY, or breaks the protocol, or when
// stop() is called (the pod has gone: every forwarded connection is closed, a GOAWAY sent
// and the connection aborted, so kubectl stops with "lost connection to pod").
//
// Io thread only; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/server/byte_stream.h"
#include "agent/server/port_forward_pairs.h"
#include "agent/server/spdy.h"
#include "agent/server/write_turn.h"
#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

// Connects to `port` of the pod: a connected, non-blocking fd, or the reason it could not
// (sent to the client on the error stream). Runs on the io thread; the blocking part is
// the dialer's business (kubelet_server.cc runs it on a worker).
using PodDialer = std::function<boost::asio::awaitable<Result<UniqueFd>>(uint16_t port)>;

struct SpdyPortForwardOptions {
  std::string pod;  // "namespace/name", for messages
  std::string uid;
  std::chrono::milliseconds stream_creation_timeout{std::chrono::seconds(30)};
};

class SpdyPortForward {
 public:
  // `initial`: bytes already read past the HTTP request (the start of the SPDY stream).
  SpdyPortForward(ByteStream& wire, std::string initial, PodDialer dial, SpdyPortForwardOptions options);
  ~SpdyPortForward();
  SpdyPortForward(const SpdyPortForward&) = delete;
  SpdyPortForward& operator=(const SpdyPortForward&) = delete;

  // Serves the connection until it ends; every forwarded connection is closed by then.
  boost::asio::awaitable<void> run();
  // Ends the session (the pod has gone). Safe to call at any time on the io thread.
  void stop();

  // Forwarded connections open now, and requests waiting for their second stream.
  std::size_t active() const { return pairs_.size(); }
  std::size_t waiting() const { return waiting_.waiting(); }

 private:
  struct Forward;
  boost::asio::awaitable<bool> handle(spdy::Frame& f);
  boost::asio::awaitable<void> on_syn_stream(spdy::Frame& f);
  boost::asio::awaitable<void> on_data(spdy::Frame& f);
  boost::asio::awaitable<void> forward(std::shared_ptr<Forward> fw);
  boost::asio::awaitable<void> reap_waiting();
  boost::asio::awaitable<void> end_stop();
  void spawn(boost::asio::awaitable<void> work);
  void finish(Forward& fw);

  boost::asio::awaitable<bool> send_frame(const spdy::Frame& f);
  boost::asio::awaitable<bool> send_data(uint32_t stream, std::string_view data, bool fin);
  boost::asio::awaitable<void> send_rst(uint32_t stream, uint32_t status);
  boost::asio::awaitable<void> protocol_error(std::string_view why);

  ByteStream& wire_;
  std::string rbuf_;
  PodDialer dial_;
  SpdyPortForwardOptions options_;
  spdy::HeaderCompressor deflate_;
  spdy::HeaderDecompressor inflate_;
  WriteTurn turn_;
  PortForwardPairs waiting_;
  std::map<uint32_t, std::shared_ptr<Forward>> pairs_;  // by data stream id
  uint32_t last_stream_ = 0;
  bool gone_ = false;      // the wire is broken or closed
  bool stopping_ = false;  // run() is ending: no new forwards
  std::size_t live_ = 0;   // spawned coroutines still running
  std::unique_ptr<boost::asio::steady_timer> quiet_;  // woken when live_ drops to 0
  std::unique_ptr<boost::asio::steady_timer> tick_;   // reap_waiting()'s
};

}  // namespace kernlet::agent
