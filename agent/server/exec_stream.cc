#include "agent/server/exec_stream.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cerrno>
#include <deque>
#include <optional>

#include "agent/server/exec_protocol.h"

namespace kernlet::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Descriptor = asio::posix::stream_descriptor;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A descriptor on a dup of `fd` (the process object keeps its own), or none for -1.
std::optional<Descriptor> watch_fd(const asio::any_io_executor& ex, int fd) {
  if (fd < 0) return std::nullopt;
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return std::nullopt;
  Descriptor d(ex, copy);
  boost::system::error_code ec;
  d.non_blocking(true, ec);
  return d;
}

class Exec {
 public:
  Exec(ExecTransport& t, ExecProcess& p, const std::vector<std::string>& command)
      : t_(t), p_(p), command_(command) {}

  asio::awaitable<void> run() {
    auto ex = co_await asio::this_coro::executor;
    if (p_.tty_fd() >= 0) {
      // The terminal's output comes from the master, or (attach) from the process's own
      // output stream; input and resizes go to the master.
      tty_in_ = watch_fd(ex, p_.tty_fd());
      out_ = watch_fd(ex, p_.stdout_fd() >= 0 ? p_.stdout_fd() : p_.tty_fd());
    } else {
      in_ = watch_fd(ex, p_.stdin_fd());
      out_ = watch_fd(ex, p_.stdout_fd());
      err_ = watch_fd(ex, p_.stderr_fd());
    }
    exit_ = watch_fd(ex, p_.pidfd());
    if (!exit_) {
      p_.kill();
      co_return;
    }
    using namespace asio::experimental::awaitable_operators;
    co_await (read_client() && finish());
  }

 private:
  // Sends one message; false once the client is gone.
  asio::awaitable<bool> send(uint8_t channel, std::string_view data) {
    if (gone_) co_return false;
    bool ok = co_await t_.send(channel, data);
    if (!ok) gone_ = true;
    co_return ok;
  }

  // Output of one fd to `channel`: reads whatever is there, then waits for more. After the
  // process has exited, what is left in the pipe is sent and the pump stops (a background
  // child that keeps the pipe open is not waited for, as with the runtime's exec probes).
  asio::awaitable<void> pump(std::optional<Descriptor>& d, uint8_t channel) {
    if (!d) co_return;
    std::string buf(32 * 1024, '\0');
    for (;;) {
      bool eof = false;
      for (;;) {
        ssize_t n = ::read(d->native_handle(), buf.data(), buf.size());
        if (n > 0) {
          // A client that is gone gets nothing more, but the pipe is still drained so the
          // process never blocks on it before it is killed.
          if (!gone_) (void)co_await send(channel, std::string_view(buf.data(), static_cast<std::size_t>(n)));
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        eof = true;  // 0, or EIO from a pty master whose last slave fd is closed
        break;
      }
      if (eof || exited_) co_return;
      auto [ec] = co_await d->async_wait(Descriptor::wait_read, kTuple);
      (void)ec;  // cancelled when the process exits: drain once more, then stop
    }
  }

  asio::awaitable<void> watch_exit() {
    auto [ec] = co_await exit_->async_wait(Descriptor::wait_read, kTuple);
    (void)ec;
    exited_ = true;
    boost::system::error_code ignore;
    if (out_) out_->cancel(ignore);
    if (err_) err_->cancel(ignore);
  }

  // The process's end: output drained, status sent, WebSocket closed.
  asio::awaitable<void> finish() {
    using namespace asio::experimental::awaitable_operators;
    co_await (watch_exit() && pump(out_, kChannelStdout) && pump(err_, kChannelStderr));
    Result<int> code = p_.reap();
    std::string status = code.ok() ? exit_status_json(*code, command_) : error_status_json(code.error().message());
    (void)co_await send(kChannelError, status);
    done_ = true;
    if (!gone_) co_await t_.close();
  }

  void close_stdin() {
    if (!in_) return;
    boost::system::error_code ec;
    in_->close(ec);
    in_.reset();
    p_.close_stdin();
  }

  // What the client sends: stdin, resize, close signals. Ends when the WebSocket closes;
  // a client that leaves before the status was sent gets its process killed.
  asio::awaitable<void> read_client() {
    for (;;) {
      std::optional<ClientMessage> m = co_await t_.receive();
      if (!m) break;
      switch (m->channel) {
        case kChannelStdin: {
          Descriptor* in = p_.tty_fd() >= 0 ? (tty_in_ ? &*tty_in_ : nullptr) : (in_ ? &*in_ : nullptr);
          if (in == nullptr || m->data.empty()) break;
          auto [wec, wn] = co_await asio::async_write(*in, asio::buffer(m->data.data(), m->data.size()), kTuple);
          (void)wn;
          if (wec && p_.tty_fd() < 0) close_stdin();  // the command closed its stdin (EPIPE)
          break;
        }
        case kChannelResize: {
          if (p_.tty_fd() < 0) break;
          auto size = parse_resize(m->data);
          if (!size.ok()) break;
          struct winsize ws {};
          ws.ws_col = size->width;
          ws.ws_row = size->height;
          (void)::ioctl(p_.tty_fd(), TIOCSWINSZ, &ws);
          break;
        }
        case kChannelClose:
          // v5: the client has no more input. (A v4 client cannot say so; its stdin stays
          // open until the command ends.) A terminal keeps its input: EOF there is ^D.
          if (t_.stdin_eof_signalled() && !m->data.empty() && static_cast<uint8_t>(m->data.front()) == kChannelStdin) close_stdin();
          break;
        default:
          break;
      }
    }
    if (!done_) {
      gone_ = true;
      p_.kill();
    }
    close_stdin();
  }

  ExecTransport& t_;
  ExecProcess& p_;
  const std::vector<std::string>& command_;
  std::optional<Descriptor> in_, tty_in_, out_, err_, exit_;
  bool exited_ = false;  // the pidfd turned readable
  bool done_ = false;    // the status has been sent
  bool gone_ = false;    // the client left or a write failed
};

}  // namespace

asio::awaitable<bool> WebSocketExecTransport::send(uint8_t channel, std::string_view data) {
  std::string msg = frame_message(channel, data);
  co_await turn_.acquire();
  auto [ec, w] = co_await ws_.async_write(asio::buffer(msg), kTuple);
  (void)w;
  turn_.release();
  co_return !ec;
}

asio::awaitable<std::optional<ClientMessage>> WebSocketExecTransport::receive() {
  for (;;) {
    beast::flat_buffer buf;
    auto [ec, n] = co_await ws_.async_read(buf, kTuple);
    (void)n;
    if (ec) co_return std::nullopt;
    std::string message = beast::buffers_to_string(buf.data());
    auto m = parse_message(message);
    if (!m.ok()) continue;
    co_return ClientMessage{m->channel, std::string(m->data)};
  }
}

asio::awaitable<void> WebSocketExecTransport::close() {
  co_await turn_.acquire();
  // The close reads the client's answering close frame, then ends the connection.
  auto [ec] = co_await ws_.async_close(websocket::close_code::normal, kTuple);
  (void)ec;
  turn_.release();
}

asio::awaitable<void> run_exec_stream(ExecTransport& transport, std::unique_ptr<ExecProcess> process,
                                      std::vector<std::string> command,
                                      std::function<void(std::unique_ptr<ExecProcess>)> dispose) {
  {
    Exec exec(transport, *process, command);
    co_await exec.run();
  }
  dispose(std::move(process));
}

asio::awaitable<void> fail_exec_stream(ExecTransport& transport, std::string message) {
  std::string status = error_status_json(message);
  if (co_await transport.send(kChannelError, status)) co_await transport.close();
}

}  // namespace kernlet::agent
