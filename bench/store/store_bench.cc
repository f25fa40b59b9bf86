// Durable creates/s and create latency of SqliteStore at 1, 16 and 64 writer threads.
// Each case uses a fresh database (WAL, synchronous=FULL) in a directory under `dir`;
// every create is acknowledged only after its group commit's fsync. Prints one JSON
// document. Peer for the budget (>= 5,000 creates/s, p99 < 20 ms): etcd 3.2 does 583
// writes/s with one client (etcd.io op-guide/performance).
//
//   build/bin/kernlet-bench-store [dir=/var/tmp] [seconds-per-case=3] [value-bytes=2048]
//                                 [checkpoint-pages=store default]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "control/store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  int threads = 0;
  int64_t creates = 0;
  int64_t failures = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  kernlet::store::StoreStats stats;
};

double percentile(const std::vector<int64_t>& sorted_ns, double p) {
  if (sorted_ns.empty()) return 0;
  size_t i = std::min(sorted_ns.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted_ns.size())));
  return static_cast<double>(sorted_ns[i]) / 1e6;
}

int run_case(const std::string& dir, int threads, double seconds, size_t value_bytes,
             int64_t checkpoint_pages, Case& out) {
  std::string tmpl = dir + "/kl-bench-store-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "kernlet-bench-store: mkdtemp in %s failed\n", dir.c_str());
    return 2;
  }
  int rc = 0;
  {
    kernlet::store::SqliteStoreOptions options{tmpl + "/state.db"};
    if (checkpoint_pages > 0) options.checkpoint_pages = checkpoint_pages;
    auto opened = kernlet::store::SqliteStore::open(options);
    if (!opened.ok()) {
      std::fprintf(stderr, "kernlet-bench-store: %s\n", opened.error().to_string().c_str());
      std::filesystem::remove_all(tmpl);
      return 2;
    }
    auto& store = **opened;
    const std::string value(value_bytes, 'v');
    std::vector<std::vector<int64_t>> lat(static_cast<size_t>(threads));
    std::atomic<int64_t> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        auto& mine = lat[static_cast<size_t>(t)];
        mine.reserve(200000);
        for (int64_t i = 0; Clock::now() < deadline; ++i) {
          std::string key = "/registry/pods/bench/w" + std::to_string(t) + "-" + std::to_string(i);
          auto t0 = Clock::now();
          auto r = store.create(key, value);
          auto t1 = Clock::now();
          if (!r.ok() || !r->succeeded) {
            ++failures;
            continue;
          }
          mine.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        }
      });
    }
    for (auto& w : workers) w.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<int64_t> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    out.threads = threads;
    out.creates = static_cast<int64_t>(all.size());
    out.failures = failures.load();
    out.seconds = elapsed;
    out.p50_ms = percentile(all, 0.50);
    out.p99_ms = percentile(all, 0.99);
    out.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
    out.stats = store.stats();
    if (out.failures != 0) rc = 1;
  }
  std::filesystem::remove_all(tmpl);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  // --help answers instead of running the benchmark (the arguments are positional).
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs("Usage: kernlet-bench-store [DIR [SECONDS-PER-CASE [VALUE-BYTES [CHECKPOINT-PAGES]]]]\n  (defaults: /var/tmp 3 2048, the store's checkpoint threshold); prints one JSON document.\n", stdout);
      return 0;
    }
  }
  const std::string dir = argc > 1 ? argv[1] : "/var/tmp";
  const double seconds = argc > 2 ? std::stod(argv[2]) : 3.0;
  const size_t value_bytes = argc > 3 ? std::stoul(argv[3]) : 2048;
  const int64_t checkpoint_pages = argc > 4 ? std::stoll(argv[4]) : 0;
  std::vector<Case> cases;
  int rc = 0;
  for (int threads : {1, 16, 64}) {
    Case c;
    int r = run_case(dir, threads, seconds, value_bytes, checkpoint_pages, c);
    if (r == 2) return 2;
    rc |= r;
    cases.push_back(c);
  }
  std::printf("{\n  \"benchmark\": \"store_create_durable\",\n  \"store\": \"sqlite wal synchronous=full, group commit\",\n");
  std::printf("  \"dir\": \"%s\",\n  \"value_bytes\": %zu,\n  \"seconds_per_case\": %.1f,\n", dir.c_str(),
              value_bytes, seconds);
  std::printf("  \"checkpoint_pages\": %lld,\n", static_cast<long long>(checkpoint_pages > 0 ? checkpoint_pages : kernlet::store::SqliteStoreOptions{}.checkpoint_pages));
  std::printf("  \"budget\": {\"creates_per_s_at_64\": 5000, \"p99_ms\": 20},\n");
  std::printf("  \"peer\": {\"name\": \"etcd 3.2, 1 client (etcd.io op-guide)\", \"writes_per_s\": 583},\n");
  std::printf("  \"cases\": [\n");
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    std::printf("    {\"threads\": %d, \"creates\": %lld, \"creates_per_s\": %.0f, \"p50_ms\": %.2f, "
                "\"p99_ms\": %.2f, \"max_ms\": %.2f, \"commits\": %lld, \"writes_per_commit\": %.1f, "
                "\"max_batch\": %lld, \"failures\": %lld}%s\n",
                c.threads, static_cast<long long>(c.creates), static_cast<double>(c.creates) / c.seconds,
                c.p50_ms, c.p99_ms, c.max_ms, static_cast<long long>(c.stats.commits),
                c.stats.commits ? static_cast<double>(c.stats.writes) / static_cast<double>(c.stats.commits) : 0.0,
                static_cast<long long>(c.stats.max_batch), static_cast<long long>(c.failures),
                i + 1 < cases.size() ? "," : "");
  }
  std::printf("  ]\n}\n");
  return rc;
}
