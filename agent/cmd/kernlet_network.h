// The kernlet pod network (--network kernlet) on the agent's side: once the control plane
// has given this Node a spec.podCIDR, the agent writes the CNI network config for it into
// --cni-conf-dir (atomically: temp file, fsync, rename, so the CNI driver never reads half
// a file), then runs pods through the CNI driver as with --network cni. The plugin is
// kernlet's own (kernlet-cni) or, by one flag, Debian's reference plugins (bridge +
// host-local over the same podCIDR); both get the same bridge, MTU and data dir.
//
// Thread-safety: pure functions, and a file write (one writer: the Node informer's handler).
#pragma once

#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::agent {

struct KernletNetworkOptions {
  std::string conf_dir = "/etc/cni/net.d";
  std::string plugin = "kernlet-cni";  // or "bridge": Debian's bridge + host-local
  std::string bridge = "kl0";
  int mtu = 1500;
  std::string cluster_cidr = "10.244.0.0/16";
  std::string data_dir = "/var/lib/cni/kernlet";  // the plugin's IP allocations
};

// The file the agent owns in the conf dir; "10-" so it sorts before configs named later.
inline constexpr const char* kKernletConflistName = "10-kernlet.conflist";

// The conflist for `pod_cidr`. Errors (kInvalidArgument) name the bad value: the podCIDR
// or cluster CIDR not a network, the bridge name not an interface name, the MTU out of
// 68..65535, an unknown plugin.
//
// kernlet-cni: {"type":"kernlet-cni","bridge","mtu","hairpinMode":true,"subnet":<podCIDR>,
//   "dataDir","ipMasq":true,"clusterCIDR"} (SNAT only for traffic leaving the cluster CIDR).
// bridge: {"type":"bridge","bridge","mtu","isGateway":true,"isDefaultGateway":true (the pod's
//   default route via the bridge; host-local alone gives none),"hairpinMode":true,"ipMasq":false,
//   "ipam":{"type":"host-local","ranges":[[{"subnet":<podCIDR>}]],"dataDir"}} then
//   {"type":"loopback"}. ipMasq stays off: the reference plugin would masquerade every
//   destination outside the node's own podCIDR, other nodes' pods included.
Result<std::string> kernlet_conflist(const KernletNetworkOptions& options, std::string_view pod_cidr);

// Writes conf_dir/10-kernlet.conflist for `pod_cidr` unless it already holds exactly that;
// creates the dir. True when the file was written. Errors name the path.
Result<bool> write_kernlet_conflist(const KernletNetworkOptions& options, std::string_view pod_cidr);

}  // namespace kernlet::agent
