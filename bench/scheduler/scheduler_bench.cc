// Scheduling decisions without the API: N pods onto M nodes through the scheduler's cache
// and its default profile, each decision assumed before the next (as the scheduler does).
// Prints one JSON document. Usage: kernlet-bench-scheduler [nodes] [pods]
//
// The end-to-end figure (through the API server and the store) needs the scheduler loop;
// kube-scheduler's published perf threshold for 5,000 nodes / 10,000 pods (680 pods/s)
// is the peer number quoted with it.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

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

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int pods = argc > 2 ? std::atoi(argv[2]) : 10000;
  std::printf("{\n  \"benchmark\": \"scheduler decisions without the API\",\n  \"nodes\": %d,\n  \"pods\": %d,\n  \"runs\": [\n",
              nodes, pods);
  const int threads[] = {1, 2};
  for (std::size_t i = 0; i < 2; ++i) {
    Run r = run(nodes, pods, threads[i]);
    std::printf("    {\"parallelism\": %d, \"scheduled\": %d, \"unschedulable\": %d, \"seconds\": %.3f, "
                "\"pods_per_second\": %.0f}%s\n",
                threads[i], r.scheduled, r.failed, r.seconds, r.scheduled / r.seconds, i == 0 ? "," : "");
  }
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("  ],\n  \"peer\": {\"name\": \"kube-scheduler perf threshold, 5000 nodes / 10000 pods (published)\", "
              "\"pods_per_second\": 680},\n  \"max_rss_kib\": %ld\n}\n",
              ru.ru_maxrss);
  return 0;
}
