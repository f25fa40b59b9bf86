#include "runtime/images/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>

namespace kernlet::images {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads the response header, then the body in chunks: to `sink` for a 2xx, else buffered.
template <class Stream>
Result<HttpResponse> exchange(Stream& stream, std::string_view method, const Url& url, const Headers& headers,
                              const BodySink& sink, size_t max_body) {
  http::request<http::empty_body> req;
  req.method(http::string_to_verb(method));
  req.target(url.target);
  req.version(11);
  req.set(http::field::host, url.authority());
  req.set(http::field::user_agent, "kernlet/0.1");
  req.set(http::field::connection, "close");
  for (const auto& [k, v] : headers) req.set(k, v);
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return Error("send " + std::string(method) + " " + url.str() + ": " + ec.message());

  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  if (method == "HEAD") parser.skip(true);
  http::read_header(stream, buf, parser, ec);
  if (ec) return Error("read response header of " + url.str() + ": " + ec.message());

  HttpResponse resp;
  resp.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get()) {
    std::string name = lower(f.name_string());
    auto& slot = resp.headers[name];
    slot += slot.empty() ? std::string(f.value()) : ", " + std::string(f.value());
  }
  bool streaming = sink && resp.status >= 200 && resp.status < 300;
  std::vector<char> chunk(1 << 17);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    http::read(stream, buf, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Error("read response body of " + url.str() + ": " + ec.message());
    size_t n = chunk.size() - parser.get().body().size;
    if (n == 0) continue;
    if (streaming) {
      KL_TRY(sink(chunk.data(), n));
    } else {
      if (resp.body.size() + n > max_body)
        return Error(ErrorCode::kResourceExhausted,
                     "response body of " + url.str() + " larger than " + std::to_string(max_body));
      resp.body.append(chunk.data(), n);
    }
  }
  return resp;
}

void set_timeouts(tcp::socket& s, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

Result<Url> Url::parse(std::string_view text) {
  Url u;
  auto sep = text.find("://");
  if (sep == std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "URL " + std::string(text) + ": no scheme");
  u.scheme = lower(text.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    return Error(ErrorCode::kInvalidArgument, "URL " + std::string(text) + ": scheme must be http or https");
  std::string_view rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target[0] == '?') u.target.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "URL " + std::string(text) + ": bad host");
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "URL " + std::string(text) + ": bad IPv6 host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  u.host = std::string(host);
  u.port = port.empty() ? (u.scheme == "https" ? "443" : "80") : std::string(port);
  if (u.port.find_first_not_of("0123456789") != std::string::npos)
    return Error(ErrorCode::kInvalidArgument, "URL " + std::string(text) + ": bad port");
  return u;
}

Result<Url> Url::resolve(std::string_view location) const {
  if (location.find("://") != std::string_view::npos) return parse(location);
  if (location.empty() || location.front() != '/')
    return Error(ErrorCode::kInvalidArgument, "redirect to a relative location " + std::string(location));
  Url u = *this;
  u.target = std::string(location);
  return u;
}

std::string Url::authority() const {
  bool default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + port;
}

std::string Url::str() const { return scheme + "://" + authority() + target; }

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Result<HttpResponse> HttpClient::request(std::string_view method, const Url& url, const Headers& headers,
                                         const BodySink& sink, size_t max_body) const {
  Url current = url;
  Headers hdrs = headers;
  for (int hop = 0; hop < 6; ++hop) {
    KL_ASSIGN_OR_RETURN(HttpResponse resp, once(method, current, hdrs, sink, max_body));
    bool redirect =
        resp.status == 301 || resp.status == 302 || resp.status == 303 || resp.status == 307 || resp.status == 308;
    if (!redirect) return resp;
    std::string loc = resp.header("location");
    if (loc.empty()) return Error("redirect from " + current.str() + " without a Location");
    KL_ASSIGN_OR_RETURN(Url next, current.resolve(loc));
    if (next.host != current.host || next.port != current.port || next.scheme != current.scheme)
      std::erase_if(hdrs, [](const auto& h) { return lower(h.first) == "authorization"; });
    current = std::move(next);
  }
  return Error("too many redirects fetching " + url.str());
}

Result<HttpResponse> HttpClient::once(std::string_view method, const Url& url, const Headers& headers,
                                      const BodySink& sink, size_t max_body) const {
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) return Error(ErrorCode::kUnavailable, "resolve " + url.host + ": " + ec.message());
    if (url.scheme == "http") {
      tcp::socket sock(io);
      asio::connect(sock, endpoints, ec);
      if (ec) return Error(ErrorCode::kUnavailable, "connect " + url.authority() + ": " + ec.message());
      set_timeouts(sock, options_.timeout);
      return exchange(sock, method, url, headers, sink, max_body);
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (options_.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(options_.ca_file, ec);
    }
    if (ec) return Error("TLS trust for " + url.host + " (" + options_.ca_file + "): " + ec.message());
    ctx.set_verify_mode(asio::ssl::verify_peer);
    ctx.set_verify_callback(asio::ssl::host_name_verification(url.host));
    asio::ssl::stream<tcp::socket> stream(io, ctx);
    // SNI only for names: RFC 6066 forbids IP literals in server_name.
    boost::system::error_code addr_ec;
    asio::ip::make_address(url.host, addr_ec);
    if (addr_ec && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
      return Error("TLS: cannot set SNI " + url.host);
    asio::connect(stream.next_layer(), endpoints, ec);
    if (ec) return Error(ErrorCode::kUnavailable, "connect " + url.authority() + ": " + ec.message());
    set_timeouts(stream.next_layer(), options_.timeout);
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return Error(ErrorCode::kUnavailable, "TLS handshake with " + url.authority() + ": " + ec.message());
    auto resp = exchange(stream, method, url, headers, sink, max_body);
    stream.shutdown(ec);  // the server may just close; a failed close_notify is harmless here
    return resp;
  } catch (const std::exception& e) {
    return Error(std::string(method) + " " + url.str() + ": " + e.what());
  }
}

}  // namespace kernlet::images
