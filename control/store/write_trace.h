// Debug aid for the store's write path: with KERNLET_WRITE_TRACE=<file prefix> in the
// environment, SqliteStore records per batch (taken, applied, COMMIT returned, size, batches
// awaiting sync), per acknowledged write (enqueued, batch taken, acknowledged, revision) and
// per WAL fdatasync (start, end, revision covered), and writes them as CSV files
// <prefix>.{batches,reqs,syncs}.csv when the process exits normally.
// bench/api_server/write_trace_analyze.py summarizes them. Unset (the default) nothing is
// allocated and each hook is one branch. Thread-safe: slots are claimed with an atomic
// counter; records past the fixed capacity are dropped.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace kernlet::store::write_trace {

inline int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Batch {
  int64_t taken, applied, committed, completed, first_rev, last_rev, n, oldest_enqueue, inflight;
};
struct Req {  // one write: enqueued, batch taken, acknowledged, revision
  int64_t parsed, submitted, resumed, sent, rev;
};
struct Sync {
  int64_t start, end, target;
};

struct Trace {
  const char* prefix = std::getenv("KERNLET_WRITE_TRACE");
  std::vector<Batch> batches = std::vector<Batch>(prefix ? 1 << 20 : 0);
  std::vector<Req> reqs = std::vector<Req>(prefix ? 1 << 21 : 0);
  std::vector<Sync> syncs = std::vector<Sync>(prefix ? 1 << 20 : 0);
  std::atomic<size_t> nb{0}, nr{0}, ns{0};
  ~Trace() {
    if (!prefix) return;
    if (FILE* f = std::fopen((std::string(prefix) + ".batches.csv").c_str(), "w")) {
      std::fprintf(f, "taken,applied,committed,completed,first_rev,last_rev,n,oldest_enqueue,inflight\n");
      for (size_t i = 0; i < std::min(nb.load(), batches.size()); ++i) {
        auto& b = batches[i];
        std::fprintf(f, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld\n", (long long)b.taken, (long long)b.applied,
                     (long long)b.committed, (long long)b.completed, (long long)b.first_rev, (long long)b.last_rev,
                     (long long)b.n, (long long)b.oldest_enqueue, (long long)b.inflight);
      }
      std::fclose(f);
    }
    if (FILE* f = std::fopen((std::string(prefix) + ".syncs.csv").c_str(), "w")) {
      std::fprintf(f, "start,end,target\n");
      for (size_t i = 0; i < std::min(ns.load(), syncs.size()); ++i) {
        std::fprintf(f, "%lld,%lld,%lld\n", (long long)syncs[i].start, (long long)syncs[i].end,
                     (long long)syncs[i].target);
      }
      std::fclose(f);
    }
    if (FILE* f = std::fopen((std::string(prefix) + ".reqs.csv").c_str(), "w")) {
      std::fprintf(f, "parsed,submitted,resumed,sent,rev\n");
      for (size_t i = 0; i < std::min(nr.load(), reqs.size()); ++i) {
        auto& r = reqs[i];
        std::fprintf(f, "%lld,%lld,%lld,%lld,%lld\n", (long long)r.parsed, (long long)r.submitted,
                     (long long)r.resumed, (long long)r.sent, (long long)r.rev);
      }
      std::fclose(f);
    }
  }
  void sync(const Sync& x) {
    size_t i = ns.fetch_add(1);
    if (i < syncs.size()) syncs[i] = x;
  }
  bool on() const { return prefix != nullptr; }
  void batch(const Batch& b) {
    size_t i = nb.fetch_add(1);
    if (i < batches.size()) batches[i] = b;
  }
  void req(const Req& r) {
    size_t i = nr.fetch_add(1);
    if (i < reqs.size()) reqs[i] = r;
  }
};

inline Trace& get() {
  static Trace t;
  return t;
}

}  // namespace kernlet::store::write_trace
