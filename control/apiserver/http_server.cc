#include "control/apiserver/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>

#include "api/status.h"
#include "api/tcp_keepalive.h"

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

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

beast::tcp_stream& lowest(beast::tcp_stream& s) { return s; }
beast::tcp_stream& lowest(TlsStream& s) { return beast::get_lowest_layer(s); }

std::string name_entry(X509_NAME* name, int index) {
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

// The identity of a TLS peer whose certificate verified against the client CA.
Identity tls_identity(TlsStream& stream) {
  Identity id;
  SSL* ssl = stream.native_handle();
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return id;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subject, i)));
    if (nid == NID_commonName) id.user = name_entry(subject, i);
    if (nid == NID_organizationName) id.groups.push_back(name_entry(subject, i));
  }
  id.authenticated = !id.user.empty();
  return id;
}

// One connection: reads requests in a loop and lets the handler answer each through the
// Responder interface, which this class implements on the connection's stream.
template <class Stream>
class Session final : public Responder {
 public:
  Session(Stream stream, const HttpServerOptions& options, Identity identity)
      : stream_(std::move(stream)), options_(options), identity_(std::move(identity)) {}

  asio::awaitable<void> run(Handler& handler) {
    boost::system::error_code ec;
    std::string remote = endpoint_string(lowest(stream_).socket().remote_endpoint(ec));
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.body_limit);
      lowest(stream_).expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
      auto [read_ec, n] = co_await http::async_read(stream_, buffer_, parser, kTuple);
      (void)n;
      if (read_ec == http::error::end_of_stream || read_ec == asio::error::eof ||
          read_ec == beast::error::timeout || read_ec == asio::error::operation_aborted ||
          read_ec == asio::error::connection_reset || read_ec == asio::ssl::error::stream_truncated) {
        break;
      }
      if (read_ec) {
        close_after_ = true;
        version_ = 11;
        api::Status s = read_ec == http::error::body_limit
                            ? api::Status::request_entity_too_large(static_cast<int64_t>(options_.body_limit))
                            : api::Status::bad_request("malformed HTTP request: " + read_ec.message());
        KL_REPLY(*this, status_response(s));
        co_await drain();
        break;
      }
      Request req{parser.release(), identity_, remote};
      version_ = req.msg.version();
      close_after_ = !req.msg.keep_alive();
      head_ = req.msg.method() == http::verb::head;
      responded_ = false;
      lowest(stream_).expires_never();  // a handler may stream (watch) for as long as it likes
      co_await handler.handle(req, *this);
      if (!responded_) {
        KL_REPLY(*this, status_response(api::Status::internal_error("handler sent no response")));
      } else if (streaming_) {
        (void)co_await end_stream();
      }
      if (close_after_ || broken_) break;
    }
    co_await shutdown();
  }

  asio::awaitable<Result<void>> send(Response r) override {
    if (responded_) co_return Error(ErrorCode::kInternal, "response already sent");
    responded_ = true;
    http::response<http::string_body> res{static_cast<http::status>(r.status), version_};
    res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.insert(k, v);
    res.keep_alive(!close_after_);
    res.body() = std::move(r.body);
    res.prepare_payload();
    if (head_) res.body().clear();
    lowest(stream_).expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    (void)n;
    lowest(stream_).expires_never();
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

  asio::awaitable<Result<UpgradedConnection*>> upgrade(Response r) override {
    if (responded_) co_return Error(ErrorCode::kInternal, "response already sent");
    responded_ = true;
    close_after_ = true;  // the connection now belongs to the upgraded protocol
    http::response<http::empty_body> res{static_cast<http::status>(r.status), version_};
    for (auto& [k, v] : r.headers) res.insert(k, v);
    http::response_serializer<http::empty_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(stream_, sr, kTuple);
    (void)n;
    if (ec) {
      broken_ = true;
      co_return Error(ErrorCode::kUnavailable, "write upgrade response: " + ec.message());
    }
    upgraded_.emplace(*this);
    co_return &*upgraded_;
  }

  asio::awaitable<bool> wait_client_gone() override {
    auto [ec] = co_await lowest(stream_).socket().async_wait(tcp::socket::wait_read, kTuple);
    co_return ec != asio::error::operation_aborted;
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
  // After answering a request we will not read (413, 400), stop sending and read what the
  // client is still sending, for a little while: closing with unread data makes the kernel
  // send RST, and the client may lose our answer before reading it (lingering close).
  asio::awaitable<void> drain() {
    boost::system::error_code ec;
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest(stream_).expires_after(std::chrono::seconds(2));
    std::size_t total = 0;
    char sink[16384];
    while (total < 2 * options_.body_limit) {
      auto [rec, n] = co_await lowest(stream_).async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
      total += n;
    }
  }

  asio::awaitable<void> shutdown() {
    boost::system::error_code ec;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      lowest(stream_).expires_after(std::chrono::seconds(5));
      auto [sec] = co_await stream_.async_shutdown(kTuple);
      (void)sec;
    }
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest(stream_).close();
  }

  // The session's stream after a 101, for the handler that asked for it.
  class Upgraded final : public UpgradedConnection {
   public:
    explicit Upgraded(Session& s) : s_(s) {}
    asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(asio::mutable_buffer buf) override {
      if (s_.buffer_.size() > 0) {  // read past the request head already
        std::size_t n = asio::buffer_copy(buf, s_.buffer_.data());
        s_.buffer_.consume(n);
        co_return std::pair{boost::system::error_code{}, n};
      }
      auto [ec, n] = co_await s_.stream_.async_read_some(buf, kTuple);
      if (ec) s_.broken_ = true;
      co_return std::pair{ec, n};
    }
    asio::awaitable<boost::system::error_code> write(asio::const_buffer buf) override {
      auto [ec, n] = co_await asio::async_write(s_.stream_, buf, kTuple);
      (void)n;
      if (ec) s_.broken_ = true;
      co_return ec;
    }
    void close() override {
      boost::system::error_code ec;
      lowest(s_.stream_).socket().close(ec);
      s_.broken_ = true;
    }

   private:
    Session& s_;
  };

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<Upgraded> upgraded_;
  const HttpServerOptions& options_;
  Identity identity_;
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
  if (!options_.tls && !address.is_loopback()) {
    return Error(ErrorCode::kInvalidArgument,
                 "listen " + where + ": plain HTTP is only allowed on a loopback address");
  }
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
    set_tcp_keepalive(socket.native_handle());  // watches and exec tunnels can be silent for minutes
    auto executor = socket.get_executor();
    if (options_.tls) {
      asio::co_spawn(executor, serve_tls(std::move(socket)), asio::detached);
    } else {
      auto session = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)),
                                                                   options_, Identity{});
      asio::co_spawn(
          executor, [session, handler = handler_]() -> asio::awaitable<void> { co_await session->run(*handler); },
          asio::detached);
    }
  }
}

asio::awaitable<void> HttpServer::serve_tls(tcp::socket socket) {
  TlsStream stream(beast::tcp_stream(std::move(socket)), *options_.tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return;  // a port scan or a client that does not trust us: nothing to answer
  Identity id = tls_identity(stream);
  Session<TlsStream> session(std::move(stream), options_, std::move(id));
  co_await session.run(*handler_);
}

Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(const std::string& cert_pem,
                                                                    const std::string& key_pem,
                                                                    const std::string& client_ca_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  if (ec) return Error(ErrorCode::kInternal, "TLS options: " + ec.message());
  if (ctx->use_certificate_chain(asio::buffer(cert_pem), ec); ec) {
    return Error(ErrorCode::kInvalidArgument, "TLS serving certificate: " + ec.message());
  }
  if (ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem, ec); ec) {
    return Error(ErrorCode::kInvalidArgument, "TLS serving key: " + ec.message());
  }
  if (ctx->add_certificate_authority(asio::buffer(client_ca_pem), ec); ec) {
    return Error(ErrorCode::kInvalidArgument, "TLS client CA: " + ec.message());
  }
  // Ask for a client certificate but accept connections without one: such requests are
  // anonymous, and the API server answers them 401 rather than failing the handshake.
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  ctx->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; }, ec);
  return ctx;
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
  if (handler_) handler_->drain();
}

}  // namespace kernlet::apiserver
