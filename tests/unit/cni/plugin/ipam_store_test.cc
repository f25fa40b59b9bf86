#include "cni/plugin/ipam_store.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "../client/temp_dir.h"

namespace kernlet::cni {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// 10.244.1.0/29: gateway .1, pods .2-.6 (five addresses).
Ipv4Prefix small() { return *parse_ipv4_prefix("10.244.1.0/29"); }
uint32_t ip(const char* s) { return *parse_ipv4(s); }

IpamStore open_small(const std::string& dir) {
  auto s = IpamStore::open(dir, small(), ip("10.244.1.2"), ip("10.244.1.6"));
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return std::move(s).value();
}

IpamOwner pod(const std::string& id, const std::string& ifname = "eth0") { return {id, ifname}; }

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

TEST(IpamStore, AllocatesDistinctAddressesAndIsIdempotentPerAttachment) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  auto a = s.allocate(pod("a"));
  auto b = s.allocate(pod("b"));
  auto b_eth1 = s.allocate(pod("b", "eth1"));
  ASSERT_TRUE(a.ok() && b.ok() && b_eth1.ok());
  EXPECT_EQ(*a, ip("10.244.1.2"));
  EXPECT_EQ(*b, ip("10.244.1.3"));
  EXPECT_EQ(*b_eth1, ip("10.244.1.4"));
  auto again = s.allocate(pod("a"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a) << "an ADD retried for the same attachment keeps its address";
  auto list = s.list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].owner, pod("a"));
  // The record names its owner, one file per address.
  std::ifstream rec(fs::path(tmp.path()) / "ips" / "10.244.1.2");
  std::string text((std::istreambuf_iterator<char>(rec)), std::istreambuf_iterator<char>());
  auto c = decode_claim(text);
  ASSERT_TRUE(c.has_value()) << text;
  EXPECT_EQ(c->owner, pod("a"));
}

TEST(IpamStore, ExhaustionIsResourceExhaustedAndReleaseFreesAnAddress) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.allocate(pod("p" + std::to_string(i))).ok());
  auto full = s.allocate(pod("late"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(full.error().message().find("10.244.1.0/29"), std::string::npos)
      << full.error().message();
  auto free0 = s.free_count();
  ASSERT_TRUE(free0.ok());
  EXPECT_EQ(*free0, 0u);

  auto released = s.release(pod("p2"));
  ASSERT_TRUE(released.ok());
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ((*released)[0], ip("10.244.1.4"));
  auto late = s.allocate(pod("late"));
  ASSERT_TRUE(late.ok()) << late.error().to_string();
  EXPECT_EQ(*late, ip("10.244.1.4"));
}

TEST(IpamStore, ReleaseOfUnknownOrReleasedAttachmentIsEmpty) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  ASSERT_TRUE(s.allocate(pod("a")).ok());
  auto first = s.release(pod("a"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 1u);
  auto second = s.release(pod("a"));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty());
  auto unknown = s.release(pod("never"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
  auto held = s.lookup(pod("a"));
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(held->has_value());
}

TEST(IpamStore, FreedAddressIsNotReusedAtOnce) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  ASSERT_TRUE(s.allocate(pod("a")).ok());  // .2
  ASSERT_TRUE(s.release(pod("a")).ok());
  auto b = s.allocate(pod("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, ip("10.244.1.3")) << "round-robin after the last reserved address";
}

TEST(IpamStore, SurvivesARestart) {
  TempDir tmp;
  {
    IpamStore s = open_small(tmp.path());
    ASSERT_TRUE(s.allocate(pod("a")).ok());
    ASSERT_TRUE(s.allocate(pod("b")).ok());
  }
  IpamStore again = open_small(tmp.path());
  auto held = again.lookup(pod("b"));
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ(**held, ip("10.244.1.3"));
  auto c = again.allocate(pod("c"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, ip("10.244.1.4"));
}

TEST(IpamStore, ConcurrentProcessesNeverShareAnAddress) {
  TempDir tmp;
  auto subnet = *parse_ipv4_prefix("10.244.2.0/26");  // 61 pod addresses
  const int kProcs = 4, kEach = 15;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = IpamStore::open(tmp.path(), subnet, ip("10.244.2.2"), ip("10.244.2.62"));
      if (!s.ok()) ::_exit(2);
      for (int i = 0; i < kEach; ++i) {
        if (!s->allocate(pod("proc" + std::to_string(p) + "-" + std::to_string(i))).ok()) {
          ::_exit(3);
        }
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto s = IpamStore::open(tmp.path(), subnet, ip("10.244.2.2"), ip("10.244.2.62"));
  ASSERT_TRUE(s.ok());
  auto list = s->list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), static_cast<std::size_t>(kProcs * kEach));
  std::set<std::string> owners;
  for (const auto& a : *list) {
    owners.insert(a.owner.container_id);
    auto held = s->lookup(a.owner);
    ASSERT_TRUE(held.ok() && held->has_value());
    EXPECT_EQ(**held, a.ip) << a.owner.container_id;
  }
  EXPECT_EQ(owners.size(), static_cast<std::size_t>(kProcs * kEach));
  auto free = s->free_count();
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(*free, 61u - kProcs * kEach);
}

TEST(IpamStore, ConcurrentThreadsNeverShareAnAddress) {
  TempDir tmp;
  auto subnet = *parse_ipv4_prefix("10.244.3.0/26");
  std::vector<std::thread> threads;
  std::vector<std::vector<uint32_t>> got(4);
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto s = IpamStore::open(tmp.path(), subnet, ip("10.244.3.2"), ip("10.244.3.62"));
      if (!s.ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < 15; ++i) {
        auto a = s->allocate(pod("t" + std::to_string(t) + "-" + std::to_string(i)));
        if (a.ok()) got[static_cast<std::size_t>(t)].push_back(*a);
        else ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<uint32_t> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 60u) << "every address handed out once";
}

// A torn store is what a power loss leaves: empty or garbage records, temp files.
TEST(IpamStore, RecoveryRepairsAGarbageClaimWhoseOwnerIsIndexed) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  ASSERT_TRUE(s.allocate(pod("a")).ok());  // .2
  write_file(fs::path(tmp.path()) / "ips" / "10.244.1.2", "{\"ip\":\"10.2");  // torn
  auto r = s.recover();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->claims_repaired, 1);
  EXPECT_EQ(r->claims_reclaimed, 0);
  auto held = s.lookup(pod("a"));
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_EQ(**held, ip("10.244.1.2")) << "the owner keeps its address";
}

TEST(IpamStore, RecoveryReclaimsAGarbageClaimOfAnUnknownOwner) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  write_file(fs::path(tmp.path()) / "ips" / "10.244.1.5", "");            // empty after a crash
  write_file(fs::path(tmp.path()) / "ips" / "10.244.1.6", "\x01garbage");  // not JSON
  write_file(fs::path(tmp.path()) / "ips" / ".tmp-99-0-10.244.1.3", "{");  // a writer's temp
  auto r = s.recover();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->claims_reclaimed, 2);
  EXPECT_EQ(r->temp_files_removed, 1);
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "ips" / "10.244.1.5"));
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "ips" / ".tmp-99-0-10.244.1.3"));
  auto free = s.free_count();
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(*free, 5u);
}

TEST(IpamStore, RecoveryRebuildsAndDropsIndexEntries) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  ASSERT_TRUE(s.allocate(pod("a")).ok());  // .2
  ASSERT_TRUE(s.allocate(pod("b")).ok());  // .3
  fs::path entries = fs::path(tmp.path()) / "attachments";
  fs::remove(entries / "a%eth0");                    // lost entry: rebuilt from the claim
  write_file(entries / "b%eth0", "zz");              // garbage entry: rewritten from the claim
  write_file(entries / "gone%eth0", "10.244.1.6\n");  // dangling: no claim behind it
  auto r = s.recover();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->entries_repaired, 2);
  EXPECT_EQ(r->entries_removed, 1);
  EXPECT_FALSE(fs::exists(entries / "gone%eth0"));
  for (auto [who, want] : {std::pair{"a", "10.244.1.2"}, std::pair{"b", "10.244.1.3"}}) {
    auto held = s.lookup(pod(who));
    ASSERT_TRUE(held.ok() && held->has_value()) << who;
    EXPECT_EQ(**held, ip(want));
  }
}

TEST(IpamStore, CrashBetweenIndexAndClaimLeavesNoLeak) {
  // ADD writes the index entry, then dies before the claim.
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  write_file(fs::path(tmp.path()) / "attachments" / "crashed%eth0", "10.244.1.2\n");
  // The retried ADD claims the indexed address.
  auto a = s.allocate(pod("crashed"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, ip("10.244.1.2"));
  // A DEL instead would have found nothing to release and left nothing behind.
  ASSERT_TRUE(s.release(pod("crashed")).ok());
  write_file(fs::path(tmp.path()) / "attachments" / "crashed2%eth0", "10.244.1.3\n");
  auto rel = s.release(pod("crashed2"));
  ASSERT_TRUE(rel.ok());
  EXPECT_TRUE(rel->empty());
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "attachments" / "crashed2%eth0"));
  auto free = s.free_count();
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(*free, 5u);
}

TEST(IpamStore, ExhaustedPoolRecoversTornClaimsBeforeGivingUp) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.allocate(pod("p" + std::to_string(i))).ok());
  write_file(fs::path(tmp.path()) / "ips" / "10.244.1.6", "");  // torn, owner unknown
  auto late = s.allocate(pod("late"));
  ASSERT_TRUE(late.ok()) << late.error().to_string();
  EXPECT_EQ(*late, ip("10.244.1.6"));
}

TEST(IpamStore, GcReleasesEveryClaimNotListedValid) {
  TempDir tmp;
  IpamStore s = open_small(tmp.path());
  ASSERT_TRUE(s.allocate(pod("keep")).ok());
  ASSERT_TRUE(s.allocate(pod("stale")).ok());
  ASSERT_TRUE(s.allocate(pod("keep", "net1")).ok());
  auto released = s.gc({pod("keep"), pod("keep", "net1")});
  ASSERT_TRUE(released.ok()) << released.error().to_string();
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ((*released)[0].owner, pod("stale"));
  auto list = s.list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "attachments" / "stale%eth0"));
}

TEST(IpamStore, UnusableDirectoryIsAnErrorNamingIt) {
  auto s = IpamStore::open("/proc/kernlet-no-such/ipam", small(), ip("10.244.1.2"),
                           ip("10.244.1.6"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("/proc/kernlet-no-such/ipam"), std::string::npos);
}

TEST(IpamStoreCodec, EntryNamesSplitAtTheFirstPercent) {
  auto who = decode_entry_name("abc-1%we%ird");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->container_id, "abc-1");
  EXPECT_EQ(who->ifname, "we%ird");
  EXPECT_FALSE(decode_entry_name("no-separator").has_value());
  EXPECT_FALSE(decode_entry_name("%eth0").has_value());
  auto c = decode_claim(encode_claim(ip("10.1.2.3"), pod("x")));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->ip, ip("10.1.2.3"));
  EXPECT_FALSE(decode_claim("{\"ip\":\"10.1.2.3\",\"containerID\":\"\",\"ifname\":\"e\"}"));
}

}  // namespace
}  // namespace kernlet::cni
