// The port-forward stream headers and pairing (agent/server/port_forward_pairs.h): headers
// are checked with the kubelet's messages, a data and an error stream of one requestID
// make a pair in either order, pairs of different requests interleave, a second stream of
// the same type is an error for the request's error stream, old clients without
// requestID pair by stream id, and requests left half-open expire.
#include "agent/server/port_forward_pairs.h"

#include <gtest/gtest.h>

namespace kernlet::agent {
namespace {

using Clock = PortForwardPairs::Clock;

spdy::Headers headers(std::string type, std::string port, std::string request = "") {
  spdy::Headers h{{"streamtype", std::move(type)}, {"port", std::move(port)}};
  if (!request.empty()) h.emplace_back("requestid", std::move(request));
  return h;
}

PortForwardStream stream(uint32_t id, std::string type, std::string port, std::string request) {
  auto s = parse_port_forward_stream(id, headers(std::move(type), std::move(port), std::move(request)));
  EXPECT_TRUE(s.ok()) << s.error().message();
  return *s;
}

TEST(PortForwardStreamHeaders, ParsesTypePortAndRequest) {
  auto s = parse_port_forward_stream(3, headers("data", "8080", "7"));
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->type, PortForwardStreamType::kData);
  EXPECT_EQ(s->port, 8080);
  EXPECT_EQ(s->request_id, "7");
  EXPECT_EQ(s->stream_id, 3u);
  s = parse_port_forward_stream(1, headers("error", "65535", "0"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, PortForwardStreamType::kError);
  EXPECT_EQ(s->port, 65535);
}

TEST(PortForwardStreamHeaders, BadHeadersSayWhatIsWrong) {
  auto msg = [](const spdy::Headers& h) {
    auto s = parse_port_forward_stream(1, h);
    EXPECT_FALSE(s.ok());
    return s.ok() ? std::string() : s.error().message();
  };
  EXPECT_EQ(msg({{"streamtype", "data"}}), "\"port\" header is required");
  EXPECT_EQ(msg(headers("data", "http")), "unable to parse \"http\" as a port");
  EXPECT_EQ(msg(headers("data", "65536")), "unable to parse \"65536\" as a port");
  EXPECT_EQ(msg(headers("data", "-1")), "unable to parse \"-1\" as a port");
  EXPECT_EQ(msg(headers("data", "0")), "port \"0\" must be > 0");
  EXPECT_EQ(msg({{"port", "80"}}), "\"streamType\" header is required");
  EXPECT_EQ(msg(headers("stdin", "80")), "invalid stream type \"stdin\"");
}

TEST(PortForwardPairs, ErrorThenDataMakeAPair) {
  PortForwardPairs pairs;
  auto t = Clock::now();
  auto a = pairs.add(stream(1, "error", "80", "0"), t);
  EXPECT_FALSE(a.complete);
  EXPECT_FALSE(a.error);
  EXPECT_EQ(pairs.waiting(), 1u);
  auto b = pairs.add(stream(3, "data", "80", "0"), t);
  ASSERT_TRUE(b.complete);
  EXPECT_EQ(b.complete->error_id, 1u);
  EXPECT_EQ(b.complete->data_id, 3u);
  EXPECT_EQ(b.complete->port, 80);
  EXPECT_EQ(b.complete->request_id, "0");
  EXPECT_EQ(pairs.waiting(), 0u);
}

TEST(PortForwardPairs, DataFirstAndInterleavedRequests) {
  PortForwardPairs pairs;
  auto t = Clock::now();
  EXPECT_FALSE(pairs.add(stream(1, "data", "80", "a"), t).complete);
  EXPECT_FALSE(pairs.add(stream(3, "error", "81", "b"), t).complete);
  auto b = pairs.add(stream(5, "data", "81", "b"), t);
  ASSERT_TRUE(b.complete);
  EXPECT_EQ(b.complete->port, 81);
  EXPECT_EQ(b.complete->data_id, 5u);
  auto a = pairs.add(stream(7, "error", "80", "a"), t);
  ASSERT_TRUE(a.complete);
  EXPECT_EQ(a.complete->data_id, 1u);
  EXPECT_EQ(a.complete->error_id, 7u);
  // A finished request id may be used again: it starts a new pair.
  EXPECT_FALSE(pairs.add(stream(9, "error", "80", "a"), t).complete);
  EXPECT_EQ(pairs.waiting(), 1u);
}

TEST(PortForwardPairs, SecondStreamOfATypeIsAnErrorForTheRequest) {
  PortForwardPairs pairs;
  auto t = Clock::now();
  (void)pairs.add(stream(1, "error", "80", "0"), t);
  auto dup = pairs.add(stream(3, "error", "80", "0"), t);
  ASSERT_TRUE(dup.error);
  EXPECT_EQ(*dup.error, "error processing stream for request 0: error stream already assigned");
  EXPECT_EQ(dup.error_stream, 1u);
  EXPECT_FALSE(dup.complete);
  // The request still pairs with its data stream.
  EXPECT_TRUE(pairs.add(stream(5, "data", "80", "0"), t).complete);
}

TEST(PortForwardPairs, OldClientsPairByStreamId) {
  PortForwardPairs pairs;
  auto t = Clock::now();
  EXPECT_FALSE(pairs.add(stream(5, "error", "80", ""), t).complete);
  auto p = pairs.add(stream(7, "data", "80", ""), t);
  ASSERT_TRUE(p.complete);
  EXPECT_EQ(p.complete->error_id, 5u);
  EXPECT_EQ(p.complete->data_id, 7u);
}

TEST(PortForwardPairs, HalfOpenRequestsExpire) {
  PortForwardPairs pairs;
  auto t0 = Clock::now();
  (void)pairs.add(stream(1, "error", "80", "old"), t0);
  (void)pairs.add(stream(3, "data", "80", "new"), t0 + std::chrono::seconds(20));
  auto gone = pairs.expire(t0 + std::chrono::seconds(31), std::chrono::seconds(30));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].request_id, "old");
  EXPECT_EQ(gone[0].error_id, 1u);
  EXPECT_EQ(pairs.waiting(), 1u);
  EXPECT_EQ(PortForwardPairs::timeout_message("old"), "(request old) timed out waiting for streams");
  EXPECT_TRUE(pairs.expire(t0 + std::chrono::seconds(49), std::chrono::seconds(30)).empty());
  EXPECT_EQ(pairs.expire(t0 + std::chrono::seconds(50), std::chrono::seconds(30)).size(), 1u);
}

}  // namespace
}  // namespace kernlet::agent
