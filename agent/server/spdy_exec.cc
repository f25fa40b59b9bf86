#include "agent/server/spdy_exec.h"

#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>

#include "agent/server/exec_protocol.h"

namespace kernlet::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<std::string> spdy_exec_protocols() { return {std::string(kExecProtocolV4)}; }

std::optional<std::string> negotiate_stream_protocol(const std::vector<std::string>& offered,
                                                     const std::vector<std::string>& supported) {
  for (const std::string& header : offered) {
    std::string_view rest = header;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view one = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      for (const std::string& s : supported) {
        if (one == s) return s;
      }
    }
  }
  return std::nullopt;
}

asio::awaitable<bool> SpdyExecTransport::write(std::string_view bytes) {
  co_await turn_.acquire();
  bool ok = !gone_;
  if (ok) {
    auto [ec, n] = co_await asio::async_write(s_, asio::buffer(bytes), kTuple);
    (void)n;
    if (ec) gone_ = true;
    ok = !ec;
  }
  turn_.release();
  co_return ok;
}

asio::awaitable<void> SpdyExecTransport::protocol_error(std::string_view why) {
  std::fprintf(stderr, "kubelet server: SPDY exec: %.*s\n", static_cast<int>(why.size()), why.data());
  spdy::Frame g;
  g.type = spdy::FrameType::kGoAway;
  g.stream_id = last_stream_;
  g.status = spdy::kGoAwayProtocolError;
  auto bytes = spdy::encode_frame(g);
  if (bytes.ok()) (void)co_await write(*bytes);
  gone_ = true;
}

asio::awaitable<std::optional<spdy::Frame>> SpdyExecTransport::read_frame() {
  for (;;) {
    if (gone_) co_return std::nullopt;
    std::size_t used = 0;
    auto f = spdy::decode_frame(rbuf_, &used);
    if (!f.ok()) {
      const std::string why = f.error().message();
      co_await protocol_error(why);
      co_return std::nullopt;
    }
    if (*f) {
      rbuf_.erase(0, used);
      co_return std::move(**f);
    }
    char chunk[16 * 1024];
    auto [ec, n] = co_await s_.async_read_some(asio::buffer(chunk), kTuple);
    rbuf_.append(chunk, n);
    if (ec && n == 0) {
      gone_ = true;
      co_return std::nullopt;
    }
  }
}

asio::awaitable<bool> SpdyExecTransport::handle(spdy::Frame& f) {
  using spdy::FrameType;
  switch (f.type) {
    case FrameType::kSynStream: {
      auto h = inflate_.decompress(f.payload);
      if (!h.ok()) {
        const std::string why = "SYN_STREAM " + std::to_string(f.stream_id) + ": " + h.error().message();
        co_await protocol_error(why);
        co_return false;
      }
      if (f.stream_id <= last_stream_ || f.stream_id % 2 == 0) {
        const std::string why = "SYN_STREAM with stream id " + std::to_string(f.stream_id) + " after " +
                                std::to_string(last_stream_) + " (client streams are odd and increasing)";
        co_await protocol_error(why);
        co_return false;
      }
      last_stream_ = f.stream_id;
      std::string type(spdy::header_value(*h, "streamtype"));
      uint32_t* slot = type == "error"    ? &error_id_
                       : type == "stdin"  ? &stdin_id_
                       : type == "stdout" ? &stdout_id_
                       : type == "stderr" ? &stderr_id_
                       : type == "resize" ? &resize_id_
                                          : nullptr;
      spdy::Frame reply;
      if (slot == nullptr || *slot != 0) {
        // Unknown or repeated: refuse this stream, keep the session.
        std::fprintf(stderr, "kubelet server: SPDY exec: refusing stream %u of type \"%s\"\n", f.stream_id,
                     type.c_str());
        reply.type = FrameType::kRstStream;
        reply.stream_id = f.stream_id;
        reply.status = spdy::kRefusedStream;
      } else {
        *slot = f.stream_id;
        auto block = deflate_.compress({});
        if (!block.ok()) {
          const std::string why = block.error().message();
          co_await protocol_error(why);
          co_return false;
        }
        reply.type = FrameType::kSynReply;
        reply.stream_id = f.stream_id;
        reply.payload = std::move(*block);
      }
      auto bytes = spdy::encode_frame(reply);
      if (!bytes.ok() || !co_await write(*bytes)) co_return false;
      if (f.fin() && slot != nullptr && *slot == stdin_id_ && stdin_id_ != 0) {
        pending_.push_back(ClientMessage{kChannelClose, std::string(1, static_cast<char>(kChannelStdin))});
      }
      co_return true;
    }
    case FrameType::kData:
      if (f.stream_id == stdin_id_ && stdin_id_ != 0) {
        if (!f.payload.empty()) pending_.push_back(ClientMessage{kChannelStdin, std::move(f.payload)});
        if (f.fin()) pending_.push_back(ClientMessage{kChannelClose, std::string(1, static_cast<char>(kChannelStdin))});
      } else if (f.stream_id == resize_id_ && resize_id_ != 0) {
        // A JSON encoder's output: one object per line, a line possibly split across frames.
        resize_buf_ += f.payload;
        for (std::size_t nl; (nl = resize_buf_.find('\n')) != std::string::npos;) {
          pending_.push_back(ClientMessage{kChannelResize, resize_buf_.substr(0, nl)});
          resize_buf_.erase(0, nl + 1);
        }
        if (resize_buf_.size() > 4096) resize_buf_.clear();  // not sizes: drop rather than grow
      }
      co_return true;  // data on the error stream or a refused one is ignored
    case FrameType::kRstStream:
      if (f.stream_id == stdin_id_ && stdin_id_ != 0) {
        pending_.push_back(ClientMessage{kChannelClose, std::string(1, static_cast<char>(kChannelStdin))});
      }
      co_return true;
    case FrameType::kPing: {
      if (f.ping_id % 2 == 0) co_return true;  // an answer to a ping of ours (we send none)
      auto bytes = spdy::encode_frame(f);
      if (!bytes.ok()) co_return false;
      co_return co_await write(*bytes);
    }
    case FrameType::kGoAway:
      gone_ = true;  // the client ends the connection
      co_return false;
    case FrameType::kHeaders:
      if (auto h = inflate_.decompress(f.payload); !h.ok()) {  // keeps the zlib state in step
        const std::string why = "HEADERS: " + h.error().message();
        co_await protocol_error(why);
        co_return false;
      }
      co_return true;
    default:  // SETTINGS, WINDOW_UPDATE, SYN_REPLY (we open no streams), unknown types
      co_return true;
  }
}

asio::awaitable<Result<void>> SpdyExecTransport::accept_streams(SpdyExecStreams want, std::chrono::seconds timeout) {
  auto& tcp = beast::get_lowest_layer(s_);
  tcp.expires_after(timeout);
  auto complete = [&] {
    return error_id_ != 0 && (!want.stdin_ || stdin_id_ != 0) && (!want.stdout_ || stdout_id_ != 0) &&
           (!want.stderr_ || stderr_id_ != 0) && (!want.resize || resize_id_ != 0);
  };
  while (!complete()) {
    std::optional<spdy::Frame> f = co_await read_frame();
    if (!f) break;
    if (!co_await handle(*f)) break;
  }
  tcp.expires_never();
  if (complete()) co_return Ok();
  std::string missing;
  auto add = [&](bool wanted, uint32_t id, const char* name) {
    if (wanted && id == 0) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  add(true, error_id_, "error");
  add(want.stdin_, stdin_id_, "stdin");
  add(want.stdout_, stdout_id_, "stdout");
  add(want.stderr_, stderr_id_, "stderr");
  add(want.resize, resize_id_, "resize");
  gone_ = true;
  co_return Error(ErrorCode::kDeadlineExceeded, "SPDY exec: the client did not open the streams [" + missing +
                                                    "] within " + std::to_string(timeout.count()) + " s");
}

asio::awaitable<bool> SpdyExecTransport::send(uint8_t channel, std::string_view data) {
  const uint32_t id = channel == kChannelStdout ? stdout_id_
                      : channel == kChannelStderr ? stderr_id_
                      : channel == kChannelError  ? error_id_
                                                  : 0;
  if (gone_) co_return false;
  if (id == 0) co_return true;  // a stream the client did not open: nobody to tell
  spdy::Frame f;
  f.type = spdy::FrameType::kData;
  f.stream_id = id;
  f.payload = std::string(data);
  auto bytes = spdy::encode_frame(f);
  if (!bytes.ok()) co_return false;
  co_return co_await write(*bytes);
}

asio::awaitable<std::optional<ClientMessage>> SpdyExecTransport::receive() {
  for (;;) {
    if (!pending_.empty()) {
      ClientMessage m = std::move(pending_.front());
      pending_.pop_front();
      co_return m;
    }
    std::optional<spdy::Frame> f = co_await read_frame();
    if (!f) co_return std::nullopt;
    if (closing_) continue;  // after our GOAWAY: only waiting for the client to hang up
    if (!co_await handle(*f)) co_return std::nullopt;
  }
}

asio::awaitable<void> SpdyExecTransport::close() {
  closing_ = true;
  std::string out;
  for (uint32_t id : {stdout_id_, stderr_id_, error_id_}) {
    if (id == 0) continue;
    spdy::Frame fin;
    fin.type = spdy::FrameType::kData;
    fin.stream_id = id;
    fin.flags = spdy::kFlagFin;
    out += *spdy::encode_frame(fin);
  }
  spdy::Frame g;
  g.type = spdy::FrameType::kGoAway;
  g.stream_id = last_stream_;
  g.status = spdy::kGoAwayOk;
  out += *spdy::encode_frame(g);
  if (!co_await write(out)) co_return;
  // The client closes once it has read the status and the ends of its streams; a close of
  // ours now could reset what it has not read yet. The pending receive() reads (and drops)
  // its frames until it hangs up, or for 5 s.
  beast::get_lowest_layer(s_).expires_after(std::chrono::seconds(5));
}

}  // namespace kernlet::agent
