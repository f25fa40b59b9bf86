#include "control/apiserver/http_server.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/dynamic_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include "api/json.h"

namespace kernlet::apiserver {
namespace {

using tcp = asio::ip::tcp;

// Echoes method, target and body length; /stream answers with three chunks.
class EchoHandler : public Handler {
 public:
  asio::awaitable<void> handle(Request& req, Responder& out) override {
    if (req.msg.target() == "/stream") {
      (void)co_await out.begin_stream(200, "application/json");
      for (int i = 0; i < 3; ++i) {
        std::string line = "{\"n\":" + std::to_string(i) + "}\n";
        (void)co_await out.write_chunk(line);
      }
      co_return;  // the server ends the stream
    }
    if (req.msg.target() == "/silent") co_return;  // no response: the server answers 500
    Response r;
    r.body = json::dump(json::object{{"method", std::string(req.msg.method_string())},
                                     {"target", std::string(req.msg.target())},
                                     {"bodyBytes", req.msg.body().size()}});
    r.headers.emplace_back("X-Test", "1");
    (void)co_await out.send(std::move(r));
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions opts;
    opts.address = "127.0.0.1";
    opts.port = 0;
    opts.body_limit = 1024 * 1024;
    server_ = std::make_unique<HttpServer>(opts, std::make_shared<EchoHandler>());
    auto r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  }
  void TearDown() override { server_->stop(); }

  http::response<http::string_body> roundtrip(http::request<http::string_body> req) {
    req.set(http::field::host, "localhost");
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }

  std::unique_ptr<HttpServer> server_;
  asio::io_context client_io_;
  tcp::socket socket_{client_io_};
  boost::beast::flat_buffer buffer_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  for (int i = 0; i < 3; ++i) {
    auto res = roundtrip({http::verb::get, "/api/v1/pods?i=" + std::to_string(i), 11});
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res[http::field::content_type], "application/json");
    EXPECT_EQ(res["X-Test"], "1");
    auto body = json::parse_object(res.body());
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(json::get_string(*body, "target"), "/api/v1/pods?i=" + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(HttpServerTest, BodyIsDelivered) {
  http::request<http::string_body> req{http::verb::post, "/api/v1/namespaces/default/pods", 11};
  req.body() = std::string(5000, 'x');
  auto res = roundtrip(std::move(req));
  auto body = json::parse_object(res.body());
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["bodyBytes"], 5000);
}

TEST_F(HttpServerTest, BodyOverTheLimitGets413Status) {
  http::request<http::string_body> req{http::verb::post, "/api/v1/namespaces/default/configmaps", 11};
  req.body() = std::string(1024 * 1024 + 1, 'x');
  req.set(http::field::host, "localhost");
  req.prepare_payload();
  // The server may answer before it has read the whole body; the write may then fail
  // with EPIPE, and the answer must still be readable.
  boost::system::error_code ec;
  http::write(socket_, req, ec);
  http::response<http::string_body> res;
  http::read(socket_, buffer_, res);
  EXPECT_EQ(res.result_int(), 413u);
  auto status = json::parse_object(res.body());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["kind"], "Status");
  EXPECT_EQ((*status)["reason"], "RequestEntityTooLarge");
  EXPECT_EQ((*status)["code"], 413);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(HttpServerTest, ChunkedStreamArrivesInOrder) {
  http::request<http::string_body> req{http::verb::get, "/stream", 11};
  req.set(http::field::host, "localhost");
  http::write(socket_, req);
  http::response<http::string_body> res;
  http::read(socket_, buffer_, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res.body(), "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  // The connection is still usable after the stream ends.
  auto next = roundtrip({http::verb::get, "/after", 11});
  EXPECT_EQ(next.result_int(), 200u);
}

TEST_F(HttpServerTest, HandlerWithoutResponseGets500) {
  auto res = roundtrip({http::verb::get, "/silent", 11});
  EXPECT_EQ(res.result_int(), 500u);
  auto status = json::parse_object(res.body());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["reason"], "InternalError");
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  std::string garbage = "NOT A REQUEST\r\n\r\n";
  asio::write(socket_, asio::buffer(garbage));
  http::response<http::string_body> res;
  http::read(socket_, buffer_, res);
  EXPECT_EQ(res.result_int(), 400u);
}

TEST(HttpServer, ListenErrorNamesTheAddress) {
  HttpServerOptions opts;
  opts.address = "not-an-ip";
  HttpServer server(opts, std::make_shared<EchoHandler>());
  auto r = server.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "listen not-an-ip:0: invalid address");
}

TEST(HttpServer, PortInUseIsReported) {
  HttpServerOptions opts;
  HttpServer first(opts, std::make_shared<EchoHandler>());
  ASSERT_TRUE(first.start().ok());
  opts.port = first.port();
  // SO_REUSEADDR does not allow two listeners on one port.
  HttpServer second(opts, std::make_shared<EchoHandler>());
  auto r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), EADDRINUSE);
  EXPECT_NE(r.error().to_string().find("EADDRINUSE"), std::string::npos) << r.error().to_string();
}

}  // namespace
}  // namespace kernlet::apiserver
