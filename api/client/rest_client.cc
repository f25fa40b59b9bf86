#include "api/client/rest_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <mutex>

#include "api/object.h"
#include "api/tcp_keepalive.h"

namespace kernlet::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---- addressing -----------------------------------------------------------------------

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ResourceRef::path() const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (!namespace_.empty()) p += "/namespaces/" + url_escape(namespace_);
  p += "/" + resource;
  if (!name.empty()) {
    p += "/" + url_escape(name);
    if (!subresource.empty()) p += "/" + subresource;
  }
  return p;
}

std::string ResourceRef::describe() const {
  std::string r = group.empty() ? resource : resource + "." + group;
  std::string who = namespace_.empty() ? name : (name.empty() ? namespace_ + "/*" : namespace_ + "/" + name);
  if (!subresource.empty()) who += "/" + subresource;
  return who.empty() ? r : r + " " + who;
}

ResourceRef ResourceRef::in(std::string ns) const {
  ResourceRef r = *this;
  r.namespace_ = std::move(ns);
  return r;
}
ResourceRef ResourceRef::named(std::string n) const {
  ResourceRef r = *this;
  r.name = std::move(n);
  return r;
}
ResourceRef ResourceRef::sub(std::string s) const {
  ResourceRef r = *this;
  r.subresource = std::move(s);
  return r;
}

static void add_param(std::string& q, std::string_view key, std::string_view value) {
  q += q.empty() ? '?' : '&';
  q += key;
  q += '=';
  q += url_escape(value);
}

std::string list_query(const ListOptions& o) {
  std::string q;
  if (!o.label_selector.empty()) add_param(q, "labelSelector", o.label_selector);
  if (!o.field_selector.empty()) add_param(q, "fieldSelector", o.field_selector);
  if (o.limit > 0) add_param(q, "limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) add_param(q, "continue", o.continue_token);
  if (!o.resource_version.empty()) add_param(q, "resourceVersion", o.resource_version);
  if (!o.resource_version_match.empty()) add_param(q, "resourceVersionMatch", o.resource_version_match);
  if (o.timeout_seconds > 0) add_param(q, "timeoutSeconds", std::to_string(o.timeout_seconds));
  return q;
}

static std::string watch_query(const WatchOptions& o) {
  std::string q = "?watch=1";
  if (!o.label_selector.empty()) add_param(q, "labelSelector", o.label_selector);
  if (!o.field_selector.empty()) add_param(q, "fieldSelector", o.field_selector);
  if (!o.resource_version.empty()) add_param(q, "resourceVersion", o.resource_version);
  if (o.timeout_seconds > 0) add_param(q, "timeoutSeconds", std::to_string(o.timeout_seconds));
  if (o.allow_bookmarks) add_param(q, "allowWatchBookmarks", "true");
  return q;
}

json::object DeleteOptions::to_json() const {
  json::object o;
  if (grace_period_seconds || propagation != PropagationPolicy::kDefault || !precondition_uid.empty() ||
      !precondition_resource_version.empty()) {
    o["kind"] = "DeleteOptions";
    o["apiVersion"] = "v1";
  }
  if (grace_period_seconds) o["gracePeriodSeconds"] = *grace_period_seconds;
  switch (propagation) {
    case PropagationPolicy::kDefault: break;
    case PropagationPolicy::kOrphan: o["propagationPolicy"] = "Orphan"; break;
    case PropagationPolicy::kBackground: o["propagationPolicy"] = "Background"; break;
    case PropagationPolicy::kForeground: o["propagationPolicy"] = "Foreground"; break;
  }
  if (!precondition_uid.empty() || !precondition_resource_version.empty()) {
    json::object pre;
    if (!precondition_uid.empty()) pre["uid"] = precondition_uid;
    if (!precondition_resource_version.empty()) pre["resourceVersion"] = precondition_resource_version;
    o["preconditions"] = std::move(pre);
  }
  return o;
}

std::string_view patch_content_type(PatchType t) {
  switch (t) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

// ---- transport ------------------------------------------------------------------------

namespace {

constexpr uint64_t kMaxBody = 512ull << 20;  // a list of every pod in a big cluster fits

struct ServerUrl {
  bool tls = true;
  std::string host;    // without brackets
  std::string port;
  std::string prefix;  // path prefix without trailing '/', usually ""
  bool host_is_ip = false;

  std::string host_header() const {
    bool v6 = host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + host + "]" : host;
    bool default_port = (tls && port == "443") || (!tls && port == "80");
    return default_port ? h : h + ":" + port;
  }
};

Result<ServerUrl> parse_server(std::string_view url) {
  ServerUrl u;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    u.tls = false;
    rest = url.substr(7);
  } else {
    return Error(ErrorCode::kInvalidArgument, "server \"" + std::string(url) + "\" is not an http(s) URL");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.prefix = std::string(rest.substr(slash));
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (authority.empty()) return Error(ErrorCode::kInvalidArgument, "server \"" + std::string(url) + "\" has no host");
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error(ErrorCode::kInvalidArgument, "server \"" + std::string(url) + "\": unterminated [IPv6] host");
    }
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') u.port = std::string(authority.substr(1));
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  for (char c : u.port) {
    if (c < '0' || c > '9') return Error(ErrorCode::kInvalidArgument, "server \"" + std::string(url) + "\": bad port");
  }
  boost::system::error_code ec;
  (void)asio::ip::make_address(u.host, ec);
  u.host_is_ip = !ec;
  return u;
}

bool is_timeout(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

// One HTTP/1.1 connection with its own io_context, driven by whichever thread uses it:
// every async operation is followed by run(), so calls block but keep Beast's deadlines,
// and another thread can interrupt a blocked read by posting a close (interrupt()).
class Connection {
 public:
  Connection(bool tls, ssl::context* ctx) {
    if (tls) {
      tls_.emplace(ioc_, *ctx);
    } else {
      plain_.emplace(ioc_);
    }
  }

  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  beast::flat_buffer& buffer() { return buffer_; }

  // Calls f with the stream to read and write (TLS or plain).
  template <class F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  // Runs queued work (the one started operation) to completion on this thread.
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  // Closes the socket from any thread; a blocked operation completes with an error.
  void interrupt() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      tcp().socket().close(ignored);
    });
  }

  Result<void> connect(const ServerUrl& u, const std::string& verify_name, bool verify, Clock::time_point deadline) {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(u.host, u.port, [&](boost::system::error_code e, tcp::resolver::results_type r) {
      ec = e;
      endpoints = std::move(r);
    });
    run();
    if (ec) return Error(ErrorCode::kUnavailable, "resolve " + u.host + ": " + ec.message());
    tcp().expires_at(deadline);
    tcp().async_connect(endpoints, [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) return Error(is_timeout(ec) ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                         "connect: " + ec.message());
    tcp().socket().set_option(tcp::no_delay(true), ec);
    // Keepalive probes find a server that vanished without a FIN (watches can be silent
    // for minutes), well before any read deadline would.
    set_tcp_keepalive(tcp().socket().native_handle());
    if (!tls_) return Ok();

    SSL* ssl_handle = tls_->native_handle();
    if (!u.host_is_ip) SSL_set_tlsext_host_name(ssl_handle, u.host.c_str());
    if (verify) {
      // The name check runs inside OpenSSL's chain verification, so a wrong name fails the
      // handshake itself: an IP address is matched against IP SANs, a name against DNS SANs.
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
      boost::system::error_code aec;
      (void)asio::ip::make_address(verify_name, aec);
      int ok = !aec ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str())
                    : X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), verify_name.size());
      if (ok != 1) return Error(ErrorCode::kInvalidArgument, "cannot verify server name \"" + verify_name + "\"");
      tls_->set_verify_mode(ssl::verify_peer);
    } else {
      tls_->set_verify_mode(ssl::verify_none);
    }
    tls_->async_handshake(ssl::stream_base::client, [&](boost::system::error_code e) { ec = e; });
    run();
    if (ec) {
      std::string why = ec.message();
      long vr = SSL_get_verify_result(ssl_handle);
      if (verify && vr != X509_V_OK) why += " (" + std::string(X509_verify_cert_error_string(vr)) + ")";
      return Error(is_timeout(ec) ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                   "TLS handshake: " + why);
    }
    return Ok();
  }

  Result<void> write(http::request<http::string_body>& req, Clock::time_point deadline) {
    boost::system::error_code ec;
    tcp().expires_at(deadline);
    with_stream([&](auto& s) { http::async_write(s, req, [&](boost::system::error_code e, std::size_t) { ec = e; }); });
    run();
    if (ec) return Error(is_timeout(ec) ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable, "send: " + ec.message());
    return Ok();
  }

  // Reads a whole response. `got_bytes` tells whether anything at all arrived (a stale
  // keep-alive connection fails before that, and the request may then be retried).
  Result<http::response<http::string_body>> read(Clock::time_point deadline, bool& got_bytes) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    boost::system::error_code ec;
    tcp().expires_at(deadline);
    with_stream([&](auto& s) {
      http::async_read(s, buffer_, parser, [&](boost::system::error_code e, std::size_t) { ec = e; });
    });
    run();
    got_bytes = parser.got_some() || buffer_.size() > 0;
    if (ec) return Error(is_timeout(ec) ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                         "receive: " + ec.message());
    return parser.release();
  }

  // True when an idle pooled connection has been closed by the server (or has unexpected
  // bytes pending, which also makes it unusable).
  bool stale() {
    if (!tcp().socket().is_open()) return true;
    pollfd p{tcp().socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

 private:
  asio::io_context ioc_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  std::optional<beast::tcp_stream> plain_;
  beast::flat_buffer buffer_;
};

// A watch response being read: owns its connection for the stream's lifetime.
class HttpWatchStream final : public WatchStream {
 public:
  HttpWatchStream(std::unique_ptr<Connection> conn, http::response_parser<http::empty_body>&& header,
                  std::string what, std::chrono::seconds idle_limit)
      : conn_(std::move(conn)), parser_(std::move(header)), what_(std::move(what)), idle_limit_(idle_limit) {
    parser_.body_limit(boost::none);  // a watch is as long as it lasts
  }

  ~HttpWatchStream() override = default;

  Result<std::optional<WatchEvent>> next() override {
    for (;;) {
      if (auto ev = decoder_.pop()) {
        if (!ev->ok()) {
          ended_ = true;
          return std::move(*ev).error();
        }
        return std::optional<WatchEvent>(std::move(**ev));
      }
      if (cancelled_.load()) return Error(ErrorCode::kUnavailable, what_ + ": watch cancelled");
      if (ended_) {
        if (decoder_.mid_event()) return Error(ErrorCode::kUnavailable, what_ + ": stream ended inside an event");
        return std::optional<WatchEvent>();
      }
      char buf[16384];
      parser_.get().body().data = buf;
      parser_.get().body().size = sizeof buf;
      boost::system::error_code ec;
      conn_->tcp().expires_after(idle_limit_);
      conn_->with_stream([&](auto& s) {
        http::async_read_some(s, conn_->buffer(), parser_, [&](boost::system::error_code e, std::size_t) { ec = e; });
      });
      conn_->run();
      if (ec == http::error::need_buffer) ec = {};
      std::size_t n = sizeof buf - parser_.get().body().size;
      if (n > 0) {
        if (auto f = decoder_.feed(std::string_view(buf, n)); !f.ok()) {
          ended_ = true;
          return std::move(f).error().context(what_);
        }
      }
      if (ec) {
        ended_ = true;
        if (cancelled_.load()) return Error(ErrorCode::kUnavailable, what_ + ": watch cancelled");
        return Error(ErrorCode::kUnavailable, what_ + ": " + ec.message());
      }
      if (parser_.is_done()) ended_ = true;
    }
  }

  void cancel() override {
    if (!cancelled_.exchange(true)) conn_->interrupt();
  }

 private:
  std::unique_ptr<Connection> conn_;
  http::response_parser<http::buffer_body> parser_;
  WatchDecoder decoder_;
  std::string what_;
  std::chrono::seconds idle_limit_;
  std::atomic<bool> cancelled_{false};
  bool ended_ = false;
};

}  // namespace

struct RestClient::Impl {
  ClientConfig config;
  ServerUrl url;
  std::string verify_name;
  std::optional<ssl::context> ssl_ctx;
  std::string authorization;
  std::shared_ptr<Transport> transport;  // null: requests over HTTP

  mutable std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;  // guarded by mu
  std::atomic<int64_t> opened{0};
  static constexpr std::size_t kMaxIdle = 8;

  // A pooled connection when a live one is idle, else a new one. `reused` says which.
  Result<std::unique_ptr<Connection>> acquire(Clock::time_point deadline, bool& reused) {
    {
      std::lock_guard lock(mu);
      while (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        if (!c->stale()) {
          reused = true;
          return c;
        }
      }
    }
    reused = false;
    auto c = std::make_unique<Connection>(url.tls, ssl_ctx ? &*ssl_ctx : nullptr);
    KL_TRY(c->connect(url, verify_name, !config.insecure_skip_tls_verify, deadline));
    opened.fetch_add(1);
    return c;
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu);
    if (idle.size() < kMaxIdle) idle.push_back(std::move(c));
  }

  http::request<http::string_body> make_request(http::verb verb, const std::string& target, std::string_view body,
                                                std::string_view content_type) const {
    http::request<http::string_body> req{verb, url.prefix + target, 11};
    req.set(http::field::host, url.host_header());
    req.set(http::field::user_agent, config.user_agent);
    req.set(http::field::accept, "application/json");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = std::string(body);
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }
};

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

const ClientConfig& RestClient::config() const { return impl_->config; }

Result<std::shared_ptr<RestClient>> RestClient::create(const ClientConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  auto url = parse_server(config.server);
  if (!url.ok()) return std::move(url).error().context("client config");
  impl->url = *url;
  impl->verify_name = config.tls_server_name.empty() ? url->host : config.tls_server_name;
  if (!config.token.empty()) impl->authorization = "Bearer " + config.token;
  if (url->tls) {
    try {
      impl->ssl_ctx.emplace(ssl::context::tls_client);
      auto& ctx = *impl->ssl_ctx;
      SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
      boost::system::error_code ec;
      if (!config.insecure_skip_tls_verify) {
        if (!config.ca_pem.empty()) {
          ctx.add_certificate_authority(asio::buffer(config.ca_pem), ec);
          if (ec) return Error(ErrorCode::kInvalidArgument, "client config: certificate authority: " + ec.message());
        } else {
          ctx.set_default_verify_paths(ec);
          if (ec) return Error(ErrorCode::kInvalidArgument, "client config: system trust store: " + ec.message());
        }
      }
      if (!config.client_cert_pem.empty()) {
        ctx.use_certificate_chain(asio::buffer(config.client_cert_pem), ec);
        if (ec) return Error(ErrorCode::kInvalidArgument, "client config: client certificate: " + ec.message());
        ctx.use_private_key(asio::buffer(config.client_key_pem), ssl::context::pem, ec);
        if (ec) return Error(ErrorCode::kInvalidArgument, "client config: client key: " + ec.message());
        if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
          return Error(ErrorCode::kInvalidArgument, "client config: client key does not match the client certificate");
        }
      }
    } catch (const std::exception& e) {
      return Error(ErrorCode::kInvalidArgument, std::string("client config: TLS: ") + e.what());
    }
  }
  return std::shared_ptr<RestClient>(new RestClient(std::move(impl)));
}

Result<std::shared_ptr<RestClient>> RestClient::create(const ClientConfig& config,
                                                       std::shared_ptr<Transport> transport) {
  if (!transport) return Error(ErrorCode::kInvalidArgument, "client config: null transport");
  KL_ASSIGN_OR_RETURN(std::shared_ptr<RestClient> client, create(config));
  client->impl_->transport = std::move(transport);
  return client;
}

int64_t RestClient::connections_opened() const { return impl_->opened.load(); }

std::size_t RestClient::idle_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->idle.size();
}

bool RestClient::can_request_async() const { return impl_->transport && impl_->transport->carries_async(); }

bool RestClient::request_async(std::string_view method, const std::string& target, std::string body,
                               ResponseCallback done, std::string_view content_type) {
  if (!impl_->transport || !impl_->transport->carries_async()) return false;
  std::string what = std::string(method) + " " + impl_->config.server + target;
  if (http::string_to_verb(method) == http::verb::unknown) {
    done(Error(ErrorCode::kInvalidArgument, what + ": unknown method"));
    return true;
  }
  // Errors carry the request's name, as request() gives them.
  ResponseCallback named = [what = std::move(what), done = std::move(done)](Result<Response> res) {
    if (!res.ok()) {
      done(std::move(res).error().context(what));
      return;
    }
    done(std::move(res));
  };
  return impl_->transport->start_round_trip(method, target, std::move(body), content_type, named);
}

Result<Response> RestClient::request(std::string_view method, const std::string& target, std::string_view body,
                                     std::string_view content_type) {
  http::verb verb = http::string_to_verb(method);
  std::string what = std::string(method) + " " + impl_->config.server + target;
  if (verb == http::verb::unknown) return Error(ErrorCode::kInvalidArgument, what + ": unknown method");
  if (impl_->transport) {
    auto res = impl_->transport->round_trip(method, target, body, content_type);
    if (!res.ok()) return std::move(res).error().context(what);
    return res;
  }
  // A request on a reused connection that the server closed meanwhile fails before any
  // answer arrives; it is sent again on a fresh connection when that cannot do it twice
  // (the method is idempotent, or the send itself failed).
  const bool idempotent = verb == http::verb::get || verb == http::verb::put || verb == http::verb::delete_ ||
                          verb == http::verb::head;
  auto deadline = Clock::now() + impl_->config.timeout;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto conn = impl_->acquire(deadline, reused);
    if (!conn.ok()) return std::move(conn).error().context(what);
    auto req = impl_->make_request(verb, target, body, content_type);
    if (auto w = (*conn)->write(req, deadline); !w.ok()) {
      if (reused && attempt == 0) continue;
      return std::move(w).error().context(what);
    }
    bool got_bytes = false;
    auto res = (*conn)->read(deadline, got_bytes);
    if (!res.ok()) {
      if (reused && attempt == 0 && idempotent && !got_bytes) continue;
      return std::move(res).error().context(what);
    }
    Response out;
    out.status = static_cast<int>(res->result_int());
    out.content_type = std::string((*res)[http::field::content_type]);
    out.body = std::move(res->body());
    if (res->keep_alive()) impl_->release(std::move(*conn));
    return out;
  }
}

// The object a request answered with; a non-2xx answer as its error.
static Result<json::object> object_answer(Result<Response> answer, const std::string& what) {
  KL_ASSIGN_OR_RETURN(Response res, std::move(answer));
  if (res.status < 200 || res.status > 299) return error_from_response(res.status, res.body);
  auto obj = json::parse_object(res.body, "response");
  if (!obj.ok()) return std::move(obj).error().context(what);
  return std::move(*obj);
}

Result<json::object> RestClient::object_call(std::string_view method, const std::string& target,
                                             const json::value* body, std::string_view content_type,
                                             const std::string& what) {
  std::string text = body != nullptr ? json::dump(*body) : std::string();
  return object_answer(request(method, target, text, content_type), what);
}

Result<json::object> RestClient::get(const ResourceRef& ref) {
  return object_call("GET", ref.path(), nullptr, {}, "get " + ref.describe());
}

Result<ObjectList> RestClient::list(const ResourceRef& ref, const ListOptions& opts) {
  ResourceRef coll = ref.named("");
  KL_ASSIGN_OR_RETURN(json::object body,
                      object_call("GET", coll.path() + list_query(opts), nullptr, {}, "list " + coll.describe()));
  ObjectList out;
  if (const auto* meta = json::get_object(body, "metadata")) {
    out.resource_version = std::string(json::get_string(*meta, "resourceVersion"));
    out.continue_token = std::string(json::get_string(*meta, "continue"));
  }
  if (auto* items = json::get_array(body, "items")) {
    out.items.reserve(items->size());
    for (auto& item : *items) {
      if (item.is_object()) out.items.push_back(std::move(item.get_object()));
    }
  }
  return out;
}

Result<json::object> RestClient::create(const ResourceRef& ref, const json::object& obj) {
  ResourceRef coll = ref.named("");
  coll.subresource.clear();
  // Serialized as it is: no copy into a json::value first.
  return object_answer(request("POST", coll.path(), boost::json::serialize(obj), "application/json"),
                       "create " + coll.describe());
}

static ResourceRef named_after(const ResourceRef& ref, const json::object& obj) {
  ResourceRef r = ref;
  api::Meta meta(obj);
  if (r.name.empty()) r.name = std::string(meta.name());
  if (r.namespace_.empty()) r.namespace_ = std::string(meta.namespace_());
  return r;
}

Result<json::object> RestClient::update(const ResourceRef& ref, const json::object& obj) {
  ResourceRef r = named_after(ref, obj);
  return object_answer(request("PUT", r.path(), boost::json::serialize(obj), "application/json"),
                       "update " + r.describe());
}

Result<json::object> RestClient::update_status(const ResourceRef& ref, const json::object& obj) {
  return update(named_after(ref, obj).sub("status"), obj);
}

Result<json::object> RestClient::patch(const ResourceRef& ref, PatchType type, const json::value& patch_doc) {
  return object_call("PATCH", ref.path(), &patch_doc, patch_content_type(type), "patch " + ref.describe());
}

Result<json::object> RestClient::remove(const ResourceRef& ref, const DeleteOptions& opts) {
  json::object o = opts.to_json();
  json::value body = o;
  return object_call("DELETE", ref.path(), o.empty() ? nullptr : &body, "application/json",
                     "delete " + ref.describe());
}

Result<std::unique_ptr<WatchStream>> RestClient::watch(const ResourceRef& ref, const WatchOptions& opts) {
  ResourceRef coll = ref.named("");
  std::string target = coll.path() + watch_query(opts);
  std::string what = "watch " + coll.describe();
  if (impl_->transport) {
    auto carried = impl_->transport->watch(target);
    // Errors are the server's answer, as error_from_response gives them below.
    if (carried.ok() || carried.error().code() != ErrorCode::kUnimplemented) return carried;
  }
  auto deadline = Clock::now() + impl_->config.timeout;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto acquired = impl_->acquire(deadline, reused);
    if (!acquired.ok()) return std::move(acquired).error().context(what);
    auto conn = std::move(*acquired);
    auto req = impl_->make_request(http::verb::get, target, {}, {});
    if (auto w = conn->write(req, deadline); !w.ok()) {
      if (reused && attempt == 0) continue;
      return std::move(w).error().context(what);
    }
    http::response_parser<http::empty_body> header;
    boost::system::error_code ec;
    conn->tcp().expires_at(deadline);
    conn->with_stream([&](auto& s) {
      http::async_read_header(s, conn->buffer(), header, [&](boost::system::error_code e, std::size_t) { ec = e; });
    });
    conn->run();
    if (ec) {
      if (reused && attempt == 0 && !header.got_some()) continue;
      return Error(is_timeout(ec) ? ErrorCode::kDeadlineExceeded : ErrorCode::kUnavailable,
                   what + ": receive: " + ec.message());
    }
    int status = static_cast<int>(header.get().result_int());
    if (status != 200) {
      http::response_parser<http::string_body> rest(std::move(header));
      rest.body_limit(kMaxBody);
      conn->with_stream([&](auto& s) {
        http::async_read(s, conn->buffer(), rest, [&](boost::system::error_code e, std::size_t) { ec = e; });
      });
      conn->run();
      return error_from_response(status, ec ? std::string_view() : std::string_view(rest.get().body()));
    }
    // The server ends the stream after timeoutSeconds; silence longer than that plus a
    // margin means the connection is dead (keepalive usually notices first).
    auto idle_limit = std::chrono::seconds(opts.timeout_seconds > 0 ? opts.timeout_seconds + 60 : 3600);
    return std::unique_ptr<WatchStream>(
        std::make_unique<HttpWatchStream>(std::move(conn), std::move(header), what, idle_limit));
  }
}

}  // namespace kernlet::client
