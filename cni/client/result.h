// The result of a CNI ADD, in the CNI spec 1.0.0 shape, and the spec's error object.
//
// Plugins answer in the cniVersion of the network config they were given. The reference
// plugins in Debian still run with 0.3.x/0.4.0 configs, whose results differ from 1.0.0 only
// in `ips[].version` (dropped in 1.0.0); 0.1.0/0.2.0 results (`ip4`/`ip6`) are converted too.
// A NetworkResult keeps the plugin's JSON exactly as returned (`raw`): that is what the
// next plugin in a chain and a later DEL get as prevResult, in the list's own version.
//
// Thread-safety: value types.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::cni {

// An interface the plugin created or configured. `sandbox` is the netns path for interfaces
// inside the pod, empty for host-side ones (the bridge, the veth's host end).
struct Interface {
  std::string name;
  std::string mac;
  std::optional<int64_t> mtu;
  std::string sandbox;
  std::string socket_path;
  std::string pci_id;
};

// One assigned address: `address` is CIDR ("10.244.7.2/24"), `interface` indexes
// NetworkResult::interfaces.
struct IpConfig {
  std::string address;
  std::string gateway;
  std::optional<int64_t> interface;
};

struct Route {
  std::string dst;  // CIDR
  std::string gw;   // empty: the default gateway of the interface
  std::optional<int64_t> mtu;
  std::optional<int64_t> priority;
};

struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

struct NetworkResult {
  std::string cni_version;  // the version the plugin answered in
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  json::object raw;  // the plugin's stdout document, unchanged
};

// Parses a plugin's result document of any version from 0.1.0 to 1.1.0 into the 1.0.0
// shape. `what` names the source in errors ("plugin bridge"). Errors: kInvalidArgument for
// a malformed document or an unknown cniVersion.
Result<NetworkResult> parse_result(const json::object& doc, std::string_view what);
Result<NetworkResult> parse_result_text(std::string_view text, std::string_view what);

// The result rendered as a CNI 1.0.0 document (`ips[].version` gone, `ip4`/`ip6` turned
// into `ips`). Fields kernlet does not model are not carried over.
json::object to_json_v1(const NetworkResult& r);

// The result as a document of `version` (0.3.0 to 1.1.0): the 1.0.0 shape, plus
// `ips[].version` ("4"/"6") for versions before 1.0.0. Used when a plugin answered in
// another version than its list's, so the next plugin's prevResult is in the list's version.
// Errors: kInvalidArgument for 0.1.0/0.2.0 or an unknown version.
Result<json::object> convert_result(const NetworkResult& r, std::string_view version);

// The pod's IPs for status.podIPs: addresses without prefix length, of interfaces inside the
// sandbox (or with no interface named), duplicates removed, IPv4 before IPv6, each family in
// result order.
std::vector<std::string> pod_ips(const NetworkResult& r);

// The spec's well-known error codes (1-99 are the spec's; 100+ are the plugin's own).
enum class CniErrorCode : int64_t {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,            // STATUS: the plugin cannot serve ADDs
  kPluginNotAvailableLimited = 51,     // STATUS: existing pods keep limited connectivity
};

// The spec's error object: {"cniVersion", "code", "msg", "details"}.
struct PluginError {
  int64_t code = 0;
  std::string msg;
  std::string details;
};

// Reads an error document; nullopt when `text` is not one (no numeric `code`).
std::optional<PluginError> parse_plugin_error(std::string_view text);

// "incompatible CNI version", ... for the well-known codes; "plugin-specific error" else.
std::string_view error_code_name(int64_t code);

// The kernlet error kind for a plugin error code: 11/50/51 -> kUnavailable, 3 -> kNotFound,
// 1/2/4/6/7 -> kInvalidArgument, others kUnknown.
ErrorCode to_error_code(int64_t code);

// Compares CNI versions "a.b.c"; malformed parts count as 0. <0, 0, >0 like strcmp.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace kernlet::cni
