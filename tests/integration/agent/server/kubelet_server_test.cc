// KubeletServer over real TLS: certificates from a test CA made with the openssl CLI,
// requests made with curl (client certificates), logs read from real CRI files that a
// writer appends to and rotates while a follower is connected.
#include "agent/server/kubelet_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/logs/cri_format.h"

namespace kernlet::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// Waits for `cond` until `timeout`; true when it held.
template <class F>
bool eventually(F cond, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

class FakeLogSource : public LogSource {
 public:
  Result<ContainerLogInfo> locate(std::string_view ns, std::string_view pod, std::string_view container,
                                  bool previous) override {
    std::lock_guard lock(mu_);
    std::string key = std::string(ns) + "/" + std::string(pod);
    auto it = paths_.find(key + "/" + std::string(container) + (previous ? "#prev" : ""));
    if (it == paths_.end()) {
      bool pod_known = false;
      for (auto& [k, v] : paths_) pod_known = pod_known || k.rfind(key + "/", 0) == 0;
      if (!pod_known) return Error(ErrorCode::kNotFound, "pod \"" + std::string(pod) + "\" does not exist");
      return Error(ErrorCode::kNotFound,
                   "container \"" + std::string(container) + "\" not found in pod \"" + std::string(pod) + "\"");
    }
    ContainerLogInfo info;
    info.path = it->second;
    if (!previous) info.running = [this] { return running.load(); };
    return info;
  }
  void add(const std::string& key, const std::string& path) {
    std::lock_guard lock(mu_);
    paths_[key] = path;
  }
  std::atomic<bool> running{true};

 private:
  std::mutex mu_;
  std::map<std::string, std::string> paths_;
};

// curl running in the background with its output in a pipe; killed by pid when done.
class Curl {
 public:
  explicit Curl(std::vector<std::string> args) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(p[1], 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>("curl"));
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("curl", argv.data());
      ::_exit(127);
    }
    ::close(p[1]);
    fd_ = p[0];
  }
  ~Curl() {
    kill();
    if (fd_ >= 0) ::close(fd_);
  }
  // Reads output until `needle` appears or `timeout` passes; true when it appeared.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return false;
    }
    return true;
  }
  // Reads to EOF (curl exited) within `timeout`; returns curl's exit status or -1.
  int wait_exit(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return -1;
      if (!read_some(static_cast<int>(left.count()))) break;
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  const std::string& out() const { return out_; }

 private:
  // False at EOF or timeout.
  bool read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    out_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
};

class KubeletServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!run("command -v openssl") || !run("command -v curl")) GTEST_SKIP() << "needs the openssl and curl CLIs";
    char tmpl[] = "/tmp/kl-kubelet-server-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string d = dir_.string();
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1";
    ASSERT_TRUE(run("openssl req -x509 " + ec + " -keyout " + d + "/ca.key -out " + d + "/ca.crt -subj /CN=test-ca"));
    ASSERT_TRUE(run("openssl req -x509 " + ec + " -keyout " + d + "/other-ca.key -out " + d +
                    "/other-ca.crt -subj /CN=other-ca"));
    auto leaf = [&](const std::string& name, const std::string& subj, const std::string& ca, const std::string& ext) {
      return run("openssl req -x509 " + ec + " -CA " + d + "/" + ca + ".crt -CAkey " + d + "/" + ca + ".key -keyout " +
                 d + "/" + name + ".key -out " + d + "/" + name + ".crt -subj '" + subj + "' " + ext);
    };
    ASSERT_TRUE(leaf("kubelet", "/CN=node-1", "ca", "-addext subjectAltName=IP:127.0.0.1,DNS:localhost"));
    ASSERT_TRUE(leaf("apiserver", "/O=system:masters/CN=kube-apiserver-kubelet-client", "ca", ""));
    ASSERT_TRUE(leaf("node", "/O=system:nodes/CN=system:node:node-2", "ca", ""));
    ASSERT_TRUE(leaf("stranger", "/O=system:masters/CN=stranger", "other-ca", ""));

    fs::create_directories(dir_ / "pods" / "web" / "app");
    log_ = (dir_ / "pods" / "web" / "app" / "0.log").string();
    source_ = std::make_shared<FakeLogSource>();
    source_->add("default/web/app", log_);
    source_->add("default/web/sidecar", (dir_ / "pods" / "web" / "missing.log").string());

    KubeletServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.cert_pem = slurp(dir_ / "kubelet.crt");
    o.key_pem = slurp(dir_ / "kubelet.key");
    o.client_ca_pem = slurp(dir_ / "ca.crt");
    server_ = std::make_unique<KubeletServer>(o, source_, [] {
      return json::array{json::object{{"metadata", json::object{{"name", "web"}, {"namespace", "default"}}}}};
    });
    auto s = server_->start();
    ASSERT_TRUE(s.ok()) << s.error().to_string();
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::vector<std::string> args(const std::string& path, const std::string& who = "apiserver") {
    std::vector<std::string> a = {"-sS", "-N", "--cacert", (dir_ / "ca.crt").string()};
    if (!who.empty()) {
      a.insert(a.end(), {"--cert", (dir_ / (who + ".crt")).string(), "--key", (dir_ / (who + ".key")).string()});
    }
    a.push_back("https://127.0.0.1:" + std::to_string(server_->port()) + path);
    return a;
  }
  // "<code> <body>" of one request.
  std::string get(const std::string& path, const std::string& who = "apiserver") {
    auto a = args(path, who);
    a.insert(a.begin(), {"-w", " %{http_code}", "-o", (dir_ / "body").string()});
    Curl c(a);
    if (c.wait_exit() != 0) return "curl failed: " + c.out();
    return c.out().substr(1) + " " + slurp(dir_ / "body");
  }
  void append(const std::string& file, const std::string& line, bool partial = false) {
    std::string rec;
    logs::append_record(rec, std::chrono::system_clock::now(), logs::Stream::kStdout, partial, line);
    std::ofstream(file, std::ios::app) << rec;
  }

  fs::path dir_;
  std::string log_;
  std::shared_ptr<FakeLogSource> source_;
  std::unique_ptr<KubeletServer> server_;
};

TEST_F(KubeletServerTest, AuthenticatesWithClientCertificates) {
  EXPECT_EQ(get("/healthz"), "200 ok");
  EXPECT_EQ(get("/healthz", ""), "401 Unauthorized");
  EXPECT_EQ(get("/healthz", "stranger"), "401 Unauthorized");
  EXPECT_EQ(get("/healthz", "node"),
            "403 Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource=proxy)");
  EXPECT_EQ(get("/nothing"), "404 404 page not found");
}

TEST_F(KubeletServerTest, ListsPods) {
  EXPECT_EQ(get("/pods"),
            R"(200 {"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"web","namespace":"default"}}]})");
}

TEST_F(KubeletServerTest, ContainerLogsWithOptions) {
  append(log_, "one");
  append(log_, "tw", true);
  append(log_, "o");
  append(log_, "three");
  EXPECT_EQ(get("/containerLogs/default/web/app"), "200 one\ntwo\nthree\n");
  EXPECT_EQ(get("/containerLogs/default/web/app?tailLines=2"), "200 two\nthree\n");
  EXPECT_EQ(get("/containerLogs/default/web/app?limitBytes=6"), "200 one\ntw");
  std::string ts = get("/containerLogs/default/web/app?timestamps=true&tailLines=1");
  EXPECT_TRUE(ts.starts_with("200 20")) << ts;
  EXPECT_TRUE(ts.ends_with("Z three\n")) << ts;
  EXPECT_EQ(get("/containerLogs/default/web/app?sinceTime=2200-01-01T00:00:00Z"), "200 ");
}

TEST_F(KubeletServerTest, ContainerLogsErrors) {
  EXPECT_EQ(get("/containerLogs/default/nope/app"), "404 pod \"nope\" does not exist");
  EXPECT_EQ(get("/containerLogs/default/web/db"), "404 container \"db\" not found in pod \"web\"");
  EXPECT_EQ(get("/containerLogs/default/web/app?tailLines=x"), "400 invalid tailLines \"x\": not an integer");
  std::string missing = get("/containerLogs/default/web/sidecar");
  EXPECT_TRUE(missing.starts_with("404 log of container \"sidecar\" in pod \"default/web\" is not available")) << missing;
}

TEST_F(KubeletServerTest, FollowStreamsGrowthAndRotationUntilTheContainerStops) {
  append(log_, "before");
  Curl follow(args("/containerLogs/default/web/app?follow=true"));
  ASSERT_TRUE(follow.wait_for("before\n")) << follow.out();
  append(log_, "grown");
  ASSERT_TRUE(follow.wait_for("grown\n")) << follow.out();
  // Rotation as RotatingLogFile does it: rename away, start a new file.
  fs::rename(log_, log_ + ".20261126-210000");
  append(log_ + ".20261126-210000", "late in the old file");
  append(log_, "in the new file");
  ASSERT_TRUE(follow.wait_for("in the new file\n")) << follow.out();
  append(log_, "last");
  source_->running = false;
  EXPECT_EQ(follow.wait_exit(), 0);
  EXPECT_EQ(follow.out(), "before\ngrown\nlate in the old file\nin the new file\nlast\n");
  // The rotated file is part of the log from now on.
  EXPECT_EQ(get("/containerLogs/default/web/app?tailLines=3"), "200 late in the old file\nin the new file\nlast\n");
}

TEST_F(KubeletServerTest, FollowEndsWhenTheClientGoesAway) {
  append(log_, "hello");
  Curl follow(args("/containerLogs/default/web/app?follow=true"));
  ASSERT_TRUE(follow.wait_for("hello\n"));
  ASSERT_EQ(server_->active_log_streams(), 1u);
  follow.kill();
  EXPECT_TRUE(eventually([&] { return server_->active_log_streams() == 0; }));
  EXPECT_EQ(get("/healthz"), "200 ok");  // the io thread is still serving
}

TEST_F(KubeletServerTest, FollowOfAStoppedContainerReturns) {
  append(log_, "done");
  source_->running = false;
  EXPECT_EQ(get("/containerLogs/default/web/app?follow=true"), "200 done\n");
}

TEST_F(KubeletServerTest, StopEndsFollowers) {
  append(log_, "x");
  Curl follow(args("/containerLogs/default/web/app?follow=1"));
  ASSERT_TRUE(follow.wait_for("x\n"));
  server_->stop();
  EXPECT_NE(follow.wait_exit(), -1);
  EXPECT_EQ(server_->active_log_streams(), 0u);
}

}  // namespace
}  // namespace kernlet::agent
