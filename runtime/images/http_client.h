// A small synchronous HTTP/1.1 client (Boost.Beast over Asio, OpenSSL for https) for the
// registry protocol: one connection per request, redirects followed, bodies streamed.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::images {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  std::string port;    // always set ("80"/"443" by default)
  std::string target;  // path and query, starting with '/'

  // Parses an absolute http(s) URL.
  static Result<Url> parse(std::string_view text);
  // Resolves `location` (absolute, or an absolute path) against this URL.
  Result<Url> resolve(std::string_view location) const;
  std::string str() const;
  // host[:port], as the Host header wants it.
  std::string authority() const;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names; repeated ones joined by ", "
  std::string body;                            // empty when streamed to a sink
  std::string header(const std::string& lower_name) const;
};

struct HttpOptions {
  std::string ca_file;               // PEM bundle to trust for https; empty → the system's default paths
  std::chrono::seconds timeout{60};  // per socket read/write
};

using Headers = std::vector<std::pair<std::string, std::string>>;
// Receives a 2xx body in chunks as it arrives.
using BodySink = std::function<Result<void>(const char* data, size_t n)>;

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options) : options_(std::move(options)) {}

  // GET (or HEAD) `url`, following up to 5 redirects (Authorization is dropped when a
  // redirect leaves the original host). A 2xx body goes to `sink` when given; other bodies
  // (and 2xx bodies without a sink) are returned, up to max_body bytes.
  Result<HttpResponse> request(std::string_view method, const Url& url, const Headers& headers,
                               const BodySink& sink = nullptr, size_t max_body = 16 << 20) const;

 private:
  Result<HttpResponse> once(std::string_view method, const Url& url, const Headers& headers, const BodySink& sink,
                            size_t max_body) const;
  HttpOptions options_;
};

}  // namespace kernlet::images
