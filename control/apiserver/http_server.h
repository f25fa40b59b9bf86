// HttpServer: the API server's transport. HTTP/1.1 with keep-alive over TLS (client
// certificates authenticated) or, only on loopback, plain TCP; chunked streaming responses
// for watches. Built on Boost.Beast/Asio with C++20 coroutines: one io_context run by a
// few threads, one coroutine per connection, no thread per client.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "api/result.h"

namespace kernlet::apiserver {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// Who sent a request. With TLS: a client certificate that verifies against the CA makes
// its CN the user and its O entries the groups, as Kubernetes' x509 authenticator has it.
// Without one the request is anonymous (the handler decides whether to refuse it).
struct Identity {
  bool authenticated = false;
  std::string user;
  std::vector<std::string> groups;
};

struct Request {
  http::request<http::string_body> msg;
  Identity identity;
  std::string remote;  // "ip:port" of the peer
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The connection under a request answered 101 Switching Protocols (pods/exec): raw bytes
// both ways, over TLS or not. Owned by the server's session; valid until the handler
// returns, after which the server shuts the connection down. Not thread-safe: one read
// and one write may be outstanding at a time, from the handler's strand.
class UpgradedConnection {
 public:
  virtual ~UpgradedConnection() = default;
  // Some bytes from the client (first those the server had read past the request).
  virtual asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(asio::mutable_buffer buf) = 0;
  // All of `buf` to the client.
  virtual asio::awaitable<boost::system::error_code> write(asio::const_buffer buf) = 0;
  // Closes the socket: pending reads and writes end with an error.
  virtual void close() = 0;
};

// How a handler answers: once with send(), or as a chunked stream (watch): begin_stream(),
// any number of write_chunk(), then end_stream(). Not thread-safe: use from the handler's
// coroutine only.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual asio::awaitable<Result<void>> send(Response response) = 0;
  virtual asio::awaitable<Result<void>> begin_stream(unsigned status, std::string content_type) = 0;
  // Error when the client has gone away: the handler should stop streaming.
  virtual asio::awaitable<Result<void>> write_chunk(std::string_view data) = 0;
  virtual asio::awaitable<Result<void>> end_stream() = 0;
  // Completes with true when the client has gone away (its connection turned readable:
  // EOF, or anything it sends while a reply streams), with false when cancelled. For
  // relaying a stream that may be quiet for a long time (logs -f). The default waits
  // until cancelled.
  virtual asio::awaitable<bool> wait_client_gone() {
    asio::steady_timer never(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    auto [ec] = co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }
  // Sends `head` (status 101 and its headers: Upgrade, Connection, the protocol's own;
  // no body) and hands over the connection (see UpgradedConnection); nothing else may be
  // sent afterwards. Errors: already answered, the write failed, or this responder cannot
  // upgrade (the default).
  virtual asio::awaitable<Result<UpgradedConnection*>> upgrade(Response head) {
    (void)head;
    co_return Error(ErrorCode::kInternal, "this connection cannot be upgraded");
  }
};

// KL_REPLY(responder, expr): sends the Response `expr` from a coroutine.
// The Response is named before the co_await on purpose: GCC 12 destroys a temporary that
// lives across a co_await twice (GCC PR 99576), which corrupts the heap. Never write
// `co_await out.send(make_response())`.
#define KL_REPLY(responder, ...)                              \
  do {                                                        \
    ::kernlet::apiserver::Response kl_reply_ = (__VA_ARGS__); \
    (void)co_await (responder).send(std::move(kl_reply_));    \
  } while (0)

class Handler {
 public:
  virtual ~Handler() = default;
  // Answers one request through `out`. Runs on the server's io_context; must not block.
  virtual asio::awaitable<void> handle(Request& request, Responder& out) = 0;
  // Called by HttpServer::stop() after its io threads have ended and before its io_context
  // is destroyed: returns once nothing the handler started (work on other threads) will
  // post to that io_context any more.
  virtual void drain() {}
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                        // 0: pick a free port (see HttpServer::port)
  // TLS context (see make_server_tls_context). Null: plain HTTP, refused unless `address`
  // is a loopback address.
  std::shared_ptr<asio::ssl::context> tls;
  std::size_t body_limit = 3 * 1024 * 1024;  // larger bodies get 413, as Kubernetes does
  int threads = 2;
  int idle_timeout_seconds = 120;            // keep-alive connections idle longer are closed
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, std::shared_ptr<Handler> handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; errors name the address (`listen 127.0.0.1:6443: bind: EADDRINUSE`).
  Result<void> start();
  // Stops accepting, closes connections, joins the threads. Idempotent.
  void stop();
  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  asio::io_context& io_context() { return io_; }

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve_tls(asio::ip::tcp::socket socket);

  HttpServerOptions options_;
  std::shared_ptr<Handler> handler_;
  asio::io_context io_;
  std::unique_ptr<struct Acceptor> acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
};

// A server TLS context: TLS 1.2+, the serving certificate and key (PEM), and client
// certificates verified against `client_ca_pem` when the client offers one.
Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(const std::string& cert_pem,
                                                                    const std::string& key_pem,
                                                                    const std::string& client_ca_pem);

}  // namespace kernlet::apiserver
