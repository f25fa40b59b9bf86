#include "agent/cmd/agent.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "api/client/config.h"

namespace kernlet::agent {

namespace {

// Events as log lines until the node part's EventRecorder is wired in.
class LogEventSink final : public EventSink {
 public:
  void event(const json::object& pod, std::string_view type, std::string_view reason,
             const std::string& message) override {
    api::Meta m(pod);
    std::fprintf(stderr, "I event: pod %s/%s %s %s: %s\n", std::string(m.namespace_()).c_str(),
                 std::string(m.name()).c_str(), std::string(type).c_str(), std::string(reason).c_str(),
                 message.c_str());
  }
};

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
  a->events_ = std::make_unique<LogEventSink>();
  a->env_ = basic_environment();
  a->probes_ = no_probes(a->rt_.get());
  a->net_ = no_network();
  SyncerOptions so;
  so.pod_logs_dir = options.pod_logs_dir;
  so.host_ips = {a->node_ip_};
  a->syncer_ = std::make_unique<PodSyncer>(a->rt_.get(), a->events_.get(), a->env_.get(), a->probes_.get(),
                                           a->net_.get(), so);
  a->api_ = std::make_unique<RestPodApi>(a->client_);
  PodWorkersOptions wo;
  wo.workers = options.pod_workers;
  wo.resync_period = std::chrono::seconds(options.resync_seconds);
  a->workers_ = std::make_unique<PodWorkers>(a->syncer_.get(), a->rt_.get(), a->api_.get(), wo);
  auto lw = std::make_shared<client::RestListerWatcher>(a->client_, client::ResourceRef("", "v1", "pods"), "",
                                                       "spec.nodeName=" + options.node_name);
  client::InformerOptions io;
  io.name = "pods";
  io.max_backoff = std::chrono::milliseconds(10'000);
  a->informer_ = std::make_unique<client::Informer>(lw, io);
  PodWorkers* w = a->workers_.get();
  client::EventHandler h;
  h.on_add = [w](const client::ObjectPtr& o) { w->upsert(o); };
  h.on_update = [w](const client::ObjectPtr&, const client::ObjectPtr& o) { w->upsert(o); };
  h.on_delete = [w](const client::ObjectPtr& o, bool) { w->removed(o); };
  h.on_synced = [w] { w->adopt_orphans(); };
  a->informer_->add_handler(std::move(h));
  return a;
}

Agent::~Agent() { stop(); }

Result<void> Agent::start() {
  std::fprintf(stderr, "I agent: node %s (%s), root %s, network %s\n", opts_.node_name.c_str(), node_ip_.c_str(),
               opts_.root_dir.c_str(), opts_.network.c_str());
  KL_TRY(workers_->start());
  informer_->start();
  return Ok();
}

void Agent::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (informer_) informer_->stop();
  if (workers_) workers_->stop();
}

}  // namespace kernlet::agent
