#include "agent/server/byte_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace kernlet::agent {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

void abort_tcp(beast::tcp_stream& tcp) {
  boost::system::error_code ec;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  tcp.socket().cancel(ec);
}
}  // namespace

asio::awaitable<std::size_t> TlsByteStream::read_some(char* data, std::size_t size) {
  auto [ec, n] = co_await s_.async_read_some(asio::buffer(data, size), kTuple);
  if (ec && n == 0) co_return 0;
  co_return n;
}

asio::awaitable<bool> TlsByteStream::write_all(std::string_view bytes) {
  auto [ec, n] = co_await asio::async_write(s_, asio::buffer(bytes), kTuple);
  (void)n;
  co_return !ec;
}

void TlsByteStream::abort() { abort_tcp(beast::get_lowest_layer(s_)); }

asio::awaitable<std::size_t> WebSocketByteStream::read_some(char* data, std::size_t size) {
  for (;;) {
    auto [ec, n] = co_await ws_.async_read_some(asio::buffer(data, size), kTuple);
    if (ec && n == 0) co_return 0;
    if (n > 0) co_return n;
    // An empty message (or the end of one): read on.
  }
}

asio::awaitable<bool> WebSocketByteStream::write_all(std::string_view bytes) {
  auto [ec, n] = co_await ws_.async_write(asio::buffer(bytes), kTuple);
  (void)n;
  co_return !ec;
}

void WebSocketByteStream::abort() { abort_tcp(beast::get_lowest_layer(ws_)); }

}  // namespace kernlet::agent
