// A real kernlet-control for the client's integration tests: started from $KERNLET_BIN on
// a fresh data directory and a free loopback port, stopped by pid, removed afterwards.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "api/client/config.h"
#include "api/client/rest_client.h"

namespace kernlet::client::testing {

// Polls `pred` until it holds or `timeout` passes; true when it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class ControlPlane {
 public:
  // $KERNLET_BIN/kernlet-control, else the one this build made; empty when neither is
  // an executable (the test then skips).
  static std::string binary() {
    std::string path;
    if (const char* bin = std::getenv("KERNLET_BIN")) {
      path = std::string(bin) + "/kernlet-control";
    } else {
#ifdef KERNLET_CONTROL_BIN
      path = KERNLET_CONTROL_BIN;
#endif
    }
    return !path.empty() && ::access(path.c_str(), X_OK) == 0 ? path : "";
  }

  explicit ControlPlane(std::vector<std::string> extra_args = {}, bool insecure = false)
      : extra_(std::move(extra_args)), insecure_(insecure) {
    static std::atomic<int> seq{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("kl-client-it-" + std::to_string(::getpid()) + "-" + std::to_string(seq++));
    std::filesystem::create_directories(dir_);
    port_ = free_port();
  }
  ~ControlPlane() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts the server and waits until it answers /readyz. Error with its log otherwise.
  // Before the first successful start a port taken meanwhile by someone else (the free
  // port was only probed) is replaced by another; restarts keep the port.
  Result<void> start() {
    for (int attempt = 0;; ++attempt) {
      auto r = start_once();
      if (r.ok()) {
        started_once_ = true;
        return r;
      }
      if (started_once_ || attempt == 2) return r;
      port_ = free_port();
    }
  }

 private:
  Result<void> start_once() {
    std::vector<std::string> args = {binary(), "--data-dir", (dir_ / "data").string()};
    args.push_back(insecure_ ? "--insecure-listen" : "--listen");
    args.push_back("127.0.0.1:" + std::to_string(port_));
    // The client is under test, not the scheduler and controllers: without them no one
    // else writes the objects the tests read back (a status the scheduler patches would
    // make an update conflict).
    args.push_back("--disable-scheduler");
    args.push_back("--disable-controllers");
    for (const auto& a : extra_) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = (dir_ / "control.log").string();
    pid_ = ::fork();
    if (pid_ < 0) return Error::from_errno("fork");
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    bool ready = eventually([&] {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      if (!insecure_ && !std::filesystem::exists(kubeconfig_path())) return false;
      auto cfg = config();
      if (!cfg.ok()) return false;
      auto c = RestClient::create(*cfg);
      if (!c.ok()) return false;
      auto r = (*c)->request("GET", "/readyz");
      return r.ok() && r->status == 200;
    });
    if (!ready || pid_ < 0) return Error("kernlet-control did not become ready; log:\n" + read_log());
    return Ok();
  }


 public:
  // SIGTERM, then SIGKILL after 10 s; waits for the exit.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool gone = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(10));
    if (!gone) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  std::filesystem::path kubeconfig_path() const { return dir_ / "data" / "admin.kubeconfig"; }
  int port() const { return port_; }

  Result<ClientConfig> config() const {
    if (insecure_) {
      ClientConfig c;
      c.server = "http://127.0.0.1:" + std::to_string(port_);
      return c;
    }
    return load_kubeconfig(kubeconfig_path());
  }

  Result<std::shared_ptr<RestClient>> client() const {
    KL_ASSIGN_OR_RETURN(ClientConfig c, config());
    return RestClient::create(c);
  }

  std::string read_log() const {
    std::ifstream in(dir_ / "control.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  std::vector<std::string> extra_;
  bool insecure_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool started_once_ = false;
};

}  // namespace kernlet::client::testing
