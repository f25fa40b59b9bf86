// WriteTurn: one writer at a time on a stream that allows one outstanding write (a Beast
// WebSocket, a TLS stream carrying SPDY frames); waiters get the turn in the order they
// asked. Io thread only; not thread-safe.
#pragma once

#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kernlet::agent {

class WriteTurn {
 public:
  boost::asio::awaitable<void> acquire() {
    if (!held_) {
      held_ = true;
      co_return;
    }
    boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor,
                                   boost::asio::steady_timer::time_point::max());
    waiters_.push_back(&wait);
    // release() hands the turn over by cancelling the wait.
    (void)co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  void release() {
    if (waiters_.empty()) {
      held_ = false;
      return;
    }
    boost::asio::steady_timer* next = waiters_.front();
    waiters_.pop_front();
    next->cancel();
  }

 private:
  bool held_ = false;
  std::deque<boost::asio::steady_timer*> waiters_;
};

}  // namespace kernlet::agent
