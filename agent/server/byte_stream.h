// ByteStream: an upgraded connection seen as a plain byte stream, so one SPDY session
// serves both the TLS connection itself (`Upgrade: SPDY/3.1`) and a WebSocket that
// tunnels SPDY in binary messages (subprotocol `SPDY/3.1+portforward.k8s.io`, where
// message boundaries mean nothing). At most one read_some() and one write_all() may be
// pending at once; the session serialises its writes (WriteTurn).
// Io thread only; not thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace kernlet::agent {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads what is there (at most `size` bytes); 0 once the peer has ended or the stream
  // broke.
  virtual boost::asio::awaitable<std::size_t> read_some(char* data, std::size_t size) = 0;
  // Writes all of `bytes`; false once the stream is broken.
  virtual boost::asio::awaitable<bool> write_all(std::string_view bytes) = 0;
  // Ends the connection from our side now; a pending read_some() returns 0. Does not block.
  virtual void abort() = 0;
};

using TlsByteStreamBase = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// The TLS connection after a `101 Switching Protocols`.
class TlsByteStream final : public ByteStream {
 public:
  explicit TlsByteStream(TlsByteStreamBase& s) : s_(s) {}
  boost::asio::awaitable<std::size_t> read_some(char* data, std::size_t size) override;
  boost::asio::awaitable<bool> write_all(std::string_view bytes) override;
  void abort() override;

 private:
  TlsByteStreamBase& s_;
};

using TunnelWebSocket = boost::beast::websocket::stream<TlsByteStreamBase&>;

// An accepted WebSocket in binary mode: each write is one message; reads run across
// message boundaries. A close frame from the client reads as the end.
class WebSocketByteStream final : public ByteStream {
 public:
  explicit WebSocketByteStream(TunnelWebSocket& ws) : ws_(ws) {}
  boost::asio::awaitable<std::size_t> read_some(char* data, std::size_t size) override;
  boost::asio::awaitable<bool> write_all(std::string_view bytes) override;
  void abort() override;

 private:
  TunnelWebSocket& ws_;
};

}  // namespace kernlet::agent
