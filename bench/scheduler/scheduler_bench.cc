// Scheduler throughput: 10,000 pods onto 5,000 nodes, two ways, in one JSON document.
//  - "decisions": the scheduling decision alone, without the API: N pods onto M nodes
//    through the scheduler's cache and its default profile, each decision assumed before
//    the next (as the scheduler does), with 1 and 2 filter/score threads;
//  - "end_to_end": kernlet-control started on a fresh data directory (durable SQLite),
//    simulated Nodes with Leases, pods created through the API and bound by its scheduler
//    (scheduler_api_bench.cc).
// kube-scheduler cannot run here; its published perf threshold for this case
// (SchedulingBasic 5000Nodes_10000Pods, 680 pods/s) is the peer figure printed alongside.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "bench/common/bench_process.h"
#include "bench/scheduler/scheduler_api_bench.h"
#include "control/scheduler/scheduler_algorithm.h"

using namespace kernlet;
using namespace kernlet::scheduler;

namespace {

NodeInfo make_node(int i) {
  NodeInfo n;
  n.name = "node-" + std::to_string(i);
  n.labels["kubernetes.io/hostname"] = n.name;
  n.labels["topology.kubernetes.io/zone"] = "zone-" + std::to_string(i % 3);
  n.allocatable.milli_cpu = 4000;
  n.allocatable.memory = 16LL << 30;
  n.allocatable.pods = 110;
  return n;
}

std::shared_ptr<PodInfo> make_pod(int i) {
  auto p = std::make_shared<PodInfo>();
  p->namespace_ = "bench";
  p->name = "pod-" + std::to_string(i);
  p->uid = "uid-" + std::to_string(i);
  p->owner_uid = "rs-" + std::to_string(i % 100);
  p->labels["app"] = "app-" + std::to_string(i % 100);
  p->requests.milli_cpu = 100;
  p->requests.memory = 128LL << 20;
  p->requests.pods = 1;
  p->nonzero = p->requests;
  p->scheduler_name = "default-scheduler";
  return p;
}

struct Run {
  double seconds = 0;
  int scheduled = 0;
  int failed = 0;
};

Run run(int nodes, int pods, int parallelism) {
  ClusterState state;
  for (int i = 0; i < nodes; ++i) state.upsert_node(make_node(i));
  GenericScheduler s({.parallelism = parallelism, .seed = 42});
  std::vector<std::shared_ptr<PodInfo>> queue;
  for (int i = 0; i < pods; ++i) queue.push_back(make_pod(i));
  Run r;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& p : queue) {
    auto d = s.schedule(*p, state);
    if (auto* ok = std::get_if<Decision>(&d)) {
      p->node_name = ok->node;
      state.add_pod(p);
      ++r.scheduled;
    } else {
      ++r.failed;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

constexpr const char* kUsage = R"(Usage: kernlet-bench-scheduler [flags]

Scheduler throughput; prints one JSON document (see bench/scheduler/scheduler_bench.cc).

Flags:
  --nodes N        simulated nodes (default 5000)
  --pods N         pods to schedule (default 10000)
  --clients N      concurrent connections creating pods end to end (default 64)
  --control PATH   kernlet-control (default: next to this binary)
  --dir DIR        where the end-to-end data directory is made and removed (default /var/tmp)
  --scheduler-client in-process|http
                   how kernlet-control's scheduler and controllers reach its API server
                   (requests and watches; default in-process)
  --client epoll|threads
                   the pod creates' load generator: one epoll thread carrying every
                   connection (default), or one blocking thread per connection
  --perf-out FILE  record kernlet-control with `perf record --call-graph dwarf` into FILE
                   over the measured end-to-end phase
  --no-api         only the decisions without the API
  --no-decisions   only the end-to-end run
  -h, --help       show this help
)";

int main(int argc, char** argv) {
  kernlet::bench::ApiBenchOptions api;
  api.control = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "kernlet-control").string();
  bool run_api = true, run_decisions = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--no-api") {
      run_api = false;
      continue;
    }
    if (a == "--no-decisions") {
      run_decisions = false;
      continue;
    }
    const bool known = a == "--nodes" || a == "--pods" || a == "--clients" || a == "--control" || a == "--dir" ||
                       a == "--perf-out" || a == "--scheduler-client" || a == "--client";
    if (!known || i + 1 >= argc) {
      std::fprintf(stderr, "kernlet-bench-scheduler: %s %s\n\n%s", known ? "missing value for" : "unknown flag",
                   a.c_str(), kUsage);
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--control") api.control = v;
    if (a == "--dir") api.dir = v;
    if (a == "--perf-out") api.perf_out = v;
    if (a == "--scheduler-client") {
      if (v != "in-process" && v != "http") {
        std::fprintf(stderr, "kernlet-bench-scheduler: invalid --scheduler-client \"%s\", want in-process or http\n",
                     v.c_str());
        return 2;
      }
      api.scheduler_client = v;
    }
    if (a == "--client") {
      if (v != "epoll" && v != "threads") {
        std::fprintf(stderr, "kernlet-bench-scheduler: invalid --client \"%s\", want epoll or threads\n", v.c_str());
        return 2;
      }
      api.client = v;
    }
    if (a == "--nodes" || a == "--pods" || a == "--clients") {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n <= 0 || n > 1000000) {
        std::fprintf(stderr, "kernlet-bench-scheduler: invalid %s %s, want a positive count\n", a.c_str(), v.c_str());
        return 2;
      }
      (a == "--nodes" ? api.nodes : a == "--pods" ? api.pods : api.clients) = static_cast<int>(n);
    }
  }
  const int nodes = api.nodes;
  const int pods = api.pods;
  std::printf("{\n  \"benchmark\": \"scheduler throughput\",\n  \"machine\": %s,\n  \"nodes\": %d,\n  \"pods\": %d,\n",
              kernlet::bench::machine_json().c_str(), nodes, pods);
  if (run_decisions) {
    std::printf("  \"decisions\": {\"what\": \"scheduling decisions without the API\", \"runs\": [\n");
    const int threads[] = {1, 2};
    for (std::size_t i = 0; i < 2; ++i) {
      Run r = run(nodes, pods, threads[i]);
      std::printf("    {\"parallelism\": %d, \"scheduled\": %d, \"unschedulable\": %d, \"seconds\": %.3f, "
                  "\"pods_per_second\": %.0f}%s\n",
                  threads[i], r.scheduled, r.failed, r.seconds, r.scheduled / r.seconds, i == 0 ? "," : "");
    }
    struct rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("  ], \"max_rss_kib\": %ld},\n", ru.ru_maxrss);
    std::fflush(stdout);
  }
  if (run_api) std::printf("  \"end_to_end\": %s,\n", kernlet::bench::run_scheduler_api_bench(api).c_str());
  std::printf("  \"peer\": {\"name\": \"kube-scheduler perf threshold, SchedulingBasic 5000 nodes / 10000 pods "
              "(published in scheduler_perf's performance-config.yaml; not run here)\", \"pods_per_second\": 680}\n}\n");
  return 0;
}
