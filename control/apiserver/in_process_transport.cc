// InProcessTransport: see in_process_transport.h.
#include "control/apiserver/in_process_transport.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "api/status.h"

namespace kernlet::apiserver {
namespace detail {

// One request in flight: what the handler reads, and where its answer lands: a thread
// waiting in wait(), or a callback (start_round_trip). Shared by the caller and the
// coroutine, so either may give up first.
class InProcessCall final : public Responder {
 public:
  InProcessCall() = default;
  explicit InProcessCall(client::ResponseCallback done) : has_callback_(true), done_(std::move(done)) {}

  Request request;

  // The answer, or the error, once there is one (calls without a callback only).
  Result<client::Response> wait(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_until(lk, deadline, [&] { return answer_.has_value(); })) {
      return Error(ErrorCode::kDeadlineExceeded, "no answer from the in-process API server in time");
    }
    return std::move(*answer_);
  }

  // The handler returned (or threw): a handler that sent nothing gets HttpServer's 500.
  void finish(std::exception_ptr thrown) {
    if (thrown) {
      set(status_answer(api::Status::internal_error("the request handler failed")));
    } else {
      set(status_answer(api::Status::internal_error("handler sent no response")));
    }
  }
  // The coroutine was dropped unrun (the io_context stopped).
  void abandon() { set(Error(ErrorCode::kUnavailable, "the in-process API server stopped")); }

  asio::awaitable<Result<void>> send(Response response) override {
    client::Response r;
    r.status = static_cast<int>(response.status);
    r.content_type = std::move(response.content_type);
    r.body = std::move(response.body);
    if (request.msg.method() == http::verb::head) r.body.clear();
    if (!set(std::move(r))) co_return Error(ErrorCode::kInternal, "response already sent");
    co_return Ok();
  }
  // Watches and other streams are HTTP-only (see the header): the caller gets a 500 that
  // says so, and the handler sees a client that went away.
  asio::awaitable<Result<void>> begin_stream(unsigned status, std::string content_type) override {
    (void)status;
    (void)content_type;
    set(status_answer(api::Status::internal_error("streaming responses are not carried in-process; use HTTP")));
    co_return Error(ErrorCode::kUnavailable, "streaming responses are not carried in-process");
  }
  asio::awaitable<Result<void>> write_chunk(std::string_view data) override {
    (void)data;
    co_return Error(ErrorCode::kUnavailable, "stream is closed");
  }
  asio::awaitable<Result<void>> end_stream() override { co_return Ok(); }

  static client::Response status_answer(const api::Status& s) {
    client::Response r;
    r.status = s.code();
    r.content_type = "application/json";
    r.body = s.to_json_string();
    return r;
  }

  // The first answer wins; false when there was one already. A callback runs on the
  // answering thread, outside the lock.
  bool set(Result<client::Response> answer) {
    if (has_callback_) {
      if (answered_.exchange(true, std::memory_order_acq_rel)) return false;
      client::ResponseCallback done = std::move(done_);
      done(std::move(answer));
      return true;
    }
    std::lock_guard lk(mu_);
    if (answer_.has_value()) return false;
    answer_.emplace(std::move(answer));
    cv_.notify_all();
    return true;
  }

 private:
  // Fixed at construction, so a second set() never reads done_ while the first moves it.
  const bool has_callback_ = false;
  client::ResponseCallback done_;  // has_callback_: answered through it, never through wait()
  std::atomic<bool> answered_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Result<client::Response>> answer_;
};

}  // namespace detail
namespace {

using Call = detail::InProcessCall;

// Destroyed with the last copy of the coroutine's completion handler: when that never ran,
// the call is answered with an error instead of waiting out its deadline.
// Never copied: a copy's destructor would answer the call before the handler ran.
struct AbandonGuard {
  explicit AbandonGuard(std::shared_ptr<Call> c) : call(std::move(c)) {}
  AbandonGuard(const AbandonGuard&) = delete;
  AbandonGuard& operator=(const AbandonGuard&) = delete;
  ~AbandonGuard() { call->abandon(); }
  std::shared_ptr<Call> call;
};

asio::awaitable<void> serve(std::shared_ptr<Handler> handler, std::shared_ptr<Call> call) {
  co_await handler->handle(call->request, *call);
}

}  // namespace

InProcessTransport::InProcessTransport(std::shared_ptr<Handler> handler, asio::io_context& io,
                                       InProcessTransportOptions options)
    : handler_(std::move(handler)), io_(io), options_(std::move(options)) {}

InProcessTransport::InProcessTransport(std::shared_ptr<ApiServer> api, asio::io_context& io,
                                       InProcessTransportOptions options)
    : handler_(api), api_(std::move(api)), io_(io), options_(std::move(options)) {}

Result<std::unique_ptr<client::WatchStream>> InProcessTransport::watch(const std::string& target) {
  if (!api_) return Error(ErrorCode::kUnimplemented, "in-process watches need an ApiServer");
  if (io_.stopped()) return Error(ErrorCode::kUnavailable, "the in-process API server stopped");
  auto w = api_->watch_in_process(target);
  if (w.ok()) watches_.fetch_add(1, std::memory_order_relaxed);
  return w;
}

Result<void> InProcessTransport::prepare(detail::InProcessCall& call, std::string_view method, const std::string& target,
                                         std::string body, std::string_view content_type) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    return Error(ErrorCode::kInvalidArgument, "unknown method \"" + std::string(method) + "\"");
  }
  if (io_.stopped()) return Error(ErrorCode::kUnavailable, "the in-process API server stopped");
  // The request as HttpServer's parser hands it over from a RestClient.
  http::request<http::string_body>& msg = call.request.msg;
  msg.method(verb);
  msg.target(target);
  msg.version(11);
  msg.set(http::field::host, "in-process");
  msg.set(http::field::user_agent, options_.user_agent);
  msg.set(http::field::accept, "application/json");
  if (!body.empty()) {
    msg.set(http::field::content_type, content_type);
    msg.body() = std::move(body);
  }
  msg.keep_alive(true);
  msg.prepare_payload();
  call.request.identity = options_.identity;
  call.request.remote = "in-process";
  return Ok();
}

void InProcessTransport::dispatch(std::shared_ptr<detail::InProcessCall> call) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  // A strand per request, as each HTTP connection has one: the handler's completions post
  // back to it.
  auto guard = std::make_shared<AbandonGuard>(call);
  asio::co_spawn(asio::make_strand(io_), serve(handler_, std::move(call)),
                 [guard = std::move(guard)](std::exception_ptr thrown) { guard->call->finish(thrown); });
}

Result<client::Response> InProcessTransport::round_trip(std::string_view method, const std::string& target,
                                                        std::string_view body, std::string_view content_type) {
  if (body.size() > options_.body_limit) {
    return Call::status_answer(api::Status::request_entity_too_large(static_cast<int64_t>(options_.body_limit)));
  }
  auto call = std::make_shared<Call>();
  KL_TRY(prepare(*call, method, target, std::string(body), content_type));
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  dispatch(call);
  return call->wait(deadline);
}

bool InProcessTransport::start_round_trip(std::string_view method, const std::string& target, std::string body,
                                          std::string_view content_type, client::ResponseCallback& done) {
  if (body.size() > options_.body_limit) {
    auto answer = Call::status_answer(api::Status::request_entity_too_large(static_cast<int64_t>(options_.body_limit)));
    std::exchange(done, nullptr)(std::move(answer));
    return true;
  }
  auto call = std::make_shared<Call>(std::exchange(done, nullptr));
  if (auto r = prepare(*call, method, target, std::move(body), content_type); !r.ok()) {
    call->set(std::move(r).error());
    return true;
  }
  dispatch(std::move(call));
  return true;
}

}  // namespace kernlet::apiserver
