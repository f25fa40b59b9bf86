#include "agent/server/pod_port_forward.h"

#include <fcntl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "agent/server/blocking_call.h"
#include "agent/server/netns_dial.h"

namespace kernlet::agent {
namespace {
namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kConnectTimeout{10};

// Waits for the pod's sandbox to end and stops the session then; finished() once its
// coroutine is over (the session must outlive it).
struct PodWatch {
  PodWatch(const asio::any_io_executor& ex, int fd) : pidfd(ex, fd), done(ex, asio::steady_timer::time_point::max()) {}
  asio::posix::stream_descriptor pidfd;
  asio::steady_timer done;
  bool finished = false;
  SpdyPortForward* session = nullptr;
};

}  // namespace

asio::awaitable<void> serve_pod_port_forward(ByteStream& wire, std::string initial, std::shared_ptr<PortForwardTarget> pod,
                                             asio::thread_pool& workers, SpdyPortForwardOptions options) {
  auto ex = co_await asio::this_coro::executor;
  asio::thread_pool* pool = &workers;
  PodDialer dial = [pod, pool](uint16_t port) -> asio::awaitable<Result<UniqueFd>> {
    std::function<Result<UniqueFd>()> fn = [pod, port] {
      return dial_pod_loopback(pod->netns.get(), port, kConnectTimeout);
    };
    Result<UniqueFd> r = co_await run_blocking<Result<UniqueFd>>(*pool, fn);
    co_return r;
  };
  SpdyPortForward session(wire, std::move(initial), std::move(dial), std::move(options));

  std::shared_ptr<PodWatch> watch;
  int copy = pod->pidfd.valid() ? ::fcntl(pod->pidfd.get(), F_DUPFD_CLOEXEC, 3) : -1;
  if (copy >= 0) {
    watch = std::make_shared<PodWatch>(ex, copy);
    watch->session = &session;
    asio::co_spawn(
        ex,
        [watch]() -> asio::awaitable<void> {
          auto [ec] = co_await watch->pidfd.async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
          if (!ec && watch->session != nullptr) watch->session->stop();
          watch->finished = true;
          watch->done.expires_at(asio::steady_timer::time_point::min());
        },
        asio::detached);
  }
  co_await session.run();
  if (watch) {
    watch->session = nullptr;
    boost::system::error_code ec;
    watch->pidfd.cancel(ec);
    while (!watch->finished) (void)co_await watch->done.async_wait(kTuple);
  }
}

}  // namespace kernlet::agent
