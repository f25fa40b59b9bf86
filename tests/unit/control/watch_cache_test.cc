#include "control/apiserver/watch_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "control/store/sqlite_store.h"

namespace kernlet::apiserver {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string pod(std::string_view ns, std::string_view name, std::string_view app, std::string_view node = "") {
  json::object labels;
  if (!app.empty()) labels["app"] = app;
  json::object o{{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
                 {"spec", json::object{{"nodeName", node}}}};
  return json::dump(o);
}

std::string pod_key(std::string_view ns, std::string_view name) {
  return "/registry/pods/" + std::string(ns) + "/" + std::string(name);
}

const char* type_name(CacheEvent::Type t) {
  switch (t) {
    case CacheEvent::Type::kAdded: return "ADDED";
    case CacheEvent::Type::kModified: return "MODIFIED";
    case CacheEvent::Type::kDeleted: return "DELETED";
  }
  return "?";
}

// "TYPE:name@rv" for each event, to compare whole sequences.
std::string describe(const CacheEvent& e) {
  auto obj = json::parse_object(e.object->json(e.revision));
  std::string name = obj.ok() ? std::string(json::get_string(api::object_or_empty(*obj, "metadata"), "name")) : "?";
  return std::string(type_name(e.type)) + ":" + name + "@" + std::to_string(e.revision);
}

// Collects events from `w` until `n` arrived or 5 s passed.
std::vector<CacheEvent> collect(CacheWatch& w, size_t n) {
  std::vector<CacheEvent> got;
  const auto deadline = Clock::now() + 5s;
  while (got.size() < n && Clock::now() < deadline) {
    auto b = w.next();
    if (!b.ok()) break;
    for (auto& e : b->events) got.push_back(std::move(e));
    if (got.size() < n) std::this_thread::sleep_for(1ms);
  }
  return got;
}

class WatchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kl-watchcache-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::SqliteStore::open({.path = dir_ + "/state.db"});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_ = std::move(*s);
  }
  void TearDown() override {
    cache_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(WatchCacheOptions o = {}) {
    std::vector<WatchCache::Resource> rs{{"/registry/pods/", "pods"}, {"/registry/configmaps/", "configmaps"}};
    auto c = WatchCache::start(*store_, rs, o);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    cache_ = std::move(*c);
  }

  int64_t create(std::string_view ns, std::string_view name, std::string_view app = "", std::string_view node = "") {
    auto r = store_->create(pod_key(ns, name), pod(ns, name, app, node));
    EXPECT_TRUE(r.ok() && r->succeeded);
    return r.ok() ? r->revision : 0;
  }
  int64_t update(std::string_view ns, std::string_view name, std::string_view app, std::string_view node = "") {
    auto r = store_->update(pod_key(ns, name), pod(ns, name, app, node), 0);
    EXPECT_TRUE(r.ok() && r->succeeded);
    return r.ok() ? r->revision : 0;
  }
  // Waits until the cache has applied every acknowledged write.
  void sync() { ASSERT_TRUE(cache_->wait_fresh(store_->current_revision(), 5s)); }

  std::vector<std::string> names(const CacheFilter& f, int64_t limit = 0) {
    auto l = cache_->list(f, "", limit);
    EXPECT_TRUE(l.ok() && l->has_value());
    std::vector<std::string> out;
    if (l.ok() && *l) {
      for (const auto& o : (*l)->objects) out.push_back(o->key.substr(o->key.rfind('/') + 1));
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<WatchCache> cache_;
};

TEST(CachedObjectTest, SplicesResourceVersionIntoTopLevelMetadata) {
  store::KeyValue kv{"/registry/pods/a/p",
                     R"({"spec":{"template":{"metadata":{"x":"y"}}},"metadata":{"name":"p","labels":{"app":"w"}},"s":"}{\""})",
                     3, 42};
  auto o = CachedObject::make(kv, "pods");
  ASSERT_TRUE(o.ok()) << o.error().to_string();
  EXPECT_EQ((*o)->labels, (api::LabelSet{{"app", "w"}}));
  EXPECT_EQ((*o)->fields.at("metadata.name"), "p");
  auto back = json::parse_object((*o)->json(42));
  ASSERT_TRUE(back.ok()) << (*o)->json(42);
  const json::object& meta = api::object_or_empty(*back, "metadata");
  EXPECT_EQ(json::get_string(meta, "resourceVersion"), "42");
  EXPECT_EQ(json::get_string(meta, "name"), "p");
  EXPECT_EQ(api::object_or_empty(api::object_or_empty(api::object_or_empty(*back, "spec"), "template"),
                                      "metadata")
                .size(),
            1u);
  EXPECT_EQ(json::get_string(*back, "s"), "}{\"");

  // Empty metadata, and an object without metadata (the slow path adds it).
  for (std::string value : {R"({"metadata":{}})", R"({"kind":"X"})"}) {
    auto e = CachedObject::make({"/k", value, 1, 7}, "pods");
    ASSERT_TRUE(e.ok());
    auto j = json::parse_object((*e)->json(7));
    ASSERT_TRUE(j.ok()) << (*e)->json(7);
    EXPECT_EQ(json::get_string(api::object_or_empty(*j, "metadata"), "resourceVersion"), "7") << value;
  }
  EXPECT_FALSE(CachedObject::make({"/k", "[1]", 1, 1}, "pods").ok());
}

TEST(CachedObjectTest, TakesLabelsAndFieldsFromTheWritersSummary) {
  const std::string value =
      R"({"kind":"Pod","metadata":{"name":"p","namespace":"a","labels":{"app":"w","n":"1"},)"
      R"("deletionTimestamp":"2026-01-01T00:00:00Z"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}})";
  store::KeyValue kv{"/registry/pods/a/p", value, 3, 42};
  auto obj = json::parse_object(value);
  ASSERT_TRUE(obj.ok());
  auto summary = ObjectSummary::of(*obj, "pods");
  auto decoded = CachedObject::make(kv, "pods");
  auto summarized = CachedObject::make(kv, "pods", summary.get());
  ASSERT_TRUE(decoded.ok() && summarized.ok());
  // The summary of the object written says what decoding its bytes says.
  EXPECT_EQ((*summarized)->labels, (*decoded)->labels);
  EXPECT_EQ((*summarized)->fields, (*decoded)->fields);
  EXPECT_EQ((*summarized)->fields.at("spec.nodeName"), "n1");
  EXPECT_TRUE((*summarized)->being_deleted);
  EXPECT_EQ((*summarized)->metadata_body, (*decoded)->metadata_body);
  EXPECT_EQ((*summarized)->json(42), (*decoded)->json(42));

  // It is what make() uses: no decode when the summary is for the same resource...
  auto other = std::make_shared<ObjectSummary>(*summary);
  other->labels = {{"from", "summary"}};
  auto used = CachedObject::make(kv, "pods", other.get());
  ASSERT_TRUE(used.ok());
  EXPECT_EQ((*used)->labels, (api::LabelSet{{"from", "summary"}}));
  // ...and the bytes are decoded when it was read for another resource.
  other->resource = "configmaps";
  auto fallback = CachedObject::make(kv, "pods", other.get());
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ((*fallback)->labels, (*decoded)->labels);
}

TEST_F(WatchCacheTest, ListsFromMemoryConsistentWithTheStore) {
  create("a", "p1", "web");
  create("a", "p2", "db", "n1");
  create("b", "p3", "web");
  start();
  EXPECT_EQ(cache_->revision(), store_->current_revision());
  EXPECT_EQ(names({"/registry/pods/", {}, {}}), (std::vector<std::string>{"p1", "p2", "p3"}));
  EXPECT_EQ(names({"/registry/pods/a/", {}, {}}), (std::vector<std::string>{"p1", "p2"}));
  EXPECT_TRUE(names({"/registry/configmaps/", {}, {}}).empty());

  create("a", "p4", "web");
  sync();
  EXPECT_EQ(names({"/registry/pods/a/", {}, {}}), (std::vector<std::string>{"p1", "p2", "p4"}));

  auto web = api::Selector::parse("app=web");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(names({"/registry/pods/", *web, {}}), (std::vector<std::string>{"p1", "p4", "p3"}));
  auto on_n1 = api::FieldSelector::parse_for("pods", "spec.nodeName=n1");
  ASSERT_TRUE(on_n1.ok());
  EXPECT_EQ(names({"/registry/pods/", {}, *on_n1}), (std::vector<std::string>{"p2"}));

  ASSERT_TRUE(store_->remove(pod_key("a", "p1"), 0).ok());
  sync();
  EXPECT_EQ(names({"/registry/pods/a/", {}, {}}), (std::vector<std::string>{"p2", "p4"}));
  ASSERT_NE(cache_->get(pod_key("a", "p2")), nullptr);
  EXPECT_EQ(cache_->get(pod_key("a", "p2"))->labels, (api::LabelSet{{"app", "db"}}));
  EXPECT_EQ(cache_->get(pod_key("a", "p1")), nullptr);
  EXPECT_EQ(cache_->get("/registry/secrets/a/s"), nullptr);
  EXPECT_FALSE(cache_->list({"/registry/secrets/", {}, {}}, "", 0).ok());
}

TEST_F(WatchCacheTest, PagesWithLimitAndContinueAtOneRevision) {
  for (int i = 0; i < 5; ++i) create("a", "p" + std::to_string(i));
  start();
  auto page1 = cache_->list({"/registry/pods/", {}, {}}, "", 2);
  ASSERT_TRUE(page1.ok() && *page1);
  ASSERT_EQ((*page1)->objects.size(), 2u);
  EXPECT_TRUE((*page1)->more);
  EXPECT_EQ((*page1)->continue_key, pod_key("a", "p2"));
  const int64_t rev = (*page1)->revision;
  auto page2 = cache_->list({"/registry/pods/", {}, {}}, (*page1)->continue_key, 3, rev);
  ASSERT_TRUE(page2.ok() && *page2);
  EXPECT_EQ((*page2)->objects.size(), 3u);
  EXPECT_FALSE((*page2)->more);

  // Once the cache has moved on, the state at the old revision is not in memory: the
  // caller reads the store.
  create("a", "p9");
  sync();
  auto stale = cache_->list({"/registry/pods/", {}, {}}, (*page1)->continue_key, 3, rev);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->has_value());
}

TEST_F(WatchCacheTest, WatchReplaysTheWindowAndExpiresOlderRevisions) {
  start({.window_events = 3});
  std::vector<int64_t> revs;
  for (int i = 0; i < 6; ++i) revs.push_back(create("a", "p" + std::to_string(i)));
  sync();

  auto old = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = revs[1]});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code(), ErrorCode::kCompacted);
  EXPECT_NE(old.error().message().find("too old resource version: " + std::to_string(revs[1])), std::string::npos)
      << old.error().message();
  EXPECT_EQ(cache_->oldest_revision("/registry/pods/"), revs[2]);

  auto w = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = revs[3]});
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  auto got = collect(**w, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(describe(got[0]), "ADDED:p4@" + std::to_string(revs[4]));
  EXPECT_EQ(describe(got[1]), "ADDED:p5@" + std::to_string(revs[5]));

  // Live events follow the replay with no gap and no duplicate.
  const int64_t r6 = update("a", "p5", "x");
  got = collect(**w, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(describe(got[0]), "MODIFIED:p5@" + std::to_string(r6));
}

TEST_F(WatchCacheTest, CompactedHistoryIsExpiredInTheCacheToo) {
  start();
  const int64_t r1 = create("a", "p1");
  create("a", "p2");
  const int64_t r3 = create("a", "p3");
  sync();
  ASSERT_TRUE(store_->compact(r3).ok());
  auto w = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = r1});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), ErrorCode::kCompacted);
  EXPECT_TRUE(cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = r3}).ok());
}

TEST_F(WatchCacheTest, SelectorMovesBecomeAddedAndDeleted) {
  create("a", "p1", "web");
  start();
  auto web = api::Selector::parse("app=web");
  ASSERT_TRUE(web.ok());
  auto w = cache_->watch({.filter = {"/registry/pods/a/", *web, {}}, .after = std::nullopt});
  ASSERT_TRUE(w.ok());
  const int64_t r_out = update("a", "p1", "db");
  const int64_t r_in = update("a", "p1", "web");
  const int64_t r_mod = update("a", "p1", "web", "n2");
  create("b", "p2", "web");  // another namespace: not for this watcher
  auto gone = store_->remove(pod_key("a", "p1"), 0);
  ASSERT_TRUE(gone.ok() && gone->succeeded);
  auto got = collect(**w, 5);
  std::vector<std::string> seen;
  for (const auto& e : got) seen.push_back(describe(e));
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:p1@" + std::to_string(store_->current_revision() - 5),
                                            "DELETED:p1@" + std::to_string(r_out), "ADDED:p1@" + std::to_string(r_in),
                                            "MODIFIED:p1@" + std::to_string(r_mod),
                                            "DELETED:p1@" + std::to_string(gone->revision)}));
}

TEST_F(WatchCacheTest, OneStoreWatchFansOutToManyWatchersSharingOneCopy) {
  start();
  std::vector<std::unique_ptr<CacheWatch>> ws;
  for (int i = 0; i < 200; ++i) {
    auto w = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = cache_->revision()});
    ASSERT_TRUE(w.ok());
    ws.push_back(std::move(*w));
  }
  EXPECT_EQ(store_->stats().watchers, 1);  // the cache's own
  EXPECT_EQ(cache_->stats().watchers, 200);
  const int64_t rev = create("a", "p1");
  sync();
  auto listed = cache_->list({"/registry/pods/", {}, {}}, "", 0);
  ASSERT_TRUE(listed.ok() && *listed);
  ASSERT_EQ((*listed)->objects.size(), 1u);
  for (auto& w : ws) {
    auto got = collect(*w, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].revision, rev);
    // The same bytes as the cached object: one copy however many watchers see it.
    EXPECT_EQ(got[0].object.get(), (*listed)->objects[0].get());
  }
  ws.clear();
  EXPECT_EQ(cache_->stats().watchers, 0);
}

TEST_F(WatchCacheTest, SlowWatcherIsDroppedWithoutHoldingBackOthers) {
  start({.watcher_buffer_events = 2});
  auto slow = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = cache_->revision()});
  auto fast = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = cache_->revision()});
  ASSERT_TRUE(slow.ok() && fast.ok());
  std::vector<CacheEvent> fast_got;
  for (int i = 0; i < 5; ++i) {
    create("a", "p" + std::to_string(i));
    auto got = collect(**fast, 1);
    fast_got.insert(fast_got.end(), got.begin(), got.end());
  }
  EXPECT_EQ(fast_got.size(), 5u);
  sync();
  auto b = (*slow)->next();  // what it had buffered is still delivered
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->events.size(), 2u);
  auto end = (*slow)->next();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(cache_->stats().watchers_dropped, 1);
  EXPECT_EQ(cache_->stats().watchers, 1);
}

TEST_F(WatchCacheTest, InitialStateThenChangesAndFutureStarts) {
  create("a", "p1");
  create("a", "p2");
  start();
  auto w = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = std::nullopt});
  ASSERT_TRUE(w.ok());
  auto b = (*w)->next();
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->events.size(), 2u);
  EXPECT_EQ(b->progress_revision, cache_->revision());  // a bookmark after the state is exact

  // A watch from a revision the store has not reached yet skips events up to it.
  const int64_t future = store_->current_revision() + 2;
  auto f = cache_->watch({.filter = {"/registry/pods/", {}, {}}, .after = future});
  ASSERT_TRUE(f.ok());
  create("a", "p3");
  create("a", "p4");
  const int64_t r5 = create("a", "p5");
  auto got = collect(**f, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(describe(got[0]), "ADDED:p5@" + std::to_string(r5));
  EXPECT_EQ(collect(**w, 3).size(), 3u);
}

}  // namespace
}  // namespace kernlet::apiserver
