// CNI network configuration: a conflist (or a single plugin .conf/.json, wrapped into a
// one-plugin list as libcni does), validated, from the agent's conf dir.
//
// Thread-safety: value types and pure functions; load_* read the filesystem.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::cni {

// One plugin of a list: its `type` (the binary's name), the capabilities it declared
// (`"capabilities": {"portMappings": true}` -> {"portMappings"}), and its config object
// as written, which the driver extends with name, cniVersion, prevResult, runtimeConfig.
struct PluginConfig {
  std::string type;
  std::vector<std::string> capabilities;
  json::object raw;
};

struct NetworkConfigList {
  std::string name;
  std::string cni_version;
  bool disable_check = false;
  bool disable_gc = false;
  std::vector<PluginConfig> plugins;
  std::string source;  // the file it came from, for messages ("" when parsed from memory)
};

// The cniVersions this driver speaks in configs.
const std::vector<std::string>& supported_versions();

// Parses a conflist document. `source` names it in errors:
// `cni config /etc/cni/net.d/10-k.conflist: plugins[1].type: missing`.
// Errors: kInvalidArgument.
Result<NetworkConfigList> parse_conflist(std::string_view text, std::string_view source);

// Parses a single-plugin network config (.conf/.json) into a one-plugin list with the
// conf's name and cniVersion. Errors: kInvalidArgument.
Result<NetworkConfigList> parse_conf_as_list(std::string_view text, std::string_view source);

// Reads one file: *.conflist as a list, *.conf/*.json as a single plugin config.
// Errors: the file unreadable (with errno), kInvalidArgument for bad content or extension.
Result<NetworkConfigList> load_config_file(const std::string& path);

// The network of `dir`: the lexically first file named *.conflist, *.conf or *.json (what
// kubelet-era runtimes do). A broken first file is an error naming it, never silently
// skipped for the next. Errors: kNotFound when the dir has no such file or does not exist.
Result<NetworkConfigList> load_network(const std::string& dir = "/etc/cni/net.d");

// Network names and container ids: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (libcni's rule).
bool valid_identifier(std::string_view s);
// Interface names: 1-15 bytes, not "." or "..", no '/', ':' or whitespace.
bool valid_interface_name(std::string_view s);

}  // namespace kernlet::cni
