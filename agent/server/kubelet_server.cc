#include "agent/server/kubelet_server.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "agent/server/container_logs.h"
#include "agent/server/exec_protocol.h"
#include "agent/server/exec_stream.h"
#include "agent/server/log_query.h"
#include "agent/server/blocking_call.h"
#include "agent/server/byte_stream.h"
#include "agent/server/pod_port_forward.h"
#include "agent/server/port_forward_pairs.h"
#include "agent/server/router.h"
#include "agent/server/spdy_exec.h"
#include "api/tcp_keepalive.h"
#include "api/unique_fd.h"

namespace kernlet::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

enum Route { kHealthz, kPods, kContainerLogs, kStatsSummary, kExec, kAttach, kMetrics, kPortForward };

struct Identity {
  bool authenticated = false;
  std::string user;
  std::vector<std::string> groups;
};

std::string name_entry(X509_NAME* name, int index) {
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

// The identity of a peer whose certificate verified against the client CA.
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

Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const KubeletServerOptions& o) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  if (ctx->use_certificate_chain(asio::buffer(o.cert_pem), ec); ec) {
    return Error(ErrorCode::kInvalidArgument, "kubelet server: serving certificate: " + ec.message());
  }
  if (ctx->use_private_key(asio::buffer(o.key_pem), asio::ssl::context::pem, ec); ec) {
    return Error(ErrorCode::kInvalidArgument, "kubelet server: serving key: " + ec.message());
  }
  if (ctx->add_certificate_authority(asio::buffer(o.client_ca_pem), ec); ec) {
    return Error(ErrorCode::kInvalidArgument, "kubelet server: client CA: " + ec.message());
  }
  // Ask for a certificate but let the handshake finish without one, so an anonymous
  // client gets an HTTP 401 it can read instead of a TLS alert.
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  ctx->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; }, ec);
  return ctx;
}

// One log request's state, shared by its reader thread and its connection coroutine.
// The reader appends to `chunks` (waiting while `bytes` is over the limit) and, when it
// fills an empty queue or finishes, posts a wake-up to the io thread; the coroutine
// re-arms `wake`, then takes everything queued, then waits. Stopping: `cancelled` (for the
// sink) plus a write to the eventfd `stop` (for a follower asleep in poll).
struct LogStream {
  explicit LogStream(const asio::any_io_executor& ex) : wake(ex) {}

  void cancel() {
    {
      std::lock_guard lock(mu);
      cancelled = true;
    }
    cv.notify_all();
    uint64_t one = 1;
    (void)::write(stop.get(), &one, sizeof one);
  }
  // Wakes the connection: the timer is set to have expired, which completes a pending
  // wait and also one started later. (A cancel would be lost when the wait has not been
  // initiated yet, and `a || b` initiates its operands in a later turn of the io thread.)
  void notify_io(const std::shared_ptr<LogStream>& self) {
    asio::post(wake.get_executor(), [self] { self->wake.expires_at(asio::steady_timer::time_point::min()); });
  }

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  std::size_t bytes = 0;
  bool cancelled = false;
  bool done = false;
  Result<void> result;
  UniqueFd stop;
  asio::steady_timer wake;  // io thread only
  std::thread reader;
};

// Whether a Sec-WebSocket-Protocol header (a comma-separated list) offers `want`.
bool offers_subprotocol(std::string_view offered, std::string_view want) {
  while (!offered.empty()) {
    std::size_t comma = offered.find(',');
    std::string_view one = offered.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one == want) return true;
    offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
  }
  return false;
}

// The start of one exec, run on the worker pool: the result, and a timer the io thread
// sets to expired when it is there (as LogStream::notify_io).
struct ExecStart {
  explicit ExecStart(const asio::any_io_executor& ex) : wake(ex, asio::steady_timer::time_point::max()) {}
  std::mutex mu;
  std::optional<Result<std::unique_ptr<ExecProcess>>> result;
  asio::steady_timer wake;  // io thread only
};

}  // namespace

struct KubeletServer::Impl {
  Impl(KubeletServerOptions o, std::shared_ptr<LogSource> l, PodLister p, KubeletServer::SummaryProvider st,
       std::shared_ptr<ExecSource> e)
      : io(std::make_unique<asio::io_context>()),
        options(std::move(o)),
        logs(std::move(l)),
        pods(std::move(p)),
        stats(std::move(st)),
        exec(std::move(e)),
        acceptor(std::make_unique<tcp::acceptor>(*io)) {
    router.add("GET", "/healthz", kHealthz);
    router.add("GET", "/pods", kPods);
    router.add("GET", "/containerLogs/{namespace}/{pod}/{container}", kContainerLogs);
    router.add("GET", "/stats/summary", kStatsSummary);
    // GET is the WebSocket handshake; POST is what a SPDY client sends (answered 400).
    router.add("GET", "/exec/{namespace}/{pod}/{container}", kExec);
    router.add("POST", "/exec/{namespace}/{pod}/{container}", kExec);
    for (const char* method : {"GET", "POST"}) {
      router.add(method, "/attach/{namespace}/{pod}/{container}", kAttach);
      router.add(method, "/attach/{namespace}/{pod}/{uid}/{container}", kAttach);
    }
    // GET is the WebSocket tunnel (kubectl 1.31+), POST the SPDY upgrade; the kubelet also
    // takes the pod's uid as a last segment.
    for (const char* method : {"GET", "POST"}) {
      router.add(method, "/portForward/{namespace}/{pod}", kPortForward);
      router.add(method, "/portForward/{namespace}/{pod}/{uid}", kPortForward);
    }
  }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);

  // Declared first: destroyed last, after everything that holds its executor. stop()
  // destroys it early, which closes every connection (their coroutines are destroyed).
  std::unique_ptr<asio::io_context> io;
  KubeletServerOptions options;
  std::shared_ptr<LogSource> logs;
  PodLister pods;
  KubeletServer::SummaryProvider stats;
  std::shared_ptr<ExecSource> exec;
  std::shared_ptr<PortForwardSource> port_forward;  // /portForward, when set
  std::shared_ptr<AttachSource> attach;             // /attach, when set
  KubeletServer::MetricsProvider metrics;  // GET /metrics, when set
  // Starting an exec blocks (the runtime clones and waits for the exec); finished
  // processes are destroyed here too (a kill and a reap).
  asio::thread_pool workers{2};
  std::atomic<std::size_t> execs{0};
  std::atomic<std::size_t> attaches{0};
  std::atomic<std::size_t> forwards{0};
  Router router;
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread io_thread;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;
  mutable std::mutex streams_mu;
  std::set<std::shared_ptr<LogStream>> streams;  // live log requests, for stop()
};

namespace {

// One connection: requests in a loop, answered in order.
class Session {
 public:
  Session(KubeletServer::Impl& server, TlsStream stream, Identity id)
      : server_(server), stream_(std::move(stream)), identity_(std::move(id)) {}

  asio::awaitable<void> run() {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      lowest().expires_after(std::chrono::seconds(server_.options.idle_timeout_seconds));
      auto [ec, n] = co_await http::async_read(stream_, buffer_, parser, kTuple);
      (void)n;
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != beast::error::timeout &&
            ec != asio::error::operation_aborted && ec != asio::ssl::error::stream_truncated &&
            ec != asio::error::connection_reset) {
          close_ = true;
          const std::string msg = "malformed HTTP request: " + ec.message();
          co_await send(400, msg);
        }
        break;
      }
      req_ = parser.release();
      version_ = req_.version();
      close_ = !req_.keep_alive();
      lowest().expires_never();
      co_await dispatch();
      if (close_ || broken_) break;
    }
    co_await shutdown();
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  asio::awaitable<void> dispatch() {
    std::string_view target = req_.target();
    std::size_t qmark = target.find('?');
    std::string_view path = target.substr(0, qmark);
    std::string_view query = qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);
    if (!identity_.authenticated) {
      co_await send(401, "Unauthorized");
      co_return;
    }
    bool allowed = false;
    for (const auto& g : identity_.groups) allowed = allowed || g == "system:masters";
    if (!allowed) {
      const std::string msg = "Forbidden (user=" + identity_.user + ", verb=get, resource=nodes, subresource=proxy)";
      co_await send(403, msg);
      co_return;
    }
    bool wrong_method = false;
    auto m = server_.router.match(req_.method_string(), path, &wrong_method);
    if (!m) {
      if (wrong_method) {
        co_await send(405, "405: Method Not Allowed");
      } else {
        co_await send(404, "404 page not found");
      }
      co_return;
    }
    switch (m->id) {
      case kHealthz:
        co_await send(200, "ok");
        break;
      case kPods: {
        json::array items = server_.pods ? server_.pods() : json::array();
        json::object list{{"kind", "PodList"},
                          {"apiVersion", "v1"},
                          {"metadata", json::object{}},
                          {"items", std::move(items)}};
        const std::string body = json::dump(list);
        co_await send(200, body, "application/json");
        break;
      }
      case kContainerLogs:
        co_await container_logs(m->params, query);
        break;
      case kExec:
        co_await exec(m->params, query, false);
        break;
      case kAttach:
        co_await exec(m->params, query, true);
        break;
      case kPortForward:
        co_await port_forward(m->params);
        break;
      case kMetrics: {
        const std::string body = server_.metrics();
        co_await send(200, body, "text/plain; version=0.0.4; charset=utf-8");
        break;
      }
      case kStatsSummary: {
        if (!server_.stats) {
          co_await send(404, "404 page not found");
          break;
        }
        Result<json::object> summary = server_.stats();
        if (!summary.ok()) {
          const std::string msg = "stats: " + summary.error().message();
          co_await send(503, msg);
          break;
        }
        const std::string body = json::dump(*summary);
        co_await send(200, body, "application/json");
        break;
      }
    }
  }

  asio::awaitable<void> container_logs(const PathParams& params, std::string_view query) {
    const std::string& ns = params.find("namespace")->second;
    const std::string& pod = params.find("pod")->second;
    const std::string& container = params.find("container")->second;
    Result<LogQuery> q = parse_log_query(query);
    if (!q.ok()) {
      co_await send(400, q.error().message());
      co_return;
    }
    Result<ContainerLogInfo> info =
        server_.logs ? server_.logs->locate(ns, pod, container, q->previous)
                     : Result<ContainerLogInfo>(Error(ErrorCode::kNotFound, "pod \"" + pod + "\" does not exist"));
    if (!info.ok()) {
      unsigned code = info.error().code() == ErrorCode::kNotFound          ? 404
                      : info.error().code() == ErrorCode::kInvalidArgument ? 400
                                                                             : 500;
      co_await send(code, info.error().message());
      co_return;
    }
    struct stat st {};
    if (::stat(info->path.c_str(), &st) != 0) {
      const std::string msg = "log of container \"" + container + "\" in pod \"" + ns + "/" + pod +
                              "\" is not available: " + info->path + " does not exist";
      co_await send(404, msg);
      co_return;
    }

    // The reply starts now; what the reader finds goes out as chunks.
    http::response<http::empty_body> res{http::status::ok, version_};
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(!close_);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(stream_, sr, kTuple);
    (void)hn;
    if (hec) {
      broken_ = true;
      co_return;
    }

    auto ls = std::make_shared<LogStream>(stream_.get_executor());
    ls->stop.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    {
      std::lock_guard lock(server_.streams_mu);
      if (server_.stopped || !ls->stop.valid()) {
        broken_ = true;
        co_return;
      }
      server_.streams.insert(ls);
    }
    logs::LogReadOptions opts = read_options(*q, std::chrono::system_clock::now());
    const std::size_t limit = server_.options.log_buffer_bytes;
    ls->reader = std::thread([ls, opts, limit, path = info->path, running = info->running] {
      logs::LogSink sink = [&](std::string_view data) {
        std::unique_lock lock(ls->mu);
        ls->cv.wait(lock, [&] { return ls->cancelled || ls->bytes < limit; });
        if (ls->cancelled) return false;
        bool was_empty = ls->chunks.empty();
        ls->chunks.emplace_back(data);
        ls->bytes += data.size();
        lock.unlock();
        if (was_empty) ls->notify_io(ls);
        return true;
      };
      logs::FollowControl follow;
      follow.stop_fd = ls->stop.get();
      follow.still_running = running ? running : [] { return false; };
      Result<void> r = stream_container_logs(path, opts, sink, follow);
      {
        std::lock_guard lock(ls->mu);
        ls->done = true;
        ls->result = std::move(r);
      }
      ls->notify_io(ls);
    });

    bool gone = false;
    for (;;) {
      // Re-arm before looking at the queue: a wake-up posted after the look is kept.
      ls->wake.expires_at(asio::steady_timer::time_point::max());
      std::deque<std::string> got;
      bool done = false;
      {
        std::lock_guard lock(ls->mu);
        got.swap(ls->chunks);
        ls->bytes = 0;
        done = ls->done;
      }
      if (!got.empty()) ls->cv.notify_all();
      for (const std::string& c : got) {
        auto chunk = http::make_chunk(asio::buffer(c));
        auto [wec, wn] = co_await asio::async_write(stream_, chunk, kTuple);
        (void)wn;
        if (wec) {
          gone = true;
          break;
        }
      }
      if (gone || done) break;
      if (q->follow) {
        // A follower may wait for output for hours: notice meanwhile that the client left.
        using namespace asio::experimental::awaitable_operators;
        auto woke = co_await (ls->wake.async_wait(kTuple) ||
                              lowest().socket().async_wait(tcp::socket::wait_read, kTuple));
        if (woke.index() == 1) gone = true;
      } else {
        (void)co_await ls->wake.async_wait(kTuple);
      }
      if (gone) break;
    }
    ls->cancel();
    for (;;) {  // the reader is quick to notice; wait for it without blocking the io thread
      ls->wake.expires_at(asio::steady_timer::time_point::max());
      {
        std::lock_guard lock(ls->mu);
        if (ls->done) break;
      }
      (void)co_await ls->wake.async_wait(kTuple);
    }
    ls->reader.join();
    {
      std::lock_guard lock(server_.streams_mu);
      server_.streams.erase(ls);
    }
    if (!ls->result.ok()) {
      std::fprintf(stderr, "kubelet server: logs of %s/%s/%s: %s\n", ns.c_str(), pod.c_str(), container.c_str(),
                   ls->result.error().to_string().c_str());
    }
    if (gone) {
      broken_ = true;
      co_return;
    }
    auto last = http::make_chunk_last();
    auto [eec, en] = co_await asio::async_write(stream_, last, kTuple);
    (void)en;
    if (eec) broken_ = true;
  }

  // /exec and /attach: the same streams, started by the ExecSource or the AttachSource.
  asio::awaitable<void> exec(const PathParams& params, std::string_view query, bool attach) {
    const std::string& ns = params.find("namespace")->second;
    const std::string& pod = params.find("pod")->second;
    const std::string& container = params.find("container")->second;
    if (attach ? !server_.attach : !server_.exec) {
      co_await send(404, "404 page not found");
      co_return;
    }
    Result<ExecQuery> q = attach ? parse_attach_query(query) : parse_exec_query(query);
    if (!q.ok()) {
      co_await send(400, q.error().message());
      co_return;
    }
    std::string_view upgrade = req_[http::field::upgrade];
    if (beast::iequals(upgrade, kSpdyUpgrade)) {
      co_await exec_spdy(ns, pod, container, *q, attach);
      co_return;
    }
    const std::string speaks = "kernlet-agent streams exec over WebSocket (" + std::string(kExecProtocolV5) + ", " +
                               std::string(kExecProtocolV4) + ") and SPDY/3.1 (" + std::string(kExecProtocolV4) + ")";
    if (!websocket::is_upgrade(req_)) {
      const std::string msg = upgrade.empty() ? "Upgrade request required: " + speaks
                                              : "unsupported upgrade \"" + std::string(upgrade) + "\": " + speaks;
      co_await send(400, msg);
      co_return;
    }
    std::optional<std::string> proto = negotiate_exec_protocol(req_[http::field::sec_websocket_protocol]);
    if (!proto) {
      const std::string msg = "none of the offered WebSocket subprotocols [" +
                              std::string(req_[http::field::sec_websocket_protocol]) + "] is supported: " + speaks;
      co_await send(400, msg);
      co_return;
    }
    // After the WebSocket the connection is done; the close handshake tears it down.
    close_ = true;
    broken_ = true;
    lowest().expires_never();  // the WebSocket keeps its own timeouts
    ExecWebSocket ws(stream_);
    ws.binary(true);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = std::chrono::seconds(120);  // pinged at half of it; kubectl pings every 5 s
    timeouts.keep_alive_pings = true;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([chosen = *proto](websocket::response_type& res) {
      res.set(http::field::sec_websocket_protocol, chosen);
      res.set(http::field::server, "kernlet-agent");
    }));
    auto [aec] = co_await ws.async_accept(req_, kTuple);
    if (aec) co_return;
    WebSocketExecTransport transport(ws, *proto == kExecProtocolV5);
    co_await run_exec(transport, ns, pod, container, *q, attach);
  }

  // The 101 that turns this connection into a SPDY/3.1 session speaking `protocol`: from
  // here on the connection is the session's until it ends. The bytes the client sent past
  // its request (already SPDY frames), or nullopt when the 101 could not be written.
  asio::awaitable<std::optional<std::string>> switch_to_spdy(std::string_view protocol) {
    close_ = true;
    broken_ = true;
    http::response<http::empty_body> res{http::status::switching_protocols, version_};
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::upgrade, kSpdyUpgrade);
    res.set(kStreamProtocolHeader, protocol);
    res.set(http::field::server, "kernlet-agent");
    lowest().expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream_, res, kTuple);
    (void)wn;
    lowest().expires_never();
    if (wec) co_return std::nullopt;
    std::string initial = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    co_return initial;
  }

  // SPDY/3.1 (kubectl before 1.30): the protocol version from X-Stream-Protocol-Version,
  // a 101, the client's streams, then the exec.
  asio::awaitable<void> exec_spdy(const std::string& ns, const std::string& pod, const std::string& container,
                                  const ExecQuery& q, bool attach) {
    std::vector<std::string> offered;
    for (auto it = req_.find(kStreamProtocolHeader); it != req_.end() && beast::iequals(it->name_string(), kStreamProtocolHeader); ++it) {
      offered.emplace_back(it->value());
    }
    const std::vector<std::string> supported = spdy_exec_protocols();
    std::optional<std::string> proto = negotiate_stream_protocol(offered, supported);
    if (!proto) {
      std::string client, server;
      for (const auto& o : offered) client += (client.empty() ? "" : " ") + o;
      for (const auto& o : supported) server += (server.empty() ? "" : " ") + o;
      const std::string msg = "unable to upgrade: unable to negotiate protocol: client supports [" + client +
                              "], server accepts [" + server + "]";
      co_await send(403, msg);
      co_return;
    }
    std::optional<std::string> initial = co_await switch_to_spdy(*proto);
    if (!initial) co_return;
    SpdyExecTransport transport(stream_, std::move(*initial));
    SpdyExecStreams want;
    want.stdin_ = q.input;
    want.stdout_ = q.output;
    want.stderr_ = q.error && !q.tty;
    want.resize = q.tty;
    Result<void> streams = co_await transport.accept_streams(want, std::chrono::seconds(30));
    if (!streams.ok()) {
      std::fprintf(stderr, "kubelet server: exec in %s/%s/%s: %s\n", ns.c_str(), pod.c_str(), container.c_str(),
                   streams.error().message().c_str());
      co_return;
    }
    co_await run_exec(transport, ns, pod, container, q, attach);
  }

  // /portForward/{namespace}/{pod}: finds the pod's network (on a worker), upgrades —
  // SPDY/3.1 with X-Stream-Protocol-Version portforward.k8s.io, or a WebSocket with
  // subprotocol SPDY/3.1+portforward.k8s.io that tunnels the same SPDY frames — then
  // serves the session (pod_port_forward.h).
  asio::awaitable<void> port_forward(const PathParams& params) {
    const std::string& ns = params.find("namespace")->second;
    const std::string& pod = params.find("pod")->second;
    if (!server_.port_forward) {
      co_await send(404, "404 page not found");
      co_return;
    }
    const std::string speaks = "kernlet-agent forwards ports over SPDY/3.1 (" + std::string(kPortForwardProtocol) +
                               ") and over a WebSocket tunnelling it (" + std::string(kPortForwardTunnelProtocol) + ")";
    std::string_view upgrade = req_[http::field::upgrade];
    const bool spdy_upgrade = beast::iequals(upgrade, kSpdyUpgrade);
    if (!spdy_upgrade && !websocket::is_upgrade(req_)) {
      const std::string msg = upgrade.empty() ? "Upgrade request required: " + speaks
                                              : "unsupported upgrade \"" + std::string(upgrade) + "\": " + speaks;
      co_await send(400, msg);
      co_return;
    }
    if (spdy_upgrade) {
      std::vector<std::string> offered;
      for (auto it = req_.find(kStreamProtocolHeader);
           it != req_.end() && beast::iequals(it->name_string(), kStreamProtocolHeader); ++it) {
        offered.emplace_back(it->value());
      }
      const std::vector<std::string> supported{std::string(kPortForwardProtocol)};
      if (!negotiate_stream_protocol(offered, supported)) {
        std::string client;
        for (const auto& o : offered) client += (client.empty() ? "" : " ") + o;
        const std::string msg = "unable to upgrade: unable to negotiate protocol: client supports [" + client +
                                "], server accepts [" + std::string(kPortForwardProtocol) + "]";
        co_await send(403, msg);
        co_return;
      }
    } else if (!offers_subprotocol(req_[http::field::sec_websocket_protocol], kPortForwardTunnelProtocol)) {
      const std::string msg = "none of the offered WebSocket subprotocols [" +
                              std::string(req_[http::field::sec_websocket_protocol]) + "] is supported: " + speaks;
      co_await send(400, msg);
      co_return;
    }
    std::shared_ptr<PortForwardSource> source = server_.port_forward;
    std::function<Result<PortForwardTarget>()> find = [source, ns, pod] { return source->find(ns, pod); };
    Result<PortForwardTarget> found = co_await run_blocking<Result<PortForwardTarget>>(server_.workers, find);
    if (!found.ok()) {
      const unsigned code = found.error().code() == ErrorCode::kNotFound ? 404
                            : found.error().code() == ErrorCode::kConflict ? 400
                                                                            : 500;
      const std::string msg = found.error().to_string();
      co_await send(code, msg);
      co_return;
    }
    auto net = std::make_shared<PortForwardTarget>(std::move(*found));
    SpdyPortForwardOptions opts;
    opts.pod = ns + "/" + pod;
    opts.uid = net->uid;
    server_.forwards.fetch_add(1);
    struct Count {
      std::atomic<std::size_t>& n;
      ~Count() { n.fetch_sub(1); }
    } count{server_.forwards};
    // After the upgrade the connection is the session's until it ends.
    close_ = true;
    broken_ = true;
    if (spdy_upgrade) {
      std::optional<std::string> initial = co_await switch_to_spdy(kPortForwardProtocol);
      if (!initial) co_return;
      TlsByteStream wire(stream_);
      co_await serve_pod_port_forward(wire, std::move(*initial), net, server_.workers, std::move(opts));
      co_return;
    }
    lowest().expires_never();  // the WebSocket keeps its own timeouts
    TunnelWebSocket ws(stream_);
    ws.binary(true);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = std::chrono::seconds(120);  // kubectl pings (SPDY) every 10 s
    timeouts.keep_alive_pings = true;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::sec_websocket_protocol, kPortForwardTunnelProtocol);
      res.set(http::field::server, "kernlet-agent");
    }));
    auto [aec] = co_await ws.async_accept(req_, kTuple);
    if (aec) co_return;
    WebSocketByteStream wire(ws);
    co_await serve_pod_port_forward(wire, std::string(), net, server_.workers, std::move(opts));
  }

  // Starts the command (or attaches) on the worker pool, then streams it over `transport`.
  asio::awaitable<void> run_exec(ExecTransport& transport, const std::string& ns, const std::string& pod,
                                 const std::string& container, const ExecQuery& query, bool attach) {
    const ExecQuery* q = &query;
    std::atomic<std::size_t>& counter = attach ? server_.attaches : server_.execs;
    counter.fetch_add(1);
    struct Count {
      std::atomic<std::size_t>& n;
      ~Count() { n.fetch_sub(1); }
    } count{counter};

    ExecOptions opts;
    opts.command = q->command;
    opts.input = q->input;
    opts.output = q->output;
    opts.error = q->error;
    opts.tty = q->tty;
    auto start = std::make_shared<ExecStart>(stream_.get_executor());
    asio::post(server_.workers, [start, source = server_.exec, attacher = server_.attach, attach, ns, pod,
                                 container, opts] {
      auto r = attach ? attacher->attach(ns, pod, container,
                                         AttachOptions{opts.input, opts.output, opts.error, opts.tty})
                      : source->exec(ns, pod, container, opts);
      {
        std::lock_guard lock(start->mu);
        start->result.emplace(std::move(r));
      }
      asio::post(start->wake.get_executor(),
                 [start] { start->wake.expires_at(asio::steady_timer::time_point::min()); });
    });
    for (;;) {
      {
        std::lock_guard lock(start->mu);
        if (start->result) break;
      }
      (void)co_await start->wake.async_wait(kTuple);
    }
    Result<std::unique_ptr<ExecProcess>> started = std::move(*start->result);
    if (!started.ok()) {
      std::string msg = started.error().message();
      co_await fail_exec_stream(transport, std::move(msg));
      co_return;
    }
    std::unique_ptr<ExecProcess> process = std::move(*started);
    std::vector<std::string> command = q->command;
    asio::thread_pool* workers = &server_.workers;
    std::function<void(std::unique_ptr<ExecProcess>)> dispose = [workers](std::unique_ptr<ExecProcess> p) {
      asio::post(*workers, [p = std::move(p)]() mutable { p.reset(); });
    };
    co_await run_exec_stream(transport, std::move(process), std::move(command), std::move(dispose));
  }

  // Arguments are views, never temporaries with destructors: GCC 12 destroys those twice
  // across a co_await (see docs/architecture.md, "GCC 12 and coroutines").
  asio::awaitable<void> send(unsigned status, std::string_view body,
                             std::string_view content_type = "text/plain; charset=utf-8") {
    http::response<http::string_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::content_type, content_type);
    if (status >= 400 && content_type.starts_with("text/plain")) res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(!close_);
    res.body() = std::string(body);
    res.prepare_payload();
    lowest().expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
    (void)n;
    lowest().expires_never();
    if (ec) broken_ = true;
  }

  asio::awaitable<void> shutdown() {
    if (!broken_) {
      lowest().expires_after(std::chrono::seconds(5));
      auto [ec] = co_await stream_.async_shutdown(kTuple);
      (void)ec;
    }
    boost::system::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  KubeletServer::Impl& server_;
  TlsStream stream_;
  Identity identity_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  unsigned version_ = 11;
  bool close_ = false;
  bool broken_ = false;
};

}  // namespace

asio::awaitable<void> KubeletServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kTuple);
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) continue;  // EMFILE and the like: the client retries
    // Asio does not open sockets close-on-exec. A connection inherited by a child the agent
    // starts (a CNI plugin, a hook) stays open while that child lives: an exec client that
    // leaves would not be seen leaving, and its session's process would not be killed.
    (void)::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    socket.set_option(tcp::no_delay(true), ec);
    set_tcp_keepalive(socket.native_handle());  // exec and log follows can be silent for hours
    asio::co_spawn(*io, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> KubeletServer::Impl::serve(tcp::socket socket) {
  TlsStream stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return;  // a scan or a client that does not trust us: nothing to answer
  Identity id = tls_identity(stream);
  Session session(*this, std::move(stream), std::move(id));
  co_await session.run();
}

KubeletServer::KubeletServer(KubeletServerOptions options, std::shared_ptr<LogSource> logs, PodLister pods,
                             SummaryProvider stats, std::shared_ptr<ExecSource> exec)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(logs), std::move(pods), std::move(stats),
                                   std::move(exec))) {}

KubeletServer::~KubeletServer() { stop(); }

void KubeletServer::set_metrics(MetricsProvider metrics) {
  impl_->metrics = std::move(metrics);
  if (impl_->metrics) impl_->router.add("GET", "/metrics", kMetrics);
}

void KubeletServer::set_attach(std::shared_ptr<AttachSource> source) { impl_->attach = std::move(source); }

std::size_t KubeletServer::active_attaches() const { return impl_->attaches.load(); }

void KubeletServer::set_port_forward(std::shared_ptr<PortForwardSource> source) {
  impl_->port_forward = std::move(source);
}

uint16_t KubeletServer::port() const { return impl_->port; }

std::size_t KubeletServer::active_port_forwards() const { return impl_->forwards.load(); }

std::size_t KubeletServer::active_execs() const { return impl_->execs.load(); }

std::size_t KubeletServer::active_log_streams() const {
  std::lock_guard lock(impl_->streams_mu);
  return impl_->streams.size();
}

Result<void> KubeletServer::start() {
  Impl& s = *impl_;
  if (s.started) return Error(ErrorCode::kInvalidArgument, "kubelet server: already started");
  KL_ASSIGN_OR_RETURN(s.tls, make_tls_context(s.options));
  const std::string where = s.options.address + ":" + std::to_string(s.options.port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(s.options.address, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "listen " + where + ": invalid address");
  tcp::endpoint ep(address, s.options.port);
  tcp::acceptor& a = *s.acceptor;
  if (a.open(ep.protocol(), ec); ec) return Error("listen " + where + ": socket", ec.value());
  if (a.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return Error("listen " + where + ": SO_REUSEADDR", ec.value());
  }
  (void)::fcntl(a.native_handle(), F_SETFD, FD_CLOEXEC);
  if (a.bind(ep, ec); ec) return Error("listen " + where + ": bind", ec.value());
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Error("listen " + where + ": listen", ec.value());
  }
  s.port = a.local_endpoint().port();
  s.started = true;
  asio::co_spawn(*s.io, s.accept_loop(), asio::detached);
  s.io_thread = std::thread([&s] { s.io->run(); });
  return Ok();
}

void KubeletServer::stop() {
  Impl& s = *impl_;
  std::set<std::shared_ptr<LogStream>> streams;
  {
    std::lock_guard lock(s.streams_mu);
    if (s.stopped) return;
    s.stopped = true;
    streams = s.streams;
  }
  for (const auto& ls : streams) ls->cancel();
  s.io->stop();
  if (s.io_thread.joinable()) s.io_thread.join();
  // Exec starts under way finish (their wake-ups go to a stopped io_context).
  s.workers.join();
  // The io thread is gone: nothing else joins these readers now.
  for (const auto& ls : streams) {
    if (ls->reader.joinable()) ls->reader.join();
  }
  {
    std::lock_guard lock(s.streams_mu);
    s.streams.clear();
  }
  streams.clear();
  // Destroying the io_context destroys the suspended connection coroutines, which closes
  // their sockets: clients see the connection end instead of hanging.
  s.acceptor.reset();
  s.io.reset();
}

}  // namespace kernlet::agent
