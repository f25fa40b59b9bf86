// The kernlet-agent command line: flags -> AgentOptions. Pure; unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::agent {

struct AgentOptions {
  std::string kubeconfig;
  std::string node_name;  // default: the host name, lower-cased
  std::string root_dir = "/var/lib/kernlet/agent";
  std::string cgroup_root;  // "": /sys/fs/cgroup[/unified]/kernlet-agent
  std::string pod_logs_dir = "/var/log/pods";
  std::string pod_manifest_path;  // static pods; "" = none
  std::string cni_conf_dir = "/etc/cni/net.d";
  std::string cni_bin_dir = "/opt/cni/bin";
  std::string network = "none";  // "kernlet", "cni" or "none"
  // --network kernlet: the conflist the agent writes once the Node has a podCIDR.
  std::string cni_plugin = "kernlet-cni";  // or "bridge" (Debian's reference plugins)
  std::string cni_bridge = "kl0";
  int cni_mtu = 1500;
  std::string cluster_cidr = "10.244.0.0/16";
  std::string cni_data_dir = "/var/lib/cni/kernlet";
  // host-gw routes to the other nodes' podCIDRs; unset = on with --network kernlet.
  std::optional<bool> host_gw_routes;
  std::string service_proxy = "none";  // "bpf" (agent/proxy + bpf/ socket LB) or "none"
  std::string bpf_pin_dir;             // bpffs directory for the LB's maps and links; "" = none
  std::string nodeport_interface;      // tc NodePort datapath on this interface; "" = none
  // Cluster DNS (agent/dns): where pods send queries and the agent answers; none = off.
  std::vector<std::string> cluster_dns;
  std::string cluster_domain = "cluster.local";
  std::string resolv_conf = "/etc/resolv.conf";  // the node's resolver; "" = none
  std::string address = "0.0.0.0";
  int port = 10250;
  std::string tls_cert_file;
  std::string tls_private_key_file;
  std::string client_ca_file;
  std::string node_ip;  // "": the first global IPv4 address of an interface that is up
  std::string system_reserved;  // "cpu=100m,memory=100Mi"
  std::string kube_reserved;
  int max_pods = 110;
  bool seccomp_default = false;
  int pod_workers = 4;
  int resync_seconds = 60;
  int node_lease_duration_seconds = 40;
  bool help = false;
};

// The --help text: every flag, its default and what it does.
const char* agent_usage();

// Parses argv (without argv[0]); "--flag value" and "--flag=value". Errors name the flag.
Result<AgentOptions> parse_agent_flags(const std::vector<std::string>& args);

// "cpu=100m,memory=100Mi" -> pairs; errors name the bad entry.
Result<std::vector<std::pair<std::string, std::string>>> parse_reserved(const std::string& text);

}  // namespace kernlet::agent
