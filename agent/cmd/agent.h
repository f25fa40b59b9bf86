// Agent: the kernlet-agent process assembled from its parts: the API client and the pod
// informer (spec.nodeName=<node>), the runtime (RealPodRuntime), the pod syncer and
// workers, the Node's registration, status and Lease and the event recorder (agent/node),
// env and security (agent/podspec), volumes (csi/volume), probes and hooks (agent/prober)
// and the CNI driver (cni/client) with --network cni or kernlet; with --network kernlet a
// Node informer writes the CNI config once the Node has a podCIDR (kernlet_network.h) and
// drives the host-gw routes to the other nodes (cni/routes); with --cluster-dns the cluster DNS
// (agent/dns) over the Service and EndpointSlice informers the service proxy shares. Thin main: parse flags, Agent::create, start, wait for a signal, stop.
// Thread-safety: create/start/stop from one thread.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <string>

#include "agent/cmd/agent_csi.h"
#include "agent/cmd/agent_options.h"
#include "agent/node/event_recorder.h"
#include "agent/node/node_status.h"
#include "agent/node/static_pods.h"
#include "agent/server/kubelet_server.h"
#include "agent/server/stats.h"
#include "csi/volume/mounter.h"
#include "csi/volume/volume_manager.h"
#include "agent/pod/pod_sync.h"
#include "agent/pod/pod_workers.h"
#include "agent/pod/real_pod_runtime.h"
#include "agent/proxy/service_proxy.h"
#include "bpf/loader/nodeport_lb.h"
#include "agent/dns/cluster_dns.h"
#include "bpf/loader/sock_lb.h"
#include "api/client/informer.h"
#include "api/client/rest_client.h"
#include "agent/cmd/kernlet_network.h"
#include "cni/routes/host_gw.h"
#include "cni/routes/netlink_routes.h"

namespace kernlet::agent {

// The node's address: `flag` when set, else the first global IPv4 address of an interface
// that is up, else 127.0.0.1.
std::string detect_node_ip(const std::string& flag);

// The default node name: the host name, lower-cased.
std::string default_node_name();

class Agent {
 public:
  // Loads the kubeconfig, opens the runtime (re-adopting what runs) and builds the parts.
  // Nothing talks to the API server yet. Errors name the file or path.
  static Result<std::unique_ptr<Agent>> create(AgentOptions options);
  ~Agent();
  // Starts the pod informer and workers; the API connection is retried with back-off in
  // the background (pods keep running meanwhile).
  Result<void> start();
  // Stops every thread; containers keep running.
  void stop();

 private:
  Agent() = default;
  AgentOptions opts_;
  std::string node_ip_;
  std::shared_ptr<client::RestClient> client_;
  std::unique_ptr<RealPodRuntime> rt_;
  std::unique_ptr<EventSink> events_;
  std::unique_ptr<PodEnvironment> env_;
  std::unique_ptr<PodProbes> probes_;
  std::unique_ptr<PodNetwork> net_;
  std::unique_ptr<PodSyncer> syncer_;
  std::unique_ptr<PodApi> api_;
  std::unique_ptr<PodWorkers> workers_;
  std::unique_ptr<client::Informer> informer_;
  std::unique_ptr<client::Informer> services_;
  // --service-proxy bpf: the socket LB, the EndpointSlice informer and the proxy.
  std::unique_ptr<bpf::SockLb> lb_;
  std::unique_ptr<bpf::NodePortLb> nodeport_lb_;  // --nodeport-interface
  std::unique_ptr<client::Informer> slices_;
  std::unique_ptr<ServiceProxy> proxy_;
  // --cluster-dns: the cluster DNS server, on the same Service and EndpointSlice informers.
  std::unique_ptr<dns::ClusterDns> dns_;
  Result<void> create_cluster_dns();
  void ensure_slices_informer();
  std::unique_ptr<EventRecorder> recorder_;
  std::unique_ptr<NodeStatusManager> node_;
  std::unique_ptr<csi::LinuxMounter> mounter_;
  std::unique_ptr<csi::VolumeManager> volumes_;
  std::unique_ptr<AgentCsi> csi_;  // persistentVolumeClaim volumes and provisioning (agent_csi.h)
  std::unique_ptr<KubeletServer> server_;  // only with --tls-cert-file and friends
  std::unique_ptr<StatsCollector> stats_;  // /stats/summary's sampler, with server_
  // Nodes (every one): this Node's podCIDR for --network kernlet, the others for routes.
  void on_node_change();
  std::unique_ptr<client::Informer> nodes_;
  std::optional<KernletNetworkOptions> kernlet_net_;  // with --network kernlet
  std::string network_cidr_;  // the podCIDR the conflist was written for (node handler only)
  std::unique_ptr<cni::routes::NetlinkRouteTable> route_table_;
  std::unique_ptr<cni::routes::HostGwRoutes> routes_;
  // Static pods (--pod-manifest-path) and their mirror pods in the API.
  void mirror_loop();
  Result<void> start_service_proxy_parts();
  void wake_mirror();
  std::unique_ptr<StaticPodSource> static_;
  std::unique_ptr<MirrorPodManager> mirror_;
  std::thread mirror_thread_;
  std::mutex mirror_mu_;
  std::condition_variable mirror_cv_;
  bool mirror_wake_ = false;
  bool mirror_stop_ = false;
  std::map<std::string, client::ObjectPtr> mirrors_;  // "ns/name" -> mirror pod
  bool stopped_ = false;
};

}  // namespace kernlet::agent
