#include "agent/cmd/agent_options.h"

#include <arpa/inet.h>

#include <charconv>
#include <functional>
#include <map>

#include "api/quantity.h"
#include "api/validation.h"

namespace kernlet::agent {

const char* agent_usage() {
  return R"(Usage: kernlet-agent --kubeconfig FILE [flags]

kernlet's node agent (the kubelet's replacement): registers the node, runs the pods bound
to it with kernlet's in-process runtime and reports their status to the API server.
SIGTERM or SIGINT stops the agent and leaves the containers running; the next start
re-adopts them.

Flags:
  --kubeconfig FILE            kubeconfig for the API server (required)
  --node-name NAME             this node's name (default: the host name)
  --root-dir DIR               agent state: runtime/, images/, pods/
                               (default /var/lib/kernlet/agent)
  --cgroup-root PATH           cgroup v2 directory for pods (default
                               /sys/fs/cgroup/kernlet-agent, or
                               /sys/fs/cgroup/unified/kernlet-agent on a hybrid host)
  --pod-logs-dir DIR           container logs, <ns>_<pod>_<uid>/<container>/<n>.log
                               (default /var/log/pods)
  --pod-manifest-path DIR      static pod manifests (default: none)
  --cni-conf-dir DIR           CNI network configurations (default /etc/cni/net.d)
  --cni-bin-dir DIRS           CNI plugin binaries, a colon-separated list of dirs
                               (default /opt/cni/bin)
  --network kernlet|cni|none   pod network: "kernlet" waits for the Node's spec.podCIDR,
                               writes --cni-conf-dir/10-kernlet.conflist for it and runs the
                               CNI plugins, with host-gw routes to the other nodes; "cni" runs
                               the CNI plugins of the config found in --cni-conf-dir; "none"
                               gives each pod a private network namespace with loopback only
                               and no pod IP (default none)
  --cni-plugin kernlet-cni|bridge
                               with --network kernlet: kernlet's plugin, or Debian's reference
                               plugins (bridge + host-local + loopback) (default kernlet-cni)
  --cni-bridge NAME            with --network kernlet: the node's pod bridge (default kl0)
  --cni-mtu N                  with --network kernlet: pod interface MTU (default 1500)
  --cluster-cidr CIDR          with --network kernlet: every pod's addresses, traffic to it
                               is never masqueraded (default 10.244.0.0/16)
  --cni-data-dir DIR           with --network kernlet: the plugin's IP allocation store
                               (default /var/lib/cni/kernlet)
  --host-gw-routes true|false  route every other node's podCIDR via its InternalIP, in the
                               agent's network namespace, from the Nodes it watches (default
                               true with --network kernlet, else false)
  --service-proxy bpf|none     Service VIPs: "bpf" load-balances them with the eBPF socket
                               LB attached to --cgroup-root (default none)
  --bpf-pin-dir DIR            pin the socket LB's maps and links there (a bpffs), so they
                               outlive the agent (default: not pinned)
  --nodeport-interface IF      with --service-proxy bpf: serve NodePorts, LoadBalancer IPs and
                               externalIPs to clients outside the node with tc programs on
                               IF (the node's external interface), SNAT to --node-ip
                               (default: none; pods on the node reach them anyway)
  --cluster-dns IPS            cluster DNS addresses (comma-separated): the nameserver of
                               ClusterFirst pods; the agent answers there for the pods of
                               this node, putting an address that is not on the node on lo
                               (e.g. 169.254.20.10) (default: none, no cluster DNS)
  --cluster-domain DOMAIN      the cluster's DNS domain (default cluster.local)
  --resolv-conf FILE           the node's resolver: pods with dnsPolicy Default get it, and
                               cluster DNS forwards other names to its nameservers
                               (default /etc/resolv.conf; "" for none)
  --address ADDR               kubelet API listen address (default 0.0.0.0)
  --port N                     kubelet API port, HTTPS (default 10250)
  --tls-cert-file FILE         kubelet API serving certificate
  --tls-private-key-file FILE  its private key
  --client-ca-file FILE        CA that signs the API server's client certificate
  --node-ip IP                 the node's address (default: the first global IPv4
                               address of an interface that is up)
  --system-reserved LIST       resources kept for the system, e.g. cpu=100m,memory=100Mi
  --kube-reserved LIST         resources kept for Kubernetes daemons, same format
  --max-pods N                 pods this node accepts (default 110)
  --seccomp-default            run containers without a seccomp profile as RuntimeDefault
  --pod-workers N              pods synced at once (default 4)
  --resync-seconds N           periodic resync of every pod (default 60)
  --node-lease-duration-seconds N
                               the node Lease's duration (default 40); it is renewed
                               every quarter of it, as the kubelet does
  -h, --help                   show this help
)";
}

Result<std::vector<std::pair<std::string, std::string>>> parse_reserved(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      return Error(ErrorCode::kInvalidArgument, "reserved resources: \"" + item + "\": want NAME=QUANTITY");
    auto q = Quantity::parse(item.substr(eq + 1));
    if (!q.ok()) return Error(ErrorCode::kInvalidArgument, "reserved resources: \"" + item + "\": " + q.error().message());
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {
Result<int> parse_int(const std::string& flag, const std::string& v, int min, int max) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < min || n > max)
    return Error(ErrorCode::kInvalidArgument,
                 flag + ": \"" + v + "\": want an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return n;
}
}  // namespace

Result<AgentOptions> parse_agent_flags(const std::vector<std::string>& args) {
  AgentOptions o;
  std::map<std::string, std::function<Result<void>(const std::string&)>> with_value = {
      {"--kubeconfig", [&](const std::string& v) { o.kubeconfig = v; return Result<void>(Ok()); }},
      {"--node-name", [&](const std::string& v) { o.node_name = v; return Result<void>(Ok()); }},
      {"--root-dir", [&](const std::string& v) { o.root_dir = v; return Result<void>(Ok()); }},
      {"--cgroup-root", [&](const std::string& v) { o.cgroup_root = v; return Result<void>(Ok()); }},
      {"--pod-logs-dir", [&](const std::string& v) { o.pod_logs_dir = v; return Result<void>(Ok()); }},
      {"--pod-manifest-path", [&](const std::string& v) { o.pod_manifest_path = v; return Result<void>(Ok()); }},
      {"--cni-conf-dir", [&](const std::string& v) { o.cni_conf_dir = v; return Result<void>(Ok()); }},
      {"--cni-bin-dir", [&](const std::string& v) { o.cni_bin_dir = v; return Result<void>(Ok()); }},
      {"--network",
       [&](const std::string& v) -> Result<void> {
         if (v != "kernlet" && v != "cni" && v != "none")
           return Error(ErrorCode::kInvalidArgument, "--network: \"" + v + "\": want kernlet, cni or none");
         o.network = v;
         return Ok();
       }},
      {"--cni-plugin",
       [&](const std::string& v) -> Result<void> {
         if (v != "kernlet-cni" && v != "bridge")
           return Error(ErrorCode::kInvalidArgument, "--cni-plugin: \"" + v + "\": want kernlet-cni or bridge");
         o.cni_plugin = v;
         return Ok();
       }},
      {"--cni-bridge", [&](const std::string& v) { o.cni_bridge = v; return Result<void>(Ok()); }},
      {"--cni-mtu",
       [&](const std::string& v) -> Result<void> {
         KL_ASSIGN_OR_RETURN(o.cni_mtu, parse_int("--cni-mtu", v, 68, 65535));
         return Ok();
       }},
      {"--cluster-cidr", [&](const std::string& v) { o.cluster_cidr = v; return Result<void>(Ok()); }},
      {"--cni-data-dir", [&](const std::string& v) { o.cni_data_dir = v; return Result<void>(Ok()); }},
      {"--host-gw-routes",
       [&](const std::string& v) -> Result<void> {
         if (v != "true" && v != "false")
           return Error(ErrorCode::kInvalidArgument, "--host-gw-routes: \"" + v + "\": want true or false");
         o.host_gw_routes = v == "true";
         return Ok();
       }},
      {"--service-proxy",
       [&](const std::string& v) -> Result<void> {
         if (v != "bpf" && v != "none")
           return Error(ErrorCode::kInvalidArgument, "--service-proxy: \"" + v + "\": want bpf or none");
         o.service_proxy = v;
         return Ok();
       }},
      {"--bpf-pin-dir", [&](const std::string& v) { o.bpf_pin_dir = v; return Result<void>(Ok()); }},
      {"--nodeport-interface", [&](const std::string& v) { o.nodeport_interface = v; return Result<void>(Ok()); }},
      {"--cluster-dns",
       [&](const std::string& v) -> Result<void> {
         o.cluster_dns.clear();
         for (size_t start = 0; start <= v.size();) {
           size_t comma = v.find(',', start);
           if (comma == std::string::npos) comma = v.size();
           std::string ip = v.substr(start, comma - start);
           unsigned char buf[16];
           if (::inet_pton(AF_INET, ip.c_str(), buf) != 1 && ::inet_pton(AF_INET6, ip.c_str(), buf) != 1)
             return Error(ErrorCode::kInvalidArgument, "--cluster-dns: \"" + ip + "\" is not an IP address");
           o.cluster_dns.push_back(ip);
           start = comma + 1;
         }
         return Ok();
       }},
      {"--cluster-domain",
       [&](const std::string& v) -> Result<void> {
         std::string d = v;
         while (!d.empty() && d.back() == '.') d.pop_back();
         if (auto errs = api::is_dns1123_subdomain(d); !errs.empty())
           return Error(ErrorCode::kInvalidArgument, "--cluster-domain: \"" + v + "\": " + errs[0]);
         o.cluster_domain = d;
         return Ok();
       }},
      {"--resolv-conf", [&](const std::string& v) { o.resolv_conf = v; return Result<void>(Ok()); }},
      {"--address", [&](const std::string& v) { o.address = v; return Result<void>(Ok()); }},
      {"--port",
       [&](const std::string& v) -> Result<void> {
         KL_ASSIGN_OR_RETURN(o.port, parse_int("--port", v, 0, 65535));
         return Ok();
       }},
      {"--tls-cert-file", [&](const std::string& v) { o.tls_cert_file = v; return Result<void>(Ok()); }},
      {"--tls-private-key-file", [&](const std::string& v) { o.tls_private_key_file = v; return Result<void>(Ok()); }},
      {"--client-ca-file", [&](const std::string& v) { o.client_ca_file = v; return Result<void>(Ok()); }},
      {"--node-ip", [&](const std::string& v) { o.node_ip = v; return Result<void>(Ok()); }},
      {"--system-reserved",
       [&](const std::string& v) -> Result<void> {
         KL_TRY(parse_reserved(v));
         o.system_reserved = v;
         return Ok();
       }},
      {"--kube-reserved",
       [&](const std::string& v) -> Result<void> {
         KL_TRY(parse_reserved(v));
         o.kube_reserved = v;
         return Ok();
       }},
      {"--max-pods",
       [&](const std::string& v) -> Result<void> {
         KL_ASSIGN_OR_RETURN(o.max_pods, parse_int("--max-pods", v, 1, 100000));
         return Ok();
       }},
      {"--pod-workers",
       [&](const std::string& v) -> Result<void> {
         KL_ASSIGN_OR_RETURN(o.pod_workers, parse_int("--pod-workers", v, 1, 64));
         return Ok();
       }},
      {"--resync-seconds",
       [&](const std::string& v) -> Result<void> {
         KL_ASSIGN_OR_RETURN(o.resync_seconds, parse_int("--resync-seconds", v, 1, 86400));
         return Ok();
       }},
      {"--node-lease-duration-seconds",
       [&](const std::string& v) -> Result<void> {
         KL_ASSIGN_OR_RETURN(o.node_lease_duration_seconds, parse_int("--node-lease-duration-seconds", v, 1, 3600));
         return Ok();
       }},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    if (a == "--seccomp-default") {
      o.seccomp_default = true;
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    auto it = with_value.find(a);
    if (it == with_value.end()) return Error(ErrorCode::kInvalidArgument, "unknown flag " + a);
    if (!inline_value) {
      if (i + 1 >= args.size()) return Error(ErrorCode::kInvalidArgument, a + ": missing value");
      value = args[++i];
    }
    KL_TRY(it->second(value));
  }
  if (o.kubeconfig.empty()) return Error(ErrorCode::kInvalidArgument, "--kubeconfig is required");
  return o;
}

}  // namespace kernlet::agent
