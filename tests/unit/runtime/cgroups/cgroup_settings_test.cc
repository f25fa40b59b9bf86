// Requests/limits -> cgroup v2 values, against the kubelet's and runc's formulas.
#include "runtime/cgroups/cgroup_settings.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace kernlet::cgroups {
namespace {

constexpr int64_t kMi = 1024 * 1024;
constexpr int64_t kGi = 1024 * kMi;

TEST(CpuShares, KubeletMilliCpuToShares) {
  struct Case {
    int64_t milli, shares;
  } cases[] = {
      {0, 2},        {-5, 2},        {1, 2},           {2, 2},    {3, 3},
      {10, 10},      {100, 102},     {250, 256},       {500, 512}, {1000, 1024},
      {1500, 1536},  {2000, 2048},   {256000, 262144}, {300000, 262144},
      {INT64_MAX, 262144},
  };
  for (const auto& c : cases) EXPECT_EQ(cpu_shares_from_milli(c.milli), c.shares) << c.milli;
}

TEST(CpuWeight, RuncSharesToWeight) {
  struct Case {
    int64_t shares, weight;
  } cases[] = {
      {2, 1},  {0, 1},     {102, 4},     {256, 10},        {512, 20},
      {1024, 39}, {2048, 79}, {262144, 10000}, {1000000, 10000},
  };
  for (const auto& c : cases) EXPECT_EQ(cpu_weight_from_shares(c.shares), c.weight) << c.shares;
}

TEST(CpuQuota, KubeletMilliCpuToQuota) {
  struct Case {
    int64_t milli, quota;
  } cases[] = {
      {0, 0}, {-1, 0}, {1, 1000}, {5, 1000}, {10, 1000}, {11, 1100},
      {100, 10000}, {250, 25000}, {1000, 100000}, {2500, 250000},
  };
  for (const auto& c : cases) EXPECT_EQ(cpu_quota_from_milli(c.milli), c.quota) << c.milli;
}

TEST(MemoryHigh, Kep2570Rules) {
  MemoryQos qos;
  qos.node_allocatable_bytes = 8 * kGi;
  struct Case {
    const char* name;
    std::optional<int64_t> req, lim;
    std::optional<int64_t> high;
  } cases[] = {
      // 128Mi + 0.9 * (256Mi - 128Mi) = 243.2Mi -> floor to pages.
      {"burstable with limit", 128 * kMi, 256 * kMi, (128 * kMi + 128 * kMi * 9 / 10) / 4096 * 4096},
      {"guaranteed", 256 * kMi, 256 * kMi, std::nullopt},
      {"limit only", std::nullopt, 100 * kMi, (100 * kMi * 9 / 10) / 4096 * 4096},
      // No limit: the node's allocatable memory stands in.
      {"request only", 128 * kMi, std::nullopt,
       (128 * kMi + (8 * kGi - 128 * kMi) * 9 / 10) / 4096 * 4096},
      {"best effort", std::nullopt, std::nullopt, std::nullopt},
      // A result not above the request is not written.
      {"tiny gap", 4096 * 10, 4096 * 10 + 1, std::nullopt},
  };
  for (const auto& c : cases) {
    auto got = memory_high(c.req, c.lim, qos);
    EXPECT_EQ(got, c.high) << c.name;
    if (got) {
      EXPECT_EQ(*got % 4096, 0) << c.name;
    }
  }
  MemoryQos off = qos;
  off.enabled = false;
  EXPECT_EQ(memory_high(128 * kMi, 256 * kMi, off), std::nullopt);
  MemoryQos unknown_node;  // no allocatable known
  EXPECT_EQ(memory_high(128 * kMi, std::nullopt, unknown_node), std::nullopt);
}

TEST(Validate, NamesTheField) {
  Resources r;
  r.memory_limit_bytes = -5;
  auto v = validate(r);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message(), "memory limit (bytes) -5: must be positive");
  EXPECT_EQ(v.error().code(), ErrorCode::kInvalidArgument);

  r = {};
  r.cpu_request_milli = 2000;
  r.cpu_limit_milli = 1000;
  ASSERT_FALSE(validate(r).ok());
  EXPECT_NE(validate(r).error().message().find("cpu request 2000m"), std::string::npos);

  r = {};
  r.pids_limit = 0;
  EXPECT_FALSE(validate(r).ok());
  r = {};
  r.cpu_request_milli = 0;  // explicit zero request is fine
  EXPECT_TRUE(validate(r).ok());
}

TEST(SettingsFor, BurstableContainer) {
  Resources r;
  r.cpu_request_milli = 250;
  r.cpu_limit_milli = 500;
  r.memory_request_bytes = 64 * kMi;
  r.memory_limit_bytes = 128 * kMi;
  r.pids_limit = 100;
  MemoryQos qos;
  std::vector<Setting> want = {
      {"cpu.weight", "10", "cpu"},
      {"cpu.max", "50000 100000", "cpu"},
      {"memory.max", std::to_string(128 * kMi), "memory"},
      {"memory.min", std::to_string(64 * kMi), "memory"},
      {"memory.high", std::to_string((64 * kMi + 64 * kMi * 9 / 10) / 4096 * 4096), "memory"},
      {"memory.oom.group", "1", "memory"},
      {"pids.max", "100", "pids"},
  };
  EXPECT_EQ(settings_for(r, Level::kContainer, qos), want);
}

TEST(SettingsFor, BestEffortContainerWritesUnlimitedValues) {
  MemoryQos qos;
  qos.enabled = false;
  std::vector<Setting> want = {
      {"cpu.weight", "1", "cpu"},          {"cpu.max", "max 100000", "cpu"},
      {"memory.max", "max", "memory"},     {"memory.min", "0", "memory"},
      {"memory.high", "max", "memory"},    {"memory.oom.group", "1", "memory"},
      {"pids.max", "max", "pids"},
  };
  EXPECT_EQ(settings_for(Resources{}, Level::kContainer, qos), want);
}

TEST(SettingsFor, PodLevelHasNoMemoryHighOrOomGroup) {
  Resources r;
  r.cpu_request_milli = 1000;
  r.memory_limit_bytes = kGi;
  std::vector<Setting> want = {
      {"cpu.weight", "39", "cpu"},         {"cpu.max", "max 100000", "cpu"},
      {"memory.max", std::to_string(kGi), "memory"}, {"memory.min", "0", "memory"},
      {"pids.max", "max", "pids"},
  };
  EXPECT_EQ(settings_for(r, Level::kPod, MemoryQos{}), want);
}

TEST(PodResources, SumsRequestsAndLimitsOnlyWhenAllDeclare) {
  Resources a, b;
  a.cpu_request_milli = 100;
  a.cpu_limit_milli = 200;
  a.memory_request_bytes = 10 * kMi;
  a.memory_limit_bytes = 20 * kMi;
  b.cpu_request_milli = 300;
  b.cpu_limit_milli = 400;
  b.memory_request_bytes = 30 * kMi;  // no memory limit
  std::vector<Resources> app = {a, b};
  Resources pod = pod_resources(app, {}, 1024);
  EXPECT_EQ(pod.cpu_request_milli, 400);
  EXPECT_EQ(pod.cpu_limit_milli, 600);
  EXPECT_EQ(pod.memory_request_bytes, 40 * kMi);
  EXPECT_EQ(pod.memory_limit_bytes, std::nullopt);  // b has none
  EXPECT_EQ(pod.pids_limit, 1024);
}

TEST(PodResources, InitContainerMaxWins) {
  Resources app1, init1;
  app1.cpu_request_milli = 100;
  app1.cpu_limit_milli = 100;
  init1.cpu_request_milli = 500;
  init1.cpu_limit_milli = 800;
  std::vector<Resources> app = {app1}, init = {init1};
  Resources pod = pod_resources(app, init, std::nullopt);
  EXPECT_EQ(pod.cpu_request_milli, 500);
  EXPECT_EQ(pod.cpu_limit_milli, 800);
  EXPECT_EQ(pod.memory_request_bytes, std::nullopt);
  EXPECT_EQ(pod.pids_limit, std::nullopt);
  EXPECT_EQ(pod_resources({}, {}, std::nullopt), Resources{});
}

}  // namespace
}  // namespace kernlet::cgroups
