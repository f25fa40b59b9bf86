#include "agent/cmd/agent.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "agent/cmd/api_environment.h"
#include "agent/cmd/cni_network.h"
#include "agent/cmd/pod_attach_source.h"
#include "agent/cmd/pod_exec_source.h"
#include "agent/cmd/pod_port_forward_source.h"
#include "agent/cmd/pod_log_source.h"
#include "agent/cmd/pod_stats_source.h"
#include "agent/cmd/prober_probes.h"
#include "agent/dns/pod_dns.h"
#include "agent/metrics/agent_metrics.h"
#include "api/client/config.h"
#include "api/quantity.h"
#include "runtime/sandbox/linux.h"

namespace kernlet::agent {

namespace {

// Pod events through agent/node's EventRecorder (aggregated, never blocking).
class RecorderEventSink final : public EventSink {
 public:
  explicit RecorderEventSink(EventRecorder* r) : r_(r) {}
  void event(const json::object& pod, std::string_view type, std::string_view reason,
             const std::string& message) override {
    r_->event(pod, type, reason, message);
  }

 private:
  EventRecorder* r_;
};

Result<api::ResourceList> reserved_list(const std::string& text) {
  api::ResourceList out;
  KL_ASSIGN_OR_RETURN(auto pairs, parse_reserved(text));
  for (const auto& [k, v] : pairs) {
    KL_ASSIGN_OR_RETURN(auto q, Quantity::parse(v));
    out[k] = q;
  }
  return out;
}

}  // namespace

std::string detect_node_ip(const std::string& flag) {
  if (!flag.empty()) return flag;
  ifaddrs* list = nullptr;
  std::string found;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      char buf[INET_ADDRSTRLEN];
      auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf) != nullptr) found = buf;
    }
    ::freeifaddrs(list);
  }
  return found.empty() ? "127.0.0.1" : found;
}

std::string default_node_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string n(buf);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return n;
}

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions options) {
  std::unique_ptr<Agent> a(new Agent());
  if (options.node_name.empty()) options.node_name = default_node_name();
  a->opts_ = options;
  a->node_ip_ = detect_node_ip(options.node_ip);
  KL_ASSIGN_OR_RETURN(auto cfg, client::load_kubeconfig(options.kubeconfig));
  cfg.user_agent = "kernlet-agent/" + options.node_name;
  KL_ASSIGN_OR_RETURN(a->client_, client::RestClient::create(cfg));
  RealPodRuntimeOptions ro;
  ro.root_dir = options.root_dir;
  ro.cgroup_root = options.cgroup_root;
  KL_ASSIGN_OR_RETURN(a->rt_, RealPodRuntime::open(ro));
  std::fprintf(stderr, "I agent: %s\n", a->rt_->cgroup_report().summary().c_str());
  // The Node, its Lease and events (agent/node).
  NodeOptions no;
  no.node_name = options.node_name;
  no.node_ip = a->node_ip_;
  KL_ASSIGN_OR_RETURN(no.system_reserved, reserved_list(options.system_reserved));
  KL_ASSIGN_OR_RETURN(no.kube_reserved, reserved_list(options.kube_reserved));
  no.max_pods = options.max_pods;
  no.root_dir = options.root_dir;
  no.kubelet_port = options.port;
  // As the kubelet: renewed at a quarter of its duration (NodeLeaseRenewIntervalFraction).
  no.lease.lease_duration = std::chrono::seconds(options.node_lease_duration_seconds);
  no.lease.renew_interval = std::chrono::milliseconds(options.node_lease_duration_seconds * 250);
  a->node_ = std::make_unique<NodeStatusManager>(a->client_, no);
  EventRecorderOptions eo;
  eo.node_name = options.node_name;
  a->recorder_ = std::make_unique<EventRecorder>(a->client_, eo);
  a->events_ = std::make_unique<RecorderEventSink>(a->recorder_.get());
  // The pod network: CNI, or a private loopback-only namespace per pod.
  if (options.network == "cni" || options.network == "kernlet") {
    std::vector<std::string> bin_dirs;
    for (size_t start = 0; start <= options.cni_bin_dir.size();) {
      size_t colon = options.cni_bin_dir.find(':', start);
      if (colon == std::string::npos) colon = options.cni_bin_dir.size();
      if (colon > start) bin_dirs.push_back(options.cni_bin_dir.substr(start, colon - start));
      start = colon + 1;
    }
    a->net_ = std::make_unique<CniPodNetwork>(options.cni_conf_dir, bin_dirs, options.root_dir + "/cni/results");
  } else {
    a->net_ = no_network();
  }
  if (options.network == "kernlet") {
    KernletNetworkOptions kn;
    kn.conf_dir = options.cni_conf_dir;
    kn.plugin = options.cni_plugin;
    kn.bridge = options.cni_bridge;
    kn.mtu = options.cni_mtu;
    kn.cluster_cidr = options.cluster_cidr;
    kn.data_dir = options.cni_data_dir;
    // Every setting but the podCIDR is checked now, so a typo fails the start, not the Node.
    if (auto probe = kernlet_conflist(kn, "10.0.0.0/24"); !probe.ok()) return std::move(probe).error();
    a->kernlet_net_ = kn;
  }
  // The Nodes, for this Node's podCIDR and the routes to the others.
  const bool host_gw = options.host_gw_routes.value_or(options.network == "kernlet");
  if (host_gw || a->kernlet_net_) {
    client::InformerOptions nio;
    nio.name = "nodes";
    nio.max_backoff = std::chrono::milliseconds(10'000);
    a->nodes_ = std::make_unique<client::Informer>(
        std::make_shared<client::RestListerWatcher>(a->client_, client::ResourceRef("", "v1", "nodes")), nio);
  }
  if (host_gw) {
    // The socket is opened here, in the agent's network namespace: routes land there.
    auto table = cni::routes::NetlinkRouteTable::open();
    if (!table.ok()) return std::move(table).error().context("--host-gw-routes");
    a->route_table_ = std::move(*table);
    cni::routes::HostGwOptions ho;
    ho.node_name = options.node_name;
    client::Informer* ni = a->nodes_.get();
    a->routes_ = std::make_unique<cni::routes::HostGwRoutes>(
        *a->route_table_, [ni] { return ni->cache().list(); }, [ni] { return ni->has_synced(); }, ho);
  }
  if (a->nodes_) {
    Agent* me = a.get();
    client::EventHandler nh;
    nh.on_add = [me](const client::ObjectPtr&) { me->on_node_change(); };
    nh.on_update = [me](const client::ObjectPtr&, const client::ObjectPtr&) { me->on_node_change(); };
    nh.on_delete = [me](const client::ObjectPtr&, bool) { me->on_node_change(); };
    nh.on_synced = [me] { me->on_node_change(); };
    a->nodes_->add_handler(std::move(nh));
  }
  // Services for the service-link environment variables.
  client::InformerOptions sio;
  sio.name = "services";
  sio.max_backoff = std::chrono::milliseconds(10'000);
  a->services_ = std::make_unique<client::Informer>(
      std::make_shared<client::RestListerWatcher>(a->client_, client::ResourceRef("", "v1", "services")), sio);
  if (!options.nodeport_interface.empty() && options.service_proxy != "bpf")
    return Error(ErrorCode::kInvalidArgument, "--nodeport-interface needs --service-proxy bpf");
  if (options.service_proxy == "bpf") KL_TRY(a->start_service_proxy_parts());
  if (!options.cluster_dns.empty()) KL_TRY(a->create_cluster_dns());
  // Volumes under <root>/pods/<uid>/volumes (csi/volume), env and security (agent/podspec).
  a->mounter_ = std::make_unique<csi::LinuxMounter>();
  a->volumes_ = std::make_unique<csi::VolumeManager>(options.root_dir + "/pods", *a->mounter_);
  // rshared, as the kubelet's root dir: volumes then honour HostToContainer and Bidirectional.
  KL_TRY(runtime::make_dirs(options.root_dir + "/pods", 0750));
  KL_TRY(csi::ensure_shared_mount(options.root_dir + "/pods"));
  // Claims through the CSI drivers registered in <root>/plugins_registry; a claim turning
  // Bound wakes the pods on this node that use it.
  AgentCsiOptions co;
  co.node_name = options.node_name;
  co.root_dir = options.root_dir;
  co.wake_claim = [self = a.get()](const std::string& ns, const std::string& claim) {
    if (!self->workers_) return;
    for (const auto& p : self->workers_->list()) {
      api::PodView pod(*p);
      if (pod.meta().namespace_() != ns) continue;
      for (const api::VolumeView& v : pod.spec().volumes())
        if (v.source_kind() == "persistentVolumeClaim" && json::get_string(*v.source(), "claimName") == claim)
          self->workers_->enqueue(std::string(pod.meta().uid()));
    }
  };
  a->csi_ = std::make_unique<AgentCsi>(a->client_, a->recorder_.get(), *a->mounter_, std::move(co));
  a->volumes_->set_persistent_volume_plugin(a->csi_->volume_plugin());
  ApiEnvironmentOptions envo;
  envo.node_name = options.node_name;
  envo.host_ips = {a->node_ip_};
  envo.seccomp_default = options.seccomp_default;
  envo.seccomp_profile_root = options.root_dir + "/seccomp";
  envo.node_allocatable_source = [node = a->node_.get()] { return node_allocatable_of(node->node()); };
  a->env_ = std::make_unique<ApiPodEnvironment>(a->client_, &a->services_->cache(), a->volumes_.get(), a->net_.get(),
                                                envo);
  // Probes and hooks (agent/prober): a change wakes the pod's sync; events name the container.
  Agent* self = a.get();
  a->probes_ = std::make_unique<ProberPodProbes>(
      a->rt_.get(),
      [self](const std::string& uid) {
        if (self->workers_) self->workers_->enqueue(uid);
      },
      [self](const ProbeEvent& e) {
        if (!self->workers_) return;
        if (auto pod = self->workers_->pod(e.pod_uid))
          self->recorder_->event(*pod, container_field_path(e.container_name), e.type, e.reason, e.message);
      });
  SyncerOptions so;
  so.pod_logs_dir = options.pod_logs_dir;
  so.host_ips = {a->node_ip_};
  so.cluster_domain = options.cluster_domain;
  // Pods' resolv.conf per dnsPolicy; the node's file is read for each new sandbox (it may change).
  so.dns_config = [cluster_dns = options.cluster_dns, domain = options.cluster_domain, resolv = options.resolv_conf](
                      const api::PodView& pod, std::vector<std::string>* warnings) {
    dns::PodDnsSettings ds;
    ds.cluster_dns = cluster_dns;
    ds.cluster_domain = domain;
    if (!resolv.empty()) {
      auto host = dns::read_resolv_conf(resolv);
      if (host.ok()) {
        ds.host = std::move(*host);
      } else if (warnings) {
        warnings->push_back(host.error().to_string());
      }
    }
    return dns::pod_dns_config(pod, ds, warnings);
  };
  a->syncer_ = std::make_unique<PodSyncer>(a->rt_.get(), a->events_.get(), a->env_.get(), a->probes_.get(),
                                           a->net_.get(), so);
  a->api_ = std::make_unique<RestPodApi>(a->client_);
  PodWorkersOptions wo;
  wo.workers = options.pod_workers;
  wo.resync_period = std::chrono::seconds(options.resync_seconds);
  wo.mirror_of = [self](const std::string& ns, const std::string& name) -> client::ObjectPtr {
    std::lock_guard<std::mutex> lock(self->mirror_mu_);
    auto it = self->mirrors_.find(ns + "/" + name);
    return it == self->mirrors_.end() ? nullptr : it->second;
  };
  a->workers_ = std::make_unique<PodWorkers>(a->syncer_.get(), a->rt_.get(), a->api_.get(), wo);
  auto lw = std::make_shared<client::RestListerWatcher>(a->client_, client::ResourceRef("", "v1", "pods"), "",
                                                       "spec.nodeName=" + options.node_name);
  client::InformerOptions io;
  io.name = "pods";
  io.max_backoff = std::chrono::milliseconds(10'000);
  a->informer_ = std::make_unique<client::Informer>(lw, io);
  PodWorkers* w = a->workers_.get();
  client::EventHandler h;
  // Mirror pods are the API's copies of static pods: remembered for their status, never run.
  auto mirror = [self](const client::ObjectPtr& o, bool gone) {
    if (!is_mirror_pod(*o)) return false;
    api::Meta m(*o);
    {
      std::lock_guard<std::mutex> lock(self->mirror_mu_);
      std::string key = std::string(m.namespace_()) + "/" + std::string(m.name());
      if (gone) {
        self->mirrors_.erase(key);
      } else {
        self->mirrors_[key] = o;
      }
    }
    self->wake_mirror();
    return true;
  };
  h.on_add = [w, mirror](const client::ObjectPtr& o) {
    if (!mirror(o, false)) {
      w->upsert(o);
      return;
    }
    // A new mirror pod (first, or created again after a delete) has no status yet: sync
    // its static pod (uid = the config.mirror annotation) so the status is written now,
    // not at the next change or resync.
    if (auto uid = api::Meta(*o).annotation(kConfigMirrorAnnotation); uid && !uid->empty())
      w->enqueue(std::string(*uid));
  };
  h.on_update = [w, mirror](const client::ObjectPtr&, const client::ObjectPtr& o) {
    if (!mirror(o, false)) w->upsert(o);
  };
  h.on_delete = [w, mirror](const client::ObjectPtr& o, bool) {
    if (!mirror(o, true)) w->removed(o);
  };
  h.on_synced = [w] { w->adopt_orphans(); };
  a->informer_->add_handler(std::move(h));
  // The kubelet API (:10250) when its certificates are given.
  if (!options.tls_cert_file.empty() || !options.tls_private_key_file.empty() || !options.client_ca_file.empty()) {
    KubeletServerOptions ko;
    ko.address = options.address;
    ko.port = static_cast<uint16_t>(options.port);
    KL_ASSIGN_OR_RETURN(ko.cert_pem, runtime::read_file(options.tls_cert_file));
    KL_ASSIGN_OR_RETURN(ko.key_pem, runtime::read_file(options.tls_private_key_file));
    KL_ASSIGN_OR_RETURN(ko.client_ca_pem, runtime::read_file(options.client_ca_file));
    auto logs = std::make_shared<PodLogSource>(a->workers_.get(), a->rt_.get(), options.pod_logs_dir);
    KL_ASSIGN_OR_RETURN(auto stats_source, PodStatsSource::open(options.node_name, a->workers_.get(), a->rt_.get(),
                                                                a->rt_->cgroup_report()));
    a->stats_ = std::make_unique<StatsCollector>(stats_source, std::chrono::seconds(10));
    StatsCollector* stats = a->stats_.get();
    a->server_ = std::make_unique<KubeletServer>(
        ko, logs,
        [w] {
          json::array pods;
          for (const auto& p : w->list()) pods.push_back(*p);
          return pods;
        },
        [stats] { return stats->summary(); }, std::make_shared<PodExecSource>(a->workers_.get(), a->rt_.get()));
    a->server_->set_port_forward(std::make_shared<PodPortForwardSource>(a->workers_.get(), a->rt_.get()));
    a->server_->set_attach(std::make_shared<PodAttachSource>(a->workers_.get(), a->rt_.get()));
    // GET /metrics: pods by phase, and the service proxy's counters when it runs.
    a->server_->set_metrics([w, proxy = a->proxy_.get()] {
      metrics::PrometheusText out;
      metrics::append_pod_metrics(w->list(), out);
      if (proxy) proxy->append_metrics(out);
      return out.text();
    });
  }
  if (!options.pod_manifest_path.empty()) {
    a->static_ = std::make_unique<StaticPodSource>(options.pod_manifest_path, options.node_name);
    a->mirror_ = std::make_unique<MirrorPodManager>(a->client_, options.node_name);
    a->static_->on_change([self](const std::vector<json::object>& pods) {
      self->workers_->set_static_pods(pods);
      self->wake_mirror();
    });
  }
  return a;
}

Agent::~Agent() { stop(); }

Result<void> Agent::start() {
  std::fprintf(stderr, "I agent: node %s (%s), root %s, network %s\n", opts_.node_name.c_str(), node_ip_.c_str(),
               opts_.root_dir.c_str(), opts_.network.c_str());
  recorder_->start();
  if (kernlet_net_)
    node_->set_readiness("network", "container runtime network not ready: NetworkReady=false "
                                    "reason:NetworkPluginNotReady message:kernlet: waiting for spec.podCIDR of Node " +
                                        opts_.node_name);
  node_->start();
  if (routes_) routes_->start();
  if (nodes_) nodes_->start();
  if (static_) {
    static_->start();  // static pods are known before the informer's first list adopts orphans
    workers_->set_static_pods(static_->pods());
    mirror_thread_ = std::thread([this] { mirror_loop(); });
  }
  services_->start();
  if (slices_) slices_->start();
  if (proxy_) proxy_->start();
  if (dns_) {
    KL_TRY(dns_->start());
    std::fprintf(stderr, "I agent: cluster dns on %s port 53, domain %s\n", opts_.cluster_dns[0].c_str(),
                 opts_.cluster_domain.c_str());
  }
  KL_TRY(csi_->start());
  KL_TRY(workers_->start());
  informer_->start();
  if (server_) {
    stats_->start();
    KL_TRY(server_->start());
    std::fprintf(stderr, "I agent: kubelet API on %s:%u\n", opts_.address.c_str(), server_->port());
  } else {
    std::fprintf(stderr, "I agent: kubelet API off (no --tls-cert-file, --tls-private-key-file, --client-ca-file)\n");
  }
  return Ok();
}

void Agent::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->stop();
  if (stats_) stats_->stop();
  if (static_) static_->stop();
  if (mirror_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mirror_mu_);
      mirror_stop_ = true;
    }
    mirror_cv_.notify_all();
    mirror_thread_.join();
  }
  if (informer_) informer_->stop();
  if (nodes_) nodes_->stop();
  if (routes_) routes_->stop();  // routes stay: pods on other nodes keep reaching ours
  if (workers_) workers_->stop();
  if (csi_) csi_->stop();
  probes_.reset();  // the prober's threads call into the workers
  if (proxy_) proxy_->stop();
  if (dns_) dns_->stop();
  if (slices_) slices_->stop();
  if (services_) services_->stop();
  if (node_) node_->stop();
  if (recorder_) {
    (void)recorder_->flush(std::chrono::seconds(2));
    recorder_->stop();
  }
}

// A Node changed: write the CNI config when this Node's podCIDR is (newly) known, and wake
// the routes. Runs on the Node informer's thread, one call at a time.
void Agent::on_node_change() {
  if (routes_) routes_->wake();
  if (!kernlet_net_) return;
  auto self = nodes_->cache().get(opts_.node_name);
  if (!self) return;  // not registered yet (or deleted: the agent registers it again)
  const json::object* spec = json::get_object(*self, "spec");
  std::string cidr = spec ? std::string(json::get_string(*spec, "podCIDR")) : "";
  if (cidr.empty() || cidr == network_cidr_) return;
  auto written = write_kernlet_conflist(*kernlet_net_, cidr);
  if (!written.ok()) {
    std::string msg = written.error().to_string();
    std::fprintf(stderr, "E agent: network config for podCIDR %s: %s\n", cidr.c_str(), msg.c_str());
    node_->set_readiness("network", "container runtime network not ready: NetworkReady=false "
                                    "reason:NetworkPluginNotReady message:kernlet: " + msg);
    return;
  }
  network_cidr_ = cidr;
  std::fprintf(stderr, "I agent: network config %s/%s for podCIDR %s (%s)\n", kernlet_net_->conf_dir.c_str(),
               kKernletConflistName, cidr.c_str(), *written ? "written" : "unchanged");
  node_->set_readiness("network", std::nullopt);
}

// --service-proxy bpf: the socket LB on the pods' cgroup subtree, fed by Services and
// EndpointSlices through agent/proxy. Every informer event wakes one level-triggered pass.
Result<void> Agent::start_service_proxy_parts() {
  bpf::SockLb::Options lo;
  lo.cgroup_path = opts_.cgroup_root.empty() ? default_agent_cgroup_root() : opts_.cgroup_root;
  lo.pin_dir = opts_.bpf_pin_dir;
  KL_ASSIGN_OR_RETURN(lb_, bpf::SockLb::attach(lo));
  ensure_slices_informer();
  client::Informer* si = services_.get();
  client::Informer* ei = slices_.get();
  proxy_ = std::make_unique<ServiceProxy>(lb_.get(), &si->cache(), &ei->cache(), opts_.node_name,
                                          [si, ei] { return si->has_synced() && ei->has_synced(); });
  ServiceProxy* p = proxy_.get();
  auto node_addr = bpf::IpAddr::parse(node_ip_);
  if (node_addr.ok()) p->set_node_addresses({*node_addr});
  if (!opts_.nodeport_interface.empty()) {
    // NodePort/LoadBalancer/externalIPs from outside: tc on the external interface, flows
    // to other nodes' backends SNATed to the node address.
    if (!node_addr.ok() || node_addr->family != 4)
      return Error(ErrorCode::kInvalidArgument, "--nodeport-interface " + opts_.nodeport_interface +
                                                    ": the node address \"" + node_ip_ + "\" is not IPv4 (set --node-ip)");
    bpf::NodePortLb::Options no;
    no.interface = opts_.nodeport_interface;
    no.pin_dir = opts_.bpf_pin_dir;
    no.snat_addr = *node_addr;
    KL_ASSIGN_OR_RETURN(nodeport_lb_, bpf::NodePortLb::load(no));
    p->set_nodeport_map(nodeport_lb_.get());
    std::fprintf(stderr, "I agent: nodeport datapath on %s, SNAT to %s\n", opts_.nodeport_interface.c_str(), node_ip_.c_str());
  }
  for (client::Informer* inf : {services_.get(), slices_.get()}) {
    client::EventHandler h;
    h.on_add = [p](const client::ObjectPtr&) { p->trigger(); };
    h.on_update = [p](const client::ObjectPtr&, const client::ObjectPtr&) { p->trigger(); };
    h.on_delete = [p](const client::ObjectPtr&, bool) { p->trigger(); };
    h.on_synced = [p] { p->trigger(); };
    inf->add_handler(std::move(h));
  }
  std::fprintf(stderr, "I agent: service proxy bpf on cgroup %s\n", lb_->cgroup_path().c_str());
  return Ok();
}

// The EndpointSlice informer, shared by the service proxy and the cluster DNS.
void Agent::ensure_slices_informer() {
  if (slices_) return;
  client::InformerOptions eo;
  eo.name = "endpointslices";
  eo.max_backoff = std::chrono::milliseconds(10'000);
  slices_ = std::make_unique<client::Informer>(
      std::make_shared<client::RestListerWatcher>(client_, client::ResourceRef("discovery.k8s.io", "v1", "endpointslices")),
      eo);
}

// --cluster-dns: the DNS server over the Service and EndpointSlice caches (agent/dns). It
// binds in start(); every informer event wakes one rebuild of the record index.
Result<void> Agent::create_cluster_dns() {
  ensure_slices_informer();
  dns::ClusterDnsOptions o;
  o.addresses = opts_.cluster_dns;
  o.cluster_domain = opts_.cluster_domain;
  o.resolv_conf = opts_.resolv_conf;
  client::Informer* svc = services_.get();
  client::Informer* sl = slices_.get();
  dns_ = std::make_unique<dns::ClusterDns>(o, &svc->cache(), &sl->cache(),
                                           [svc, sl] { return svc->has_synced() && sl->has_synced(); });
  dns::ClusterDns* d = dns_.get();
  for (client::Informer* inf : {svc, sl}) {
    client::EventHandler h;
    h.on_add = [d](const client::ObjectPtr&) { d->trigger(); };
    h.on_update = [d](const client::ObjectPtr&, const client::ObjectPtr&) { d->trigger(); };
    h.on_delete = [d](const client::ObjectPtr&, bool) { d->trigger(); };
    h.on_synced = [d] { d->trigger(); };
    inf->add_handler(std::move(h));
  }
  return Ok();
}

void Agent::wake_mirror() {
  {
    std::lock_guard<std::mutex> lock(mirror_mu_);
    mirror_wake_ = true;
  }
  mirror_cv_.notify_all();
}

// Keeps mirror pods equal to the static pods: after every change of either, and every 10 s
// (the Node may not be registered yet, and the API may be down).
void Agent::mirror_loop() {
  std::unique_lock<std::mutex> lock(mirror_mu_);
  while (!mirror_stop_) {
    mirror_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return mirror_stop_ || mirror_wake_; });
    if (mirror_stop_) return;
    mirror_wake_ = false;
    lock.unlock();
    if (auto r = mirror_->sync(static_->pods()); !r.ok() && r.error().code() != ErrorCode::kNotFound)
      std::fprintf(stderr, "W agent: mirror pods: %s\n", r.error().to_string().c_str());
    lock.lock();
  }
}

}  // namespace kernlet::agent
