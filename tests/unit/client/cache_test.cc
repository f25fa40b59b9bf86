#include "api/client/cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace kernlet::client {
namespace {

ObjectPtr pod(std::string ns, std::string name, std::string node = "", std::string owner_uid = "",
              std::string rv = "1") {
  json::object meta{{"name", name}, {"namespace", ns}, {"resourceVersion", rv}};
  if (!owner_uid.empty()) {
    meta["ownerReferences"] = json::array{json::object{
        {"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", owner_uid}}};
  }
  json::object spec;
  if (!node.empty()) spec["nodeName"] = node;
  return std::make_shared<const json::object>(
      json::object{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}, {"spec", std::move(spec)}});
}

std::vector<std::string> names(const std::vector<ObjectPtr>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.push_back(object_key(*o));
  return out;
}

TEST(ObjectCache, KeysAreNamespaceSlashName) {
  EXPECT_EQ(object_key(*pod("default", "web")), "default/web");
  json::object node{{"metadata", json::object{{"name", "n1"}}}};
  EXPECT_EQ(object_key(node), "n1");
  EXPECT_EQ(split_key("default/web"), (std::pair<std::string_view, std::string_view>("default", "web")));
  EXPECT_EQ(split_key("n1"), (std::pair<std::string_view, std::string_view>("", "n1")));
}

TEST(ObjectCache, UpsertEraseAndSharedDocuments) {
  ObjectCache c;
  auto a = pod("default", "a");
  EXPECT_EQ(c.upsert(a), nullptr);
  EXPECT_EQ(c.get("default/a").get(), a.get()) << "readers get the cached document, not a copy";
  auto a2 = pod("default", "a", "", "", "2");
  EXPECT_EQ(c.upsert(a2).get(), a.get()) << "upsert returns the previous object";
  EXPECT_EQ(c.get("default/a").get(), a2.get());
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.erase("default/a").get(), a2.get());
  EXPECT_EQ(c.erase("default/a"), nullptr);
  EXPECT_EQ(c.get("default/a"), nullptr);
  // A reader's pointer outlives the cache's interest in it.
  EXPECT_EQ(json::get_string(*a2, "apiVersion"), "v1");
}

TEST(ObjectCache, IndexesFollowUpdatesAndDeletes) {
  ObjectCache c;
  ASSERT_TRUE(c.add_index("namespace", index_by_namespace()).ok());
  ASSERT_TRUE(c.add_index("node", index_by_node_name()).ok());
  c.upsert(pod("default", "a", "n1", "rs-1"));
  c.upsert(pod("default", "b", "n2", "rs-1"));
  c.upsert(pod("kube-system", "c", "n1"));
  c.upsert(pod("default", "d"));  // unscheduled: not in the node index
  // An index added later covers what is already there.
  ASSERT_TRUE(c.add_index("owner", index_by_owner_uid()).ok());

  EXPECT_EQ(names(*c.by_index("namespace", "default")), (std::vector<std::string>{"default/a", "default/b", "default/d"}));
  EXPECT_EQ(names(*c.by_index("node", "n1")), (std::vector<std::string>{"default/a", "kube-system/c"}));
  EXPECT_EQ(names(*c.by_index("owner", "rs-1")), (std::vector<std::string>{"default/a", "default/b"}));
  EXPECT_EQ(*c.index_values("node"), (std::vector<std::string>{"n1", "n2"}) );

  c.upsert(pod("default", "a", "n2", "rs-1", "2"));  // moved
  EXPECT_EQ(names(*c.by_index("node", "n1")), (std::vector<std::string>{"kube-system/c"}));
  EXPECT_EQ(*c.index_keys("node", "n2"), (std::vector<std::string>{"default/a", "default/b"}));
  c.erase("kube-system/c");
  EXPECT_TRUE(c.by_index("node", "n1")->empty());
  EXPECT_EQ(*c.index_values("node"), (std::vector<std::string>{"n2"})) << "emptied values disappear";
  EXPECT_TRUE(c.by_index("node", "nope")->empty());

  auto missing = c.by_index("zone", "a");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "cache index \"zone\" does not exist");
  auto dup = c.add_index("node", index_by_node_name());
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
}

TEST(ObjectCache, FieldIndexOnAnyPath) {
  ObjectCache c;
  ASSERT_TRUE(c.add_index("scheduler", index_by_field("spec.schedulerName")).ok());
  json::object p = *pod("default", "a");
  p["spec"].as_object()["schedulerName"] = "custom";
  c.upsert(std::make_shared<const json::object>(p));
  c.upsert(pod("default", "b"));
  EXPECT_EQ(names(*c.by_index("scheduler", "custom")), (std::vector<std::string>{"default/a"}));
}

TEST(ObjectCache, ConcurrentReadersAndAWriter) {
  ObjectCache c;
  ASSERT_TRUE(c.add_index("node", index_by_node_name()).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 5000; ++i) {
      c.upsert(pod("ns", "p" + std::to_string(i % 50), "n" + std::to_string(i % 3)));
      if (i % 7 == 0) c.erase("ns/p" + std::to_string(i % 50));
    }
    stop = true;
  });
  std::size_t seen = 0;
  while (!stop) {
    for (const auto& o : c.list()) seen += object_key(*o).size();
    auto on_n1 = c.by_index("node", "n1");
    for (const auto& o : *on_n1) seen += object_key(*o).size();
  }
  writer.join();
  // Every object in the node index is in the cache under the same key.
  auto keys = c.index_keys("node", "n1");
  ASSERT_TRUE(keys.ok());
  for (const auto& key : *keys) EXPECT_NE(c.get(key), nullptr) << key;
  EXPECT_GT(seen + 1, 0u);
}

}  // namespace
}  // namespace kernlet::client
