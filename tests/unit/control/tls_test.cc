// TLS and client-certificate identity, end to end over loopback with certificates from
// ensure_pki.
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "api/json.h"
#include "control/apiserver/http_server.h"
#include "control/apiserver/pki.h"

namespace kernlet::apiserver {
namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

class WhoAmI : public Handler {
 public:
  asio::awaitable<void> handle(Request& req, Responder& out) override {
    json::array groups;
    for (const auto& g : req.identity.groups) groups.emplace_back(g);
    Response r;
    r.body = json::dump(json::object{{"authenticated", req.identity.authenticated},
                                     {"user", req.identity.user},
                                     {"groups", std::move(groups)}});
    (void)co_await out.send(std::move(r));
  }
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kernlet-pki-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = ensure_pki(dir_.path(), PkiOptions{});
    ASSERT_TRUE(pki.ok()) << pki.error().to_string();
    pki_ = *pki;
    auto ctx = make_server_tls_context(pki_.serving.cert_pem, pki_.serving.key_pem, pki_.ca.cert_pem);
    ASSERT_TRUE(ctx.ok()) << ctx.error().to_string();
    HttpServerOptions opts;
    opts.tls = *ctx;
    server_ = std::make_unique<HttpServer>(opts, std::make_shared<WhoAmI>());
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override { server_->stop(); }

  // GET / over TLS, verifying the server against the CA; returns the parsed body.
  json::object whoami(const CertKey* client) {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(pki_.ca.cert_pem));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (client != nullptr) {
      ctx.use_certificate_chain(asio::buffer(client->cert_pem));
      ctx.use_private_key(asio::buffer(client->key_pem), asio::ssl::context::pem);
    }
    beast::ssl_stream<tcp::socket> stream(io, ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
    stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    stream.handshake(asio::ssl::stream_base::client);
    http::request<http::string_body> req{http::verb::get, "/", 11};
    req.set(http::field::host, "localhost");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    auto body = json::parse_object(res.body());
    EXPECT_TRUE(body.ok());
    return body.ok() ? *body : json::object{};
  }

  TempDir dir_;
  Pki pki_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsTest, AdminCertificateIsAuthenticatedWithItsGroups) {
  auto who = whoami(&pki_.admin);
  EXPECT_EQ(who["authenticated"], true);
  EXPECT_EQ(json::get_string(who, "user"), "kernlet-admin");
  ASSERT_EQ(who["groups"].as_array().size(), 1u);
  EXPECT_EQ(who["groups"].as_array()[0], "system:masters");
}

TEST_F(TlsTest, NoClientCertificateIsAnonymous) {
  auto who = whoami(nullptr);
  EXPECT_EQ(who["authenticated"], false);
  EXPECT_EQ(json::get_string(who, "user"), "");
}

TEST_F(TlsTest, CertificateFromAnotherCaIsAnonymous) {
  TempDir other;
  auto foreign = ensure_pki(other.path(), PkiOptions{});
  ASSERT_TRUE(foreign.ok());
  auto who = whoami(&foreign->admin);
  EXPECT_EQ(who["authenticated"], false);
}

TEST_F(TlsTest, IssuedNodeCertificateCarriesNodeIdentity) {
  auto node = issue_client_certificate(pki_.ca, "system:node:node-1", {"system:nodes"}, 30);
  ASSERT_TRUE(node.ok()) << node.error().to_string();
  auto who = whoami(&*node);
  EXPECT_EQ(json::get_string(who, "user"), "system:node:node-1");
  EXPECT_EQ(who["groups"].as_array()[0], "system:nodes");
}

TEST(Pki, SecondStartReusesTheSameFiles) {
  TempDir dir;
  auto first = ensure_pki(dir.path(), PkiOptions{});
  ASSERT_TRUE(first.ok());
  auto second = ensure_pki(dir.path(), PkiOptions{});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->ca.cert_pem, second->ca.cert_pem);
  EXPECT_EQ(first->serving.cert_pem, second->serving.cert_pem);
  EXPECT_EQ(first->admin.key_pem, second->admin.key_pem);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(dir.path() / "ca.key.tmp"));
}

TEST(Pki, ServingCertificateIsReissuedForNewAddresses) {
  TempDir dir;
  auto first = ensure_pki(dir.path(), PkiOptions{});
  ASSERT_TRUE(first.ok());
  PkiOptions more;
  more.ip_addresses.push_back("192.0.2.10");
  auto second = ensure_pki(dir.path(), more);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->ca.cert_pem, second->ca.cert_pem);
  EXPECT_NE(first->serving.cert_pem, second->serving.cert_pem);
  EXPECT_EQ(first->admin.cert_pem, second->admin.cert_pem);
}

TEST(Pki, HalfAPairIsReportedNotSilentlyReplaced) {
  TempDir dir;
  ASSERT_TRUE(ensure_pki(dir.path(), PkiOptions{}).ok());
  fs::remove(dir.path() / "admin.key");
  auto r = ensure_pki(dir.path(), PkiOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("admin.key is missing"), std::string::npos) << r.error().message();
}

TEST(Pki, KubeconfigEmbedsCaAndClientCredentials) {
  TempDir dir;
  auto pki = ensure_pki(dir.path(), PkiOptions{});
  ASSERT_TRUE(pki.ok());
  std::string kc = make_kubeconfig("https://127.0.0.1:6443", pki->ca.cert_pem, pki->admin, "admin");
  EXPECT_NE(kc.find("server: https://127.0.0.1:6443\n"), std::string::npos);
  EXPECT_NE(kc.find("certificate-authority-data: LS0t"), std::string::npos);  // base64 of "---"
  EXPECT_NE(kc.find("client-key-data: LS0t"), std::string::npos);
  EXPECT_NE(kc.find("current-context: kernlet\n"), std::string::npos);
}

TEST(HttpServerPlain, RefusesNonLoopbackWithoutTls) {
  HttpServerOptions opts;
  opts.address = "0.0.0.0";
  HttpServer server(opts, std::make_shared<WhoAmI>());
  auto r = server.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "listen 0.0.0.0:0: plain HTTP is only allowed on a loopback address");
}

}  // namespace
}  // namespace kernlet::apiserver
