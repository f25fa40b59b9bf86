// CgroupV2Driver against FakeCgroupFs: controller detection and enabling, pod/container
// layout, what is and is not enforced, OOM, events, kill/freeze waits, removal under EBUSY.
#include "runtime/cgroups/cgroup_v2_driver.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <cerrno>
#include <thread>

#include "runtime/cgroups/fake_cgroup_fs.h"

namespace kernlet::cgroups {
namespace {

using namespace std::chrono_literals;

constexpr const char* kMount = "/sys/fs/cgroup";
constexpr const char* kRoot = "/sys/fs/cgroup/kernlet";

CgroupV2Options opts(std::string root = kRoot) {
  CgroupV2Options o;
  o.root = std::move(root);
  o.memory_qos.node_allocatable_bytes = 1 << 30;
  return o;
}

Resources limited() {
  Resources r;
  r.cpu_request_milli = 500;
  r.cpu_limit_milli = 1000;
  r.memory_request_bytes = 64 << 20;
  r.memory_limit_bytes = 128 << 20;
  r.pids_limit = 64;
  return r;
}

TEST(Driver, PureV2HostEnablesEverythingAlongThePath) {
  FakeCgroupFs fs(kMount, {"cpuset", "cpu", "io", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts("/sys/fs/cgroup/kernlet.slice/nodes"));
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  const auto& rep = d->controllers();
  EXPECT_EQ(rep.mount, kMount);
  EXPECT_EQ(rep.enabled, (std::vector<std::string>{"cpu", "memory", "pids"}));
  EXPECT_TRUE(rep.missing.empty());
  EXPECT_TRUE(rep.fully_enforced());
  EXPECT_EQ(rep.summary(),
            "cgroup2 at /sys/fs/cgroup, root /sys/fs/cgroup/kernlet.slice/nodes: enforcing cpu, "
            "memory, pids");
  // Intermediate cgroups created and every level enables the three controllers (not io).
  EXPECT_TRUE(fs.is_dir("/sys/fs/cgroup/kernlet.slice"));
  EXPECT_EQ(*fs.file("/sys/fs/cgroup/cgroup.subtree_control"), "cpu memory pids\n");
  EXPECT_EQ(*fs.file("/sys/fs/cgroup/kernlet.slice/cgroup.subtree_control"), "cpu memory pids\n");
  EXPECT_EQ(*fs.file("/sys/fs/cgroup/kernlet.slice/nodes/cgroup.subtree_control"),
            "cpu memory pids\n");
}

TEST(Driver, OpenIsIdempotentAndDoesNotRewriteEnabledControllers) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  ASSERT_TRUE(CgroupV2Driver::open(fs, opts()).ok());
  size_t writes = fs.writes().size();
  auto again = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(fs.writes().size(), writes);
  EXPECT_TRUE(again->controllers().fully_enforced());
}

TEST(Driver, HybridHostReportsMissingControllers) {
  FakeCgroupFs fs("/sys/fs/cgroup/unified", {"hugetlb"}, /*tmpfs*/ 0x01021994);
  auto d = CgroupV2Driver::open(fs, opts("/sys/fs/cgroup/unified/kernlet.slice"));
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  const auto& rep = d->controllers();
  EXPECT_EQ(rep.mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(rep.available, std::vector<std::string>{"hugetlb"});
  EXPECT_TRUE(rep.enabled.empty());
  ASSERT_EQ(rep.missing.size(), 3u);
  EXPECT_EQ(rep.missing[0].name, "cpu");
  EXPECT_EQ(rep.missing[0].reason,
            "not in /sys/fs/cgroup/unified/cgroup.controllers: bound to a cgroup v1 hierarchy "
            "or not built into the kernel");
  EXPECT_NE(rep.summary().find("NOT enforcing memory"), std::string::npos);
  // hugetlb is not ours to enable.
  EXPECT_EQ(*fs.file("/sys/fs/cgroup/unified/cgroup.subtree_control"), "\n");

  auto pod = d->ensure_pod("p1", limited());
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  EXPECT_TRUE(pod->applied.empty());
  EXPECT_EQ(pod->not_enforced.size(), 5u);
  auto ctr = d->ensure_container("p1", "c1", limited());
  ASSERT_TRUE(ctr.ok()) << ctr.error().to_string();
  EXPECT_FALSE(ctr->fully_enforced());
  EXPECT_EQ(ctr->not_enforced.size(), 7u);
  EXPECT_EQ(ctr->summary().rfind("/sys/fs/cgroup/unified/kernlet.slice/pod-p1/ctr-c1: not "
                                 "enforced (controller missing): cpu.weight=20, cpu.max=100000 "
                                 "100000, memory.max=134217728",
                                 0),
            0u)
      << ctr->summary();
  // OOM kills cannot be observed without the memory controller: unknown, not "no".
  auto oom = d->oom_killed(*d->container_path("p1", "c1"));
  ASSERT_TRUE(oom.ok()) << oom.error().to_string();
  EXPECT_FALSE(oom->has_value());
  auto u = d->usage(*d->container_path("p1", "c1"));
  ASSERT_TRUE(u.ok()) << u.error().to_string();
  EXPECT_FALSE(u->memory_current.has_value());
  EXPECT_FALSE(u->cpu.nr_throttled.has_value());
}

TEST(Driver, BusyParentIsReported) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  // kernlet runs inside a service cgroup that holds processes: enabling controllers for
  // its children fails EBUSY (no-internal-processes rule); the mount root is exempt.
  ASSERT_TRUE(fs.mkdir("/sys/fs/cgroup/svc").ok());
  ASSERT_TRUE(fs.write("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids").ok());
  fs.set_procs("/sys/fs/cgroup/svc", true);
  auto d = CgroupV2Driver::open(fs, opts("/sys/fs/cgroup/svc/kernlet"));
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  const auto& rep = d->controllers();
  EXPECT_TRUE(rep.enabled.empty());
  ASSERT_EQ(rep.missing.size(), 3u);
  for (const auto& m : rep.missing)
    EXPECT_EQ(m.reason,
              "enabling it in /sys/fs/cgroup/svc/cgroup.subtree_control failed: write \"+" +
                  m.name +
                  "\" to /sys/fs/cgroup/svc/cgroup.subtree_control: EBUSY (that cgroup holds "
                  "processes: no-internal-processes rule)");
  // The mount root got cpu too.
  EXPECT_EQ(*fs.file("/sys/fs/cgroup/cgroup.subtree_control"), "memory pids cpu\n");
}

TEST(Driver, UnavailableControllerIsNotDelegated) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  ASSERT_TRUE(fs.mkdir("/sys/fs/cgroup/a").ok());
  fs.fail("write", "/sys/fs/cgroup/cgroup.subtree_control", EACCES, 3);
  auto d = CgroupV2Driver::open(fs, opts("/sys/fs/cgroup/a/kernlet"));
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  ASSERT_EQ(d->controllers().missing.size(), 3u);
  EXPECT_EQ(d->controllers().missing[2].reason,
            "enabling it in /sys/fs/cgroup/cgroup.subtree_control failed: write \"+pids\" to "
            "/sys/fs/cgroup/cgroup.subtree_control: EACCES");
}

TEST(Driver, RejectsRootsOffCgroup2AndBadRoots) {
  FakeCgroupFs fs("/sys/fs/cgroup/unified", {}, 0x01021994);
  auto d = CgroupV2Driver::open(fs, opts("/sys/fs/cgroup/memory/kernlet"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message(),
            "cgroup root /sys/fs/cgroup/memory/kernlet: not on a cgroup2 hierarchy "
            "(/sys/fs/cgroup has statfs type 0x1021994, cgroup2 is 0x63677270)");
  for (const char* bad : {"relative/x", "/", "/sys/fs/cgroup/unified/", "/sys/fs/../x",
                          "/sys//fs"}) {
    auto r = CgroupV2Driver::open(fs, opts(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(Driver, PodIsInteriorContainerIsLeafWithSettings) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  Resources r = limited();
  std::vector<Resources> one = {r};
  auto pod = d->ensure_pod("uid-1", pod_resources(one, {}, 1024));
  ASSERT_TRUE(pod.ok()) << pod.error().to_string();
  EXPECT_TRUE(pod->fully_enforced());
  EXPECT_EQ(pod->summary(), "/sys/fs/cgroup/kernlet/pod-uid-1: all 5 settings enforced");
  const std::string p = "/sys/fs/cgroup/kernlet/pod-uid-1";
  EXPECT_EQ(*fs.file(p + "/cgroup.subtree_control"), "cpu memory pids\n");
  EXPECT_EQ(*fs.file(p + "/pids.max"), "1024\n");
  EXPECT_EQ(*fs.file(p + "/cpu.max"), "100000 100000\n");

  auto c = d->ensure_container("uid-1", "web", r);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  const std::string cp = p + "/ctr-web";
  EXPECT_EQ(c->path, cp);
  EXPECT_EQ(*fs.file(cp + "/cpu.weight"), "20\n");
  EXPECT_EQ(*fs.file(cp + "/cpu.max"), "100000 100000\n");
  EXPECT_EQ(*fs.file(cp + "/memory.max"), "134217728\n");
  EXPECT_EQ(*fs.file(cp + "/memory.min"), "67108864\n");
  EXPECT_EQ(*fs.file(cp + "/memory.oom.group"), "1\n");
  EXPECT_EQ(*fs.file(cp + "/pids.max"), "64\n");
  EXPECT_EQ(*fs.file(cp + "/cgroup.subtree_control"), "\n");  // a leaf

  // Resize: ensure again with a new limit.
  r.memory_limit_bytes = 256 << 20;
  ASSERT_TRUE(d->ensure_container("uid-1", "web", r).ok());
  EXPECT_EQ(*fs.file(cp + "/memory.max"), "268435456\n");

  EXPECT_EQ(*d->list_pods(), std::vector<std::string>{"uid-1"});
  EXPECT_EQ(*d->list_containers("uid-1"), std::vector<std::string>{"web"});
  EXPECT_TRUE(d->open_leaf_fd("uid-1", "web").ok());
  EXPECT_EQ(d->open_leaf_fd("uid-1", "nope").error().code(), ErrorCode::kNotFound);
}

TEST(Driver, ContainerNeedsItsPodAndValidInput) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  auto c = d->ensure_container("ghost", "c", Resources{});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(c.error().message().find("ensure_pod first"), std::string::npos);

  auto bad_id = d->ensure_pod("../etc", Resources{});
  ASSERT_FALSE(bad_id.ok());
  EXPECT_EQ(bad_id.error().message(),
            "pod id \"../etc\": must not start with '.'");
  EXPECT_FALSE(d->ensure_pod("a/b", Resources{}).ok());
  EXPECT_FALSE(d->ensure_pod("", Resources{}).ok());
  EXPECT_FALSE(d->ensure_pod(std::string(201, 'x'), Resources{}).ok());

  Resources neg;
  neg.cpu_limit_milli = -1;
  auto bad = d->ensure_pod("p", neg);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "pod cgroup /sys/fs/cgroup/kernlet/pod-p: cpu limit (milliCPU) -1: must be positive");
  EXPECT_FALSE(fs.is_dir("/sys/fs/cgroup/kernlet/pod-p"));  // nothing touched
}

TEST(Driver, WriteFailureNamesPathAndErrno) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  fs.fail("write", "/sys/fs/cgroup/kernlet/pod-p/ctr-c/memory.max", ENOSPC);
  auto c = d->ensure_container("p", "c", limited());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().sys_errno(), ENOSPC);
  EXPECT_EQ(c.error().to_string(),
            "container cgroup /sys/fs/cgroup/kernlet/pod-p/ctr-c: write \"134217728\" to "
            "/sys/fs/cgroup/kernlet/pod-p/ctr-c/memory.max: ENOSPC");
}

TEST(Driver, OnlyOwnedPathsAreTouched) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  for (const char* p : {"/sys/fs/cgroup", "/sys/fs/cgroup/kernlet", "/sys/fs/cgroup/kernlet2/x",
                        "/sys/fs/cgroup/kernlet/../system.slice", "/sys/fs/cgroup/kernlet/"}) {
    auto k = d->kill(p);
    ASSERT_FALSE(k.ok()) << p;
    EXPECT_EQ(k.error().code(), ErrorCode::kInvalidArgument) << p;
    EXPECT_FALSE(d->remove(p, 100ms).ok()) << p;
  }
}

TEST(Driver, MoveProcessWritesCgroupProcs) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(d->ensure_container("p", "c", Resources{}).ok());
  std::string cp = *d->container_path("p", "c");
  ASSERT_TRUE(d->move_process(cp, 4242).ok());
  EXPECT_EQ(fs.writes().back(), cp + "/cgroup.procs=4242");
  EXPECT_EQ(d->move_process(cp, 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(d->move_process("/sys/fs/cgroup", 1).error().code(), ErrorCode::kInvalidArgument);
}

TEST(Driver, OomKilledFromMemoryEvents) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(d->ensure_container("p", "c", limited()).ok());
  std::string cp = *d->container_path("p", "c");
  EXPECT_EQ(**d->oom_killed(cp), false);
  fs.set_file(cp + "/memory.events", "low 0\nhigh 4\nmax 9\noom 1\noom_kill 1\noom_group_kill 1\n");
  fs.set_file(cp + "/memory.current", "1048576\n");
  EXPECT_EQ(**d->oom_killed(cp), true);
  auto u = d->usage(cp);
  ASSERT_TRUE(u.ok()) << u.error().to_string();
  EXPECT_EQ(u->memory_current, 1048576u);
  EXPECT_EQ(u->memory_events->oom_kill, 1u);
  EXPECT_EQ(u->cpu.nr_throttled, 0u);
}

TEST(Driver, WatchWakesWhenLeafEmpties) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(d->ensure_container("p", "c", Resources{}).ok());
  std::string cp = *d->container_path("p", "c");
  fs.set_procs(cp, true);
  EXPECT_TRUE(d->events(*d->pod_path("p"))->populated);  // hierarchical
  auto w = d->watch(cp);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  EXPECT_TRUE(w->read()->populated);
  pollfd p{w->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // nothing changed yet
  fs.set_procs(cp, false);
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  EXPECT_FALSE(w->read()->populated);
  EXPECT_FALSE(d->events(*d->pod_path("p"))->populated);
}

TEST(Driver, WaitEmptyTimesOutNamingTheCgroup) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  std::string pp = *d->pod_path("p");
  ASSERT_TRUE(d->ensure_container("p", "c", Resources{}).ok());
  fs.set_procs(pp + "/ctr-c", true);
  auto w = d->wait_empty(pp, 50ms);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(w.error().message(),
            "/sys/fs/cgroup/kernlet/pod-p: not empty after 50 ms (populated 1, frozen 0)");
}

TEST(Driver, FreezeAndThawWaitForTheState) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  std::string pp = *d->pod_path("p");
  ASSERT_TRUE(d->freeze(pp, 1s).ok());
  EXPECT_TRUE(d->events(pp)->frozen);
  ASSERT_TRUE(d->thaw(pp, 1s).ok());
  EXPECT_FALSE(d->events(pp)->frozen);
}

TEST(Driver, RemoveKillsWaitsAndRemovesBottomUp) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  ASSERT_TRUE(d->ensure_container("p", "a", Resources{}).ok());
  ASSERT_TRUE(d->ensure_container("p", "b", Resources{}).ok());
  std::string pp = *d->pod_path("p");
  fs.set_procs(pp + "/ctr-a", true);
  fs.set_procs(pp + "/ctr-b", true);
  // A slow kill: the processes die 30 ms after cgroup.kill; removal waits on cgroup.events.
  fs.set_kill_empties(false);
  std::thread dier([&] {
    std::this_thread::sleep_for(30ms);
    fs.set_procs(pp + "/ctr-a", false);
    fs.set_procs(pp + "/ctr-b", false);
  });
  // And rmdir of the pod is EBUSY twice (a dying task still counted) before it succeeds.
  fs.fail("rmdir", pp, EBUSY, 2);
  auto r = d->remove(pp, 5s);
  dier.join();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(fs.is_dir(pp));
  EXPECT_TRUE(fs.is_dir(kRoot));
  auto writes = fs.writes();
  EXPECT_NE(std::find(writes.begin(), writes.end(), pp + "/cgroup.kill=1"), writes.end());
  // Removing what is gone is fine.
  EXPECT_TRUE(d->remove(pp, 1s).ok());
}

TEST(Driver, RemoveGivesUpAtTheDeadline) {
  FakeCgroupFs fs(kMount, {"cpu", "memory", "pids"});
  auto d = CgroupV2Driver::open(fs, opts());
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->ensure_pod("p", Resources{}).ok());
  std::string pp = *d->pod_path("p");
  fs.fail("rmdir", pp, EBUSY, 1000000);
  auto r = d->remove(pp, 50ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), EBUSY);
  EXPECT_EQ(r.error().to_string(),
            "remove cgroup /sys/fs/cgroup/kernlet/pod-p: rmdir /sys/fs/cgroup/kernlet/pod-p: "
            "EBUSY");
}

}  // namespace
}  // namespace kernlet::cgroups
