#include "agent/podspec/image_pull.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "api/objects/common.h"
#include "api/objects/config.h"
#include "runtime/images/reference.h"

namespace kernlet::agent::podspec {
namespace {

constexpr std::string_view kDefaultRegistryHost = "index.docker.io";

// The parts of a URL the keyring looks at.
struct Url {
  std::string host;  // host[:port] as written
  std::string path;
};

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Go's url.Parse, reduced to what the keyring needs: the scheme is dropped, userinfo
// skipped, and a port that is not a number is an error (as Go's "invalid port").
std::optional<Url> parse_url(std::string_view s) {
  if (std::size_t p = s.find("://"); p != std::string_view::npos) s.remove_prefix(p + 3);
  s = s.substr(0, s.find_first_of("?#"));
  std::size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  Url u;
  u.path = slash == std::string_view::npos ? std::string() : std::string(s.substr(slash));
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  const std::size_t close = authority.rfind(']');
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    if (!all_digits(authority.substr(colon + 1))) return std::nullopt;
  }
  u.host = std::string(authority);
  return u;
}

// Go's net.SplitHostPort, falling back to (host, "") when it fails, then split at '.'.
void split_host(std::string_view hostport, std::vector<std::string>& parts, std::string& port) {
  std::string_view host = hostport;
  port.clear();
  if (!hostport.empty() && hostport.front() == '[') {
    const std::size_t close = hostport.find(']');
    if (close != std::string_view::npos && close + 1 < hostport.size() && hostport[close + 1] == ':') {
      host = hostport.substr(1, close - 1);
      port = std::string(hostport.substr(close + 2));
    }
  } else if (std::count(hostport.begin(), hostport.end(), ':') == 1) {
    const std::size_t colon = hostport.find(':');
    host = hostport.substr(0, colon);
    port = std::string(hostport.substr(colon + 1));
  }
  parts.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = host.find('.', start);
    parts.emplace_back(host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

// credentialprovider.URLsMatchStr(glob, target), both schemeless.
bool urls_match(std::string_view glob, std::string_view target) {
  std::optional<Url> g = parse_url("https://" + std::string(glob));
  std::optional<Url> t = parse_url("https://" + std::string(target));
  if (!g || !t) return false;
  std::vector<std::string> gparts, tparts;
  std::string gport, tport;
  split_host(g->host, gparts, gport);
  split_host(t->host, tparts, tport);
  if (gport != tport || gparts.size() != tparts.size()) return false;
  if (t->path.compare(0, g->path.size(), g->path) != 0) return false;
  for (std::size_t i = 0; i < gparts.size(); ++i) {
    // filepath.Match on one host label; fnmatch has the same '*', '?', '[...]' and '\' rules here.
    if (::fnmatch(gparts[i].c_str(), tparts[i].c_str(), 0) != 0) return false;
  }
  return true;
}

// isDefaultRegistryMatch: the image is pulled from Docker Hub.
bool is_default_registry(std::string_view image) {
  const std::size_t slash = image.find('/');
  const std::string_view first = image.substr(0, slash);
  if (first.empty()) return false;
  if (slash == std::string_view::npos) return true;
  if (first == "docker.io" || first == "index.docker.io") return true;
  return first.find_first_of(".:") == std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A member looked up the way Go's encoding/json matches struct fields: exact, else
// case-insensitive.
const json::value* member(const json::object& o, std::string_view name) {
  if (const json::value* v = json::find(o, name)) return v;
  const std::string want = lower(name);
  for (const auto& kv : o) {
    if (lower(kv.key()) == want) return &kv.value();
  }
  return nullptr;
}

Result<std::string> string_member(const json::object& o, std::string_view name, const std::string& path) {
  const json::value* v = member(o, name);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return Error(ErrorCode::kInvalidArgument, path + "." + std::string(name) + ": expected string");
  return std::string(v->get_string());
}

// decodeDockerConfigFieldAuth: padded or unpadded standard base64 of "user:password".
Result<images::Credentials> decode_auth(std::string_view field) {
  std::string text(field);
  std::string_view trimmed = field;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.remove_suffix(1);
  if (trimmed.empty() || trimmed.back() != '=') {
    if (text.find('=') != std::string::npos) return Error(ErrorCode::kInvalidArgument, "illegal base64 data in auth");
    while (text.size() % 4 != 0) text += '=';  // RawStdEncoding: no padding given
  }
  KL_ASSIGN_OR_RETURN(std::string decoded, api::decode_base64(text));
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "unable to parse auth field, must be formatted as base64(username:password)");
  }
  return images::Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

// The keyring key of a config location (BasicDockerKeyring.Add).
std::optional<std::string> location_key(std::string_view loc) {
  std::string value(loc);
  if (value.rfind("https://", 0) != 0 && value.rfind("http://", 0) != 0) value = "https://" + value;
  std::optional<Url> u = parse_url(value);
  if (!u) return std::nullopt;
  std::string_view path = u->path;
  if (path.rfind("/v2/", 0) == 0 || path.rfind("/v1/", 0) == 0) path.remove_prefix(3);
  if (!path.empty() && path != "/") return u->host + std::string(path);
  return u->host;
}

}  // namespace

bool should_pull(std::string_view policy, bool present) {
  if (policy == "Never") return false;
  if (policy == "Always") return true;
  if (policy == "IfNotPresent") return !present;
  return false;
}

std::string never_pull_message(std::string_view image) {
  return "Container image \"" + std::string(image) + "\" is not present with pull policy of Never";
}

std::string already_present_message(std::string_view image) {
  return "Container image \"" + std::string(image) + "\" already present on machine";
}

std::string invalid_image_name_message(std::string_view image) {
  const std::string q = "\"" + std::string(image) + "\"";
  return "Failed to apply default image tag " + q + ": couldn't parse image name " + q + ": invalid reference format";
}

Result<void> DockerKeyring::add_config(const json::object& config) {
  for (const auto& kv : config) {
    const std::string loc(kv.key());
    const std::string path = "auths[" + loc + "]";
    if (!kv.value().is_object()) return Error(ErrorCode::kInvalidArgument, path + ": expected object");
    const json::object& entry = kv.value().get_object();
    images::Credentials c;
    KL_ASSIGN_OR_RETURN(c.username, string_member(entry, "username", path));
    KL_ASSIGN_OR_RETURN(c.password, string_member(entry, "password", path));
    KL_ASSIGN_OR_RETURN(std::string auth, string_member(entry, "auth", path));
    if (!auth.empty()) {
      Result<images::Credentials> decoded = decode_auth(auth);
      if (!decoded.ok()) return std::move(decoded).error().context(path + ".auth");
      c = std::move(decoded).value();
    }
    std::optional<std::string> key = location_key(loc);
    if (!key) continue;  // the kubelet logs "Entry ... in dockercfg invalid" and skips it
    creds_[*key].push_back(std::move(c));
  }
  return Ok();
}

std::vector<images::Credentials> DockerKeyring::lookup(std::string_view repository) const {
  std::vector<images::Credentials> out;
  // Reverse lexical order: "quay.io/org" before "quay.io".
  for (auto it = creds_.rbegin(); it != creds_.rend(); ++it) {
    if (urls_match(it->first, repository)) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  if (!out.empty()) return out;
  if (is_default_registry(repository)) {
    auto it = creds_.find(kDefaultRegistryHost);
    if (it != creds_.end()) return it->second;
  }
  return out;
}

Result<DockerKeyring> keyring_from_secrets(const std::vector<const json::object*>& secrets) {
  DockerKeyring keyring;
  for (const json::object* s : secrets) {
    if (s == nullptr) continue;
    const api::SecretView secret(*s);
    const std::string name = std::string(secret.meta().namespace_()) + "/" + std::string(secret.meta().name());
    std::string_view key;
    if (secret.type() == api::kSecretTypeDockerConfigJson) {
      key = ".dockerconfigjson";
    } else if (secret.type() == "kubernetes.io/dockercfg") {
      key = ".dockercfg";
    } else {
      continue;
    }
    Result<std::optional<std::string>> data = secret.data_value(key);
    if (!data.ok()) return std::move(data).error().context("secret " + name);
    if (!*data || (*data)->empty()) continue;
    Result<json::object> doc = json::parse_object(**data, key);
    if (!doc.ok()) return std::move(doc).error().context("secret " + name);
    const json::object* config = &*doc;
    if (key == ".dockerconfigjson") {
      const json::value* auths = member(*doc, "auths");
      if (auths == nullptr || auths->is_null()) continue;
      if (!auths->is_object()) {
        return Error(ErrorCode::kInvalidArgument, "secret " + name + ": .dockerconfigjson: auths: expected object");
      }
      config = &auths->get_object();
    }
    Result<void> added = keyring.add_config(*config);
    if (!added.ok()) return std::move(added).error().context("secret " + name + ": " + std::string(key));
  }
  return keyring;
}

Result<std::vector<images::Credentials>> pull_credentials(std::string_view image,
                                                          const std::vector<const json::object*>& secrets) {
  KL_ASSIGN_OR_RETURN(DockerKeyring keyring, keyring_from_secrets(secrets));
  if (keyring.empty()) return std::vector<images::Credentials>{};
  Result<images::Reference> ref = images::Reference::parse(image);
  if (!ref.ok()) return std::move(ref).error();
  return keyring.lookup(ref->name());
}

}  // namespace kernlet::agent::podspec
