// kernlet-control: the control plane in one process. Thin: parse flags, build, run.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>
#include <mutex>
#include <optional>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "control/apiserver/api_server.h"
#include "control/apiserver/http_server.h"
#include "control/apiserver/node_credentials.h"
#include "control/apiserver/pki.h"
#include "control/controllers/cronjob_controller.h"
#include "control/controllers/daemonset_controller.h"
#include "control/controllers/deployment_controller.h"
#include "control/controllers/endpointslice_controller.h"
#include "control/controllers/hpa_controller.h"
#include "control/controllers/job_controller.h"
#include "control/controllers/leader_gate.h"
#include "control/controllers/node_ipam_controller.h"
#include "control/controllers/node_lifecycle_controller.h"
#include "control/controllers/pv_controller.h"
#include "control/controllers/replicaset_controller.h"
#include "control/apiserver/in_process_transport.h"
#include "control/scheduler/scheduler.h"
#include "control/store/sqlite_store.h"

namespace {

namespace fs = std::filesystem;
using namespace kernlet;

constexpr const char* kUsage = R"(Usage: kernlet-control [flags]

Runs kernlet's control plane: the Kubernetes-compatible API server on the embedded
SQLite store. On first start it creates a CA, a serving certificate and an admin client
certificate in the data directory and writes DIR/admin.kubeconfig for kubectl.

Flags:
  --data-dir DIR          state directory (default /var/lib/kernlet/control)
  --listen ADDR:PORT      HTTPS listen address (default 0.0.0.0:6443)
  --advertise-address IP  address put in the kubeconfig and serving certificate
                          (default 127.0.0.1)
  --service-cluster-ip-range CIDR
                          IPv4 range for Service ClusterIPs (default 10.96.0.0/12)
  --service-node-port-range A-B
                          range for NodePorts (default 30000-32767)
  --compaction-interval DURATION
                          compact the store's history this often, keeping what changed
                          in the last interval (default 5m; "0" disables; units s, m, h)
  --store-sync-threads N  threads that fsync the store's log (default 2): commits are
                          pipelined, the next batch is written while earlier fsyncs
                          run, and writes are acknowledged in order once durable;
                          0 fsyncs inside each commit, one batch at a time
  --insecure-listen ADDR:PORT
                          serve plain HTTP instead of HTTPS; every request is treated
                          as the admin. Loopback addresses only, for tests.
  --disable-scheduler     do not run the scheduler (pods stay unbound unless something
                          else binds them)
  --scheduler-client in-process|http
                          how the scheduler's requests (bindings, Events, status) and
                          watches reach this API server: through its request handler
                          and watch cache directly (default), or over loopback HTTP
                          like a separate process
  --disable-controllers   do not run the controllers (Deployment, ReplicaSet, EndpointSlice,
                          Job, TTL-after-finished, CronJob, DaemonSet, HorizontalPodAutoscaler,
                          node lifecycle, taint eviction, node IPAM, PersistentVolume binder)
  --controllers-client in-process|http
                          the same for the controllers' requests and watches
  --node-monitor-grace-period DURATION
                          a node whose Lease and Ready heartbeat have not changed for this
                          long is marked Unknown and tainted unreachable (default 40s)
  --node-eviction-rate QPS
                          NoExecute taints added per second in a healthy zone (default 0.1)
  --secondary-node-eviction-rate QPS
                          the same in a large, partly disrupted zone (default 0.01)
  --allocate-node-cidrs BOOL
                          give each Node a spec.podCIDR from --cluster-cidr (default true:
                          kernlet's CNI plugin takes pod addresses from it)
  --cluster-cidr CIDR     IPv4 range for pod addresses (default 10.244.0.0/16)
  --node-cidr-mask-size N prefix length of each node's range (default 24)
  --metric-resolution DURATION
                          how often the metrics API (metrics.k8s.io, kubectl top) scrapes
                          each Ready node's /stats/summary (default 15s; "0" disables)
  --horizontal-pod-autoscaler-sync-period DURATION
                          how often each HorizontalPodAutoscaler is evaluated (default 15s)
  --horizontal-pod-autoscaler-downscale-stabilization DURATION
                          scale-down window for HPAs that set none in spec.behavior
                          (default 5m; may be 0)
  --horizontal-pod-autoscaler-tolerance RATIO
                          metric/target ratios this close to 1 do not scale (default 0.1)
  --horizontal-pod-autoscaler-cpu-initialization-period DURATION   (default 5m)
  --horizontal-pod-autoscaler-initial-readiness-delay DURATION     (default 30s)
  --leader-elect BOOL     run the scheduler and the controllers only while holding the
                          Leases kube-system/kube-scheduler and
                          kube-system/kube-controller-manager (default false)
  --leader-elect-lease-duration DURATION   (default 15s)
  --leader-elect-renew-deadline DURATION   (default 10s)
  --leader-elect-retry-period DURATION     (default 2s)
                          durations take ms, s, m or h; flags may also be --flag=value
  -h, --help              show this help

Subcommands:
  node-credentials        write a node's kubeconfig and kubelet certificates
                          (kernlet-control node-credentials --help)
)";

constexpr const char* kNodeCredentialsUsage = R"(Usage: kernlet-control node-credentials --data-dir DIR --node-name NAME
           --server https://ADDR:PORT --out DIR [--node-ip IP ...] [--hostname H]

Issues, from the CA in DIR/pki (made by kernlet-control on first start), what a node
agent needs to join the cluster, and writes into OUT:
  kubeconfig    for --server, client certificate CN=system:node:NAME, O=system:nodes
  kubelet.crt   the kubelet API's serving certificate (port 10250), for NAME, the
  kubelet.key   hostname and every --node-ip; the API server verifies it with ca.crt
  ca.crt        the cluster CA
Running it again keeps files that are still right and rewrites the others.

Flags:
  --data-dir DIR          the control plane's data directory (default /var/lib/kernlet/control)
  --node-name NAME        the Node's name (required)
  --server URL            the API server as the node reaches it, https://ADDR:PORT (required)
  --out DIR               where to write the files (required)
  --node-ip IP            an address of the node for the serving certificate; repeatable
  --hostname H            the node's host name, if it differs from NAME
  -h, --help              show this help
)";

struct Flags {
  fs::path data_dir = "/var/lib/kernlet/control";
  std::string listen = "0.0.0.0:6443";
  std::string advertise = "127.0.0.1";
  std::string insecure_listen;
  std::string service_cidr = "10.96.0.0/12";
  std::string node_port_range = "30000-32767";
  std::chrono::seconds compaction_interval{300};
  int store_sync_threads = 2;
  bool scheduler = true;
  bool scheduler_in_process = true;  // --scheduler-client
  bool controllers = true;
  bool controllers_in_process = true;  // --controllers-client
  std::chrono::milliseconds node_grace{40'000};
  double eviction_rate = 0.1;
  double secondary_eviction_rate = 0.01;
  bool allocate_node_cidrs = true;
  std::string cluster_cidr = "10.244.0.0/16";
  int node_cidr_mask = 24;
  bool leader_elect = false;
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
  std::chrono::milliseconds metric_resolution{15'000};
  controllers::HpaOptions hpa;
};

// "500ms", "90s", "5m", "1h" or a plain number of seconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration_ms(const std::string& s) {
  char* end = nullptr;
  double n = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || n < 0) return std::nullopt;
  std::string unit(end);
  double ms = 0;
  if (unit == "ms") ms = n;
  else if (unit.empty() || unit == "s") ms = n * 1000;
  else if (unit == "m") ms = n * 60'000;
  else if (unit == "h") ms = n * 3'600'000;
  else return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::optional<bool> parse_bool(const std::string& s) {
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  return std::nullopt;
}

// "90s", "5m", "1h" or a plain number of seconds; nullopt when malformed.
std::optional<std::chrono::seconds> parse_duration(const std::string& s) {
  char* end = nullptr;
  long n = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || n < 0) return std::nullopt;
  std::string unit(end);
  if (unit.empty() || unit == "s") return std::chrono::seconds(n);
  if (unit == "m") return std::chrono::seconds(n * 60);
  if (unit == "h") return std::chrono::seconds(n * 3600);
  return std::nullopt;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "kernlet-control: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

bool split_host_port(const std::string& s, std::string& host, uint16_t& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) return false;
  port = static_cast<uint16_t>(p);
  return true;
}

int fail(const Error& e) {
  std::fprintf(stderr, "kernlet-control: %s\n", e.to_string().c_str());
  return 1;
}

// kernlet-control node-credentials ...: argv[0] is "node-credentials".
int node_credentials(int argc, char** argv) {
  apiserver::NodeCredentialsOptions o;
  fs::path data_dir = "/var/lib/kernlet/control";
  auto fail_usage = [](const std::string& msg) {
    std::fprintf(stderr, "kernlet-control node-credentials: %s\n\n%s", msg.c_str(), kNodeCredentialsUsage);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kNodeCredentialsUsage, stdout);
      return 0;
    }
    if (a != "--data-dir" && a != "--node-name" && a != "--server" && a != "--out" && a != "--node-ip" &&
        a != "--hostname") {
      return fail_usage("unknown flag " + a);
    }
    if (i + 1 >= argc) return fail_usage(a + " needs a value");
    std::string v = argv[++i];
    if (a == "--data-dir") data_dir = v;
    if (a == "--node-name") o.node_name = v;
    if (a == "--server") o.server = v;
    if (a == "--out") o.out_dir = v;
    if (a == "--node-ip") o.node_ips.push_back(v);
    if (a == "--hostname") o.hostname = v;
  }
  if (o.node_name.empty()) return fail_usage("--node-name is required");
  if (o.server.empty()) return fail_usage("--server is required");
  if (o.out_dir.empty()) return fail_usage("--out is required");
  o.pki_dir = data_dir / "pki";
  if (auto r = apiserver::write_node_credentials(o); !r.ok()) {
    std::fprintf(stderr, "kernlet-control node-credentials: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "kernlet-control node-credentials: wrote %s/{kubeconfig,kubelet.crt,kubelet.key,ca.crt}\n",
               o.out_dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "node-credentials") return node_credentials(argc - 1, argv + 1);
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // --flag=value as well as --flag value.
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto value = [&]() -> const char* {
      if (inline_value) return inline_value->c_str();
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    if (a == "--allocate-node-cidrs" || a == "--leader-elect") {
      // Booleans: bare means true; a following true/false is taken as the value.
      bool v = true;
      if (inline_value) {
        auto b = parse_bool(*inline_value);
        if (!b) return usage_error("invalid " + a + " " + *inline_value + ", want true or false");
        v = *b;
      } else if (i + 1 < argc && parse_bool(argv[i + 1])) {
        v = *parse_bool(argv[++i]);
      }
      (a == "--leader-elect" ? flags.leader_elect : flags.allocate_node_cidrs) = v;
    } else if (a == "--node-monitor-grace-period" || a == "--leader-elect-lease-duration" ||
               a == "--leader-elect-renew-deadline" || a == "--leader-elect-retry-period") {
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value");
      auto d = parse_duration_ms(v);
      if (!d || d->count() <= 0) return usage_error("invalid " + a + " " + v + ", want e.g. 40s or 500ms");
      if (a == "--node-monitor-grace-period") flags.node_grace = *d;
      if (a == "--leader-elect-lease-duration") flags.lease_duration = *d;
      if (a == "--leader-elect-renew-deadline") flags.renew_deadline = *d;
      if (a == "--leader-elect-retry-period") flags.retry_period = *d;
    } else if (a == "--metric-resolution" || a == "--horizontal-pod-autoscaler-sync-period" ||
               a == "--horizontal-pod-autoscaler-downscale-stabilization" ||
               a == "--horizontal-pod-autoscaler-cpu-initialization-period" ||
               a == "--horizontal-pod-autoscaler-initial-readiness-delay") {
      // Durations that may be 0 (metrics off; no window), except the sync period.
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value");
      auto d = parse_duration_ms(v);
      if (!d || (a == "--horizontal-pod-autoscaler-sync-period" && d->count() <= 0))
        return usage_error("invalid " + a + " " + v + ", want e.g. 15s or 500ms");
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*d);
      if (a == "--metric-resolution") flags.metric_resolution = *d;
      if (a == "--horizontal-pod-autoscaler-sync-period") flags.hpa.sync_period = *d;
      if (a == "--horizontal-pod-autoscaler-downscale-stabilization") flags.hpa.downscale_stabilization = secs;
      if (a == "--horizontal-pod-autoscaler-cpu-initialization-period") flags.hpa.cpu_initialization_period = secs;
      if (a == "--horizontal-pod-autoscaler-initial-readiness-delay") flags.hpa.initial_readiness_delay = secs;
    } else if (a == "--horizontal-pod-autoscaler-tolerance") {
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value");
      char* end = nullptr;
      double n = std::strtod(v, &end);
      if (end == v || *end != '\0' || n < 0 || n >= 1) return usage_error("invalid " + a + " " + v + ", want 0 <= x < 1");
      flags.hpa.tolerance = n;
    } else if (a == "--node-eviction-rate" || a == "--secondary-node-eviction-rate" || a == "--node-cidr-mask-size" ||
               a == "--cluster-cidr") {
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value");
      if (a == "--cluster-cidr") {
        flags.cluster_cidr = v;
        continue;
      }
      char* end = nullptr;
      double n = std::strtod(v, &end);
      if (end == v || *end != '\0' || n < 0) return usage_error("invalid " + a + " " + v);
      if (a == "--node-eviction-rate") flags.eviction_rate = n;
      if (a == "--secondary-node-eviction-rate") flags.secondary_eviction_rate = n;
      if (a == "--node-cidr-mask-size") flags.node_cidr_mask = static_cast<int>(n);
    } else if (a == "--store-sync-threads") {
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value");
      char* end = nullptr;
      long n = std::strtol(v, &end, 10);
      if (end == v || *end != '\0' || n < 0 || n > 8) return usage_error("invalid " + a + " " + v + ", want 0 to 8");
      flags.store_sync_threads = static_cast<int>(n);
    } else if (a == "--disable-scheduler") {
      flags.scheduler = false;
    } else if (a == "--scheduler-client" || a == "--controllers-client") {
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value (in-process or http)");
      const std::string_view how(v);
      if (how != "in-process" && how != "http") {
        return usage_error("invalid " + a + " \"" + std::string(how) + "\", want in-process or http");
      }
      (a == "--scheduler-client" ? flags.scheduler_in_process : flags.controllers_in_process) = how == "in-process";
    } else if (a == "--disable-controllers") {
      flags.controllers = false;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--data-dir" || a == "--listen" || a == "--advertise-address" || a == "--insecure-listen" ||
               a == "--service-cluster-ip-range" || a == "--service-node-port-range" ||
               a == "--compaction-interval") {
      const char* v = value();
      if (v == nullptr) return usage_error(a + " needs a value");
      if (a == "--data-dir") flags.data_dir = v;
      if (a == "--listen") flags.listen = v;
      if (a == "--advertise-address") flags.advertise = v;
      if (a == "--insecure-listen") flags.insecure_listen = v;
      if (a == "--service-cluster-ip-range") flags.service_cidr = v;
      if (a == "--service-node-port-range") flags.node_port_range = v;
      if (a == "--compaction-interval") {
        auto d = parse_duration(v);
        if (!d) return usage_error("invalid --compaction-interval " + std::string(v) + ", want e.g. 300s or 5m");
        flags.compaction_interval = *d;
      }
    } else {
      return usage_error("unknown flag " + a);
    }
  }

  // The node IPAM pool, checked before anything starts.
  std::optional<controllers::CidrSet> pool;
  if (flags.controllers && flags.allocate_node_cidrs) {
    auto p = controllers::CidrSet::create(flags.cluster_cidr, flags.node_cidr_mask);
    if (!p.ok()) return usage_error("--cluster-cidr/--node-cidr-mask-size: " + p.error().to_string());
    pool = std::move(*p);
  }
  apiserver::HttpServerOptions http;
  bool insecure = !flags.insecure_listen.empty();
  if (!split_host_port(insecure ? flags.insecure_listen : flags.listen, http.address, http.port)) {
    return usage_error("invalid address " + (insecure ? flags.insecure_listen : flags.listen) + ", want ADDR:PORT");
  }
  std::error_code ec;
  fs::create_directories(flags.data_dir, ec);
  if (ec) return fail(Error("create " + flags.data_dir.string(), ec.value()));

  auto store = store::SqliteStore::open(
      {.path = (flags.data_dir / "state.db").string(), .sync_threads = flags.store_sync_threads});
  if (!store.ok()) return fail(store.error());

  apiserver::ApiServerOptions api_opts;
  api_opts.server_address = flags.advertise + ":" + std::to_string(http.port);
  api_opts.trust_unauthenticated = insecure;
  api_opts.service_cidr = flags.service_cidr;
  api_opts.node_port_range = flags.node_port_range;
  api_opts.secure_port = http.port;
  api_opts.metrics_resolution = flags.metric_resolution;
  std::string scheme = insecure ? "http" : "https";
  client::ClientConfig self;  // how the in-process components reach this server
  self.user_agent = "kernlet-control";
  if (!insecure) {
    apiserver::PkiOptions pki_opts;
    pki_opts.ip_addresses = {"127.0.0.1"};
    if (flags.advertise != "127.0.0.1") pki_opts.ip_addresses.push_back(flags.advertise);
    auto pki = apiserver::ensure_pki(flags.data_dir / "pki", pki_opts);
    if (!pki.ok()) return fail(pki.error());
    auto tls = apiserver::make_server_tls_context(pki->serving.cert_pem, pki->serving.key_pem, pki->ca.cert_pem);
    if (!tls.ok()) return fail(tls.error());
    http.tls = *tls;
    api_opts.kubelet_client.ca_pem = pki->ca.cert_pem;
    api_opts.kubelet_client.cert_pem = pki->kubelet_client.cert_pem;
    api_opts.kubelet_client.key_pem = pki->kubelet_client.key_pem;
    self.ca_pem = pki->ca.cert_pem;
    self.client_cert_pem = pki->admin.cert_pem;
    self.client_key_pem = pki->admin.key_pem;
    std::string kubeconfig = apiserver::make_kubeconfig(
        "https://" + flags.advertise + ":" + std::to_string(http.port), pki->ca.cert_pem, pki->admin, "admin");
    auto w = apiserver::write_file_atomic(flags.data_dir / "admin.kubeconfig", kubeconfig, 0600);
    if (!w.ok()) return fail(w.error());
  }

  auto api = std::make_shared<apiserver::ApiServer>(**store, api_opts);
  if (auto b = api->bootstrap(); !b.ok()) return fail(b.error());

  // Signals are taken synchronously so shutdown runs in main, not in a handler.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  apiserver::HttpServer server(http, api);
  if (auto s = server.start(); !s.ok()) return fail(s.error());
  std::fprintf(stderr, "kernlet-control: serving %s://%s:%u (data %s)\n", scheme.c_str(), http.address.c_str(),
               server.port(), flags.data_dir.c_str());
  if (!insecure) {
    std::fprintf(stderr, "kernlet-control: kubectl --kubeconfig %s get namespaces\n",
                 (flags.data_dir / "admin.kubeconfig").c_str());
  }
  // The scheduler talks to this server over loopback like any client (it could run apart).
  const std::string self_host = http.address == "0.0.0.0" || http.address.empty() ? "127.0.0.1" : http.address;
  self.server = scheme + "://" + self_host + ":" + std::to_string(server.port());
  // The scheduler and the controllers as components that can be started and stopped
  // (with --leader-elect they run only while this process holds their Lease).
  std::shared_ptr<client::RestClient> rest;
  if (flags.scheduler || flags.controllers) {
    auto c = client::RestClient::create(self);
    if (!c.ok()) return fail(c.error());
    rest = *c;
  }
  using Stopper = std::function<void()>;
  // The scheduler and the controllers live in this process, so their requests can skip
  // the loopback HTTP round trip and enter the request handler directly, and their
  // watches take decoded objects straight from the watch cache, one copy shared by every
  // informer (in_process_transport.h); the answers and events are the server's own, so
  // their behaviour does not change. Leader election keeps to HTTP.
  std::shared_ptr<client::RestClient> in_process;
  if ((flags.scheduler && flags.scheduler_in_process) || (flags.controllers && flags.controllers_in_process)) {
    auto c = client::RestClient::create(
        self, std::make_shared<apiserver::InProcessTransport>(api, server.io_context()));
    if (!c.ok()) return fail(c.error());
    in_process = *c;
  }
  std::shared_ptr<client::RestClient> sched_rest = flags.scheduler_in_process ? in_process : rest;
  std::shared_ptr<client::RestClient> ctl_rest = flags.controllers_in_process ? in_process : rest;
  auto start_scheduler = [&]() -> Result<Stopper> {
    auto sched = std::make_shared<scheduler::Scheduler>(sched_rest);
    KL_TRY(sched->start());
    return Stopper([sched] { sched->stop(); });
  };
  auto start_controllers = [&]() -> Result<Stopper> {
    auto informers = std::make_shared<controllers::SharedInformers>(ctl_rest);
    // One recorder (one sender thread, one spam filter) for every controller's Events.
    auto recorder = std::make_shared<client::EventRecorder>(ctl_rest, client::EventRecorderOptions{});
    recorder->start();
    informers->set_recorder(recorder);
    auto running = std::make_shared<std::vector<std::unique_ptr<controllers::Controller>>>();
    running->push_back(std::make_unique<controllers::ReplicaSetController>(*informers));
    running->push_back(std::make_unique<controllers::DeploymentController>(*informers));
    running->push_back(std::make_unique<controllers::EndpointSliceController>(*informers));
    running->push_back(std::make_unique<controllers::JobController>(*informers));
    running->push_back(std::make_unique<controllers::TtlAfterFinishedController>(*informers));
    running->push_back(std::make_unique<controllers::CronJobController>(*informers));
    running->push_back(std::make_unique<controllers::DaemonSetController>(*informers));
    running->push_back(std::make_unique<controllers::HorizontalPodAutoscalerController>(*informers, flags.hpa));
    controllers::NodeLifecycleOptions lifecycle;
    lifecycle.grace_period = flags.node_grace;
    // Check each node several times per grace period (upstream: every 5 s against 40 s).
    lifecycle.monitor_period = std::clamp(flags.node_grace / 8, std::chrono::milliseconds(200),
                                          std::chrono::milliseconds(5000));
    lifecycle.thresholds.eviction_qps = flags.eviction_rate;
    lifecycle.thresholds.secondary_eviction_qps = flags.secondary_eviction_rate;
    running->push_back(std::make_unique<controllers::NodeLifecycleController>(*informers, lifecycle));
    running->push_back(std::make_unique<controllers::TaintEvictionController>(*informers));
    running->push_back(std::make_unique<controllers::PersistentVolumeController>(*informers));
    if (pool) running->push_back(std::make_unique<controllers::NodeIpamController>(*informers, *pool));
    informers->start();
    if (!informers->wait_for_sync(std::chrono::seconds(30))) {
      for (auto& ctl : *running) ctl->stop();
      informers->stop();
      recorder->stop();
      return Error(ErrorCode::kUnavailable, "controllers: informers did not sync");
    }
    for (auto& ctl : *running) ctl->run();
    return Stopper([informers, running, recorder] {
      for (auto& ctl : *running) ctl->stop();
      informers->stop();
      recorder->flush(std::chrono::seconds(2));
      recorder->stop();
    });
  };
  std::vector<Stopper> stoppers;
  std::vector<std::unique_ptr<controllers::LeaderGate>> gates;
  auto launch = [&](bool enabled, const char* lease, auto& start) -> Result<void> {
    if (!enabled) return Ok();
    if (!flags.leader_elect) {
      KL_ASSIGN_OR_RETURN(Stopper s, start());
      stoppers.push_back(std::move(s));
      return Ok();
    }
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    client::LeaderElectionConfig cfg;
    cfg.lease_namespace = "kube-system";
    cfg.lease_name = lease;
    cfg.identity = std::string(host) + "_" + std::to_string(getpid()) + "_" +
                   std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
    cfg.lease_duration = flags.lease_duration;
    cfg.renew_deadline = flags.renew_deadline;
    cfg.retry_period = flags.retry_period;
    gates.push_back(std::make_unique<controllers::LeaderGate>(rest, cfg, start));
    gates.back()->start();
    return Ok();
  };
  if (auto r = launch(flags.scheduler, "kube-scheduler", start_scheduler); !r.ok()) return fail(r.error());
  if (auto r = launch(flags.controllers, "kube-controller-manager", start_controllers); !r.ok()) return fail(r.error());

  // Compaction, as kube-apiserver asks of etcd: every interval, drop history older than
  // the revision seen one interval ago, so watchers that are at most one interval behind
  // can still resume; older ones get 410 Gone and relist.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread compactor;
  if (flags.compaction_interval.count() > 0) {
    compactor = std::thread([&, st = store->get()] {
      int64_t seen = 0;
      std::unique_lock lock(stop_mu);
      while (!stop_cv.wait_for(lock, flags.compaction_interval, [&] { return stopping; })) {
        if (seen > st->compacted_revision()) {
          if (auto c = st->compact(seen); !c.ok() && c.error().code() != ErrorCode::kCompacted) {
            std::fprintf(stderr, "kernlet-control: compact to %lld: %s\n", static_cast<long long>(seen),
                         c.error().to_string().c_str());
          }
        }
        seen = st->current_revision();
      }
    });
  }

  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "kernlet-control: %s, shutting down\n", strsignal(sig));
  for (auto& g : gates) g->stop();  // stops what they run and releases the Leases
  for (auto it = stoppers.rbegin(); it != stoppers.rend(); ++it) (*it)();
  server.stop();
  if (compactor.joinable()) {
    {
      std::lock_guard lock(stop_mu);
      stopping = true;
    }
    stop_cv.notify_all();
    compactor.join();
  }
  return 0;
}
