// InProcessTransport: a RestClient's requests handed straight to the API server's request
// handler in the same process, for the components kernlet-control runs inside itself (the
// scheduler). kube-scheduler cannot do this — it is always a separate process — but a
// component that lives next to its API server can skip the loopback HTTP round trip:
// the request is built as Beast's parser would have built it and run through the same
// Handler::handle (authentication, request parsing, admission, validation, the binding
// subresource's semantics, the store's conditional writes and group commit, the watch
// cache), on a strand of the HTTP server's io_context as a connection's requests are.
// What it saves is the transport only: no socket, no HTTP framing, no per-I/O timers,
// no keep-alive pool. Answers (also errors: 404, 409, 422, ...) are the handler's, byte
// for byte, so a client sees the same resourceVersions, conflicts and Status bodies.
//
// Watches are carried when the transport is built on an ApiServer: watch() serves them
// from its watch cache (ApiServer::watch_in_process, in_process_watch.h) with decoded,
// shared objects instead of a JSON stream; built on any other Handler, or for what the
// cache cannot serve, watch() answers kUnimplemented and the RestClient watches over HTTP.
// Other streaming answers (logs -f) and upgrades are not carried: a request whose handler
// streams gets a 500.
//
// Thread-safety: round_trip may be called from any number of threads at once; each call
// blocks its thread until the handler has answered or the deadline passed.
// start_round_trip does not block: the answer goes to a callback on an io thread, which
// saves the caller's thread and its wake-up per request (the scheduler's bindings). The handler and
// the io_context must outlive the transport's last call.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "api/client/rest_client.h"
#include "control/apiserver/api_server.h"
#include "control/apiserver/http_server.h"

namespace kernlet::apiserver {

namespace detail {
class InProcessCall;  // one request in flight (in_process_transport.cc)
}

struct InProcessTransportOptions {
  // Who the requests come from, as a verified client certificate would have said.
  Identity identity{true, "kernlet-admin", {"system:masters"}};
  std::string user_agent = "kernlet-control";
  std::size_t body_limit = 3 * 1024 * 1024;  // larger bodies get 413, as HttpServer answers
  // How long a call waits for its answer. Past it the call fails with kDeadlineExceeded;
  // the request may still complete (as when an HTTP client times out).
  std::chrono::milliseconds timeout{30'000};
};

class InProcessTransport final : public client::Transport {
 public:
  // `io` runs the handler's coroutines (the HttpServer's io_context, so that its stop()
  // and the handler's drain() cover in-process requests too).
  InProcessTransport(std::shared_ptr<Handler> handler, asio::io_context& io, InProcessTransportOptions options = {});
  // The same on an ApiServer, whose watch cache also serves watch().
  InProcessTransport(std::shared_ptr<ApiServer> api, asio::io_context& io, InProcessTransportOptions options = {});

  // Runs one request through the handler and returns its answer. Errors: unknown method
  // (kInvalidArgument), no answer before the deadline (kDeadlineExceeded), the io_context
  // stopped before answering (kUnavailable).
  Result<client::Response> round_trip(std::string_view method, const std::string& target, std::string_view body,
                                      std::string_view content_type) override;

  // The same without blocking a thread: `done` gets the answer on an io thread of `io`
  // (no deadline: the handler always answers, and a stopping io_context answers
  // kUnavailable). Always takes the request.
  bool carries_async() const override { return true; }
  bool start_round_trip(std::string_view method, const std::string& target, std::string body,
                        std::string_view content_type, client::ResponseCallback& done) override;

  // A watch served by the ApiServer's watch cache (see ApiServer::watch_in_process);
  // kUnimplemented without an ApiServer or for what it cannot serve in-process.
  Result<std::unique_ptr<client::WatchStream>> watch(const std::string& target) override;

  // Requests handed to the handler so far, and watches served in-process (tests, metrics).
  int64_t requests() const { return requests_.load(); }
  int64_t watches() const { return watches_.load(); }

 private:
  // Builds the request as HttpServer's parser would (errors: unknown method, stopped).
  Result<void> prepare(detail::InProcessCall& call, std::string_view method, const std::string& target, std::string body,
                       std::string_view content_type);
  // Runs it through the handler on a strand of its own.
  void dispatch(std::shared_ptr<detail::InProcessCall> call);

  std::shared_ptr<Handler> handler_;
  std::shared_ptr<ApiServer> api_;  // null: watches go over HTTP
  asio::io_context& io_;
  InProcessTransportOptions options_;
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> watches_{0};
};

}  // namespace kernlet::apiserver
