// kernlet-control: the control plane in one process. Thin: parse flags, build, run.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
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
#include "control/controllers/deployment_controller.h"
#include "control/controllers/endpointslice_controller.h"
#include "control/controllers/replicaset_controller.h"
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
  --insecure-listen ADDR:PORT
                          serve plain HTTP instead of HTTPS; every request is treated
                          as the admin. Loopback addresses only, for tests.
  --disable-scheduler     do not run the scheduler (pods stay unbound unless something
                          else binds them)
  --disable-controllers   do not run the controllers (Deployment, ReplicaSet, EndpointSlice)
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
  bool scheduler = true;
  bool controllers = true;
};

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
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--disable-scheduler") {
      flags.scheduler = false;
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

  apiserver::HttpServerOptions http;
  bool insecure = !flags.insecure_listen.empty();
  if (!split_host_port(insecure ? flags.insecure_listen : flags.listen, http.address, http.port)) {
    return usage_error("invalid address " + (insecure ? flags.insecure_listen : flags.listen) + ", want ADDR:PORT");
  }
  std::error_code ec;
  fs::create_directories(flags.data_dir, ec);
  if (ec) return fail(Error("create " + flags.data_dir.string(), ec.value()));

  auto store = store::SqliteStore::open({.path = (flags.data_dir / "state.db").string()});
  if (!store.ok()) return fail(store.error());

  apiserver::ApiServerOptions api_opts;
  api_opts.server_address = flags.advertise + ":" + std::to_string(http.port);
  api_opts.trust_unauthenticated = insecure;
  api_opts.service_cidr = flags.service_cidr;
  api_opts.node_port_range = flags.node_port_range;
  api_opts.secure_port = http.port;
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
  std::unique_ptr<scheduler::Scheduler> sched;
  std::unique_ptr<controllers::SharedInformers> informers;
  std::vector<std::unique_ptr<controllers::Controller>> running;
  if (flags.scheduler || flags.controllers) {
    auto c = client::RestClient::create(self);
    if (!c.ok()) return fail(c.error());
    if (flags.scheduler) {
      sched = std::make_unique<scheduler::Scheduler>(*c);
      if (auto st = sched->start(); !st.ok()) return fail(st.error());
    }
    if (flags.controllers) {
      informers = std::make_unique<controllers::SharedInformers>(*c);
      running.push_back(std::make_unique<controllers::ReplicaSetController>(*informers));
      running.push_back(std::make_unique<controllers::DeploymentController>(*informers));
      running.push_back(std::make_unique<controllers::EndpointSliceController>(*informers));
      informers->start();
      if (!informers->wait_for_sync(std::chrono::seconds(30))) {
        return fail(Error(ErrorCode::kUnavailable, "controllers: informers did not sync"));
      }
      for (auto& ctl : running) ctl->run();
    }
  }

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
  for (auto& ctl : running) ctl->stop();
  if (informers) informers->stop();
  if (sched) sched->stop();
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
