// Parsers of cgroup v2 interface files, on text as the kernel prints it.
#include "runtime/cgroups/cgroup_files.h"

#include <gtest/gtest.h>

namespace kernlet::cgroups {
namespace {

TEST(CpuStat, WithAndWithoutCpuController) {
  // Core accounting only (hybrid host: no cpu controller on cgroup2).
  auto s = parse_cpu_stat("usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->usage_usec, 1234u);
  EXPECT_EQ(s->user_usec, 1000u);
  EXPECT_EQ(s->system_usec, 234u);
  EXPECT_FALSE(s->nr_throttled.has_value());

  // With the cpu controller (6.1 also prints nr_bursts/burst_usec; 6.x core_sched.force_idle_usec).
  s = parse_cpu_stat(
      "usage_usec 5\nuser_usec 3\nsystem_usec 2\ncore_sched.force_idle_usec 0\n"
      "nr_periods 40\nnr_throttled 12\nthrottled_usec 99000\nnr_bursts 0\nburst_usec 0\n");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->nr_periods, 40u);
  EXPECT_EQ(s->nr_throttled, 12u);
  EXPECT_EQ(s->throttled_usec, 99000u);
}

TEST(CpuStat, Errors) {
  auto s = parse_cpu_stat("usage_usec 1\nnr_throttled lots\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "cpu.stat line 2 \"nr_throttled lots\": expected \"<key> <unsigned integer>\"");
  EXPECT_FALSE(parse_cpu_stat("").ok());
  EXPECT_FALSE(parse_cpu_stat("usage_usec -1\n").ok());
  EXPECT_FALSE(parse_cpu_stat("usage_usec\n").ok());
  EXPECT_FALSE(parse_cpu_stat(" 5\n").ok());
}

TEST(MemoryEvents, OomKill) {
  auto e = parse_memory_events("low 0\nhigh 3\nmax 17\noom 1\noom_kill 1\noom_group_kill 0\n");
  ASSERT_TRUE(e.ok()) << e.error().to_string();
  EXPECT_EQ(e->high, 3u);
  EXPECT_EQ(e->max, 17u);
  EXPECT_EQ(e->oom, 1u);
  EXPECT_EQ(e->oom_kill, 1u);
  // Kernels before 5.17 have no oom_group_kill line.
  e = parse_memory_events("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->oom_group_kill, 0u);
  EXPECT_FALSE(parse_memory_events("low 0\n").ok());
}

TEST(CgroupEvents, PopulatedAndFrozen) {
  struct Case {
    const char* text;
    bool ok, populated, frozen;
  } cases[] = {
      {"populated 1\nfrozen 0\n", true, true, false},
      {"populated 0\nfrozen 1\n", true, false, true},
      {"populated 0\n", true, false, false},
      {"frozen 1\n", false, false, false},
      {"populated yes\n", false, false, false},
  };
  for (const auto& c : cases) {
    auto e = parse_cgroup_events(c.text);
    ASSERT_EQ(e.ok(), c.ok) << c.text;
    if (!c.ok) continue;
    EXPECT_EQ(e->populated, c.populated) << c.text;
    EXPECT_EQ(e->frozen, c.frozen) << c.text;
  }
}

TEST(Controllers, SpaceSeparated) {
  EXPECT_EQ(parse_controllers("cpuset cpu io memory hugetlb pids rdma misc\n"),
            (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma",
                                      "misc"}));
  EXPECT_TRUE(parse_controllers("\n").empty());
  EXPECT_TRUE(parse_controllers("").empty());
}

TEST(Procs, OnePerLine) {
  auto p = parse_procs("1\n42\n\n1234567\n");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (std::vector<pid_t>{1, 42, 1234567}));
  EXPECT_TRUE(parse_procs("")->empty());
  auto bad = parse_procs("12\nx\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "cgroup.procs line 2 \"x\": expected a pid");
  EXPECT_FALSE(parse_procs("0\n").ok());
}

TEST(U64File, MemoryCurrent) {
  EXPECT_EQ(*parse_u64_file("8192\n", "memory.current"), 8192u);
  auto bad = parse_u64_file("max\n", "pids.max");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "pids.max \"max\": expected an unsigned integer");
}

}  // namespace
}  // namespace kernlet::cgroups
