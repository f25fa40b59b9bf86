// NodeStatusManager's computations from a fake machine: facts, capacity and allocatable,
// pressure signals and conditions.
#include <gtest/gtest.h>

#include <thread>

#include "agent/node/node_status.h"
#include "tests/unit/agent/node/fake_host.h"

namespace kernlet::agent {
namespace {

using testing::FakeHostInfo;
constexpr int64_t kMi = 1024 * 1024;

std::map<std::string, std::string> strings(const api::ResourceList& l) {
  std::map<std::string, std::string> out;
  for (const auto& [k, q] : l) out[k] = q.to_string();
  return out;
}

TEST(HostInfoParsing, MeminfoInBytes) {
  auto m = parse_meminfo("MemTotal:        8388608 kB\nHugePages_Total:       4\nbroken line\nX: abc kB\n");
  EXPECT_EQ(m["MemTotal"], 8388608ll * 1024);
  EXPECT_EQ(m["HugePages_Total"], 4);
  EXPECT_EQ(m.count("X"), 0u);
}

TEST(HostInfoParsing, OsReleaseQuotingAndMissingKeys) {
  EXPECT_EQ(os_release_value("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "PRETTY_NAME"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(os_release_value("# c\nPRETTY_NAME='Alpine \"x\"'\n", "PRETTY_NAME"), "Alpine \"x\"");
  EXPECT_EQ(os_release_value("PRETTY_NAME=\"a \\\"q\\\" b\"", "PRETTY_NAME"), "a \"q\" b");
  EXPECT_EQ(os_release_value("ID=arch", "PRETTY_NAME"), std::nullopt);
}

TEST(HostInfoParsing, ArchitectureInGoSpelling) {
  EXPECT_EQ(go_arch("x86_64"), "amd64");
  EXPECT_EQ(go_arch("aarch64"), "arm64");
  EXPECT_EQ(go_arch("i686"), "386");
  EXPECT_EQ(go_arch("armv7l"), "arm");
  EXPECT_EQ(go_arch("riscv64"), "riscv64");
}

TEST(HostInfoParsing, DefaultRouteLowestMetric) {
  std::string routes =
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
      "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
      "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
  EXPECT_EQ(default_route_interface(routes), "eth0");
  EXPECT_EQ(default_route_interface("Iface\tDestination\n"), std::nullopt);
  EXPECT_EQ(loadavg_tasks("0.10 0.05 0.01 2/345 6789\n"), 345);
  EXPECT_EQ(loadavg_tasks("garbage"), std::nullopt);
}

TEST(HostInfoParsing, MachineFactsFromTheHost) {
  FakeHostInfo host;
  auto f = read_machine_facts(host);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->cpus, 4);
  EXPECT_EQ(f->memory_bytes, 8ll << 30);
  EXPECT_EQ(f->hostname, "node-1");
  EXPECT_EQ(f->kernel_version, "6.18.0-test");
  EXPECT_EQ(f->architecture, "amd64");
  EXPECT_EQ(f->os_image, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(f->machine_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(f->boot_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(f->system_uuid, "");

  host.files.erase("/etc/os-release");
  EXPECT_EQ(read_machine_facts(host)->os_image, "Linux");
  host.files.erase("/proc/meminfo");
  auto bad = read_machine_facts(host);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("/proc/meminfo"), std::string::npos);
}

TEST(HostInfoParsing, UsageTakesSmallerOfPidMaxAndThreadsMax) {
  FakeHostInfo host;
  auto u = read_host_usage(host, "/var/lib/kernlet");
  ASSERT_TRUE(u.ok()) << u.error().to_string();
  EXPECT_EQ(u->memory_available_bytes, 4ll << 30);
  EXPECT_EQ(u->fs_capacity_bytes, 100ll << 30);
  EXPECT_EQ(u->pid_max, 1000);
  EXPECT_EQ(u->pids_in_use, 100);
  EXPECT_EQ(host.statvfs_paths, std::vector<std::string>{"/var/lib/kernlet"});
}

TEST(NodeResources, AllocatableIsCapacityMinusReservedAndHardEviction) {
  FakeHostInfo host;
  MachineFacts f = *read_machine_facts(host);
  HostUsage u = *read_host_usage(host, "/");
  NodeOptions o;
  o.node_name = "n";
  o.system_reserved["cpu"] = *Quantity::parse("500m");
  o.system_reserved["memory"] = *Quantity::parse("1Gi");
  o.kube_reserved["cpu"] = *Quantity::parse("250m");
  o.kube_reserved["memory"] = *Quantity::parse("512Mi");
  o.kube_reserved["ephemeral-storage"] = *Quantity::parse("1Gi");
  auto r = compute_node_resources(f, u, o);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(strings(r->capacity), (std::map<std::string, std::string>{
                                      {"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}}));
  // memory: 8192Mi - 1024Mi - 512Mi - 100Mi (memory.available); storage: 100Gi - 1Gi - 10%.
  EXPECT_EQ(strings(r->allocatable), (std::map<std::string, std::string>{{"cpu", "3250m"},
                                                                         {"memory", "6556Mi"},
                                                                         {"pods", "110"},
                                                                         {"ephemeral-storage", "89Gi"}}));
}

TEST(NodeResources, AllocatableNeverNegativeAndThresholdsOptional) {
  FakeHostInfo host;
  MachineFacts f = *read_machine_facts(host);
  HostUsage u = *read_host_usage(host, "/");
  NodeOptions o;
  o.max_pods = 250;
  o.system_reserved["cpu"] = *Quantity::parse("8");
  o.eviction.memory_available = {};
  o.eviction.nodefs_available = {2ll << 30, 0};
  auto r = compute_node_resources(f, u, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->allocatable.at("cpu").to_string(), "0");
  EXPECT_EQ(r->allocatable.at("memory").to_string(), "8Gi");
  EXPECT_EQ(r->allocatable.at("ephemeral-storage").to_string(), "98Gi");
  EXPECT_EQ(r->allocatable.at("pods").to_string(), "250");
}

TEST(Pressure, SignalsAgainstThresholds) {
  HostUsage u;
  u.memory_capacity_bytes = 8ll << 30;
  u.memory_available_bytes = 200 * kMi;
  u.fs_capacity_bytes = 1000;
  u.fs_available_bytes = 100;
  u.pid_max = 1000;
  u.pids_in_use = 900;
  EvictionThresholds t;
  auto p = observe_pressure(u, t);
  EXPECT_FALSE(p.memory);  // 200Mi >= 100Mi
  EXPECT_FALSE(p.disk);    // 10% is not below 10%
  EXPECT_FALSE(p.pid);     // 100 available >= 5% of 1000
  u.memory_available_bytes = 99 * kMi;
  u.fs_available_bytes = 99;
  u.pids_in_use = 951;
  p = observe_pressure(u, t);
  EXPECT_TRUE(p.memory);
  EXPECT_TRUE(p.disk);
  EXPECT_TRUE(p.pid);
  t.pid_available = {};
  EXPECT_FALSE(observe_pressure(u, t).pid);
}

TEST(Conditions, ReasonsAndMessagesAsTheKubelet) {
  auto ok = node_conditions({}, {});
  ASSERT_EQ(ok.size(), 4u);
  EXPECT_EQ(ok[0].type, "MemoryPressure");
  EXPECT_EQ(ok[0].reason, "KubeletHasSufficientMemory");
  EXPECT_EQ(ok[1].reason, "KubeletHasNoDiskPressure");
  EXPECT_EQ(ok[2].reason, "KubeletHasSufficientPID");
  EXPECT_EQ(ok[3].type, "Ready");
  EXPECT_EQ(ok[3].status, "True");
  EXPECT_EQ(ok[3].reason, "KubeletReady");
  EXPECT_EQ(ok[3].message, "kernlet is posting ready status");

  auto bad = node_conditions({true, true, true}, {"container runtime not ready", "network plugin not ready"});
  EXPECT_EQ(bad[0].status, "True");
  EXPECT_EQ(bad[0].reason, "KubeletHasInsufficientMemory");
  EXPECT_EQ(bad[0].message, "kubelet has insufficient memory available");
  EXPECT_EQ(bad[1].reason, "KubeletHasDiskPressure");
  EXPECT_EQ(bad[2].reason, "KubeletHasInsufficientPID");
  EXPECT_EQ(bad[3].status, "False");
  EXPECT_EQ(bad[3].reason, "KubeletNotReady");
  EXPECT_EQ(bad[3].message, "container runtime not ready, network plugin not ready");
}

TEST(Conditions, TransitionTimeKeptWhileStatusHolds) {
  api::TimePoint t0{std::chrono::seconds(1'800'000'000)};
  ConditionState ready{"Ready", "True", "KubeletReady", "kernlet is posting ready status"};
  json::object first = condition_json(ready, nullptr, t0);
  EXPECT_EQ(first["lastTransitionTime"], first["lastHeartbeatTime"]);
  auto t1 = t0 + std::chrono::seconds(60);
  json::object same = condition_json(ready, &first, t1);
  EXPECT_EQ(same["lastTransitionTime"], json::value(api::format_rfc3339(t0)));
  EXPECT_EQ(same["lastHeartbeatTime"], json::value(api::format_rfc3339(t1)));
  ConditionState not_ready{"Ready", "False", "KubeletNotReady", "x"};
  json::object flipped = condition_json(not_ready, &same, t1);
  EXPECT_EQ(flipped["lastTransitionTime"], json::value(api::format_rfc3339(t1)));
}

TEST(EvictionThresholdTest, QuantityWinsOverPercentage) {
  EXPECT_EQ((EvictionThreshold{100, 0.5}).value_for(1000), 100);
  EXPECT_EQ((EvictionThreshold{0, 0.1}).value_for(1000), 100);
  EXPECT_EQ((EvictionThreshold{}).value_for(1000), 0);
  EXPECT_FALSE(EvictionThreshold{}.enabled());
}

// No API server at all (a closed loopback port): both threads keep retrying, callers never
// wait on them, and stop() returns promptly.
TEST(NodeStatusManagerOutage, RetriesWithoutBlockingAndStopsPromptly) {
  client::ClientConfig cfg;
  cfg.server = "http://127.0.0.1:1";
  auto rc = client::RestClient::create(cfg);
  ASSERT_TRUE(rc.ok()) << rc.error().to_string();
  NodeOptions o;
  o.node_name = "n1";
  o.node_ip = "192.0.2.1";
  o.check_interval = std::chrono::milliseconds(50);
  o.lease.retry_initial = std::chrono::milliseconds(10);
  o.lease.retry_max = std::chrono::milliseconds(40);
  auto host = std::make_shared<FakeHostInfo>();
  NodeStatusManager m(*rc, o, host, std::make_shared<FakeWallClock>());
  m.start();
  auto t0 = std::chrono::steady_clock::now();
  m.set_readiness("runtime", "container runtime is down");  // returns at once
  m.sync_now();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (m.lease().consecutive_failures() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(m.lease().consecutive_failures(), 3);
  EXPECT_FALSE(m.registered());
  EXPECT_FALSE(m.lease().last_renew().has_value());
  auto r = m.sync_status();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("n1"), std::string::npos) << r.error().to_string();
  t0 = std::chrono::steady_clock::now();
  m.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace kernlet::agent
