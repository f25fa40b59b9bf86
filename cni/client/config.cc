#include "cni/client/config.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "cni/client/result.h"

namespace kernlet::cni {
namespace {

Error invalid(std::string_view source, std::string_view field, std::string_view problem) {
  std::string where = source.empty() ? "cni config" : "cni config " + std::string(source);
  return Error(ErrorCode::kInvalidArgument,
               where + ": " + std::string(field) + ": " + std::string(problem));
}

Result<std::string> required_string(const json::object& o, std::string_view key,
                                    std::string_view source, std::string_view field) {
  const json::value* v = json::find(o, key);
  if (v == nullptr) return invalid(source, field, "missing");
  if (!v->is_string()) return invalid(source, field, "must be a string");
  if (v->get_string().empty()) return invalid(source, field, "must not be empty");
  return std::string(v->get_string());
}

// libcni reads these flags as JSON booleans or as the strings "true"/"false".
Result<bool> optional_flag(const json::object& o, std::string_view key, std::string_view source) {
  const json::value* v = json::find(o, key);
  if (v == nullptr || v->is_null()) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_string()) {
    if (v->get_string() == "true") return true;
    if (v->get_string() == "false") return false;
  }
  return invalid(source, key, "must be true or false");
}

Result<std::string> check_version(const json::object& o, std::string_view source,
                                  std::string_view field) {
  KL_ASSIGN_OR_RETURN(std::string v, required_string(o, "cniVersion", source, field));
  const auto& ok = supported_versions();
  if (std::find(ok.begin(), ok.end(), v) == ok.end()) {
    std::string list;
    for (const auto& s : ok) list += (list.empty() ? "" : ", ") + s;
    return invalid(source, field, "version " + v + " is not supported (supported: " + list + ")");
  }
  return v;
}

// Spec 1.1.0 lets a list name several versions in "cniVersions" besides "cniVersion"; the
// runtime takes the highest one it supports. Unknown entries there are not an error.
Result<std::string> pick_version(const json::object& o, std::string_view source) {
  const json::value* many = json::find(o, "cniVersions");
  if (many == nullptr || many->is_null()) return check_version(o, source, "cniVersion");
  if (!many->is_array()) return invalid(source, "cniVersions", "must be an array of strings");
  std::vector<std::string> candidates;
  for (const auto& v : many->get_array()) {
    if (!v.is_string()) return invalid(source, "cniVersions", "must be an array of strings");
    candidates.emplace_back(v.get_string());
  }
  if (const json::value* one = json::find(o, "cniVersion"); one != nullptr && one->is_string()) {
    candidates.emplace_back(one->get_string());
  }
  const auto& ok = supported_versions();
  std::string best;
  for (const auto& c : candidates) {
    if (std::find(ok.begin(), ok.end(), c) == ok.end()) continue;
    if (best.empty() || compare_versions(c, best) > 0) best = c;
  }
  if (best.empty()) return invalid(source, "cniVersions", "no version this runtime supports");
  return best;
}

Result<PluginConfig> parse_plugin(const json::value& v, std::string_view source,
                                  const std::string& field) {
  if (!v.is_object()) return invalid(source, field, "must be an object");
  PluginConfig p;
  p.raw = v.get_object();
  KL_ASSIGN_OR_RETURN(p.type, required_string(p.raw, "type", source, field + ".type"));
  if (p.type.find('/') != std::string::npos || p.type == "." || p.type == "..") {
    return invalid(source, field + ".type", "\"" + p.type + "\" is not a plugin name");
  }
  if (const json::value* caps = json::find(p.raw, "capabilities"); caps && !caps->is_null()) {
    if (!caps->is_object()) return invalid(source, field + ".capabilities", "must be an object");
    for (const auto& kv : caps->get_object()) {
      if (!kv.value().is_bool()) {
        return invalid(source, field + ".capabilities." + std::string(kv.key()),
                       "must be true or false");
      }
      if (kv.value().get_bool()) p.capabilities.emplace_back(kv.key());
    }
  }
  return p;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno("read cni config " + path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Error::from_errno("read cni config " + path);
  return s.str();
}

bool has_suffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> v{"0.1.0", "0.2.0", "0.3.0", "0.3.1",
                                          "0.4.0", "1.0.0", "1.1.0"};
  return v;
}

bool valid_identifier(std::string_view s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool valid_interface_name(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
  });
}

Result<NetworkConfigList> parse_conflist(std::string_view text, std::string_view source) {
  auto doc = json::parse(text);
  if (!doc.ok()) return invalid(source, "document", doc.error().to_string());
  if (!doc->is_object()) return invalid(source, "document", "must be a JSON object");
  const json::object& o = doc->get_object();
  NetworkConfigList list;
  list.source = std::string(source);
  KL_ASSIGN_OR_RETURN(list.name, required_string(o, "name", source, "name"));
  if (!valid_identifier(list.name)) {
    return invalid(source, "name", "\"" + list.name + "\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
  }
  KL_ASSIGN_OR_RETURN(list.cni_version, pick_version(o, source));
  KL_ASSIGN_OR_RETURN(list.disable_check, optional_flag(o, "disableCheck", source));
  KL_ASSIGN_OR_RETURN(list.disable_gc, optional_flag(o, "disableGC", source));
  const json::value* plugins = json::find(o, "plugins");
  if (plugins == nullptr) return invalid(source, "plugins", "missing");
  if (!plugins->is_array()) return invalid(source, "plugins", "must be an array");
  if (plugins->get_array().empty()) return invalid(source, "plugins", "must not be empty");
  const json::array& a = plugins->get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    KL_ASSIGN_OR_RETURN(PluginConfig p,
                        parse_plugin(a[i], source, "plugins[" + std::to_string(i) + "]"));
    list.plugins.push_back(std::move(p));
  }
  // prevResult chaining, and so any list of more than one plugin, came with 0.3.0.
  if (list.plugins.size() > 1 && compare_versions(list.cni_version, "0.3.0") < 0) {
    return invalid(source, "cniVersion",
                   "version " + list.cni_version + " has no plugin chaining; use 0.3.0 or later");
  }
  return list;
}

Result<NetworkConfigList> parse_conf_as_list(std::string_view text, std::string_view source) {
  auto doc = json::parse(text);
  if (!doc.ok()) return invalid(source, "document", doc.error().to_string());
  if (!doc->is_object()) return invalid(source, "document", "must be a JSON object");
  const json::object& o = doc->get_object();
  if (json::find(o, "plugins") != nullptr) {
    return invalid(source, "plugins", "a network config list must be named *.conflist");
  }
  NetworkConfigList list;
  list.source = std::string(source);
  KL_ASSIGN_OR_RETURN(list.name, required_string(o, "name", source, "name"));
  if (!valid_identifier(list.name)) {
    return invalid(source, "name", "\"" + list.name + "\" must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
  }
  KL_ASSIGN_OR_RETURN(list.cni_version, check_version(o, source, "cniVersion"));
  KL_ASSIGN_OR_RETURN(PluginConfig p, parse_plugin(*doc, source, "plugin"));
  list.plugins.push_back(std::move(p));
  return list;
}

Result<NetworkConfigList> load_config_file(const std::string& path) {
  KL_ASSIGN_OR_RETURN(std::string text, read_file(path));
  if (has_suffix(path, ".conflist")) return parse_conflist(text, path);
  if (has_suffix(path, ".conf") || has_suffix(path, ".json")) return parse_conf_as_list(text, path);
  return invalid(path, "file name", "must end in .conflist, .conf or .json");
}

Result<NetworkConfigList> load_network(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return Error(ErrorCode::kNotFound, "cni config dir " + dir + ": " + ec.message());
  }
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (!has_suffix(name, ".conflist") && !has_suffix(name, ".conf") && !has_suffix(name, ".json")) {
      continue;
    }
    if (!entry.is_regular_file(ec)) continue;
    names.push_back(std::move(name));
  }
  if (names.empty()) {
    return Error(ErrorCode::kNotFound,
                 "cni config dir " + dir + ": no *.conflist, *.conf or *.json network config");
  }
  std::sort(names.begin(), names.end());
  return load_config_file((fs::path(dir) / names.front()).string());
}

}  // namespace kernlet::cni
