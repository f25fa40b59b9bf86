#include "runtime/images/registry_client.h"

#include <openssl/evp.h>

#include <cctype>

#include "api/json.h"
#include "runtime/images/oci.h"

namespace kernlet::images {

namespace {

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Error http_error(const std::string& what, const HttpResponse& r) {
  ErrorCode code = r.status == 404                      ? ErrorCode::kNotFound
                   : r.status == 401                    ? ErrorCode::kUnauthenticated
                   : r.status == 403                    ? ErrorCode::kPermissionDenied
                   : r.status == 429 || r.status >= 500 ? ErrorCode::kUnavailable
                                                        : ErrorCode::kUnknown;
  std::string detail;
  // Registries explain themselves in {"errors":[{"code","message"}]}.
  if (auto doc = json::parse_object(r.body, "error"); doc.ok()) {
    if (const auto* errs = json::get_array(*doc, "errors"))
      for (const auto& e : *errs)
        if (e.is_object())
          detail += (detail.empty() ? "" : "; ") + std::string(json::get_string(e.get_object(), "code")) + ": " +
                    std::string(json::get_string(e.get_object(), "message"));
  }
  return Error(code, what + ": HTTP " + std::to_string(r.status) + (detail.empty() ? "" : " (" + detail + ")"));
}

}  // namespace

Result<AuthChallenge> parse_www_authenticate(std::string_view v) {
  AuthChallenge c;
  size_t i = 0;
  while (i < v.size() && v[i] == ' ') ++i;
  size_t s = i;
  while (i < v.size() && v[i] != ' ') ++i;
  for (size_t k = s; k < i; ++k) c.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(v[k]))));
  if (c.scheme.empty()) return Error(ErrorCode::kInvalidArgument, "WWW-Authenticate: empty");
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == ',')) ++i;
    size_t ks = i;
    while (i < v.size() && v[i] != '=' && v[i] != ',' && v[i] != ' ') ++i;
    std::string key;
    for (size_t k = ks; k < i; ++k) key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(v[k]))));
    if (i >= v.size() || v[i] != '=') {
      if (key.empty()) break;
      // A bare token after the parameters starts the next challenge: stop at the first.
      break;
    }
    ++i;
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        value.push_back(v[i++]);
      }
      if (i >= v.size()) return Error(ErrorCode::kInvalidArgument, "WWW-Authenticate: unterminated quoted string");
      ++i;
    } else {
      while (i < v.size() && v[i] != ',') value.push_back(v[i++]);
    }
    c.params[key] = value;
  }
  return c;
}

RegistryClient::RegistryClient(std::string host, RegistryOptions options)
    : host_(std::move(host)), options_(std::move(options)), http_(HttpOptions{options_.ca_file, options_.timeout}) {}

Url RegistryClient::url(const std::string& path) const {
  auto u = Url::parse((options_.plain_http ? "http://" : "https://") + host_ + path);
  return u.ok() ? *u : Url{};
}

std::string RegistryClient::basic_auth() const {
  if (!options_.credentials) return {};
  return "Basic " + base64(options_.credentials->username + ":" + options_.credentials->password);
}

Result<std::string> RegistryClient::fetch_token(const AuthChallenge& ch, const std::string& scope) {
  auto realm_it = ch.params.find("realm");
  if (realm_it == ch.params.end() || realm_it->second.empty())
    return Error(ErrorCode::kUnauthenticated, "registry " + host_ + ": Bearer challenge without a realm");
  KL_ASSIGN_OR_RETURN(Url realm, Url::parse(realm_it->second));
  std::string query;
  if (auto it = ch.params.find("service"); it != ch.params.end()) query += "service=" + url_encode(it->second);
  std::string sc = scope;
  if (auto it = ch.params.find("scope"); it != ch.params.end() && !it->second.empty()) sc = it->second;
  if (!sc.empty()) query += (query.empty() ? "" : "&") + std::string("scope=") + url_encode(sc);
  if (!query.empty()) realm.target += (realm.target.find('?') == std::string::npos ? "?" : "&") + query;
  Headers h;
  if (options_.credentials) h.emplace_back("Authorization", basic_auth());
  KL_ASSIGN_OR_RETURN(HttpResponse r, http_.request("GET", realm, h));
  if (r.status != 200) return http_error("get token from " + realm.str(), r);
  KL_ASSIGN_OR_RETURN(json::object doc, json::parse_object(r.body, "token response"));
  std::string token(json::get_string(doc, "token"));
  if (token.empty()) token = std::string(json::get_string(doc, "access_token"));
  if (token.empty()) return Error(ErrorCode::kUnauthenticated, "token response from " + realm.str() + " has no token");
  return "Bearer " + token;
}

Result<HttpResponse> RegistryClient::send(std::string_view method, const std::string& path, Headers headers,
                                          const std::string& scope, const BodySink& sink) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Headers h = headers;
    {
      std::lock_guard lock(mu_);
      auto it = tokens_.find(scope);
      if (it != tokens_.end()) h.emplace_back("Authorization", it->second);
    }
    KL_ASSIGN_OR_RETURN(HttpResponse r, http_.request(method, url(path), h, sink));
    if (r.status != 401 || attempt == 1) return r;
    std::string www = r.header("www-authenticate");
    if (www.empty()) return r;
    KL_ASSIGN_OR_RETURN(AuthChallenge ch, parse_www_authenticate(www));
    std::string auth;
    if (ch.scheme == "bearer") {
      KL_ASSIGN_OR_RETURN(auth, fetch_token(ch, scope));
    } else if (ch.scheme == "basic") {
      if (!options_.credentials)
        return Error(ErrorCode::kUnauthenticated,
                     "registry " + host_ + " wants Basic auth and no credentials were given");
      auth = basic_auth();
    } else {
      return Error(ErrorCode::kUnauthenticated, "registry " + host_ + ": unsupported auth scheme " + ch.scheme);
    }
    std::lock_guard lock(mu_);
    tokens_[scope] = auth;
  }
  return Error(ErrorCode::kInternal, "unreachable");
}

Result<void> RegistryClient::ping() {
  KL_ASSIGN_OR_RETURN(HttpResponse r, http_.request("GET", url("/v2/"), {}));
  if (r.status == 200) return Ok();
  if (r.status == 401 && !r.header("www-authenticate").empty()) return Ok();
  return http_error("ping registry " + host_ + " (/v2/)", r);
}

Result<RegistryClient::Manifest> RegistryClient::get_manifest(const std::string& repo, const std::string& reference) {
  std::string scope = "repository:" + repo + ":pull";
  KL_ASSIGN_OR_RETURN(HttpResponse r, send("GET", "/v2/" + repo + "/manifests/" + reference,
                                           {{"Accept", manifest_accept_header()}}, scope, nullptr));
  if (r.status != 200) return http_error("get manifest " + host_ + "/" + repo + ":" + reference, r);
  Manifest m;
  m.media_type = r.header("content-type");
  m.digest = Digest::of(r.body);
  m.body = std::move(r.body);
  if (reference.starts_with("sha256:") && m.digest.str() != reference)
    return Error(ErrorCode::kInvalidArgument,
                 "manifest " + host_ + "/" + repo + "@" + reference + ": content hashes to " + m.digest.str());
  std::string header = r.header("docker-content-digest");
  if (!header.empty() && header != m.digest.str())
    return Error(ErrorCode::kInvalidArgument, "manifest " + host_ + "/" + repo + ":" + reference +
                                                  ": Docker-Content-Digest " + header + " but content hashes to " +
                                                  m.digest.str());
  return m;
}

Result<void> RegistryClient::get_blob(const std::string& repo, const Digest& digest, const BodySink& sink) {
  std::string scope = "repository:" + repo + ":pull";
  KL_ASSIGN_OR_RETURN(HttpResponse r, send("GET", "/v2/" + repo + "/blobs/" + digest.str(), {}, scope, sink));
  if (r.status != 200) return http_error("get blob " + digest.str() + " from " + host_ + "/" + repo, r);
  return Ok();
}

}  // namespace kernlet::images
