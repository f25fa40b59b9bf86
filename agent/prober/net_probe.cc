#include "agent/prober/net_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

namespace kernlet::agent {

const char* const kProbeUserAgent = "kube-probe/1.30";
const char* const kLifecycleUserAgent = "kube-lifecycle/1.30";
const char* const kHttpResponseToHttps = "http: server gave HTTP response to HTTPS client";

namespace {

constexpr size_t kMaxBody = 10 * 1024;     // the kubelet's maxRespBodyLength
constexpr size_t kMaxHeader = 64 * 1024;   // a response head larger than this is refused
constexpr int kMaxRedirects = 10;          // Go's default checker, kept by the kubelet

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

// Go prints syscall errors in lower case ("connection refused").
std::string go_errno_text(int e) {
  std::string s = std::strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

int remaining_ms(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

// Waits until fd is ready for `events` or the deadline passes (kDeadlineExceeded).
Result<void> wait_fd(int fd, short events, Deadline deadline) {
  for (;;) {
    int ms = remaining_ms(deadline);
    if (ms == 0) return Error(ErrorCode::kDeadlineExceeded, "i/o timeout");
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return Ok();
    if (r == 0) return Error(ErrorCode::kDeadlineExceeded, "i/o timeout");
    if (errno != EINTR) return Error::from_errno("poll");
  }
}

// host:port as Go's net.JoinHostPort writes it.
std::string join_host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<std::vector<sockaddr_storage>> resolve(const std::string& host, int port) {
  std::vector<sockaddr_storage> out;
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.push_back(ss);
    return out;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.push_back(ss);
    return out;
  }
  // A name: resolved by the agent's resolver (the pod's resolv.conf is the pod's business;
  // the kubelet resolves probe hosts in its own namespace too).
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Error("lookup " + host + ": " + ::gai_strerror(rc));
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    sockaddr_storage s{};
    std::memcpy(&s, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof(s)));
    out.push_back(s);
  }
  ::freeaddrinfo(res);
  if (out.empty()) return Error("lookup " + host + ": no such host");
  return out;
}

Result<UniqueFd> connect_one(const std::string& netns_path, const sockaddr_storage& addr,
                             Deadline deadline) {
  KL_ASSIGN_OR_RETURN(UniqueFd fd, socket_in_netns(netns_path, addr.ss_family,
                                                   SOCK_STREAM | SOCK_NONBLOCK));
  socklen_t len = addr.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0) return fd;
  if (errno != EINPROGRESS) return Error("connect: " + go_errno_text(errno), errno);
  KL_TRY(wait_fd(fd.get(), POLLOUT, deadline));
  int err = 0;
  socklen_t elen = sizeof(err);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
    return Error::from_errno("getsockopt SO_ERROR");
  if (err != 0) return Error("connect: " + go_errno_text(err), err);
  return fd;
}

// One HTTP(S) connection with deadline-bounded I/O on a non-blocking socket.
class Conn {
 public:
  explicit Conn(UniqueFd fd) : fd_(std::move(fd)) {}
  ~Conn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // TLS without certificate verification, as the kubelet's probe client
  // (InsecureSkipVerify); SNI only for names, as Go does.
  Result<void> start_tls(const std::string& host, Deadline deadline) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return Error("tls: SSL_CTX_new failed");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return Error("tls: SSL_new failed");
    SSL_set_fd(ssl_, fd_.get());
    in_addr a4{};
    in6_addr a6{};
    if (::inet_pton(AF_INET, host.c_str(), &a4) != 1 &&
        ::inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      SSL_set_tlsext_host_name(ssl_, host.c_str());
    // Go's check for a server that speaks plain HTTP: the first "record header" it sends
    // is "HTTP/". OpenSSL reports each record header it reads to the message callback.
    SSL_set_msg_callback(ssl_, [](int write_p, int, int content_type, const void* buf,
                                  size_t len, SSL*, void* arg) {
      auto* self = static_cast<Conn*>(arg);
      if (write_p == 0 && content_type == SSL3_RT_HEADER && len >= 5 && self->first_header_.empty())
        self->first_header_.assign(static_cast<const char*>(buf), 5);
    });
    SSL_set_msg_callback_arg(ssl_, this);
    for (;;) {
      ERR_clear_error();
      int r = SSL_connect(ssl_);
      if (r == 1) return Ok();
      int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && first_header_ == "HTTP/")
        return Error(std::string(kHttpResponseToHttps));
      KL_TRY(ssl_wait(r, deadline, "tls handshake"));
    }
  }

  Result<void> write_all(std::string_view data, Deadline deadline) {
    while (!data.empty()) {
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (r > 0) {
          data.remove_prefix(static_cast<size_t>(r));
          continue;
        }
        KL_TRY(ssl_wait(r, deadline, "write"));
        continue;
      }
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        KL_TRY(wait_fd(fd_.get(), POLLOUT, deadline));
      } else {
        return Error("write: " + go_errno_text(errno), errno);
      }
    }
    return Ok();
  }

  // Reads some bytes; 0 at end of stream.
  Result<size_t> read_some(char* buf, size_t cap, Deadline deadline) {
    for (;;) {
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_read(ssl_, buf, static_cast<int>(cap));
        if (r > 0) return static_cast<size_t>(r);
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_ZERO_RETURN) return size_t{0};
        // A peer that closes without close_notify: Go treats it as EOF for Connection: close.
        if (e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL && r == 0)) return size_t{0};
        KL_TRY(ssl_wait(r, deadline, "read"));
        continue;
      }
      ssize_t n = ::recv(fd_.get(), buf, cap, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EAGAIN || errno == EINTR) {
        KL_TRY(wait_fd(fd_.get(), POLLIN, deadline));
        continue;
      }
      return Error("read: " + go_errno_text(errno), errno);
    }
  }

 private:
  Result<void> ssl_wait(int r, Deadline deadline, const char* what) {
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) return wait_fd(fd_.get(), POLLIN, deadline);
    if (e == SSL_ERROR_WANT_WRITE) return wait_fd(fd_.get(), POLLOUT, deadline);
    unsigned long code = ERR_get_error();
    char text[256] = "connection closed";
    if (code != 0) ERR_error_string_n(code, text, sizeof(text));
    return Error(std::string(what) + ": " + text);
  }

  UniqueFd fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string first_header_;  // the first TLS record header the server sent
};

struct Url {
  std::string scheme;  // "http" / "https"
  std::string host;    // without brackets
  int port = 0;
  std::string path;    // path and query, starts with '/'
  std::string string() const { return scheme + "://" + join_host_port(host, port) + path; }
};

// Resolves a Location header against the request's URL (absolute, scheme-relative,
// absolute-path and relative references).
std::optional<Url> resolve_location(const Url& base, std::string_view loc) {
  Url u = base;
  auto parse_authority = [&u](std::string_view auth, int default_port) -> bool {
    u.port = default_port;
    if (!auth.empty() && auth.front() == '[') {
      size_t close = auth.find(']');
      if (close == std::string_view::npos) return false;
      u.host = std::string(auth.substr(1, close - 1));
      auth.remove_prefix(close + 1);
      if (!auth.empty() && auth.front() == ':') u.port = std::atoi(std::string(auth.substr(1)).c_str());
      return true;
    }
    size_t colon = auth.rfind(':');
    if (colon != std::string_view::npos) {
      u.host = std::string(auth.substr(0, colon));
      u.port = std::atoi(std::string(auth.substr(colon + 1)).c_str());
    } else {
      u.host = std::string(auth);
    }
    return !u.host.empty() && u.port > 0 && u.port < 65536;
  };
  size_t scheme_end = loc.find("://");
  if (scheme_end != std::string_view::npos && loc.find('/') > scheme_end) {
    u.scheme = lower(loc.substr(0, scheme_end));
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    loc.remove_prefix(scheme_end + 3);
    size_t slash = loc.find_first_of("/?");
    if (!parse_authority(loc.substr(0, slash), u.scheme == "https" ? 443 : 80)) return std::nullopt;
    u.path = slash == std::string_view::npos ? "/" : std::string(loc.substr(slash));
    if (u.path.front() == '?') u.path.insert(0, "/");
  } else if (loc.substr(0, 2) == "//") {
    loc.remove_prefix(2);
    size_t slash = loc.find_first_of("/?");
    if (!parse_authority(loc.substr(0, slash), u.scheme == "https" ? 443 : 80)) return std::nullopt;
    u.path = slash == std::string_view::npos ? "/" : std::string(loc.substr(slash));
  } else if (!loc.empty() && loc.front() == '/') {
    u.path = std::string(loc);
  } else {
    std::string dir = base.path.substr(0, base.path.find('?'));
    dir = dir.substr(0, dir.rfind('/') + 1);
    u.path = dir + std::string(loc);
  }
  size_t frag = u.path.find('#');
  if (frag != std::string::npos) u.path.resize(frag);
  return u;
}

struct RawResponse {
  int status = 0;
  std::string location;
  std::string body;
  bool body_timeout = false;
};

// Decodes what arrived of a chunked body (enough for the message text).
std::string dechunk(std::string_view raw) {
  std::string out;
  while (!raw.empty() && out.size() < kMaxBody) {
    size_t eol = raw.find("\r\n");
    if (eol == std::string_view::npos) break;
    size_t size = std::strtoul(std::string(raw.substr(0, eol)).c_str(), nullptr, 16);
    if (size == 0) break;
    raw.remove_prefix(eol + 2);
    out.append(raw.substr(0, std::min(size, raw.size())));
    if (size + 2 > raw.size()) break;
    raw.remove_prefix(size + 2);
  }
  if (out.size() > kMaxBody) out.resize(kMaxBody);
  return out;
}

// One request/response exchange. Errors are transport errors, worded like Go's.
Result<RawResponse> exchange(const std::string& netns_path, const Url& url,
                             const std::string& host_header, const HttpGetRequest& req,
                             Deadline deadline) {
  KL_ASSIGN_OR_RETURN(UniqueFd fd, dial_tcp(netns_path, url.host, url.port, deadline));
  Conn conn(std::move(fd));
  if (url.scheme == "https") KL_TRY(conn.start_tls(url.host, deadline));

  std::string head = "GET " + url.path + " HTTP/1.1\r\nHost: " + host_header + "\r\n";
  bool has_ua = false, has_accept = false;
  for (const auto& [name, value] : req.headers) {
    if (iequals(name, "Host")) continue;
    if (iequals(name, "User-Agent")) {
      has_ua = true;
      if (value.empty()) continue;
    }
    if (iequals(name, "Accept")) {
      has_accept = true;
      if (value.empty()) continue;  // an empty Accept removes the header (kubelet)
    }
    head += name + ": " + value + "\r\n";
  }
  if (!has_ua && !req.user_agent.empty()) head += "User-Agent: " + req.user_agent + "\r\n";
  if (!has_accept) head += "Accept: */*\r\n";
  head += "Connection: close\r\n\r\n";
  KL_TRY(conn.write_all(head, deadline));

  std::string buf;
  char chunk[4096];
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    auto n = conn.read_some(chunk, sizeof(chunk), deadline);
    if (!n.ok()) {
      if (n.error().code() == ErrorCode::kDeadlineExceeded)
        return Error(ErrorCode::kDeadlineExceeded,
                     "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
      return std::move(n).error();
    }
    if (*n == 0) return Error("EOF");
    buf.append(chunk, *n);
    head_end = buf.find("\r\n\r\n");
    if (head_end == std::string::npos && buf.size() > kMaxHeader)
      return Error("net/http: response header too large");
  }
  RawResponse resp;
  std::string_view h(buf.data(), head_end);
  size_t eol = h.find("\r\n");
  std::string_view status_line = h.substr(0, eol);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12)
    return Error("malformed HTTP response " + go_quote(status_line));
  resp.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  if (resp.status < 100 || resp.status > 999)
    return Error("malformed HTTP status code " + go_quote(status_line.substr(9, 3)));
  int64_t content_length = -1;
  bool chunked = false;
  while (eol != std::string_view::npos) {
    h.remove_prefix(eol + 2);
    eol = h.find("\r\n");
    std::string_view line = h.substr(0, eol);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") content_length = std::atoll(std::string(value).c_str());
    if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) chunked = true;
    if (name == "location") resp.location = std::string(value);
  }

  std::string raw = buf.substr(head_end + 4);
  auto body_done = [&]() {
    if (chunked) return raw.find("\r\n0\r\n") != std::string::npos || raw.rfind("0\r\n", 0) == 0 ||
                        dechunk(raw).size() >= kMaxBody;
    if (content_length >= 0) return raw.size() >= static_cast<size_t>(content_length);
    return raw.size() >= kMaxBody;
  };
  while (!body_done()) {
    auto n = conn.read_some(chunk, sizeof(chunk), deadline);
    if (!n.ok()) {
      if (n.error().code() == ErrorCode::kDeadlineExceeded) {
        resp.body_timeout = true;
        break;
      }
      return std::move(n).error();
    }
    if (*n == 0) break;
    raw.append(chunk, *n);
  }
  if (chunked) {
    resp.body = dechunk(raw);
  } else {
    if (content_length >= 0 && raw.size() > static_cast<size_t>(content_length))
      raw.resize(static_cast<size_t>(content_length));
    resp.body = raw.substr(0, kMaxBody);
  }
  return resp;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

Result<UniqueFd> socket_in_netns(const std::string& netns_path, int domain, int type) {
  if (netns_path.empty()) {
    int fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error::from_errno("socket");
    return UniqueFd(fd);
  }
  UniqueFd target(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target) return Error::from_errno("open network namespace " + netns_path);
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) return Error::from_errno("open /proc/thread-self/ns/net");
  if (::setns(target.get(), CLONE_NEWNET) != 0)
    return Error::from_errno("setns network namespace " + netns_path);
  int fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
  int socket_errno = errno;
  if (::setns(own.get(), CLONE_NEWNET) != 0) {
    // Going on would run every later network call of this thread in a pod's network.
    std::fprintf(stderr, "fatal prober: cannot return from network namespace %s: %s\n",
                 netns_path.c_str(), std::strerror(errno));
    std::abort();
  }
  if (fd < 0) {
    errno = socket_errno;
    return Error::from_errno("socket in network namespace " + netns_path);
  }
  return UniqueFd(fd);
}

Result<UniqueFd> dial_tcp(const std::string& netns_path, const std::string& host, int port,
                          Deadline deadline) {
  std::string prefix = "dial tcp " + join_host_port(host, port) + ": ";
  auto addrs = resolve(host, port);
  if (!addrs.ok()) return Error("dial tcp " + join_host_port(host, port) + ": " + addrs.error().message());
  Error last("no addresses");
  for (const auto& a : *addrs) {
    auto fd = connect_one(netns_path, a, deadline);
    if (fd.ok()) return fd;
    last = std::move(fd).error();
    if (last.code() == ErrorCode::kDeadlineExceeded) break;
  }
  if (last.code() == ErrorCode::kDeadlineExceeded)
    return Error(ErrorCode::kDeadlineExceeded, prefix + last.message());
  return Error(prefix + last.message(), 0);
}

Result<HttpGetResponse> http_get(const std::string& netns_path, const HttpGetRequest& req,
                                 Deadline deadline) {
  Url url;
  url.scheme = lower(req.scheme);
  if (url.scheme != "http" && url.scheme != "https")
    return Error("unsupported protocol scheme " + go_quote(url.scheme));
  url.host = req.host;
  url.port = req.port;
  url.path = req.path.empty() ? "/" : req.path;
  if (url.path.front() != '/') url.path.insert(0, "/");

  std::string host_header = join_host_port(url.host, url.port);
  std::string custom_host;
  for (const auto& [name, value] : req.headers)
    if (iequals(name, "Host")) custom_host = value;
  if (!custom_host.empty()) host_header = custom_host;

  const std::string first_host = lower(url.host);
  for (int redirects = 0;; ++redirects) {
    auto resp = exchange(netns_path, url, host_header, req, deadline);
    if (!resp.ok()) {
      Error e = std::move(resp).error();
      return Error(e.code(), "Get " + go_quote(url.string()) + ": " + e.message());
    }
    if (resp->body_timeout)
      return Error(ErrorCode::kDeadlineExceeded,
                   "context deadline exceeded (Client.Timeout or context cancellation while reading body)");
    if (!is_redirect(resp->status) || resp->location.empty())
      return HttpGetResponse{resp->status, std::move(resp->body), url.string()};
    auto next = resolve_location(url, resp->location);
    if (!next) return HttpGetResponse{resp->status, std::move(resp->body), url.string()};
    // The kubelet follows redirects only on the first request's host; elsewhere the 3xx
    // response is the answer (http.ErrUseLastResponse).
    if (lower(next->host) != first_host)
      return HttpGetResponse{resp->status, std::move(resp->body), url.string()};
    if (redirects + 1 >= kMaxRedirects)
      return Error("Get " + go_quote(next->string()) + ": stopped after 10 redirects");
    bool relative = resp->location.find("://") == std::string::npos &&
                    resp->location.substr(0, 2) != "//";
    // Go keeps a custom Host header only across relative redirects.
    if (custom_host.empty() || !relative) host_header = join_host_port(next->host, next->port);
    url = *next;
  }
}

ProbeResult http_probe(const std::string& netns_path, const HttpGetRequest& req,
                       std::chrono::milliseconds timeout) {
  auto resp = http_get(netns_path, req, std::chrono::steady_clock::now() + timeout);
  if (!resp.ok()) {
    // A body that cannot be read is an error of the probe; everything else (refused,
    // timeouts while connecting or awaiting headers) is a failure with Go's text.
    if (resp.error().message().find("while reading body") != std::string::npos)
      return {ProbeOutcome::kError, resp.error().message()};
    return {ProbeOutcome::kFailure, resp.error().message()};
  }
  if (resp->status >= 200 && resp->status < 400) {
    if (resp->status >= 300)
      return {ProbeOutcome::kWarning, "Probe terminated redirects, Response body: " + resp->body};
    return {ProbeOutcome::kSuccess, std::move(resp->body)};
  }
  return {ProbeOutcome::kFailure,
          "HTTP probe failed with statuscode: " + std::to_string(resp->status)};
}

ProbeResult tcp_probe(const std::string& netns_path, const std::string& host, int port,
                      std::chrono::milliseconds timeout) {
  auto fd = dial_tcp(netns_path, host, port, std::chrono::steady_clock::now() + timeout);
  if (!fd.ok()) return {ProbeOutcome::kFailure, fd.error().message()};
  return {ProbeOutcome::kSuccess, ""};
}

}  // namespace kernlet::agent
