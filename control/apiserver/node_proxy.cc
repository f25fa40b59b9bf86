#include "control/apiserver/node_proxy.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "api/status.h"
#include "api/tcp_keepalive.h"

namespace kernlet::apiserver {
namespace {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Response status_response(const api::Status& s) {
  Response r;
  r.status = static_cast<unsigned>(s.code());
  r.body = s.to_json_string();
  return r;
}

// The Status reason kube-apiserver gives a kubelet's error code.
std::string reason_for(unsigned code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "InternalError";
  }
}

std::string host_port(const NodeTarget& n) {
  bool v6 = n.host.find(':') != std::string::npos;
  return (v6 ? "[" + n.host + "]" : n.host) + ":" + std::to_string(n.port);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<std::shared_ptr<asio::ssl::context>> client_context(const KubeletClientOptions& o, bool verify) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  if (verify) {
    if (o.ca_pem.empty()) {
      ctx->set_default_verify_paths(ec);
    } else if (ctx->add_certificate_authority(asio::buffer(o.ca_pem), ec); ec) {
      return Error(ErrorCode::kInvalidArgument, "kubelet client: CA: " + ec.message());
    }
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  }
  if (!o.cert_pem.empty()) {
    if (ctx->use_certificate_chain(asio::buffer(o.cert_pem), ec); ec) {
      return Error(ErrorCode::kInvalidArgument, "kubelet client: certificate: " + ec.message());
    }
    if (ctx->use_private_key(asio::buffer(o.key_pem), asio::ssl::context::pem, ec); ec) {
      return Error(ErrorCode::kInvalidArgument, "kubelet client: key: " + ec.message());
    }
  }
  return ctx;
}

// Go's wording for the usual dial failures, so messages read like kube-apiserver's.
std::string dial_error(const NodeTarget& n, const boost::system::error_code& ec) {
  std::string what = ec.message();
  if (ec == asio::error::connection_refused) what = "connect: connection refused";
  if (ec == beast::error::timeout) what = "i/o timeout";
  if (ec == asio::error::host_unreachable) what = "connect: no route to host";
  if (ec == asio::error::network_unreachable) what = "connect: network is unreachable";
  return "dial tcp " + host_port(n) + ": " + what;
}

// Resolves, connects and shakes hands with the kubelet; "" on success, else the cause as
// kube-apiserver words it (after `Get "<url>": `). Leaves the stream's deadline set.
asio::awaitable<std::string> dial(TlsStream& stream, const NodeTarget& node, std::chrono::seconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  const std::string port = std::to_string(node.port);
  auto [rec, endpoints] = co_await resolver.async_resolve(node.host, port, kTuple);
  if (rec) co_return "dial tcp: lookup " + node.host + ": " + rec.message();
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(timeout);
  auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kTuple);
  (void)ep;
  if (cec) co_return dial_error(node, cec);
  set_tcp_keepalive(tcp_layer.socket().native_handle());  // a node that vanishes ends the stream
  boost::system::error_code ip_ec;
  (void)asio::ip::make_address(node.host, ip_ec);
  if (ip_ec) SSL_set_tlsext_host_name(stream.native_handle(), node.host.c_str());  // SNI for names only
  if (!node.insecure_skip_verify) stream.set_verify_callback(asio::ssl::host_name_verification(node.host));
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) co_return "tls: " + hec.message();
  co_return std::string();
}

}  // namespace

Result<std::shared_ptr<NodeProxy>> NodeProxy::create(const KubeletClientOptions& options) {
  std::shared_ptr<NodeProxy> p(new NodeProxy());
  p->options_ = options;
  KL_ASSIGN_OR_RETURN(p->verify_, client_context(options, true));
  KL_ASSIGN_OR_RETURN(p->insecure_, client_context(options, false));
  return p;
}

asio::awaitable<void> NodeProxy::get(const NodeTarget& node, const std::string& target, Responder& out) const {
  const std::string url = "https://" + host_port(node) + target;
  auto fail = [&](const std::string& why) { return status_response(api::Status(500, "", "Get \"" + url + "\": " + why)); };
  auto ex = co_await asio::this_coro::executor;

  tcp::resolver resolver(ex);
  const std::string port = std::to_string(node.port);
  auto [rec, endpoints] = co_await resolver.async_resolve(node.host, port, kTuple);
  if (rec) {
    KL_REPLY(out, fail("dial tcp: lookup " + node.host + ": " + rec.message()));
    co_return;
  }
  TlsStream stream(beast::tcp_stream(ex), node.insecure_skip_verify ? *insecure_ : *verify_);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(options_.connect_timeout);
  auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kTuple);
  (void)ep;
  if (cec) {
    KL_REPLY(out, fail(dial_error(node, cec)));
    co_return;
  }
  set_tcp_keepalive(tcp_layer.socket().native_handle());  // a node that vanishes ends the stream
  boost::system::error_code ip_ec;
  (void)asio::ip::make_address(node.host, ip_ec);
  if (ip_ec) SSL_set_tlsext_host_name(stream.native_handle(), node.host.c_str());  // SNI for names only
  if (!node.insecure_skip_verify) stream.set_verify_callback(asio::ssl::host_name_verification(node.host));
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) {
    KL_REPLY(out, fail("tls: " + hec.message()));
    co_return;
  }

  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_port(node));
  req.set(http::field::user_agent, "kernlet-apiserver");
  req.set(http::field::connection, "close");
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  (void)wn;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  boost::system::error_code rhec = wec;
  if (!rhec) {
    auto [e, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    (void)n;
    rhec = e;
  }
  if (rhec) {
    KL_REPLY(out, fail("read response from kubelet: " + rhec.message()));
    co_return;
  }
  tcp_layer.expires_never();  // a follower may be quiet for hours
  const unsigned code = parser.get().result_int();
  const bool success = code >= 200 && code < 300;
  std::string content_type(parser.get()[http::field::content_type]);
  if (content_type.empty()) content_type = "text/plain";

  // The body, piece by piece as the kubelet sends it: async_read_some returns as soon as
  // some of it has been parsed, so a follower sees each line when it is written.
  std::string error_text;
  bool client_gone = false;
  auto relay = [&]() -> asio::awaitable<void> {
    char chunk[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kTuple);
      (void)n;
      if (ec == http::error::need_buffer) ec = {};
      const std::size_t got = sizeof chunk - parser.get().body().size;
      if (got > 0) {
        if (success) {
          if (!(co_await out.write_chunk(std::string_view(chunk, got))).ok()) {
            client_gone = true;
            co_return;
          }
        } else if (error_text.size() < 64 * 1024) {
          error_text.append(chunk, got);
        }
      }
      if (ec) co_return;  // the kubelet went away: end what we have
    }
  };
  if (!success) {
    co_await relay();
    KL_REPLY(out, status_response(api::Status(static_cast<int>(code), reason_for(code), trim(error_text))));
    co_return;
  }
  if (!(co_await out.begin_stream(code, content_type)).ok()) co_return;
  auto watch_client = [&]() -> asio::awaitable<void> {
    if (!co_await out.wait_client_gone()) co_return;
    client_gone = true;
    // Closing the kubelet connection ends a follow there too, and aborts our pending read.
    boost::system::error_code ec;
    tcp_layer.socket().close(ec);
  };
  using namespace asio::experimental::awaitable_operators;
  co_await (relay() || watch_client());
  if (!client_gone) {
    tcp_layer.expires_after(std::chrono::seconds(5));
    auto [sec] = co_await stream.async_shutdown(kTuple);
    (void)sec;
  }
}

asio::awaitable<void> NodeProxy::upgrade(const NodeTarget& node, const std::string& target, const Request& request,
                                         Responder& out) const {
  const std::string url = "https://" + host_port(node) + target;
  auto fail = [&](const std::string& why) { return status_response(api::Status(500, "", "Get \"" + url + "\": " + why)); };
  auto ex = co_await asio::this_coro::executor;
  TlsStream stream(beast::tcp_stream(ex), node.insecure_skip_verify ? *insecure_ : *verify_);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  std::string dial_failure = co_await dial(stream, node, options_.connect_timeout);
  if (!dial_failure.empty()) {
    KL_REPLY(out, fail(dial_failure));
    co_return;
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_port(node));
  req.set(http::field::user_agent, "kernlet-apiserver");
  for (http::field f : {http::field::upgrade, http::field::connection, http::field::sec_websocket_key,
                        http::field::sec_websocket_version, http::field::sec_websocket_protocol,
                        http::field::sec_websocket_extensions}) {
    auto v = request.msg.find(f);
    if (v != request.msg.end()) req.set(f, v->value());
  }
  // SPDY (kubectl before 1.30, port-forward): the stream protocol versions, one header each.
  for (const auto& f : request.msg) {
    if (boost::beast::iequals(f.name_string(), "X-Stream-Protocol-Version")) req.insert(f.name_string(), f.value());
  }
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  (void)wn;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  boost::system::error_code rhec = wec;
  if (!rhec) {
    auto [e, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    (void)n;
    rhec = e;
  }
  if (rhec) {
    KL_REPLY(out, fail("read response from kubelet: " + rhec.message()));
    co_return;
  }
  const unsigned code = parser.get().result_int();
  if (code != 101) {
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTuple);
    (void)bn;
    (void)bec;  // what arrived is the message
    const std::string text = trim(parser.get().body());
    const unsigned status = code >= 400 ? code : 500;
    KL_REPLY(out, status_response(api::Status(static_cast<int>(status), reason_for(status),
                                              text.empty() ? "kubelet answered " + std::to_string(code) : text)));
    co_return;
  }
  Response head;
  head.status = 101;
  for (const auto& f : parser.get()) {
    if (f.name() == http::field::upgrade || f.name() == http::field::connection ||
        f.name() == http::field::sec_websocket_accept || f.name() == http::field::sec_websocket_protocol ||
        f.name() == http::field::sec_websocket_extensions ||
        boost::beast::iequals(f.name_string(), "X-Stream-Protocol-Version")) {
      head.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
  }
  auto client = co_await out.upgrade(std::move(head));
  if (!client.ok()) co_return;
  UpgradedConnection* conn = *client;
  tcp_layer.expires_never();  // an exec session may be quiet for as long as its user likes

  // Kubelet to client, starting with what was read past the 101; client to kubelet. When
  // the kubelet ends (after its WebSocket close), the client is given a few seconds to
  // answer and hang up; when the client ends, the kubelet connection is closed.
  bool up_done = false;
  asio::steady_timer linger(ex, asio::steady_timer::time_point::max());
  auto down = [&]() -> asio::awaitable<void> {
    if (buffer.size() > 0) {
      auto ec = co_await conn->write(buffer.data());
      buffer.consume(buffer.size());
      if (ec) {
        conn->close();
        co_return;
      }
    }
    char chunk[16 * 1024];
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), kTuple);
      if (n > 0) {
        auto wec2 = co_await conn->write(asio::buffer(chunk, n));
        if (wec2) break;
      }
      if (ec) break;
    }
    if (!up_done) {
      linger.expires_after(std::chrono::seconds(5));
      auto [lec] = co_await linger.async_wait(kTuple);
      if (!lec) conn->close();  // the client did not hang up
    }
  };
  auto up = [&]() -> asio::awaitable<void> {
    char chunk[16 * 1024];
    for (;;) {
      auto [ec, n] = co_await conn->read_some(asio::buffer(chunk));
      if (n > 0) {
        auto [wec2, wn2] = co_await asio::async_write(stream, asio::buffer(chunk, n), kTuple);
        (void)wn2;
        if (wec2) break;
      }
      if (ec) break;
    }
    up_done = true;
    linger.cancel();
    boost::system::error_code ignore;
    tcp_layer.socket().close(ignore);
  };
  using namespace asio::experimental::awaitable_operators;
  co_await (down() && up());
}

asio::awaitable<Result<std::string>> NodeProxy::fetch(const NodeTarget& node, const std::string& target,
                                                     std::chrono::milliseconds timeout, std::size_t max_bytes) const {
  const std::string url = "https://" + host_port(node) + target;
  auto fail = [&](const std::string& why) { return Error(ErrorCode::kUnavailable, "Get \"" + url + "\": " + why); };
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  const std::string port = std::to_string(node.port);  // named: no temporary across co_await (GCC PR 99576)
  auto [rec, endpoints] = co_await resolver.async_resolve(node.host, port, kTuple);
  if (rec) co_return fail("dial tcp: lookup " + node.host + ": " + rec.message());
  TlsStream stream(beast::tcp_stream(ex), node.insecure_skip_verify ? *insecure_ : *verify_);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(timeout);  // one deadline for connect, handshake, request and body
  auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kTuple);
  (void)ep;
  if (cec) co_return fail(dial_error(node, cec));
  set_tcp_keepalive(tcp_layer.socket().native_handle());  // a node that vanishes ends the stream
  boost::system::error_code ip_ec;
  (void)asio::ip::make_address(node.host, ip_ec);
  if (ip_ec) SSL_set_tlsext_host_name(stream.native_handle(), node.host.c_str());
  if (!node.insecure_skip_verify) stream.set_verify_callback(asio::ssl::host_name_verification(node.host));
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) co_return fail("tls: " + hec.message());
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_port(node));
  req.set(http::field::user_agent, "kernlet-apiserver");
  req.set(http::field::connection, "close");
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  (void)wn;
  if (wec) co_return fail("write request: " + wec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_bytes);
  auto [rec2, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
  (void)rn;
  if (rec2 && rec2 != http::error::end_of_stream) co_return fail("read response from kubelet: " + rec2.message());
  const unsigned code = parser.get().result_int();
  std::string body = std::move(parser.get().body());
  tcp_layer.expires_after(std::chrono::seconds(2));
  auto [sec] = co_await stream.async_shutdown(kTuple);
  (void)sec;
  if (code < 200 || code >= 300) {
    ErrorCode ec = code == 404 ? ErrorCode::kNotFound : code == 503 ? ErrorCode::kUnavailable : ErrorCode::kInternal;
    co_return Error(ec, "Get \"" + url + "\": " + std::to_string(code) + " " + reason_for(code) + ": " + trim(body));
  }
  co_return body;
}

}  // namespace kernlet::apiserver
