// Helpers the end-to-end benchmarks share: a minimal blocking HTTP/1.1 client on loopback,
// starting and stopping a server process by pid, its RSS and CPU time from /proc, and the
// machine line every result carries (CPU, kernel, load at start).
//
// Header-only on purpose: each benchmark is one translation unit and links nothing of
// the product it measures from the outside. Not thread-safe per object (one HttpConn per
// thread).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace kernlet::bench {

using Clock = std::chrono::steady_clock;

inline int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A port that was free a moment ago on 127.0.0.1.
inline uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port.
class HttpConn {
 public:
  explicit HttpConn(uint16_t port) : fd_(connect_loopback(port)) {}
  ~HttpConn() {
    if (fd_ >= 0) close(fd_);
  }
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends one request; returns the status (0 on a transport error) and the body.
  int request(const std::string& method, const std::string& path, const std::string& body, std::string* out_body,
              const std::string& content_type = "application/json") {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n";
    req += body;
    if (!send_all(req)) return 0;
    return read_response(out_body);
  }

  // Sends a request whose response is a stream; returns the status once headers arrived.
  int start_stream(const std::string& path) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (!send_all(req)) return 0;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return 0;
    }
    int status = std::atoi(buf_.c_str() + 9);
    buf_.erase(0, end + 4);
    return status;
  }
  // What has been read past the last response (a stream's body so far).
  std::string& buffer() { return buf_; }
  // Reads more into buffer(); false on EOF or error.
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

 private:
  bool send_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  int read_response(std::string* out_body) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return 0;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::atoi(head.c_str() + 9);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string body;
    if (auto cl = lower.find("content-length:"); cl != std::string::npos) {
      size_t len = std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
      while (buf_.size() < len) {
        if (!fill()) return 0;
      }
      body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos) {
          if (!fill()) return 0;
        }
        size_t len = std::strtoul(buf_.c_str(), nullptr, 16);
        while (buf_.size() < le + 2 + len + 2) {
          if (!fill()) return 0;
        }
        body.append(buf_, le + 2, len);
        buf_.erase(0, le + 2 + len + 2);
        if (len == 0) break;
      }
    }
    if (out_body != nullptr) *out_body = std::move(body);
    return status;
  }

  int fd_;
  std::string buf_;
};

// ---- processes -------------------------------------------------------------------------

// Starts argv with stdout and stderr going to `log`; the child's pid (or -1).
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps it.
inline void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

inline double rss_mb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

// User + system CPU seconds the process (all its threads) has used so far.
inline double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::vector<std::string> fields;
  size_t i = close_paren + 2;
  while (i < stat.size() && fields.size() < 15) {
    size_t sp = stat.find(' ', i);
    if (sp == std::string::npos) sp = stat.size();
    fields.push_back(stat.substr(i, sp - i));
    i = sp + 1;
  }
  if (fields.size() < 13) return 0;
  // fields[0] is state (field 3); utime is field 14, stime field 15.
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr)) / ticks;
}

// Polls until `method path` answers 200 (30 s at most); false if the process exited.
inline bool wait_ready(uint16_t port, const std::string& path, const std::string& method, const std::string& body,
                       pid_t pid) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;
    HttpConn c(port);
    if (c.ok() && c.request(method, path, body, nullptr) == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The p-th quantile (0..1) of sorted nanoseconds, in milliseconds.
inline double pct_ms(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1e6;
}

inline double loadavg_1m() {
  std::ifstream la("/proc/loadavg");
  double load1 = 0;
  la >> load1;
  return load1;
}

// {"cpus": 2, "cpu": "...", "kernel": "...", "loadavg_1m_at_start": 3.1}
inline std::string machine_json() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  // Other work on the machine skews every figure: say how busy it was.
  char load[32];
  std::snprintf(load, sizeof load, "%.1f", loadavg_1m());
  return "{\"cpus\": " + std::to_string(std::thread::hardware_concurrency()) + ", \"cpu\": \"" + model +
         "\", \"kernel\": \"" + u.release + "\", \"loadavg_1m_at_start\": " + load + "}";
}

}  // namespace kernlet::bench
