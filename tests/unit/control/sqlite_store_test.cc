#include "control/store/sqlite_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <semaphore>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kernlet::store {

// Readable failure messages (gtest finds PrintTo by argument-dependent lookup).
void PrintTo(const KeyValue& kv, std::ostream* os);
void PrintTo(const KeyValue& kv, std::ostream* os) {
  *os << "{" << kv.key << " = " << kv.value.substr(0, 40) << " @" << kv.create_revision << "/"
      << kv.mod_revision << "}";
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A fresh directory per test, removed afterwards even when the test fails. Every test runs
// in both commit modes: the parameter is SqliteStoreOptions::sync_threads (0: fsync inside
// COMMIT; 2: pipelined group commit).
class SqliteStoreTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kl-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/state.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> open_store(SqliteStoreOptions o = {}) {
    o.path = path_;
    o.sync_threads = GetParam();
    auto s = SqliteStore::open(o);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::string dir_;
  std::string path_;
};

ListOptions at_revision(int64_t revision) {
  ListOptions o;
  o.revision = revision;
  return o;
}

SqliteStoreOptions with(void (*set)(SqliteStoreOptions&)) {
  SqliteStoreOptions o;
  set(o);
  return o;
}

WatchOptions buffer(size_t events) {
  WatchOptions o;
  o.buffer_events = events;
  return o;
}

TxnResult must(Result<TxnResult> r) {
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? std::move(r).value() : TxnResult{};
}

// Reads events until `n` have arrived or the deadline passes (then fails the test).
std::vector<Event> collect(Watcher& w, size_t n, Clock::duration within = 20s) {
  std::vector<Event> out;
  const auto deadline = Clock::now() + within;
  while (out.size() < n && Clock::now() < deadline) {
    auto b = w.next(100ms);
    if (!b.ok()) {
      ADD_FAILURE() << "watch ended after " << out.size() << " events: " << b.error().to_string();
      break;
    }
    for (auto& e : b->events) out.push_back(std::move(e));
  }
  EXPECT_EQ(out.size(), n) << "timed out waiting for events";
  return out;
}

// Events must be contiguous revisions first..first+n-1: no gap, no duplicate.
void expect_contiguous(const std::vector<Event>& events, int64_t first) {
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].revision(), first + static_cast<int64_t>(i)) << "at event " << i;
  }
}

TEST_P(SqliteStoreTest, RevisionsStrictlyIncreaseOnePerWrite) {
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->current_revision(), 0);
  auto a = must(s->create("/a", "1"));
  auto b = must(s->create("/b", "2"));
  auto a2 = must(s->update("/a", "3", a.revision));
  auto bd = must(s->remove("/b", 0));
  ASSERT_TRUE(a.succeeded && b.succeeded && a2.succeeded && bd.succeeded);
  EXPECT_EQ(a.revision, 1);
  EXPECT_EQ(b.revision, 2);
  EXPECT_EQ(a2.revision, 3);
  EXPECT_EQ(bd.revision, 4);
  EXPECT_EQ(s->current_revision(), 4);
  EXPECT_EQ(*a2.kv, (KeyValue{"/a", "3", 1, 3}));
  EXPECT_EQ(*bd.kv, (KeyValue{"/b", "2", 2, 2}));  // the deleted object's last state
  auto got = s->get("/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, (KeyValue{"/a", "3", 1, 3}));
  EXPECT_FALSE(s->get("/b")->has_value());
  // A failed precondition does not consume a revision.
  EXPECT_FALSE(must(s->create("/a", "x")).succeeded);
  EXPECT_EQ(must(s->create("/c", "")).revision, 5);
  EXPECT_EQ(**s->get("/c"), (KeyValue{"/c", "", 5, 5}));
  // A re-created key starts a new incarnation.
  auto b2 = must(s->create("/b", "again"));
  EXPECT_EQ(b2.kv->create_revision, 6);
  ASSERT_TRUE(s->check_integrity().ok());
}

TEST_P(SqliteStoreTest, CreateConflictReturnsCurrent) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/registry/pods/ns/p", "v1"));
  auto r = must(s->create("/registry/pods/ns/p", "v2"));
  EXPECT_FALSE(r.succeeded);
  EXPECT_EQ(r.revision, 1);
  ASSERT_TRUE(r.kv.has_value());
  EXPECT_EQ(*r.kv, (KeyValue{"/registry/pods/ns/p", "v1", 1, 1}));
  EXPECT_EQ((*s->get("/registry/pods/ns/p"))->value, "v1");
}

TEST_P(SqliteStoreTest, StaleUpdateAndRemoveConflictWithCurrent) {
  auto s = open_store();
  ASSERT_TRUE(s);
  auto c = must(s->create("/k", "v1"));
  auto u = must(s->update("/k", "v2", c.revision));
  ASSERT_TRUE(u.succeeded);
  auto stale = must(s->update("/k", "v3", c.revision));
  EXPECT_FALSE(stale.succeeded);
  ASSERT_TRUE(stale.kv.has_value());
  EXPECT_EQ(*stale.kv, (KeyValue{"/k", "v2", 1, 2}));
  auto stale_rm = must(s->remove("/k", c.revision));
  EXPECT_FALSE(stale_rm.succeeded);
  EXPECT_EQ(*stale_rm.kv, (KeyValue{"/k", "v2", 1, 2}));
  EXPECT_EQ(s->current_revision(), 2);
  auto any = must(s->update("/k", "v4", 0));  // unconditional
  EXPECT_TRUE(any.succeeded);
  auto rm = must(s->remove("/k", any.revision));
  ASSERT_TRUE(rm.succeeded);
  EXPECT_EQ(*rm.kv, (KeyValue{"/k", "v4", 1, 3}));
  auto missing_update = must(s->update("/k", "v5", 0));
  EXPECT_FALSE(missing_update.succeeded);
  EXPECT_FALSE(missing_update.kv.has_value());
  auto missing_remove = must(s->remove("/nope", 0));
  EXPECT_FALSE(missing_remove.succeeded);
  EXPECT_FALSE(missing_remove.kv.has_value());
}

TEST_P(SqliteStoreTest, ListIsSortedAndPrefixBounded) {
  auto s = open_store();
  ASSERT_TRUE(s);
  for (const char* k : {"/a/2", "/a/1", "/a0", "/b/1", "/a/3", "/a", "\xff\xff/x", "\xff\xff"}) {
    must(s->create(k, k));
  }
  auto l = s->list("/a/", {});
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  std::vector<std::string> keys;
  for (auto& kv : l->kvs) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"/a/1", "/a/2", "/a/3"}));
  EXPECT_EQ(l->revision, 8);
  EXPECT_FALSE(l->more);
  EXPECT_EQ(s->list("", {})->kvs.size(), 8u);
  EXPECT_EQ(s->list("\xff\xff", {})->kvs.size(), 2u);  // no upper bound exists
  auto bad = s->list("/a/", [] { ListOptions o; o.continue_key = "/b/1"; return o; }());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  auto future = s->list("/a/", at_revision(99));
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code(), ErrorCode::kUnavailable);
}

TEST_P(SqliteStoreTest, ListAtOldRevisionReturnsThatState) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/p/a", "a1"));                // 1
  must(s->create("/p/b", "b1"));                // 2
  must(s->update("/p/a", "a2", 1));             // 3
  must(s->remove("/p/b", 2));                   // 4
  must(s->create("/p/b", "b2"));                // 5
  must(s->create("/p/c", "c1"));                // 6
  auto at = [&](int64_t rev) {
    auto l = s->list("/p/", at_revision(rev));
    EXPECT_TRUE(l.ok()) << l.error().to_string();
    std::vector<KeyValue> out = l.ok() ? l->kvs : std::vector<KeyValue>{};
    if (l.ok()) {
      EXPECT_EQ(l->revision, rev);
    }
    return out;
  };
  EXPECT_EQ(at(1), (std::vector<KeyValue>{{"/p/a", "a1", 1, 1}}));
  EXPECT_EQ(at(2), (std::vector<KeyValue>{{"/p/a", "a1", 1, 1}, {"/p/b", "b1", 2, 2}}));
  EXPECT_EQ(at(3), (std::vector<KeyValue>{{"/p/a", "a2", 1, 3}, {"/p/b", "b1", 2, 2}}));
  EXPECT_EQ(at(4), (std::vector<KeyValue>{{"/p/a", "a2", 1, 3}}));
  EXPECT_EQ(at(6), (std::vector<KeyValue>{
                       {"/p/a", "a2", 1, 3}, {"/p/b", "b2", 5, 5}, {"/p/c", "c1", 6, 6}}));
}

TEST_P(SqliteStoreTest, PaginationAtFixedRevisionWhileWritesContinue) {
  auto s = open_store();
  ASSERT_TRUE(s);
  std::map<std::string, KeyValue> expected;
  for (int i = 0; i < 100; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "/pods/%03d", i);
    auto r = must(s->create(key, "v0-" + std::to_string(i)));
    expected[key] = *r.kv;
  }
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "/pods/%03d", i % 100);
      if (i % 3 == 0) {
        (void)s->remove(key, 0);
      } else if (i % 3 == 1) {
        (void)s->create(key, "new");
        (void)s->create(std::string(key) + "x", "inserted between pages");
      } else {
        (void)s->update(key, "changed", 0);
      }
      ++writes;
    }
  });
  std::map<std::string, KeyValue> seen;
  const int64_t revision = s->current_revision();
  ListOptions opts;
  opts.revision = revision;
  opts.limit = 7;
  int pages = 0;
  for (;;) {
    // Each page waits for fresh writes, so the pages really straddle concurrent changes.
    const int before = writes.load();
    const auto deadline = Clock::now() + 10s;
    while (writes.load() < before + 2 && Clock::now() < deadline) std::this_thread::yield();
    auto page = s->list("/pods/", opts);
    ASSERT_TRUE(page.ok()) << page.error().to_string();
    EXPECT_EQ(page->revision, revision);
    ++pages;
    for (auto& kv : page->kvs) EXPECT_TRUE(seen.emplace(kv.key, kv).second) << kv.key;
    if (!page->more) break;
    opts.continue_key = page->continue_key;
  }
  stop = true;
  writer.join();
  EXPECT_EQ(pages, 15);
  EXPECT_EQ(seen, expected);
  EXPECT_GT(s->current_revision(), revision + 2 * 14);
}

TEST_P(SqliteStoreTest, WatchAcrossConcurrentWritersHasNoGapNoDuplicate) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/w/seed", "x"));
  const int64_t start = s->current_revision();
  auto w = s->watch("/w/", start, buffer(100000));
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  constexpr int kThreads = 8, kPerThread = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "/w/" + std::to_string(t) + "/" + std::to_string(i);
        auto r = s->create(key, "v" + key);
        EXPECT_TRUE(r.ok() && r->succeeded);
        if (i % 10 == 0) {
          EXPECT_TRUE(s->remove(key, r->revision)->succeeded);
        }
      }
    });
  }
  const size_t total = kThreads * (kPerThread + kPerThread / 10);
  auto events = collect(**w, total);
  for (auto& t : threads) t.join();
  expect_contiguous(events, start + 1);
  std::map<std::string, int64_t> created;
  for (const Event& e : events) {
    if (e.type == Event::Type::kPut) {
      EXPECT_EQ(e.kv.value, "v" + e.kv.key);
      EXPECT_FALSE(e.prev_kv.has_value());
      created[e.kv.key] = e.kv.mod_revision;
    } else {
      ASSERT_TRUE(e.prev_kv.has_value());
      EXPECT_EQ(e.prev_kv->mod_revision, created.at(e.kv.key));
    }
  }
  EXPECT_EQ(created.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_P(SqliteStoreTest, WatchReplaysHistoryThenGoesLive) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/r/a", "a1"));   // 1
  must(s->create("/x/a", "other"));  // 2: outside the prefix
  must(s->update("/r/a", "a2", 1));  // 3
  must(s->create("/r/b", "b1"));   // 4
  must(s->remove("/r/a", 3));      // 5
  // Replay from revision 1 (exclusive), read in tiny pages to cross page boundaries.
  s.reset();
  s = open_store(with([](SqliteStoreOptions& o) { o.replay_page_events = 2; }));
  ASSERT_TRUE(s);
  auto w = s->watch("/r/", 1);
  ASSERT_TRUE(w.ok());
  std::thread live([&] {
    for (int i = 0; i < 20; ++i) must(s->create("/r/live" + std::to_string(i), "l"));
  });
  auto events = collect(**w, 3 + 20);
  live.join();
  ASSERT_EQ(events.size(), 23u);
  EXPECT_EQ(events[0].type, Event::Type::kPut);
  EXPECT_EQ(events[0].kv, (KeyValue{"/r/a", "a2", 1, 3}));
  EXPECT_EQ(*events[0].prev_kv, (KeyValue{"/r/a", "a1", 1, 1}));
  EXPECT_EQ(events[1].kv, (KeyValue{"/r/b", "b1", 4, 4}));
  EXPECT_FALSE(events[1].prev_kv.has_value());
  EXPECT_EQ(events[2].type, Event::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, "/r/a");
  EXPECT_EQ(events[2].revision(), 5);
  EXPECT_EQ(*events[2].prev_kv, (KeyValue{"/r/a", "a2", 1, 3}));
  for (size_t i = 3; i < events.size(); ++i) {
    EXPECT_EQ(events[i].revision(), static_cast<int64_t>(i) + 3);
  }
  // Caught up: an idle next() reports progress at the current revision.
  auto idle = (*w)->next(10ms);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->events.empty());
  EXPECT_EQ(idle->progress_revision, s->current_revision());
}

TEST_P(SqliteStoreTest, WatchFromFutureRevisionStartsThere) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/f/a", "1"));
  auto w = s->watch("/f/", 3);
  ASSERT_TRUE(w.ok());
  auto none = (*w)->next(1ms);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->events.empty());
  for (int i = 0; i < 4; ++i) must(s->create("/f/" + std::to_string(i), "v"));  // 2..5
  auto events = collect(**w, 2);
  expect_contiguous(events, 4);
}

TEST_P(SqliteStoreTest, CompactionThenOlderListAndWatchFail) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/c/a", "a1"));     // 1
  must(s->create("/c/b", "b1"));     // 2
  must(s->update("/c/a", "a2", 1));  // 3
  must(s->remove("/c/b", 2));        // 4
  must(s->update("/c/a", "a3", 3));  // 5
  must(s->create("/c/d", "d1"));     // 6
  must(s->update("/c/d", "d2", 6));  // 7
  ASSERT_TRUE(s->compact(5).ok());
  EXPECT_EQ(s->compacted_revision(), 5);
  EXPECT_EQ(s->stats().compacted_rows, 4);  // rows 1, 2, 3 and tombstone 4
  auto old = s->list("/c/", at_revision(4));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code(), ErrorCode::kCompacted);
  EXPECT_NE(old.error().message().find("required revision 4 has been compacted"), std::string::npos)
      << old.error().message();
  auto at5 = s->list("/c/", at_revision(5));
  ASSERT_TRUE(at5.ok()) << at5.error().to_string();
  EXPECT_EQ(at5->kvs, (std::vector<KeyValue>{{"/c/a", "a3", 1, 5}}));
  auto at6 = s->list("/c/", at_revision(6));
  EXPECT_EQ(at6->kvs, (std::vector<KeyValue>{{"/c/a", "a3", 1, 5}, {"/c/d", "d1", 6, 6}}));
  auto w_old = s->watch("/c/", 4);
  ASSERT_FALSE(w_old.ok());
  EXPECT_EQ(w_old.error().code(), ErrorCode::kCompacted);
  auto w = s->watch("/c/", 5);
  ASSERT_TRUE(w.ok());
  auto events = collect(**w, 2);
  expect_contiguous(events, 6);
  EXPECT_EQ(*events[1].prev_kv, (KeyValue{"/c/d", "d1", 6, 6}));
  auto again = s->compact(5);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kCompacted);
  auto future = s->compact(100);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(s->check_integrity().ok());
}

TEST_P(SqliteStoreTest, CompactionOvertakingAReplayingWatcherEndsIt) {
  auto s = open_store(with([](SqliteStoreOptions& o) { o.compact_chunk_revisions = 7; }));  // several chunks
  ASSERT_TRUE(s);
  must(s->create("/k", "0"));
  for (int i = 1; i < 50; ++i) must(s->update("/k", std::to_string(i), 0));
  auto w = s->watch("/", 10);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(s->compact(40).ok());
  auto r = (*w)->next(1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCompacted);
  EXPECT_EQ(**s->get("/k"), (KeyValue{"/k", "49", 1, s->current_revision()}));
  EXPECT_EQ(s->list("/", at_revision(40))->kvs.size(), 1u);
}

TEST_P(SqliteStoreTest, SlowWatcherOverflowEndsItWithoutBlockingWriters) {
  auto s = open_store();
  ASSERT_TRUE(s);
  auto slow = s->watch("/s/", 0, buffer(16));
  auto fast = s->watch("/s/", 0, buffer(100000));
  ASSERT_TRUE(slow.ok() && fast.ok());
  ASSERT_TRUE((*slow)->next(0ms).ok());  // caught up: now it buffers live events
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) must(s->create("/s/" + std::to_string(i), "v"));
  });
  auto events = collect(**fast, 200);  // writers finished although nobody read `slow`
  writer.join();
  expect_contiguous(events, 1);
  EXPECT_EQ(s->stats().watchers_overflowed, 1);
  size_t got = 0;
  for (;;) {
    auto b = (*slow)->next(1s);
    if (!b.ok()) {
      EXPECT_EQ(b.error().code(), ErrorCode::kResourceExhausted) << b.error().to_string();
      break;
    }
    ASSERT_FALSE(b->events.empty()) << "an ended watch must not time out";
    got += b->events.size();
  }
  EXPECT_EQ(got, 16u);  // what was buffered before the overflow is still delivered
}

TEST_P(SqliteStoreTest, CancelWakesABlockedNextAndCloseEndsWatchers) {
  auto s = open_store();
  ASSERT_TRUE(s);
  // A writer is acknowledged before its events fan out, so the callback may run just after
  // create() returns: wait for it rather than assume it already happened.
  std::counting_semaphore<> ready_calls{0};
  auto w1 = s->watch("/", 0);
  auto w2 = s->watch("/", 0, [&] {
    WatchOptions o;
    o.on_ready = [&] { ready_calls.release(); };
    return o;
  }());
  ASSERT_TRUE(w1.ok() && w2.ok());
  ASSERT_TRUE((*w2)->next(0ms).ok());
  std::atomic<bool> returned{false};
  std::thread blocked([&] {
    auto r = (*w1)->next(60s);
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
    }
    returned = true;
  });
  (*w1)->cancel();
  blocked.join();
  EXPECT_TRUE(returned);
  must(s->create("/x", "1"));
  EXPECT_TRUE(ready_calls.try_acquire_for(10s));
  EXPECT_FALSE(ready_calls.try_acquire());  // once per batch, not once per waiter
  s.reset();  // close
  auto b = (*w2)->next(1s);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->events.size(), 1u);
  auto end = (*w2)->next(1s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().code(), ErrorCode::kUnavailable);
}

TEST_P(SqliteStoreTest, ReopenKeepsRevisionAndData) {
  {
    auto s = open_store();
    ASSERT_TRUE(s);
    must(s->create("/a", "1"));
    must(s->create("/b", "2"));
    must(s->update("/a", "3", 1));
    must(s->remove("/b", 2));  // revision 4 is a tombstone at the top of the log
    ASSERT_TRUE(s->compact(4).ok());  // ...and compaction removes it
  }
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->current_revision(), 4);
  EXPECT_EQ(s->compacted_revision(), 4);
  EXPECT_EQ(**s->get("/a"), (KeyValue{"/a", "3", 1, 3}));
  EXPECT_FALSE(s->get("/b")->has_value());
  EXPECT_EQ(must(s->create("/c", "4")).revision, 5);
  EXPECT_TRUE(s->check_integrity().ok());
}

TEST_P(SqliteStoreTest, GroupCommitBatchesConcurrentWriters) {
  auto s = open_store();
  ASSERT_TRUE(s);
  constexpr int kThreads = 32, kPerThread = 40;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> revs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = s->create("/g/" + std::to_string(t) + "/" + std::to_string(i), "v");
        EXPECT_TRUE(r.ok() && r->succeeded);
        if (r.ok()) revs[t].push_back(r->revision);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  for (auto& v : revs) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  StoreStats st = s->stats();
  EXPECT_EQ(st.writes, kThreads * kPerThread);
  EXPECT_LT(st.commits, st.writes);
  EXPECT_GT(st.max_batch, 1);
  std::printf("group commit: %lld writes in %lld commits (max batch %lld)\n",
              static_cast<long long>(st.writes), static_cast<long long>(st.commits),
              static_cast<long long>(st.max_batch));
}

// write_async's result, waited for with a deadline.
struct AsyncResult {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<TxnResult>> result;
  std::thread::id thread;

  WriteCallback callback() {
    return [this](Result<TxnResult> r) {
      std::lock_guard lk(mu);
      result = std::move(r);
      thread = std::this_thread::get_id();
      cv.notify_all();
    };
  }
  TxnResult wait() {
    std::unique_lock lk(mu);
    EXPECT_TRUE(cv.wait_for(lk, 20s, [&] { return result.has_value(); })) << "write_async never completed";
    if (!result) return {};
    return must(std::move(*result));
  }
};

WriteRequest async_write(WriteRequest::Kind kind, std::string key, std::string value, int64_t expected = 0) {
  WriteRequest w;
  w.kind = kind;
  w.key = std::move(key);
  w.value = std::move(value);
  w.expected_mod_revision = expected;
  return w;
}

TEST_P(SqliteStoreTest, WriteAsyncHasTheBlockingCallsSemantics) {
  auto s = open_store();
  ASSERT_TRUE(s);
  using K = WriteRequest::Kind;
  auto run = [&](WriteRequest w) {
    AsyncResult r;
    s->write_async(std::move(w), r.callback());
    TxnResult t = r.wait();
    EXPECT_NE(r.thread, std::this_thread::get_id()) << "completed on the caller's thread";
    return t;
  };
  TxnResult created = run(async_write(K::kCreate, "/a", "1"));
  EXPECT_TRUE(created.succeeded);
  EXPECT_EQ(created.revision, 1);
  EXPECT_EQ(*created.kv, (KeyValue{"/a", "1", 1, 1}));
  // Durable and visible once the callback ran.
  EXPECT_EQ(**s->get("/a"), (KeyValue{"/a", "1", 1, 1}));
  TxnResult again = run(async_write(K::kCreate, "/a", "2"));
  EXPECT_FALSE(again.succeeded);
  EXPECT_EQ(*again.kv, (KeyValue{"/a", "1", 1, 1}));
  TxnResult stale = run(async_write(K::kUpdate, "/a", "3", 7));
  EXPECT_FALSE(stale.succeeded);
  EXPECT_EQ(stale.kv->mod_revision, 1);
  TxnResult updated = run(async_write(K::kUpdate, "/a", "3", 1));
  EXPECT_TRUE(updated.succeeded);
  EXPECT_EQ(*updated.kv, (KeyValue{"/a", "3", 1, 2}));
  TxnResult missing = run(async_write(K::kUpdate, "/nope", "3", 0));
  EXPECT_FALSE(missing.succeeded);
  EXPECT_FALSE(missing.kv.has_value());
  TxnResult removed = run(async_write(K::kRemove, "/a", "", 2));
  EXPECT_TRUE(removed.succeeded);
  EXPECT_EQ(removed.revision, 3);
  EXPECT_EQ(*removed.kv, (KeyValue{"/a", "3", 1, 2}));  // the deleted object's last state
  EXPECT_FALSE(s->get("/a")->has_value());
  EXPECT_EQ(s->stats().failed_preconditions, 3);
}

TEST_P(SqliteStoreTest, WriteAsyncAppliesInSubmissionOrder) {
  auto s = open_store();
  ASSERT_TRUE(s);
  must(s->create("/k", "0"));
  constexpr int kWrites = 300;
  std::vector<AsyncResult> results(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    s->write_async(async_write(WriteRequest::Kind::kUpdate, "/k", std::to_string(i + 1)), results[i].callback());
  }
  for (int i = 0; i < kWrites; ++i) {
    TxnResult t = results[i].wait();
    EXPECT_TRUE(t.succeeded);
    EXPECT_EQ(t.revision, i + 2) << "write " << i;
  }
  EXPECT_EQ((*s->get("/k"))->value, std::to_string(kWrites));
  EXPECT_LT(s->stats().commits, kWrites + 1) << "no group commit for queued writes";
}

struct Note final : EventAttachment {
  explicit Note(std::string t) : text(std::move(t)) {}
  std::string text;
};

TEST_P(SqliteStoreTest, WriteAsyncAttachmentReachesLiveWatchersOnly) {
  auto s = open_store();
  ASSERT_TRUE(s);
  auto live = s->watch("/", 0);
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE((*live)->next(0ms).ok());  // synced: it gets live events from now on
  auto note = std::make_shared<const Note>("from the writer");
  WriteRequest w = async_write(WriteRequest::Kind::kCreate, "/n", "v");
  w.attachment = note;
  AsyncResult r;
  s->write_async(std::move(w), r.callback());
  EXPECT_TRUE(r.wait().succeeded);
  must(s->update("/n", "w", 0));  // a blocking write: no attachment
  auto events = collect(**live, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].attachment.get(), note.get());
  auto* got = dynamic_cast<const Note*>(events[0].attachment.get());
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->text, "from the writer");
  EXPECT_EQ(events[1].attachment, nullptr);
  // History replayed from the database has none: it was never stored.
  auto replay = s->watch("/", 0);
  ASSERT_TRUE(replay.ok());
  auto replayed = collect(**replay, 2);
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].attachment, nullptr);
  EXPECT_EQ(replayed[0].kv.value, "v");
}

TEST_P(SqliteStoreTest, OpenErrorNamesThePath) {
  auto s = SqliteStore::open(SqliteStoreOptions{dir_ + "/missing-dir/state.db"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find(dir_ + "/missing-dir/state.db"), std::string::npos)
      << s.error().message();
}

// The value a crash-test key must hold: long enough to span pages.
std::string crash_value(const std::string& key) {
  std::string v;
  while (v.size() < 3000) v += key + ";";
  return v;
}

// A child process writes from several threads and reports each acknowledged write through
// a pipe; it is SIGKILLed mid-burst. Every acknowledged write must survive the reopen,
// and nothing half-written may be visible.
TEST_P(SqliteStoreTest, AcknowledgedWritesSurviveKill9) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    SqliteStoreOptions o;
    o.path = path_;
    o.sync_threads = GetParam();
    auto s = SqliteStore::open(o);
    if (!s.ok()) _exit(3);
    std::vector<std::thread> threads;
    auto ack = [&](const Result<TxnResult>& r, const std::string& key) {
      if (!r.ok() || !r->succeeded) _exit(4);
      std::string line = std::to_string(r->revision) + " " + key + "\n";
      // One write() below PIPE_BUF is atomic, so lines never interleave.
      if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    };
    // Half the writers block in create(); the other half keep 8 write_async calls each in
    // flight and acknowledge from the callback.
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::counting_semaphore<8> slots(8);
        for (int i = 0;; ++i) {
          std::string key = "/crash/" + std::to_string(t) + "/" + std::to_string(i);
          if (t % 2 == 0) {
            ack((*s)->create(key, crash_value(key)), key);
            continue;
          }
          slots.acquire();
          (*s)->write_async(async_write(WriteRequest::Kind::kCreate, key, crash_value(key)),
                            [&, key](Result<TxnResult> r) {
                              ack(r, key);
                              slots.release();
                            });
        }
      });
    }
    std::this_thread::sleep_for(60s);  // the parent kills us long before this
    _exit(6);
  }
  close(fds[1]);
  std::map<std::string, int64_t> acked;
  std::string buf;
  auto consume = [&](bool until_eof, size_t want) {
    char chunk[4096];
    const auto deadline = Clock::now() + 30s;
    while (until_eof || acked.size() < want) {
      if (Clock::now() > deadline) return false;
      ssize_t n = read(fds[0], chunk, sizeof chunk);
      if (n <= 0) return until_eof;
      buf.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::istringstream line(buf.substr(0, nl));
        buf.erase(0, nl + 1);
        int64_t rev;
        std::string key;
        line >> rev >> key;
        acked[key] = rev;
      }
    }
    return true;
  };
  EXPECT_TRUE(consume(false, 1500)) << "child acknowledged only " << acked.size() << " writes";
  kill(pid, SIGKILL);
  ASSERT_TRUE(consume(true, 0));  // acks already in the pipe count too
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

  auto s = open_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->check_integrity().ok()) << s->check_integrity().error().to_string();
  int64_t max_acked = 0;
  for (auto& [key, rev] : acked) {
    auto got = s->get(key);
    ASSERT_TRUE(got.ok() && got->has_value()) << "acknowledged " << key << " at " << rev << " lost";
    EXPECT_EQ((*got)->mod_revision, rev);
    EXPECT_EQ((*got)->value, crash_value(key));
    max_acked = std::max(max_acked, rev);
  }
  EXPECT_GE(s->current_revision(), max_acked);
  auto all = s->list("/crash/", {});
  ASSERT_TRUE(all.ok());
  std::set<int64_t> revisions;
  for (auto& kv : all->kvs) {
    EXPECT_EQ(kv.value, crash_value(kv.key)) << "half-written " << kv.key;
    revisions.insert(kv.mod_revision);
  }
  // Unacknowledged but committed writes may exist; revisions still run 1..current.
  EXPECT_EQ(revisions.size(), all->kvs.size());
  EXPECT_EQ(static_cast<int64_t>(all->kvs.size()), s->current_revision());
  EXPECT_EQ(*revisions.rbegin(), s->current_revision());
  std::printf("kill -9: %zu acknowledged, %zu present after reopen\n", acked.size(),
              all->kvs.size());
}

// Pipelined commit: a write is committed to the WAL at once, but its acknowledgement (and
// its event) waits until an fdatasync that covers its revision has returned.
TEST_P(SqliteStoreTest, PipelinedAcknowledgesOnlyAfterTheFsyncCoveringIt) {
  if (GetParam() == 0) GTEST_SKIP() << "only the pipelined mode has sync threads";
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  int64_t held_target = 0;    // the revision a held sync is about to cover
  int64_t synced_target = 0;  // the highest revision a sync was let through for
  SqliteStoreOptions o;
  o.before_sync = [&](int64_t target) {
    std::unique_lock lk(mu);
    held_target = std::max(held_target, target);
    cv.notify_all();
    cv.wait(lk, [&] { return !hold; });
    synced_target = std::max(synced_target, target);
  };
  auto s = open_store(o);
  ASSERT_TRUE(s);
  must(s->create("/p/first", "1"));
  auto w = s->watch("/p/", s->current_revision(), buffer(100));
  ASSERT_TRUE(w.ok());
  {
    std::lock_guard lk(mu);
    hold = true;
  }
  AsyncResult async;
  s->write_async(async_write(WriteRequest::Kind::kCreate, "/p/second", "2"), async.callback());
  {
    // The write reaches a sync (so it is in the WAL) ...
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 20s, [&] { return held_target >= 2; })) << "no sync started for revision 2";
  }
  // ... but neither its acknowledgement nor its event comes while that sync is held.
  auto early = (*w)->next(300ms);
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->events.empty()) << "event published before its fsync";
  {
    std::lock_guard lk(async.mu);
    EXPECT_FALSE(async.result.has_value()) << "acknowledged before its fsync";
  }
  EXPECT_EQ(s->current_revision(), 1);
  {
    std::lock_guard lk(mu);
    hold = false;
  }
  cv.notify_all();
  TxnResult r = async.wait();
  EXPECT_TRUE(r.succeeded);
  EXPECT_EQ(r.revision, 2);
  {
    std::lock_guard lk(mu);
    EXPECT_GE(synced_target, 2);
  }
  auto events = collect(**w, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "/p/second");
  EXPECT_EQ(s->current_revision(), 2);
}

INSTANTIATE_TEST_SUITE_P(CommitModes, SqliteStoreTest, ::testing::Values(0, 2),
                         [](const ::testing::TestParamInfo<int>& mode) {
                           return mode.param == 0 ? std::string("SyncInCommit") : std::string("Pipelined");
                         });

}  // namespace
}  // namespace kernlet::store
