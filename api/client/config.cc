#include "api/client/config.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "api/json.h"
#include "api/yaml.h"

namespace kernlet::client {
namespace {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Error::from_errno("read " + path.string());
  return s.str();
}

// A kubeconfig being read: the source name for errors and the base for relative paths.
class Reader {
 public:
  Reader(std::string_view source, fs::path base) : source_(source), base_(std::move(base)) {}

  Error fail(const std::string& field, const std::string& what) const {
    return Error(ErrorCode::kInvalidArgument, "kubeconfig " + source_ + ": " + field + ": " + what);
  }

  // A string member; "" when absent; an error when present with another type.
  Result<std::string> string_field(const json::object& o, std::string_view key, const std::string& path) const {
    const json::value* v = json::find(o, key);
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_string()) return fail(path + "." + std::string(key), "expected string");
    return std::string(v->get_string());
  }

  // The named entry of a `clusters`/`users`/`contexts` list and its inner object.
  Result<const json::object*> named(const json::object& root, std::string_view list, std::string_view inner,
                                    std::string_view name) const {
    const json::value* v = json::find(root, list);
    if (v != nullptr && !v->is_array() && !v->is_null()) return fail(std::string(list), "expected a list");
    if (v != nullptr && v->is_array()) {
      for (const auto& e : v->get_array()) {
        if (!e.is_object()) return fail(std::string(list), "entries must be maps");
        const auto& entry = e.get_object();
        if (json::get_string(entry, "name") != name) continue;
        const json::value* in = json::find(entry, inner);
        std::string path = std::string(list) + "[" + std::string(name) + "]." + std::string(inner);
        if (in == nullptr || in->is_null()) return &api_empty();
        if (!in->is_object()) return fail(path, "expected a map");
        return &in->get_object();
      }
    }
    return fail(std::string(list), "no entry named \"" + std::string(name) + "\"");
  }

  // `<key>-data` (base64) or `<key>` (a file path); "" when neither is set.
  Result<std::string> data_or_file(const json::object& o, std::string_view key, const std::string& path) const {
    std::string data_key = std::string(key) + "-data";
    KL_ASSIGN_OR_RETURN(std::string data, string_field(o, data_key, path));
    if (!data.empty()) {
      auto decoded = base64_decode(data);
      if (!decoded.ok()) return fail(path + "." + data_key, decoded.error().message());
      return std::move(*decoded);
    }
    KL_ASSIGN_OR_RETURN(std::string file, string_field(o, key, path));
    if (file.empty()) return std::string();
    fs::path p(file);
    if (p.is_relative()) p = base_ / p;
    auto content = read_file(p);
    if (!content.ok()) return fail(path + "." + std::string(key), content.error().to_string());
    return std::move(*content);
  }

  Result<bool> bool_field(const json::object& o, std::string_view key, const std::string& path) const {
    const json::value* v = json::find(o, key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_bool()) return fail(path + "." + std::string(key), "expected true or false");
    return v->get_bool();
  }

  static const json::object& api_empty() {
    static const json::object empty;
    return empty;
  }

  const std::string& source() const { return source_; }
  const fs::path& base() const { return base_; }

 private:
  std::string source_;
  fs::path base_;
};

}  // namespace

Result<std::string> base64_decode(std::string_view in) {
  auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  int pad = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    int v = sextet(c);
    if (v < 0 || pad > 0) {
      return Error(ErrorCode::kInvalidArgument, "invalid base64 at byte " + std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // 6 leftover bits can only come from a truncated input (one sextet alone).
  if (bits >= 6 || pad > 2) return Error(ErrorCode::kInvalidArgument, "invalid base64: truncated input");
  return out;
}

Result<ClientConfig> parse_kubeconfig(std::string_view text, std::string_view source, const fs::path& base_dir,
                                      std::string_view context) {
  Reader r(source, base_dir);
  auto doc = yaml::to_json(text);
  if (!doc.ok()) return Error(ErrorCode::kInvalidArgument, "kubeconfig " + std::string(source) + ": " +
                                                               doc.error().message());
  if (!doc->is_object()) return r.fail("(top level)", "expected a map");
  const json::object& root = doc->get_object();

  std::string ctx_name(context);
  if (ctx_name.empty()) {
    KL_ASSIGN_OR_RETURN(ctx_name, r.string_field(root, "current-context", "(top level)"));
    if (ctx_name.empty()) return r.fail("current-context", "not set and no context was given");
  }
  KL_ASSIGN_OR_RETURN(const json::object* ctx, r.named(root, "contexts", "context", ctx_name));
  const std::string ctx_path = "contexts[" + ctx_name + "].context";
  KL_ASSIGN_OR_RETURN(std::string cluster_name, r.string_field(*ctx, "cluster", ctx_path));
  if (cluster_name.empty()) return r.fail(ctx_path + ".cluster", "required");
  KL_ASSIGN_OR_RETURN(std::string user_name, r.string_field(*ctx, "user", ctx_path));

  ClientConfig cfg;
  KL_ASSIGN_OR_RETURN(cfg.namespace_, r.string_field(*ctx, "namespace", ctx_path));
  if (cfg.namespace_.empty()) cfg.namespace_ = "default";

  KL_ASSIGN_OR_RETURN(const json::object* cluster, r.named(root, "clusters", "cluster", cluster_name));
  const std::string cl_path = "clusters[" + cluster_name + "].cluster";
  KL_ASSIGN_OR_RETURN(cfg.server, r.string_field(*cluster, "server", cl_path));
  if (cfg.server.empty()) return r.fail(cl_path + ".server", "required");
  if (cfg.server.rfind("https://", 0) != 0 && cfg.server.rfind("http://", 0) != 0) {
    return r.fail(cl_path + ".server", "\"" + cfg.server + "\" is not an http:// or https:// URL");
  }
  KL_ASSIGN_OR_RETURN(cfg.ca_pem, r.data_or_file(*cluster, "certificate-authority", cl_path));
  KL_ASSIGN_OR_RETURN(cfg.insecure_skip_tls_verify, r.bool_field(*cluster, "insecure-skip-tls-verify", cl_path));
  KL_ASSIGN_OR_RETURN(cfg.tls_server_name, r.string_field(*cluster, "tls-server-name", cl_path));
  if (cfg.insecure_skip_tls_verify && !cfg.ca_pem.empty()) {
    // kubectl refuses this combination too: it is always a mistake.
    return r.fail(cl_path, "certificate-authority and insecure-skip-tls-verify are mutually exclusive");
  }

  if (!user_name.empty()) {
    KL_ASSIGN_OR_RETURN(const json::object* user, r.named(root, "users", "user", user_name));
    const std::string u_path = "users[" + user_name + "].user";
    KL_ASSIGN_OR_RETURN(cfg.client_cert_pem, r.data_or_file(*user, "client-certificate", u_path));
    KL_ASSIGN_OR_RETURN(cfg.client_key_pem, r.data_or_file(*user, "client-key", u_path));
    if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty()) {
      return r.fail(u_path, cfg.client_cert_pem.empty() ? "client-key without client-certificate"
                                                        : "client-certificate without client-key");
    }
    KL_ASSIGN_OR_RETURN(cfg.token, r.string_field(*user, "token", u_path));
    KL_ASSIGN_OR_RETURN(std::string token_file, r.string_field(*user, "tokenFile", u_path));
    if (cfg.token.empty() && !token_file.empty()) {
      fs::path p(token_file);
      if (p.is_relative()) p = base_dir / p;
      auto t = read_file(p);
      if (!t.ok()) return r.fail(u_path + ".tokenFile", t.error().to_string());
      cfg.token = std::move(*t);
      while (!cfg.token.empty() && (cfg.token.back() == '\n' || cfg.token.back() == '\r')) cfg.token.pop_back();
    }
  }
  return cfg;
}

Result<ClientConfig> load_kubeconfig(const fs::path& path, std::string_view context) {
  auto text = read_file(path);
  if (!text.ok()) return Error("kubeconfig: " + text.error().message(), text.error().sys_errno());
  fs::path base = path.has_parent_path() ? path.parent_path() : fs::path(".");
  return parse_kubeconfig(*text, path.string(), base, context);
}

Result<ClientConfig> in_cluster_config(std::string server, const fs::path& ca_file, const fs::path& token_file) {
  ClientConfig cfg;
  if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0) {
    return Error(ErrorCode::kInvalidArgument, "in-cluster config: server \"" + server + "\" is not an http(s) URL");
  }
  cfg.server = std::move(server);
  if (!ca_file.empty()) {
    auto ca = read_file(ca_file);
    if (!ca.ok()) return std::move(ca).error().context("in-cluster config: CA");
    cfg.ca_pem = std::move(*ca);
  }
  if (!token_file.empty()) {
    auto t = read_file(token_file);
    if (!t.ok()) return std::move(t).error().context("in-cluster config: token");
    cfg.token = std::move(*t);
    while (!cfg.token.empty() && (cfg.token.back() == '\n' || cfg.token.back() == '\r')) cfg.token.pop_back();
  }
  cfg.namespace_ = "default";
  return cfg;
}

}  // namespace kernlet::client
