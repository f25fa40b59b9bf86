#include "agent/server/spdy_port_forward.h"

#include <sys/socket.h>

#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace kernlet::agent {

namespace asio = boost::asio;
using Descriptor = asio::posix::stream_descriptor;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 32 * 1024;
}  // namespace

// One forwarded connection: a complete pair and, once dialed, the pod socket.
struct SpdyPortForward::Forward {
  PortForwardPair pair;
  std::optional<Descriptor> pod;
  std::string early;          // client bytes that came while dialing
  bool ready = false;         // dialed and `early` written: client bytes go straight to the pod
  bool client_fin = false;    // the client half-closed its side (FIN on the data stream)
  bool reset = false;         // the client reset the data stream, or the session is ending
  bool pod_eof = false;       // the pod side ended (EOF or error); FIN sent on the data stream
  bool finished = false;      // the error stream got its FIN; the pair is forgotten
  std::unique_ptr<asio::steady_timer> wake;  // the client side is done

  bool pod_open() const { return pod && pod->is_open(); }
  // Closing cancels what is pending on the socket; the object stays (a pending operation
  // still refers to it until its handler has run).
  void close_pod() {
    if (!pod_open()) return;
    boost::system::error_code ec;
    pod->close(ec);
  }
  void poke() {
    if (wake) wake->expires_at(asio::steady_timer::time_point::min());
  }
};

SpdyPortForward::SpdyPortForward(ByteStream& wire, std::string initial, PodDialer dial,
                                 SpdyPortForwardOptions options)
    : wire_(wire), rbuf_(std::move(initial)), dial_(std::move(dial)), options_(std::move(options)) {}

SpdyPortForward::~SpdyPortForward() = default;

void SpdyPortForward::spawn(asio::awaitable<void> work) {
  ++live_;
  auto ex = quiet_->get_executor();
  asio::co_spawn(ex, std::move(work), [this](const std::exception_ptr&) {
    if (--live_ == 0) quiet_->expires_at(asio::steady_timer::time_point::min());
  });
}

asio::awaitable<bool> SpdyPortForward::send_frame(const spdy::Frame& f) {
  auto bytes = spdy::encode_frame(f);
  if (!bytes.ok()) co_return false;
  co_await turn_.acquire();
  bool ok = !gone_;
  if (ok) {
    ok = co_await wire_.write_all(*bytes);
    if (!ok) gone_ = true;
  }
  turn_.release();
  co_return ok;
}

asio::awaitable<bool> SpdyPortForward::send_data(uint32_t stream, std::string_view data, bool fin) {
  spdy::Frame f;
  f.type = spdy::FrameType::kData;
  f.stream_id = stream;
  f.flags = fin ? spdy::kFlagFin : 0;
  f.payload = std::string(data);
  co_return co_await send_frame(f);
}

asio::awaitable<void> SpdyPortForward::send_rst(uint32_t stream, uint32_t status) {
  spdy::Frame f;
  f.type = spdy::FrameType::kRstStream;
  f.stream_id = stream;
  f.status = status;
  (void)co_await send_frame(f);
}

asio::awaitable<void> SpdyPortForward::protocol_error(std::string_view why) {
  std::fprintf(stderr, "kubelet server: port-forward to %s: %.*s\n", options_.pod.c_str(), static_cast<int>(why.size()),
               why.data());
  spdy::Frame g;
  g.type = spdy::FrameType::kGoAway;
  g.stream_id = last_stream_;
  g.status = spdy::kGoAwayProtocolError;
  (void)co_await send_frame(g);
  gone_ = true;
}

void SpdyPortForward::finish(Forward& fw) {
  fw.finished = true;
  fw.close_pod();
  pairs_.erase(fw.pair.data_id);
}

asio::awaitable<void> SpdyPortForward::forward(std::shared_ptr<Forward> fw) {
  const uint16_t port = fw->pair.port;
  Result<UniqueFd> dialed = co_await dial_(port);
  if (!dialed.ok() || fw->reset || stopping_) {
    if (!dialed.ok() && !fw->reset && !stopping_) {
      const std::string msg = "error forwarding port " + std::to_string(port) + " to pod " + options_.pod + ", uid " +
                              options_.uid + ": " + dialed.error().to_string();
      std::fprintf(stderr, "kubelet server: %s\n", msg.c_str());
      (void)co_await send_data(fw->pair.error_id, msg, false);
    }
    if (!fw->reset) (void)co_await send_data(fw->pair.data_id, {}, true);
    (void)co_await send_data(fw->pair.error_id, {}, true);
    finish(*fw);
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  fw->pod.emplace(ex, dialed->release());
  while (!fw->early.empty() && fw->pod_open()) {  // more may come while this is written
    std::string early = std::move(fw->early);
    fw->early.clear();
    auto [wec, wn] = co_await asio::async_write(*fw->pod, asio::buffer(early), kTuple);
    (void)wn;
    if (wec) break;  // the pod has gone: its read below says so
  }
  fw->early.clear();
  fw->ready = true;
  if (fw->client_fin && fw->pod_open()) (void)::shutdown(fw->pod->native_handle(), SHUT_WR);

  // Pod → client until the pod ends or the stream is reset.
  std::string buf(kChunk, '\0');
  while (fw->pod_open() && !fw->reset) {
    auto [ec, n] = co_await fw->pod->async_read_some(asio::buffer(buf), kTuple);
    if (n > 0) {
      std::string_view chunk(buf.data(), n);
      if (!co_await send_data(fw->pair.data_id, chunk, false)) break;
    }
    if (ec) break;
  }
  fw->pod_eof = true;
  if (!fw->reset && !gone_) (void)co_await send_data(fw->pair.data_id, {}, true);
  // The pair is over once the client side is done too: kubectl resets the data stream
  // when it has read our FIN, and then waits for the error stream's end.
  while (!fw->reset && !fw->client_fin && !gone_ && !stopping_) {
    (void)co_await fw->wake->async_wait(kTuple);
    fw->wake->expires_at(asio::steady_timer::time_point::max());
  }
  (void)co_await send_data(fw->pair.error_id, {}, true);
  finish(*fw);
}

asio::awaitable<void> SpdyPortForward::on_syn_stream(spdy::Frame& f) {
  auto h = inflate_.decompress(f.payload);
  if (!h.ok()) {
    const std::string why = "SYN_STREAM " + std::to_string(f.stream_id) + ": " + h.error().message();
    co_await protocol_error(why);
    co_return;
  }
  if (f.stream_id <= last_stream_ || f.stream_id % 2 == 0) {
    const std::string why = "SYN_STREAM with stream id " + std::to_string(f.stream_id) + " after " +
                            std::to_string(last_stream_) + " (client streams are odd and increasing)";
    co_await protocol_error(why);
    co_return;
  }
  last_stream_ = f.stream_id;
  auto s = parse_port_forward_stream(f.stream_id, *h);
  if (!s.ok() || stopping_) {
    if (!s.ok()) {
      std::fprintf(stderr, "kubelet server: port-forward to %s: refusing stream %u: %s\n", options_.pod.c_str(),
                   f.stream_id, s.error().message().c_str());
    }
    co_await send_rst(f.stream_id, spdy::kRefusedStream);
    co_return;
  }
  // The client waits for the reply before it opens the next stream.
  auto block = deflate_.compress({});
  if (!block.ok()) {
    const std::string why = block.error().message();
    co_await protocol_error(why);
    co_return;
  }
  spdy::Frame reply;
  reply.type = spdy::FrameType::kSynReply;
  reply.stream_id = f.stream_id;
  reply.payload = std::move(*block);
  if (!co_await send_frame(reply)) co_return;

  PortForwardPairs::Added added = waiting_.add(*s, PortForwardPairs::Clock::now());
  if (added.error) {
    std::fprintf(stderr, "kubelet server: port-forward to %s: %s\n", options_.pod.c_str(), added.error->c_str());
    if (added.error_stream != 0) (void)co_await send_data(added.error_stream, *added.error, false);
    co_await send_rst(f.stream_id, spdy::kRefusedStream);
    co_return;
  }
  if (!added.complete) co_return;
  auto fw = std::make_shared<Forward>();
  fw->pair = std::move(*added.complete);
  fw->wake = std::make_unique<asio::steady_timer>(quiet_->get_executor(), asio::steady_timer::time_point::max());
  pairs_[fw->pair.data_id] = fw;
  spawn(forward(fw));
}

asio::awaitable<void> SpdyPortForward::on_data(spdy::Frame& f) {
  auto it = pairs_.find(f.stream_id);
  if (it == pairs_.end()) co_return;  // an error stream's (kubectl writes none), or a pair that is over
  std::shared_ptr<Forward> fw = it->second;
  if (fw->client_fin || fw->reset) co_return;
  if (!f.payload.empty()) {
    if (fw->ready && fw->pod_open()) {
      auto [ec, n] = co_await asio::async_write(*fw->pod, asio::buffer(f.payload), kTuple);
      (void)n;
      (void)ec;  // a pod that closed its side: the pump notices and ends the stream
    } else if (!fw->ready) {
      fw->early += f.payload;
    }
  }
  if (f.fin()) {
    fw->client_fin = true;
    if (fw->ready && fw->pod_open()) (void)::shutdown(fw->pod->native_handle(), SHUT_WR);
    fw->poke();
  }
}

asio::awaitable<bool> SpdyPortForward::handle(spdy::Frame& f) {
  using spdy::FrameType;
  switch (f.type) {
    case FrameType::kSynStream:
      co_await on_syn_stream(f);
      co_return !gone_;
    case FrameType::kData:
      co_await on_data(f);
      co_return !gone_;
    case FrameType::kRstStream: {
      auto it = pairs_.find(f.stream_id);
      if (it != pairs_.end()) {
        std::shared_ptr<Forward> fw = it->second;
        fw->reset = true;
        fw->close_pod();  // ends the pump's read
        fw->poke();
      }
      co_return true;
    }
    case FrameType::kPing: {
      if (f.ping_id % 2 == 0) co_return true;  // an answer to a ping of ours (we send none)
      co_return co_await send_frame(f);
    }
    case FrameType::kGoAway:
      co_return false;  // the client ends the connection
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

asio::awaitable<void> SpdyPortForward::reap_waiting() {
  asio::steady_timer& tick = *tick_;
  while (!stopping_ && !gone_) {
    tick.expires_after(std::chrono::seconds(1));
    (void)co_await tick.async_wait(kTuple);
    if (stopping_ || gone_) break;
    for (const PortForwardPair& p :
         waiting_.expire(PortForwardPairs::Clock::now(), options_.stream_creation_timeout)) {
      const std::string msg = PortForwardPairs::timeout_message(p.request_id);
      std::fprintf(stderr, "kubelet server: port-forward to %s: %s\n", options_.pod.c_str(), msg.c_str());
      if (p.error_id != 0) {
        (void)co_await send_data(p.error_id, msg, true);
      }
      if (p.data_id != 0) co_await send_rst(p.data_id, spdy::kCancel);
    }
  }
}

void SpdyPortForward::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& [id, fw] : pairs_) {
    fw->reset = true;
    fw->close_pod();
    fw->poke();
  }
  spawn(end_stop());
}

// After stop(): the forwarded connections are closed; a GOAWAY tells the client, then the
// connection is cut so that the frame reader ends.
asio::awaitable<void> SpdyPortForward::end_stop() {
  spdy::Frame g;
  g.type = spdy::FrameType::kGoAway;
  g.stream_id = last_stream_;
  g.status = spdy::kGoAwayOk;
  (void)co_await send_frame(g);
  gone_ = true;
  wire_.abort();
}

asio::awaitable<void> SpdyPortForward::run() {
  auto ex = co_await asio::this_coro::executor;
  quiet_ = std::make_unique<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  tick_ = std::make_unique<asio::steady_timer>(ex);
  spawn(reap_waiting());
  std::vector<char> chunk(kChunk);
  while (!gone_) {
    std::size_t used = 0;
    auto f = spdy::decode_frame(rbuf_, &used);
    if (!f.ok()) {
      const std::string why = f.error().message();
      co_await protocol_error(why);
      break;
    }
    if (*f) {
      rbuf_.erase(0, used);
      if (!co_await handle(**f)) break;
      continue;
    }
    std::size_t n = co_await wire_.read_some(chunk.data(), chunk.size());
    if (n == 0) break;
    rbuf_.append(chunk.data(), n);
  }
  // The connection is over: close every forwarded connection and wait for their
  // coroutines (their writes fail fast on a broken wire).
  gone_ = true;
  if (!stopping_) {
    stopping_ = true;
    for (auto& [id, fw] : pairs_) {
      fw->reset = true;
      fw->close_pod();
      fw->poke();
    }
  }
  wire_.abort();
  tick_->cancel();
  while (live_ > 0) {
    (void)co_await quiet_->async_wait(kTuple);
    if (live_ > 0) quiet_->expires_at(asio::steady_timer::time_point::max());
  }
}

}  // namespace kernlet::agent
