// The client side of the OCI distribution spec: /v2/ ping, manifests by tag or digest with
// Accept negotiation, blobs, and the Docker token flow (a 401 with
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…` → GET realm → retry with the token)
// or Basic auth. Thread-safe: layers are fetched from several threads with one client.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/result.h"
#include "runtime/images/digest.h"
#include "runtime/images/http_client.h"

namespace kernlet::images {

struct Credentials {
  std::string username;
  std::string password;
};

struct RegistryOptions {
  bool plain_http = false;                 // http:// instead of https:// (loopback test registries)
  std::string ca_file;                     // extra PEM CA bundle for https; empty → system trust
  std::optional<Credentials> credentials;  // for Basic auth and for the token endpoint
  std::chrono::seconds timeout{60};
};

// One WWW-Authenticate challenge: scheme ("bearer", "basic", lower-cased) and parameters.
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;  // lower-cased keys: realm, service, scope, error
};
// Parses the first challenge of a WWW-Authenticate header value.
Result<AuthChallenge> parse_www_authenticate(std::string_view value);

class RegistryClient {
 public:
  // `host` is host[:port] as in the image reference ("127.0.0.1:5000").
  RegistryClient(std::string host, RegistryOptions options);

  // GET /v2/: reachable and speaks the protocol (200, or 401 with a challenge).
  Result<void> ping();

  struct Manifest {
    std::string body;
    std::string media_type;  // from Content-Type
    Digest digest;           // sha256 of body, checked against the digest asked for and
                             // against Docker-Content-Digest when the server sends one
  };
  // GET /v2/<repo>/manifests/<reference> (a tag or a digest).
  Result<Manifest> get_manifest(const std::string& repo, const std::string& reference);
  // GET /v2/<repo>/blobs/<digest>, the body streamed to `sink` (verification is the sink's).
  Result<void> get_blob(const std::string& repo, const Digest& digest, const BodySink& sink);

 private:
  Result<HttpResponse> send(std::string_view method, const std::string& path, Headers headers, const std::string& scope,
                            const BodySink& sink);
  Result<std::string> fetch_token(const AuthChallenge& challenge, const std::string& scope);
  std::string basic_auth() const;
  Url url(const std::string& path) const;

  std::string host_;
  RegistryOptions options_;
  HttpClient http_;
  std::mutex mu_;
  std::map<std::string, std::string> tokens_;  // scope → "Bearer …" or "Basic …"
};

}  // namespace kernlet::images
