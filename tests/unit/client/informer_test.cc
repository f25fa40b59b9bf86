// The reflector's semantics against a scripted lister-watcher (the real API server is
// exercised in tests/integration/client/).
#include "api/client/informer.h"

#include <gtest/gtest.h>

#include <deque>

#include "api/object.h"

namespace kernlet::client {
namespace {

using namespace std::chrono_literals;

json::object obj(const std::string& name, const std::string& rv) {
  return json::object{{"kind", "ConfigMap"},
                      {"metadata", json::object{{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
}

// A watch the test feeds by hand.
class FakeStream final : public WatchStream {
 public:
  Result<std::optional<WatchEvent>> next() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty() || cancelled_; });
    if (cancelled_) return Error(ErrorCode::kUnavailable, "watch cancelled");
    auto r = std::move(q_.front());
    q_.pop_front();
    return r;
  }
  void cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void push(Result<std::optional<WatchEvent>> r) {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(r));
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result<std::optional<WatchEvent>>> q_;
  bool cancelled_ = false;
};

// The "server": a list answer and a script of watch answers; records what was asked.
class FakeListerWatcher final : public ListerWatcher {
 public:
  Result<ObjectList> list(const ListOptions&) override {
    std::lock_guard lock(mu_);
    ++lists;
    ObjectList l;
    l.resource_version = list_rv;
    l.items = items;
    cv.notify_all();
    return l;
  }
  Result<std::unique_ptr<WatchStream>> watch(const WatchOptions& o) override {
    std::unique_lock lock(mu_);
    watch_rvs.push_back(o.resource_version);
    cv.notify_all();
    if (!watch_errors.empty()) {
      Error e = watch_errors.front();
      watch_errors.pop_front();
      return e;
    }
    auto s = std::make_unique<FakeStream>();
    current = s.get();
    return std::unique_ptr<WatchStream>(std::move(s));
  }
  // Waits until the n-th watch has been opened; returns its stream.
  FakeStream* wait_watch(std::size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv.wait_for(lock, 5s, [&] { return watch_rvs.size() >= n && current != nullptr; })) << n;
    return current;
  }
  void set_list(std::string rv, std::vector<json::object> objs) {
    std::lock_guard lock(mu_);
    list_rv = std::move(rv);
    items = std::move(objs);
  }

  std::mutex mu_;
  std::condition_variable cv;
  std::string list_rv = "1";
  std::vector<json::object> items;
  std::deque<Error> watch_errors;
  std::vector<std::string> watch_rvs;
  int lists = 0;
  FakeStream* current = nullptr;
};

// Records handler calls as lines, and lets the test wait for a count.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> log;
  void add(std::string s) {
    std::lock_guard lock(mu);
    log.push_back(std::move(s));
    cv.notify_all();
  }
  std::vector<std::string> wait(std::size_t n) {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 5s, [&] { return log.size() >= n; })) << "have " << log.size() << ", want " << n;
    return log;
  }
  EventHandler handler() {
    auto rv = [](const ObjectPtr& o) { return std::string(api::Meta(*o).resource_version()); };
    auto name = [](const ObjectPtr& o) { return std::string(api::Meta(*o).name()); };
    return EventHandler{
        [=, this](const ObjectPtr& o) { add("add " + name(o) + "@" + rv(o)); },
        [=, this](const ObjectPtr& a, const ObjectPtr& b) {
          add("update " + name(b) + "@" + rv(a) + "->" + rv(b));
        },
        [=, this](const ObjectPtr& o, bool unknown) {
          add(std::string(unknown ? "delete-unknown " : "delete ") + name(o) + "@" + rv(o));
        },
        [this] { add("synced"); }};
  }
};

WatchEvent event(WatchEvent::Type t, json::object o) {
  return WatchEvent{t, std::make_shared<const json::object>(std::move(o))};
}

InformerOptions fast() {
  InformerOptions o;
  o.name = "test";
  o.initial_backoff = 1ms;
  o.max_backoff = 5ms;
  return o;
}

TEST(Informer, ListThenWatchFromTheListsVersion) {
  auto lw = std::make_shared<FakeListerWatcher>();
  lw->set_list("10", {obj("a", "3"), obj("b", "7")});
  Recorder rec;
  Informer inf(lw, fast());
  inf.add_handler(rec.handler());
  ASSERT_TRUE(inf.add_index("ns", index_by_namespace()).ok());
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(5s));
  EXPECT_EQ(rec.wait(3), (std::vector<std::string>{"add a@3", "add b@7", "synced"}));
  FakeStream* s = lw->wait_watch(1);
  EXPECT_EQ(lw->watch_rvs[0], "10");

  s->push(std::optional(event(WatchEvent::Type::kAdded, obj("c", "11"))));
  s->push(std::optional(event(WatchEvent::Type::kModified, obj("a", "12"))));
  s->push(std::optional(event(WatchEvent::Type::kDeleted, obj("b", "13"))));
  EXPECT_EQ(rec.wait(6), (std::vector<std::string>{"add a@3", "add b@7", "synced", "add c@11", "update a@3->12",
                                                   "delete b@13"}));
  EXPECT_EQ(inf.cache().keys(), (std::vector<std::string>{"ns/a", "ns/c"}));
  EXPECT_EQ(inf.cache().by_index("ns", "ns")->size(), 2u);
  EXPECT_EQ(inf.last_resource_version(), "13");
  inf.stop();  // cancels the blocked watch
  EXPECT_EQ(lw->lists, 1);
}

TEST(Informer, DroppedWatchResumesFromLastVersionIncludingBookmarks) {
  auto lw = std::make_shared<FakeListerWatcher>();
  lw->set_list("10", {obj("a", "3")});
  Recorder rec;
  Informer inf(lw, fast());
  inf.add_handler(rec.handler());
  inf.start();
  FakeStream* s = lw->wait_watch(1);
  s->push(std::optional(event(WatchEvent::Type::kModified, obj("a", "15"))));
  json::object bm{{"kind", "ConfigMap"}, {"metadata", json::object{{"resourceVersion", "20"}}}};
  s->push(std::optional(event(WatchEvent::Type::kBookmark, bm)));
  // The connection drops; then the server is down for two attempts, then back.
  {
    std::lock_guard lock(lw->mu_);
    lw->watch_errors = {Error(ErrorCode::kUnavailable, "connection refused"),
                        Error(ErrorCode::kUnavailable, "connection refused")};
    lw->current = nullptr;
  }
  s->push(Error(ErrorCode::kUnavailable, "connection reset"));
  FakeStream* s2 = lw->wait_watch(4);
  EXPECT_EQ(lw->watch_rvs, (std::vector<std::string>{"10", "20", "20", "20"}));
  s2->push(std::optional<WatchEvent>());  // clean end (timeoutSeconds): re-watch at once
  lw->wait_watch(5);
  EXPECT_EQ(lw->watch_rvs.back(), "20");
  inf.stop();
  EXPECT_EQ(lw->lists, 1) << "no relist for a dropped connection";
  EXPECT_EQ(rec.wait(3), (std::vector<std::string>{"add a@3", "synced", "update a@3->15"}));
}

TEST(Informer, ExpiredRelistsAndDeliversVanishedObjectsAsDeletes) {
  auto lw = std::make_shared<FakeListerWatcher>();
  lw->set_list("10", {obj("a", "3"), obj("b", "4"), obj("c", "5")});
  Recorder rec;
  Informer inf(lw, fast());
  inf.add_handler(rec.handler());
  inf.start();
  FakeStream* s = lw->wait_watch(1);
  // While the watch was away, b changed, c was deleted and d created; the history is gone.
  lw->set_list("50", {obj("a", "3"), obj("b", "40"), obj("d", "45")});
  {
    std::lock_guard lock(lw->mu_);
    lw->current = nullptr;
  }
  s->push(Error(ErrorCode::kCompacted, "too old resource version: 10 (30)"));
  lw->wait_watch(2);
  EXPECT_EQ(lw->watch_rvs, (std::vector<std::string>{"10", "50"}));
  auto log = rec.wait(7);
  EXPECT_EQ(log, (std::vector<std::string>{"add a@3", "add b@4", "add c@5", "synced", "update b@4->40", "add d@45",
                                           "delete-unknown c@5"}));
  EXPECT_EQ(inf.cache().keys(), (std::vector<std::string>{"ns/a", "ns/b", "ns/d"}));
  EXPECT_EQ(lw->lists, 2);
  inf.stop();
}

TEST(Informer, ExpiredOnWatchOpenRelists) {
  auto lw = std::make_shared<FakeListerWatcher>();
  lw->set_list("10", {});
  lw->watch_errors = {Error(ErrorCode::kCompacted, "gone")};
  Informer inf(lw, fast());
  inf.start();
  lw->wait_watch(2);
  EXPECT_EQ(lw->lists, 2);
  inf.stop();
}

TEST(Informer, ResyncRedeliversCachedObjectsAsUpdates) {
  auto lw = std::make_shared<FakeListerWatcher>();
  lw->set_list("10", {obj("a", "3")});
  Recorder rec;
  InformerOptions o = fast();
  o.resync_period = 10ms;
  Informer inf(lw, o);
  inf.add_handler(rec.handler());
  inf.start();
  auto log = rec.wait(4);
  EXPECT_EQ(log[2], "update a@3->3");
  EXPECT_EQ(log[3], "update a@3->3");
  inf.stop();
}

}  // namespace
}  // namespace kernlet::client
