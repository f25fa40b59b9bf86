// Where the API server is and how to authenticate to it: kubeconfig files, and the
// in-cluster style where the parts are given explicitly.
//
// Pure data and parsing: nothing here opens a connection. Thread-safety: free functions
// are safe to call concurrently; a ClientConfig is a plain value.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::client {

// Everything a RestClient needs to reach one API server as one user. PEM contents, not
// paths: files named by a kubeconfig are read when it is loaded, so a config is
// self-contained and a bad path is reported at load time, naming the field.
struct ClientConfig {
  std::string server;            // "https://127.0.0.1:6443" (optionally with a path prefix)
  std::string ca_pem;            // CA bundle for the server; empty = system trust store
  std::string client_cert_pem;   // client certificate (chain); empty = none
  std::string client_key_pem;    // its private key
  std::string token;             // bearer token; empty = none
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;   // name to verify instead of the server URL's host
  std::string namespace_;        // the context's namespace ("default" when unset)
  std::string user_agent = "kernlet-client";
  std::chrono::milliseconds timeout{30'000};  // per request (connect + send + receive); not watches
};

// Parses kubeconfig text. `source` names it in errors (usually the path); relative file
// paths in it are resolved against `base_dir`, as kubectl resolves them against the
// kubeconfig's directory. `context` picks a context; empty = current-context.
// Errors name the source and the field:
// `kubeconfig /x/admin.kubeconfig: users[admin].user.client-key-data: invalid base64`.
Result<ClientConfig> parse_kubeconfig(std::string_view text, std::string_view source,
                                      const std::filesystem::path& base_dir, std::string_view context = {});

// Reads and parses a kubeconfig file (see parse_kubeconfig).
Result<ClientConfig> load_kubeconfig(const std::filesystem::path& path, std::string_view context = {});

// In-cluster style config from explicit parts: the server URL, a CA bundle file and a
// token file (either may be empty = not used). Errors name the file that failed.
Result<ClientConfig> in_cluster_config(std::string server, const std::filesystem::path& ca_file,
                                       const std::filesystem::path& token_file);

// Standard base64 (RFC 4648, padding optional, whitespace ignored); errors on any other
// byte. Exposed for tests.
Result<std::string> base64_decode(std::string_view in);

}  // namespace kernlet::client
