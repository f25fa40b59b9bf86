// httpGet, tcpSocket and grpc probes against real servers inside a network namespace the
// test creates (root). The namespace has only lo and no route to or from the host; the
// servers' port is unused on the host, so a probe that passes proves it ran inside.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <thread>

#include "agent/prober/lifecycle.h"
#include "agent/prober/net_probe.h"
#include "agent/prober/probe_handlers.h"
#include "agent/prober/probe_manager.h"
#include "api/objects/pod.h"

namespace kernlet::agent {
using api::IntOrString;
using api::ProbeView;
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs fn on a fresh thread that has entered the namespace `ns_fd` (setns is per thread).
void in_netns(int ns_fd, const std::function<void()>& fn) {
  std::thread t([&] {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ADD_FAILURE() << "setns: " << std::strerror(errno);
    else fn();
  });
  t.join();
}

// A new network namespace with lo up, held by an fd only: it disappears with the fd and
// the sockets in it, so there is nothing to unmount or delete even when a test fails.
struct TestNetns {
  UniqueFd fd;
  std::string path;  // /proc/<pid>/fd/<n>: what the prober opens
  std::string error;

  TestNetns() {
    std::thread t([this] {
      if (::unshare(CLONE_NEWNET) != 0) {
        error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
        return;
      }
      fd.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "lo");
      if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0 ||
          (ifr.ifr_flags |= IFF_UP, ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0))
        error = std::string("bring lo up: ") + std::strerror(errno);
    });
    t.join();
    if (fd) path = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd.get());
  }
};

UniqueFd listen_tcp(int ns_fd, int port = 0) {
  UniqueFd out;
  in_netns(ns_fd, [&] {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && ::listen(s.get(), 16) == 0)
      out = std::move(s);
  });
  return out;
}

int port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A self-signed certificate for the HTTPS server (the prober does not verify it).
struct TestCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  TestCert() {
    key = EVP_EC_gen("P-256");
    cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("probe-test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
  }
  ~TestCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// A small HTTP/1.1 (or HTTPS) server in the namespace. Routes:
//   /ok 200 "ok"; /fail 500; /same 302 -> /ok; /other 302 -> http://elsewhere.invalid/ "moved";
//   /loop 302 -> /loop; /slow never answers; /echo 200 with the request head as body.
class TestHttpServer {
 public:
  TestHttpServer(int ns_fd, bool tls) : listen_(listen_tcp(ns_fd)), stop_(::eventfd(0, EFD_CLOEXEC)) {
    if (tls) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate(ctx_, cert_.cert);
      SSL_CTX_use_PrivateKey(ctx_, cert_.key);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~TestHttpServer() {
    uint64_t one = 1;
    (void)::write(stop_.get(), &one, sizeof(one));
    thread_.join();
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  int port() const { return port_of(listen_.get()); }
  bool ok() const { return listen_.valid(); }
  std::atomic<int> toggle_status{200};  // what /toggle answers

 private:
  void serve() {
    for (;;) {
      pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 || (p[1].revents & POLLIN)) return;
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      handle(c.get());
    }
  }
  void handle(int fd) {
    SSL* ssl = nullptr;
    if (ctx_ != nullptr) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        return;
      }
    }
    auto rd = [&](char* b, int n) { return ssl ? SSL_read(ssl, b, n) : static_cast<int>(::read(fd, b, n)); };
    auto wr = [&](const std::string& s) {
      if (ssl) SSL_write(ssl, s.data(), static_cast<int>(s.size()));
      else (void)::write(fd, s.data(), s.size());
    };
    std::string req;
    char buf[2048];
    while (req.find("\r\n\r\n") == std::string::npos) {
      int n = rd(buf, sizeof(buf));
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
      if (req[0] == 0x16) {  // a TLS handshake at a plain server: answer as HTTP servers do
        wr("HTTP/1.0 400 Bad Request\r\n\r\n");
        return;
      }
    }
    std::string path = req.substr(4, req.find(' ', 4) - 4);
    auto respond = [&](int code, const std::string& extra, const std::string& body) {
      wr("HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra + "Connection: close\r\n\r\n" + body);
    };
    if (path == "/ok") respond(200, "", "ok");
    else if (path == "/fail") respond(500, "", "broken");
    else if (path == "/same") respond(302, "Location: /ok\r\n", "");
    else if (path == "/other") respond(302, "Location: http://elsewhere.invalid/x\r\n", "moved");
    else if (path == "/loop") respond(302, "Location: /loop\r\n", "");
    else if (path == "/echo") respond(200, "", req);
    else if (path == "/toggle") respond(toggle_status.load(), "", "");
    else if (path == "/rel/a") respond(307, "Location: b?q=1\r\n", "");
    else if (path == "/rel/b?q=1") respond(200, "", "relative");
    else if (path == "/chunked")
      wr("HTTP/1.1 302 Found\r\nLocation: https://elsewhere.invalid/\r\nTransfer-Encoding: chunked\r\n"
         "Connection: close\r\n\r\n3\r\ngo \r\n5\r\naway!\r\n0\r\n\r\n");
    else if (path == "/slow") {
      // Hold the connection until the client gives up (or 10 s).
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 10000);
    } else respond(404, "", "");
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
  }

  TestCert cert_;
  SSL_CTX* ctx_ = nullptr;
  UniqueFd listen_;
  UniqueFd stop_;
  std::thread thread_;
};

class NetProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWNET)";
    ns_ = std::make_unique<TestNetns>();
    if (!ns_->error.empty()) GTEST_SKIP() << ns_->error;
  }
  ProbeTarget target() {
    ProbeTarget t;
    t.pod_uid = "u1";
    t.pod_namespace = "default";
    t.pod_name = "web";
    t.container_name = "app";
    t.container_id = "cid";
    t.netns_path = ns_->path;
    t.container = {{"name", "app"}};
    return t;
  }
  HttpGetRequest get(int port, const std::string& path, const std::string& scheme = "HTTP") {
    HttpGetRequest r;
    r.scheme = scheme;
    r.host = "127.0.0.1";
    r.port = port;
    r.path = path;
    return r;
  }
  std::unique_ptr<TestNetns> ns_;
};

TEST_F(NetProbeTest, TcpProbeConnectsInsideTheNamespaceOnly) {
  // Hold a port on the host (bound, not listening: connects there are refused) and listen
  // on the same port inside the namespace.
  UniqueFd held(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(held.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const int port = port_of(held.get());
  UniqueFd l = listen_tcp(ns_->fd.get(), port);
  ASSERT_TRUE(l.valid());
  auto in = tcp_probe(ns_->path, "127.0.0.1", port, seconds(1));
  EXPECT_EQ(in.outcome, ProbeOutcome::kSuccess) << in.message;
  auto host = tcp_probe("", "127.0.0.1", port, seconds(1));
  EXPECT_EQ(host.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(host.message, "dial tcp 127.0.0.1:" + std::to_string(port) + ": connect: connection refused");
  l.reset();
  auto closed = tcp_probe(ns_->path, "127.0.0.1", port, seconds(1));
  EXPECT_EQ(closed.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(closed.message, "dial tcp 127.0.0.1:" + std::to_string(port) + ": connect: connection refused");
}

TEST_F(NetProbeTest, TcpProbeThroughTheRunnerUsesPodIpAndNamedPort) {
  UniqueFd l = listen_tcp(ns_->fd.get());
  ASSERT_TRUE(l.valid());
  ProbeTarget t = target();
  t.pod_ip = "127.0.0.9";  // all of 127/8 is local on lo
  t.container["ports"] = json::array{json::object{{"name", "svc"}, {"containerPort", port_of(l.get())}}};
  struct NoRuntime : ProbeRuntime {
    Result<ExecOutput> exec(const std::string&, const std::vector<std::string>&, milliseconds) override {
      return Error("unused");
    }
  } rt;
  HandlerProbeRunner runner(rt);
  auto r = runner.run(t, json::object{{"tcpSocket", json::object{{"port", "svc"}}}});
  EXPECT_EQ(r.outcome, ProbeOutcome::kSuccess) << r.message;
}

TEST_F(NetProbeTest, TcpProbeTimesOutOnAnUnroutableAddress) {
  // No route in the namespace at all: connect fails at once with "network is unreachable".
  auto r = tcp_probe(ns_->path, "10.255.0.1", 80, seconds(1));
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message, "dial tcp 10.255.0.1:80: connect: network is unreachable");
}

TEST_F(NetProbeTest, HttpProbeStatusCodesAndRedirects) {
  TestHttpServer srv(ns_->fd.get(), false);
  ASSERT_TRUE(srv.ok());
  int port = srv.port();
  auto ok = http_probe(ns_->path, get(port, "/ok"), seconds(1));
  EXPECT_EQ(ok.outcome, ProbeOutcome::kSuccess) << ok.message;
  EXPECT_EQ(ok.message, "ok");
  auto fail = http_probe(ns_->path, get(port, "/fail"), seconds(1));
  EXPECT_EQ(fail.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(fail.message, "HTTP probe failed with statuscode: 500");
  auto same = http_probe(ns_->path, get(port, "/same"), seconds(1));
  EXPECT_EQ(same.outcome, ProbeOutcome::kSuccess) << same.message;
  EXPECT_EQ(same.message, "ok") << "same-host redirects are followed";
  auto other = http_probe(ns_->path, get(port, "/other"), seconds(1));
  EXPECT_EQ(other.outcome, ProbeOutcome::kWarning);
  EXPECT_EQ(other.message, "Probe terminated redirects, Response body: moved");
  auto rel = http_probe(ns_->path, get(port, "/rel/a"), seconds(1));
  EXPECT_EQ(rel.outcome, ProbeOutcome::kSuccess) << rel.message;
  EXPECT_EQ(rel.message, "relative");
  auto chunked = http_probe(ns_->path, get(port, "/chunked"), seconds(1));
  EXPECT_EQ(chunked.outcome, ProbeOutcome::kWarning);
  EXPECT_EQ(chunked.message, "Probe terminated redirects, Response body: go away!");
  auto loop = http_probe(ns_->path, get(port, "/loop"), seconds(2));
  EXPECT_EQ(loop.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(loop.message, "Get \"http://127.0.0.1:" + std::to_string(port) + "/loop\": stopped after 10 redirects");
}

TEST_F(NetProbeTest, HttpProbeTimeoutIsBounded) {
  TestHttpServer srv(ns_->fd.get(), false);
  ASSERT_TRUE(srv.ok());
  auto start = std::chrono::steady_clock::now();
  auto r = http_probe(ns_->path, get(srv.port(), "/slow"), seconds(1));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message, "Get \"http://127.0.0.1:" + std::to_string(srv.port()) +
                           "/slow\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
  EXPECT_GE(took, milliseconds(990));
  EXPECT_LT(took, milliseconds(3000)) << "bounded by the timeout (slack for a loaded machine)";
}

TEST_F(NetProbeTest, HttpGetSendsTheKubeletHeaders) {
  TestHttpServer srv(ns_->fd.get(), false);
  ASSERT_TRUE(srv.ok());
  HttpGetRequest r = get(srv.port(), "echo");
  r.headers = {{"X-Custom", "yes"}, {"Host", "web.example"}};
  auto resp = http_get(ns_->path, r, std::chrono::steady_clock::now() + seconds(1));
  ASSERT_TRUE(resp.ok()) << resp.error().to_string();
  EXPECT_EQ(resp->status, 200);
  EXPECT_NE(resp->body.find("GET /echo HTTP/1.1\r\n"), std::string::npos) << resp->body;
  EXPECT_NE(resp->body.find("Host: web.example\r\n"), std::string::npos);
  EXPECT_NE(resp->body.find("User-Agent: kube-probe/1.30\r\n"), std::string::npos);
  EXPECT_NE(resp->body.find("Accept: */*\r\n"), std::string::npos);
  EXPECT_NE(resp->body.find("X-Custom: yes\r\n"), std::string::npos);
  EXPECT_NE(resp->body.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(NetProbeTest, HttpsProbeDoesNotVerifyTheCertificate) {
  TestHttpServer srv(ns_->fd.get(), true);
  ASSERT_TRUE(srv.ok());
  auto ok = http_probe(ns_->path, get(srv.port(), "/ok", "HTTPS"), seconds(2));
  EXPECT_EQ(ok.outcome, ProbeOutcome::kSuccess) << ok.message;
  auto fail = http_probe(ns_->path, get(srv.port(), "/fail", "HTTPS"), seconds(2));
  EXPECT_EQ(fail.message, "HTTP probe failed with statuscode: 500");
}

TEST_F(NetProbeTest, LifecycleHttpGetIgnoresTheStatusButNotTransportErrors) {
  TestHttpServer srv(ns_->fd.get(), false);
  ASSERT_TRUE(srv.ok());
  struct NoRuntime : ProbeRuntime {
    Result<ExecOutput> exec(const std::string&, const std::vector<std::string>&, milliseconds) override {
      return Error("unused");
    }
  } rt;
  ProbeTarget t = target();
  json::object h{{"httpGet", json::object{{"path", "/fail"}, {"port", srv.port()}}}};
  EXPECT_TRUE(run_lifecycle_handler(rt, h, t, seconds(2)).ok());
  // An HTTPS hook answered in plain HTTP is retried over HTTP; a probe just fails.
  json::object https{{"httpGet", json::object{{"path", "/ok"}, {"port", srv.port()}, {"scheme", "HTTPS"}}}};
  EXPECT_TRUE(run_lifecycle_handler(rt, https, t, seconds(2)).ok());
  auto probe = http_probe(ns_->path, get(srv.port(), "/ok", "HTTPS"), seconds(1));
  EXPECT_EQ(probe.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(probe.message, "Get \"https://127.0.0.1:" + std::to_string(srv.port()) +
                               "/ok\": http: server gave HTTP response to HTTPS client");
  UniqueFd l = listen_tcp(ns_->fd.get());
  int closed = port_of(l.get());
  l.reset();
  json::object bad{{"httpGet", json::object{{"path", "/stop"}, {"port", closed}}}};
  auto r = run_lifecycle_handler(rt, bad, t, seconds(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "HTTP lifecycle hook (/stop) for Container \"app\" in Pod \"web_default(u1)\" failed - "
            "error: Get \"http://127.0.0.1:" + std::to_string(closed) + "/stop\": dial tcp 127.0.0.1:" +
                std::to_string(closed) + ": connect: connection refused");
}

// A real gRPC server with grpc's own health service, started inside the namespace.
class GrpcHealthServer {
 public:
  // with_health = false: a server that answers every method UNIMPLEMENTED.
  explicit GrpcHealthServer(int ns_fd, bool with_health = true) {
    grpc::EnableDefaultHealthCheckService(with_health);
    in_netns(ns_fd, [&] {
      grpc::ServerBuilder b;
      b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
      // A server needs some service besides health; the generic one answers UNIMPLEMENTED.
      b.RegisterCallbackGenericService(&generic_);
      server_ = b.BuildAndStart();
    });
  }
  ~GrpcHealthServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + seconds(2));
  }
  grpc::Server* server() { return server_.get(); }
  int port() const { return port_; }

 private:
  int port_ = 0;
  grpc::CallbackGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(NetProbeTest, GrpcProbeAgainstARealHealthServer) {
  GrpcHealthServer srv(ns_->fd.get());
  ASSERT_NE(srv.server(), nullptr);
  ASSERT_GT(srv.port(), 0);
  auto* health = srv.server()->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus("kernlet.up", true);
  health->SetServingStatus("kernlet.down", false);

  auto all = grpc_probe(ns_->path, "127.0.0.1", srv.port(), "", seconds(2));
  EXPECT_EQ(all.outcome, ProbeOutcome::kSuccess) << all.message;
  EXPECT_EQ(all.message, "service is serving");
  auto up = grpc_probe(ns_->path, "127.0.0.1", srv.port(), "kernlet.up", seconds(2));
  EXPECT_EQ(up.outcome, ProbeOutcome::kSuccess) << up.message;
  auto down = grpc_probe(ns_->path, "127.0.0.1", srv.port(), "kernlet.down", seconds(2));
  EXPECT_EQ(down.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(down.message, "service unhealthy (responded with \"NOT_SERVING\")");
  auto unknown = grpc_probe(ns_->path, "127.0.0.1", srv.port(), "nope", seconds(2));
  EXPECT_EQ(unknown.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(unknown.message.rfind("error: health rpc probe failed: rpc error: code = NotFound", 0), 0u)
      << unknown.message;
  // From the host's namespace the server is not there.
  auto outside = grpc_probe("", "127.0.0.1", srv.port(), "", milliseconds(500));
  EXPECT_EQ(outside.outcome, ProbeOutcome::kFailure);
}

TEST_F(NetProbeTest, GrpcProbeAgainstAServerWithoutHealthService) {
  GrpcHealthServer srv(ns_->fd.get(), false);
  ASSERT_NE(srv.server(), nullptr);
  auto r = grpc_probe(ns_->path, "127.0.0.1", srv.port(), "", seconds(2));
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message.rfind("error: this server does not implement the grpc health protocol "
                            "(grpc.health.v1.Health): ", 0), 0u) << r.message;
}

TEST_F(NetProbeTest, GrpcProbeWithoutServerTimesOut) {
  UniqueFd l = listen_tcp(ns_->fd.get());
  int port = port_of(l.get());
  l.reset();
  auto r = grpc_probe(ns_->path, "127.0.0.1", port, "", seconds(1));
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message, "timeout: failed to connect service \"127.0.0.1:" + std::to_string(port) +
                           "\" within 1s: context deadline exceeded");
}

// The whole path: ProbeManager's own threads, the real handlers, a server in the namespace.
TEST_F(NetProbeTest, ManagerFollowsARealServer) {
  TestHttpServer srv(ns_->fd.get(), false);
  ASSERT_TRUE(srv.ok());
  UniqueFd l = listen_tcp(ns_->fd.get());
  struct NoRuntime : ProbeRuntime {
    Result<ExecOutput> exec(const std::string&, const std::vector<std::string>&, milliseconds) override {
      return Error("unused");
    }
  } rt;
  HandlerProbeRunner runner(rt);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ProbeEvent> events;
  ProbeManager mgr(runner, system_probe_clock(),
                   [&](const std::string&) {
                     std::lock_guard lock(mu);
                     cv.notify_all();
                   },
                   [&](const ProbeEvent& e) {
                     std::lock_guard lock(mu);
                     events.push_back(e);
                     cv.notify_all();
                   });
  ProbeTarget t = target();
  t.started_at = std::chrono::system_clock::now();
  t.container["readinessProbe"] = json::object{
      {"httpGet", json::object{{"path", "/toggle"}, {"port", srv.port()}}},
      {"periodSeconds", 1},
      {"failureThreshold", 1}};
  t.container["livenessProbe"] = json::object{
      {"tcpSocket", json::object{{"port", port_of(l.get())}}}, {"periodSeconds", 1}, {"failureThreshold", 2}};
  mgr.update("u1", {t});
  auto wait_for = [&](const std::function<bool()>& pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, seconds(10), pred);
  };
  ASSERT_TRUE(wait_for([&] { return mgr.state("u1", "app").ready; }));
  srv.toggle_status = 503;
  ASSERT_TRUE(wait_for([&] { return !mgr.state("u1", "app").ready; }));
  {
    std::lock_guard lock(mu);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().message, "Readiness probe failed: HTTP probe failed with statuscode: 503");
  }
  EXPECT_FALSE(mgr.state("u1", "app").liveness_failed);
  l.reset();  // the liveness port closes
  ASSERT_TRUE(wait_for([&] { return mgr.state("u1", "app").liveness_failed; }));
  EXPECT_EQ(mgr.state("u1", "app").message, "Container app failed liveness probe, will be restarted");
  srv.toggle_status = 200;
  ASSERT_TRUE(wait_for([&] { return mgr.state("u1", "app").ready; }))
      << "readiness keeps running while liveness is on hold";
}

}  // namespace
}  // namespace kernlet::agent
