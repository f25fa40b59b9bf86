#include "control/apiserver/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>

#include "api/status.h"

namespace kernlet::apiserver {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct Acceptor {
  explicit Acceptor(asio::io_context& io) : socket(io) {}
  tcp::acceptor socket;
};

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string endpoint_string(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

Response status_response(const api::Status& s) {
  Response r;
  r.status = static_cast<unsigned>(s.code());
  r.body = s.to_json_string();
  return r;
}

// One connection: reads requests in a loop and lets the handler answer each through the
// Responder interface, which this class implements on the connection's stream.
class Session final : public Responder {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options)
      : stream_(std::move(socket)), options_(options) {}

  asio::awaitable<void> run(Handler& handler) {
    boost::system::error_code ec;
    std::string remote = endpoint_string(stream_.socket().remote_endpoint(ec));
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.body_limit);
      stream_.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
      auto [read_ec, n] = co_await http::async_read(stream_, buffer_, parser, kTuple);
      (void)n;
      if (read_ec == http::error::end_of_stream || read_ec == asio::error::eof ||
          read_ec == beast::error::timeout || read_ec == asio::error::operation_aborted ||
          read_ec == asio::error::connection_reset) {
        break;
      }
      if (read_ec) {
        close_after_ = true;
        version_ = 11;
        api::Status s = read_ec == http::error::body_limit
                            ? api::Status::request_entity_too_large(static_cast<int64_t>(options_.body_limit))
                            : api::Status::bad_request("malformed HTTP request: " + read_ec.message());
        (void)co_await send(status_response(s));
        break;
      }
      Request req{parser.release(), Identity{}, remote};
      version_ = req.msg.version();
      close_after_ = !req.msg.keep_alive();
      head_ = req.msg.method() == http::verb::head;
      responded_ = false;
      stream_.expires_never();  // a handler may stream (watch) for as long as it likes
      co_await handler.handle(req, *this);
      if (!responded_) {
        (void)co_await send(status_response(api::Status::internal_error("handler sent no response")));
      } else if (streaming_) {
        (void)co_await end_stream();
      }
      if (close_after_ || broken_) break;
    }
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  asio::awaitable<Result<void>> send(Response r) override {
    if (responded_) co_return Error(ErrorCode::kInternal, "response already sent");
    responded_ = true;
    http::response<http::string_body> res{static_cast<http::status>(r.status), version_};
    res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(!close_after_);
    res.body() = std::move(r.body);
    res.prepare_payload();
    if (head_) res.body().clear();
    stream_.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    (void)n;
    stream_.expires_never();
    if (ec) {
      broken_ = true;
      co_return Error(ErrorCode::kUnavailable, "write response: " + ec.message());
    }
    co_return Ok();
  }

  asio::awaitable<Result<void>> begin_stream(unsigned status, std::string content_type) override {
    if (responded_) co_return Error(ErrorCode::kInternal, "response already sent");
    responded_ = true;
    streaming_ = true;
    http::response<http::empty_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::content_type, content_type);
    res.keep_alive(!close_after_);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(stream_, sr, kTuple);
    (void)n;
    if (ec) {
      broken_ = true;
      co_return Error(ErrorCode::kUnavailable, "write stream header: " + ec.message());
    }
    co_return Ok();
  }

  asio::awaitable<Result<void>> write_chunk(std::string_view data) override {
    if (!streaming_ || broken_) co_return Error(ErrorCode::kUnavailable, "stream is closed");
    if (data.empty()) co_return Ok();  // an empty chunk would end the stream
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk(asio::buffer(data.data(), data.size())), kTuple);
    (void)n;
    if (ec) {
      broken_ = true;
      co_return Error(ErrorCode::kUnavailable, "client went away: " + ec.message());
    }
    co_return Ok();
  }

  asio::awaitable<Result<void>> end_stream() override {
    if (!streaming_) co_return Ok();
    streaming_ = false;
    if (broken_) co_return Error(ErrorCode::kUnavailable, "stream is closed");
    auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), kTuple);
    (void)n;
    if (ec) {
      broken_ = true;
      co_return Error(ErrorCode::kUnavailable, "end stream: " + ec.message());
    }
    co_return Ok();
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const HttpServerOptions& options_;
  unsigned version_ = 11;
  bool close_after_ = false;
  bool head_ = false;
  bool responded_ = false;
  bool streaming_ = false;
  bool broken_ = false;
};

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, std::shared_ptr<Handler> handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

Result<void> HttpServer::start() {
  const std::string where = options_.address + ":" + std::to_string(options_.port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.address, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "listen " + where + ": invalid address");
  tcp::endpoint ep(address, options_.port);
  acceptor_ = std::make_unique<Acceptor>(io_);
  auto& a = acceptor_->socket;
  if (a.open(ep.protocol(), ec); ec) return Error("listen " + where + ": socket", ec.value());
  if (a.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return Error("listen " + where + ": SO_REUSEADDR", ec.value());
  }
  if (a.bind(ep, ec); ec) return Error("listen " + where + ": bind", ec.value());
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Error("listen " + where + ": listen", ec.value());
  }
  port_ = a.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
  return Ok();
}

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->socket.async_accept(asio::make_strand(io_), kTuple);
    if (ec == asio::error::operation_aborted || stopped_) co_return;
    if (ec) continue;  // EMFILE and the like: the client retries; we keep serving
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    auto session = std::make_shared<Session>(std::move(socket), options_);
    asio::co_spawn(
        executor, [session, handler = handler_]() -> asio::awaitable<void> { co_await session->run(*handler); },
        asio::detached);
  }
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  if (acceptor_) {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_->socket.close(ec);
    });
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace kernlet::apiserver
