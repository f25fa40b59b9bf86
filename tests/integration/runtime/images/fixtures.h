// Helpers for the image integration tests: the project's test images (built once per build
// tree by tests/images/build.sh and cached next to the test binary), running tools, and a
// child process owned by a test (killed by pid when it goes out of scope).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/images/digest.h"
#include "runtime/images/fs.h"
#include "tests/unit/runtime/images/temp_dir.h"

extern char** environ;

namespace kernlet::images::testing {

inline bool have(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// Runs argv, output to `log` (or inherited); returns the exit status (-1 on spawn failure).
inline int run(const std::vector<std::string>& argv, const std::string& log = {}) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!log.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void spit(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::trunc);
  f << data;
}

// A child process started by the test; SIGKILLed by pid and reaped on destruction.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child& operator=(Child&& o) noexcept {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    return *this;
  }
  ~Child() { stop(); }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A loopback port nobody listens on right now (the kernel's choice for an ephemeral bind).
inline int unused_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// Waits until something accepts TCP connections on 127.0.0.1:port, or the deadline passes.
inline bool wait_for_port(int port, const Child& owner, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (!owner.running()) return false;
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// The directory holding the OCI layouts `busybox` and `layered` from tests/images/build.sh,
// built once per build tree (keyed by the script and the busybox binary) and shared by all
// test processes; empty with `why` set when it cannot be built.
inline std::string test_images(std::string* why) {
  const std::string script = std::string(KERNLET_SOURCE_DIR) + "/tests/images/build.sh";
  const std::string busybox = "/bin/busybox";
  struct stat bb;
  if (::stat(busybox.c_str(), &bb) != 0) {
    *why = "busybox-static is not installed (/bin/busybox)";
    return {};
  }
  std::string key(
      Digest::of(slurp(script) + std::to_string(bb.st_size) + std::to_string(bb.st_mtime)).hex().substr(0, 16));
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string("/tmp/x");
  std::string cache = dir.substr(0, dir.rfind('/')) + "/runtime-images-fixtures";
  std::string final_dir = cache + "/" + key;
  struct stat st;
  if (::stat((final_dir + "/layered/index.json").c_str(), &st) == 0) return final_dir;
  ::mkdir(cache.c_str(), 0755);
  std::string tmp = final_dir + ".tmp-" + std::to_string(::getpid());
  std::string log = tmp + ".log";
  if (run({script, tmp}, log) != 0) {
    *why = "tests/images/build.sh failed: " + slurp(log);
    ::unlink(log.c_str());
    return {};
  }
  ::unlink(log.c_str());
  // Publish in one rename; a concurrent builder that won leaves ours to be removed.
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int parent = ::open(cache.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    (void)remove_tree_at(parent, tmp.substr(tmp.rfind('/') + 1));
    ::close(parent);
  }
  return final_dir;
}

}  // namespace kernlet::images::testing
