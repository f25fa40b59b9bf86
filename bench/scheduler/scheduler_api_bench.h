// The end-to-end half of kernlet-bench-scheduler: kernlet-control started on a fresh data
// directory, simulated nodes, pods created through the API and bound by its scheduler.
#pragma once

#include <string>

namespace kernlet::bench {

struct ApiBenchOptions {
  std::string control;          // path of kernlet-control
  std::string dir = "/var/tmp";  // where the data directory is made (and removed)
  int nodes = 5000;
  int pods = 10000;
  int clients = 64;             // concurrent creating connections
  int timeout_seconds = 300;    // for every pod to be bound
  std::string perf_out;         // non-empty: `perf record` kernlet-control into it while pods are bound
  // kernlet-control --scheduler-client and --controllers-client: in-process or http.
  std::string scheduler_client = "in-process";
  // How the measured pods are created: "epoll" (one thread carries every connection) or
  // "threads" (one blocking thread per connection).
  std::string client = "epoll";
};

// Runs it; one JSON object (the "end_to_end" member of the benchmark's output).
std::string run_scheduler_api_bench(const ApiBenchOptions& options);

}  // namespace kernlet::bench
