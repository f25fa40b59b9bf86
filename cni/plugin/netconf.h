// kernlet-cni's inputs: the CNI_* environment and the network config on stdin, validated
// into one Request. Every failure carries the CNI spec's error code it is reported with.
//
// The config is what the runtime hands a plugin of a list: the list's name and cniVersion
// with this plugin's own fields (the agent writes the list):
//   {"cniVersion":"1.0.0","name":"kernlet","type":"kernlet-cni","bridge":"kl0","mtu":1500,
//    "hairpinMode":true,"subnet":"10.244.1.0/24","dataDir":"/var/lib/cni/kernlet",
//    "ipMasq":true,"clusterCIDR":"10.244.0.0/16"}
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "cni/client/result.h"
#include "cni/plugin/ipam_store.h"
#include "cni/plugin/ipv4.h"

namespace kernlet::cni {

// The spec's codes kernlet-cni answers with, besides CniErrorCode's.
inline constexpr int64_t kPluginInternalError = 999;  // any plugin-specific failure

// An error as the plugin reports it: {"cniVersion","code","msg","details"} on stdout.
struct CniFailure {
  int64_t code = kPluginInternalError;
  std::string msg;
  std::string details;
};

enum class CniCommand { kAdd, kDel, kCheck, kVersion, kStatus, kGc };

// The CNI_* variables. Which ones a command requires is the spec's table: ADD and CHECK need
// CONTAINERID, NETNS and IFNAME; DEL needs CONTAINERID and IFNAME (NETNS optional); VERSION,
// STATUS and GC need none.
struct CniEnv {
  CniCommand command = CniCommand::kVersion;
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string args;
  std::string path;
};

// The versions kernlet-cni speaks; STATUS and GC need 1.1.0.
const std::vector<std::string>& plugin_versions();

// Reads the environment. Errors (nullopt, `*failure` set): code 4 (invalid environment)
// naming the variable; an unknown CNI_COMMAND is code 4 too.
std::optional<CniEnv> parse_env(const std::map<std::string, std::string>& env,
                                CniFailure* failure);

struct KernletNetConf {
  std::string cni_version;
  std::string name;
  std::string bridge = "kl0";
  int64_t mtu = 1500;
  bool hairpin = true;
  Ipv4Prefix subnet;
  uint32_t gateway = 0;        // first address of the subnet, on the bridge
  uint32_t range_first = 0;    // pods: gateway+1 ..
  uint32_t range_last = 0;     // .. broadcast-1
  std::string data_dir = "/var/lib/cni/kernlet";
  bool ip_masq = false;
  std::optional<Ipv4Prefix> cluster_cidr;
  std::optional<json::object> prev_result;   // as given
  std::optional<json::object> dns;           // passed through into the result
  std::vector<IpamOwner> valid_attachments;  // GC: cni.dev/valid-attachments
  json::object raw;

  std::string store_dir() const { return data_dir + "/" + name; }
};

// Parses and validates the stdin config. Errors: code 1 for a cniVersion kernlet-cni does
// not speak, 6 for a document that is not JSON, 7 for any invalid field (named).
std::optional<KernletNetConf> parse_netconf(std::string_view text, CniFailure* failure);

// The deterministic host-side veth name of an attachment: "kl" + 12 hex digits of a hash
// of container id and ifname (15 bytes at most, as IFNAMSIZ requires).
std::string host_veth_name(const IpamOwner& who);

}  // namespace kernlet::cni
