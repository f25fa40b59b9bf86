// The port-forward session (agent/server/spdy_port_forward.h) driven as kubectl drives
// it, with fakes: the connection is one end of a socketpair (the test speaks SPDY on the
// other), and the pod dialer hands out socketpairs whose far ends the test plays the pod
// on (port 81 answers "connection refused"). Covers the echo round trip with half-close
// both ways, the error stream's text and FIN, a refused port followed by a working one,
// concurrent pairs, refused streams with bad headers, PING, stop() (the pod has gone),
// the client hanging up, and malformed frames.
#include "agent/server/spdy_port_forward.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace kernlet::agent {
namespace {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kWaitMs = 5000;

class SocketByteStream final : public ByteStream {
 public:
  explicit SocketByteStream(Local::socket& s) : s_(s) {}
  asio::awaitable<std::size_t> read_some(char* data, std::size_t size) override {
    auto [ec, n] = co_await s_.async_read_some(asio::buffer(data, size), kTuple);
    co_return ec && n == 0 ? 0 : n;
  }
  asio::awaitable<bool> write_all(std::string_view bytes) override {
    auto [ec, n] = co_await asio::async_write(s_, asio::buffer(bytes), kTuple);
    (void)n;
    co_return !ec;
  }
  void abort() override {
    boost::system::error_code ec;
    s_.shutdown(Local::socket::shutdown_both, ec);
  }

 private:
  Local::socket& s_;
};

// Reads with a deadline from a blocking test-side fd: bytes, "" at EOF, nullopt on timeout.
std::optional<std::string> read_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return std::nullopt;
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n <= 0) return std::string();
  return std::string(buf, static_cast<std::size_t>(n));
}

void write_fd(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    ASSERT_GT(n, 0);
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

class SpdyPortForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client_.reset(sv[0]);
    server_.emplace(io_, Local(), sv[1]);
    wire_ = std::make_unique<SocketByteStream>(*server_);
    PodDialer dial = [this](uint16_t port) -> asio::awaitable<Result<UniqueFd>> {
      Result<UniqueFd> r = fake_dial(port);
      co_return r;
    };
    SpdyPortForwardOptions opts;
    opts.pod = "default/web";
    opts.uid = "u1";
    session_ = std::make_unique<SpdyPortForward>(*wire_, std::string(), std::move(dial), opts);
    asio::co_spawn(io_, session_->run(), [this](const std::exception_ptr&) {
      std::lock_guard lock(mu_);
      ended_ = true;
      cv_.notify_all();
    });
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    client_.reset();  // the client hangs up: run() ends
    {
      std::unique_lock lock(mu_);
      EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(5), [&] { return ended_; })) << "run() did not end";
    }
    io_.stop();
    io_thread_.join();
  }

  Result<UniqueFd> fake_dial(uint16_t port) {
    std::lock_guard lock(mu_);
    dialed_.push_back(port);
    if (port == 81) return Error(ErrorCode::kUnavailable, "connect to 127.0.0.1:81: Connection refused");
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Error::from_errno("socketpair");
    pods_.emplace_back(sv[1]);
    cv_.notify_all();
    return UniqueFd(sv[0]);
  }

  // The far end of the next pod connection the session dials.
  UniqueFd take_pod() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::milliseconds(kWaitMs), [&] { return !pods_.empty(); })) return UniqueFd();
    UniqueFd fd = std::move(pods_.front());
    pods_.pop_front();
    return fd;
  }

  void send(const spdy::Frame& f) {
    auto bytes = spdy::encode_frame(f);
    ASSERT_TRUE(bytes.ok());
    write_fd(client_.get(), *bytes);
  }
  void syn(uint32_t id, const std::string& type, const std::string& port, const std::string& request) {
    spdy::Headers h{{"streamtype", type}, {"port", port}};
    if (!request.empty()) h.emplace_back("requestid", request);
    auto block = deflate_.compress(h);
    ASSERT_TRUE(block.ok());
    spdy::Frame f;
    f.type = spdy::FrameType::kSynStream;
    f.stream_id = id;
    f.payload = *block;
    send(f);
  }
  void data(uint32_t id, const std::string& payload, bool fin = false) {
    spdy::Frame f;
    f.type = spdy::FrameType::kData;
    f.stream_id = id;
    f.payload = payload;
    f.flags = fin ? spdy::kFlagFin : 0;
    send(f);
  }
  void rst(uint32_t id) {
    spdy::Frame f;
    f.type = spdy::FrameType::kRstStream;
    f.stream_id = id;
    f.status = spdy::kCancel;
    send(f);
  }
  // Opens a pair and waits for both replies.
  void open_pair(uint32_t error_id, uint32_t data_id, const std::string& port, const std::string& request) {
    syn(error_id, "error", port, request);
    syn(data_id, "data", port, request);
    expect([&](const spdy::Frame& f) { return f.type == spdy::FrameType::kSynReply && f.stream_id == error_id; });
    expect([&](const spdy::Frame& f) { return f.type == spdy::FrameType::kSynReply && f.stream_id == data_id; });
  }

  // The next frame from the session; nullopt at EOF or after kWaitMs.
  std::optional<spdy::Frame> next_frame() {
    for (;;) {
      std::size_t used = 0;
      auto f = spdy::decode_frame(rbuf_, &used);
      EXPECT_TRUE(f.ok());
      if (!f.ok()) return std::nullopt;
      if (*f) {
        rbuf_.erase(0, used);
        if ((*f)->type == spdy::FrameType::kSynReply) {
          EXPECT_TRUE(inflate_.decompress((*f)->payload).ok());
        }
        return **f;
      }
      auto more = read_within(client_.get(), kWaitMs);
      if (!more || more->empty()) return std::nullopt;
      rbuf_ += *more;
    }
  }
  // Frames are kept in arrival order; returns the first one (seen before or now) matching.
  spdy::Frame expect(const std::function<bool(const spdy::Frame&)>& match) {
    for (auto it = seen_.begin(); it != seen_.end(); ++it) {
      if (match(*it)) {
        spdy::Frame f = *it;
        seen_.erase(it);
        return f;
      }
    }
    for (;;) {
      auto f = next_frame();
      if (!f) {
        ADD_FAILURE() << "the expected frame did not come";
        return spdy::Frame{};
      }
      if (match(*f)) return *f;
      seen_.push_back(*f);
    }
  }
  // Everything the session sends on a stream's data until its FIN.
  std::string read_stream(uint32_t id) {
    std::string out;
    for (;;) {
      spdy::Frame f = expect([&](const spdy::Frame& g) { return g.type == spdy::FrameType::kData && g.stream_id == id; });
      if (f.stream_id != id) return out + "<no FIN>";
      out += f.payload;
      if (f.fin()) return out;
    }
  }
  std::size_t dials() {
    std::lock_guard lock(mu_);
    return dialed_.size();
  }

  asio::io_context io_;
  UniqueFd client_;
  std::optional<Local::socket> server_;
  std::unique_ptr<SocketByteStream> wire_;
  std::unique_ptr<SpdyPortForward> session_;
  std::thread io_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<UniqueFd> pods_;
  std::vector<uint16_t> dialed_;
  bool ended_ = false;
  spdy::HeaderCompressor deflate_;
  spdy::HeaderDecompressor inflate_;
  std::string rbuf_;
  std::deque<spdy::Frame> seen_;
};

TEST_F(SpdyPortForwardTest, EchoRoundTripWithHalfCloseBothWays) {
  open_pair(1, 3, "80", "0");
  UniqueFd pod = take_pod();
  ASSERT_TRUE(pod.valid()) << "the session did not dial the pod";
  data(3, "hello");
  EXPECT_EQ(read_within(pod.get(), kWaitMs).value_or("<timeout>"), "hello");
  write_fd(pod.get(), "world");
  spdy::Frame back = expect([](const spdy::Frame& f) { return f.type == spdy::FrameType::kData && f.stream_id == 3; });
  EXPECT_EQ(back.payload, "world");
  EXPECT_FALSE(back.fin());
  // The client's FIN is the pod's EOF; the pod can still answer after it.
  data(3, "", true);
  EXPECT_EQ(read_within(pod.get(), kWaitMs).value_or("<timeout>"), "");
  write_fd(pod.get(), "late");
  pod.reset();
  EXPECT_EQ(read_stream(3), "late");
  // kubectl resets the data stream once it has our FIN, then waits for the error stream's end.
  rst(3);
  spdy::Frame err = expect([](const spdy::Frame& f) { return f.type == spdy::FrameType::kData && f.stream_id == 1; });
  EXPECT_TRUE(err.fin());
  EXPECT_EQ(err.payload, "");
  std::lock_guard lock(mu_);
  EXPECT_EQ(dialed_, std::vector<uint16_t>{80});
}

TEST_F(SpdyPortForwardTest, RefusedPortWritesTheErrorAndTheNextConnectionWorks) {
  open_pair(1, 3, "81", "0");
  std::string err = read_stream(1);
  EXPECT_EQ(err, "error forwarding port 81 to pod default/web, uid u1: connect to 127.0.0.1:81: Connection refused");
  EXPECT_EQ(read_stream(3), "");
  open_pair(5, 7, "80", "1");
  UniqueFd pod = take_pod();
  ASSERT_TRUE(pod.valid());
  data(7, "again");
  EXPECT_EQ(read_within(pod.get(), kWaitMs).value_or("<timeout>"), "again");
}

TEST_F(SpdyPortForwardTest, ClientDataBeforeTheDialIsKept) {
  syn(1, "error", "80", "0");
  syn(3, "data", "80", "0");
  data(3, "early", true);  // sent before the session has dialed, FIN included
  UniqueFd pod = take_pod();
  ASSERT_TRUE(pod.valid());
  std::string got;
  for (;;) {
    auto chunk = read_within(pod.get(), kWaitMs);
    ASSERT_TRUE(chunk) << "timed out; got \"" << got << "\"";
    if (chunk->empty()) break;
    got += *chunk;
  }
  EXPECT_EQ(got, "early");
}

TEST_F(SpdyPortForwardTest, ConcurrentPairsGoToTheirOwnConnections) {
  syn(1, "error", "80", "a");
  syn(3, "error", "80", "b");
  syn(5, "data", "80", "b");
  UniqueFd pod_b = take_pod();
  syn(7, "data", "80", "a");
  UniqueFd pod_a = take_pod();
  ASSERT_TRUE(pod_a.valid() && pod_b.valid());
  data(7, "to-a");
  data(5, "to-b");
  EXPECT_EQ(read_within(pod_a.get(), kWaitMs).value_or("<timeout>"), "to-a");
  EXPECT_EQ(read_within(pod_b.get(), kWaitMs).value_or("<timeout>"), "to-b");
  write_fd(pod_b.get(), "from-b");
  write_fd(pod_a.get(), "from-a");
  pod_a.reset();
  pod_b.reset();
  EXPECT_EQ(read_stream(7), "from-a");
  EXPECT_EQ(read_stream(5), "from-b");
  EXPECT_EQ(session_->active(), 2u);  // each waits for its client side to end
}

TEST_F(SpdyPortForwardTest, BadStreamHeadersAreRefusedAndTheSessionGoesOn) {
  syn(1, "data", "0", "0");
  spdy::Frame r = expect([](const spdy::Frame& f) { return f.type == spdy::FrameType::kRstStream; });
  EXPECT_EQ(r.stream_id, 1u);
  EXPECT_EQ(r.status, spdy::kRefusedStream);
  spdy::Frame ping;
  ping.type = spdy::FrameType::kPing;
  ping.ping_id = 7;
  send(ping);
  spdy::Frame pong = expect([](const spdy::Frame& f) { return f.type == spdy::FrameType::kPing; });
  EXPECT_EQ(pong.ping_id, 7u);
  open_pair(3, 5, "80", "0");
  EXPECT_TRUE(take_pod().valid());
}

TEST_F(SpdyPortForwardTest, StopClosesEveryConnectionAndSaysGoAway) {
  open_pair(1, 3, "80", "0");
  UniqueFd pod = take_pod();
  ASSERT_TRUE(pod.valid());
  asio::post(io_, [this] { session_->stop(); });
  EXPECT_EQ(read_within(pod.get(), kWaitMs).value_or("<timeout>"), "");  // the pod sees the close
  spdy::Frame g = expect([](const spdy::Frame& f) { return f.type == spdy::FrameType::kGoAway; });
  EXPECT_EQ(g.status, spdy::kGoAwayOk);
  std::unique_lock lock(mu_);
  EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(5), [&] { return ended_; }));
}

TEST_F(SpdyPortForwardTest, ClientHangUpClosesThePodConnection) {
  open_pair(1, 3, "80", "0");
  UniqueFd pod = take_pod();
  ASSERT_TRUE(pod.valid());
  client_.reset();
  EXPECT_EQ(read_within(pod.get(), kWaitMs).value_or("<timeout>"), "");
  std::unique_lock lock(mu_);
  EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(5), [&] { return ended_; }));
}

TEST_F(SpdyPortForwardTest, MalformedFrameEndsWithProtocolError) {
  // A control frame of SPDY version 2.
  write_fd(client_.get(), std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  spdy::Frame g = expect([](const spdy::Frame& f) { return f.type == spdy::FrameType::kGoAway; });
  EXPECT_EQ(g.status, spdy::kGoAwayProtocolError);
  EXPECT_EQ(dials(), 0u);
}

}  // namespace
}  // namespace kernlet::agent
