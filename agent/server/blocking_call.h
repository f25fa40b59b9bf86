// run_blocking: runs a blocking function on a thread pool and resumes the calling
// coroutine on its own executor with the result. The io thread never blocks; the result
// is handed over under a mutex and the coroutine is woken by setting a timer to have
// expired (which also completes a wait that starts after the wake-up).
// Thread-safe; the calling coroutine must run on an io_context that outlives the call or
// is stopped (a stopped context drops the wake-up, and the coroutine with it).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kernlet::agent {

// `fn` is taken by reference (moved from): a by-value argument would be a temporary across
// the co_await (see docs/architecture.md, "GCC 12 and coroutines").
template <typename T>
boost::asio::awaitable<T> run_blocking(boost::asio::thread_pool& pool, std::function<T()>& fn) {
  namespace asio = boost::asio;
  struct Call {
    explicit Call(const asio::any_io_executor& ex) : wake(ex, asio::steady_timer::time_point::max()) {}
    std::mutex mu;
    std::optional<T> result;
    asio::steady_timer wake;  // the caller's executor only
  };
  asio::any_io_executor ex = co_await asio::this_coro::executor;
  auto call = std::make_shared<Call>(ex);
  asio::post(pool, [call, f = std::move(fn)] {
    T r = f();
    {
      std::lock_guard lock(call->mu);
      call->result.emplace(std::move(r));
    }
    asio::post(call->wake.get_executor(), [call] { call->wake.expires_at(asio::steady_timer::time_point::min()); });
  });
  for (;;) {
    {
      std::lock_guard lock(call->mu);
      if (call->result) break;
    }
    (void)co_await call->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  T out = std::move(*call->result);
  co_return out;
}

}  // namespace kernlet::agent
