// ProbeManager's timing and threshold semantics against a fake clock and a scripted runner.
#include "agent/prober/probe_manager.h"
#include "api/objects/pod.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

namespace kernlet::agent {
using api::IntOrString;
using api::ProbeView;
namespace {

using std::chrono::seconds;

class FakeClock : public ProbeClock {
 public:
  std::chrono::steady_clock::time_point now() override { return steady; }
  std::chrono::system_clock::time_point wall_now() override { return wall; }
  void advance(std::chrono::milliseconds d) {
    steady += d;
    wall += d;
  }
  std::chrono::steady_clock::time_point steady{std::chrono::hours(1000)};
  std::chrono::system_clock::time_point wall{std::chrono::hours(500000)};
};

// Answers each probe by its exec command's first word ("live", "ready", "start").
class ScriptedRunner : public ProbeRunner {
 public:
  ProbeResult run(const ProbeTarget& target, const json::object& probe) override {
    std::lock_guard lock(mu);
    std::string key(ProbeView(probe).handler().exec_command().at(0));
    calls[key]++;
    last_container_id = target.container_id;
    auto& q = script[key];
    if (q.empty()) return {fallback[key], key + " default"};
    ProbeOutcome o = q.front();
    q.pop_front();
    return {o, key + " scripted"};
  }
  int count(const std::string& key) {
    std::lock_guard lock(mu);
    return calls[key];
  }
  std::mutex mu;
  std::map<std::string, std::deque<ProbeOutcome>> script;
  std::map<std::string, ProbeOutcome> fallback;
  std::map<std::string, int> calls;
  std::string last_container_id;
};

json::object probe(const std::string& word, int period = 10, int success = 0, int failure = 0,
                   int delay = 0) {
  json::object p;
  p["exec"] = json::object{{"command", json::array{json::string(word)}}};
  if (period) p["periodSeconds"] = period;
  if (success) p["successThreshold"] = success;
  if (failure) p["failureThreshold"] = failure;
  if (delay) p["initialDelaySeconds"] = delay;
  return p;
}

class ProbeManagerTest : public ::testing::Test {
 protected:
  ProbeManagerTest()
      : mgr(runner, clock, [this](const std::string& uid) { changes.push_back(uid); },
            [this](const ProbeEvent& e) { events.push_back(e); }, ProbeManagerOptions{1, false}) {
    runner.fallback["live"] = ProbeOutcome::kSuccess;
    runner.fallback["ready"] = ProbeOutcome::kSuccess;
    runner.fallback["start"] = ProbeOutcome::kFailure;
  }

  ProbeTarget target(json::object container, const std::string& id = "c1") {
    ProbeTarget t;
    t.pod_uid = "uid-1";
    t.pod_namespace = "default";
    t.pod_name = "web";
    t.container_name = "app";
    t.container_id = id;
    t.started_at = clock.wall;
    container["name"] = "app";
    t.container = std::move(container);
    return t;
  }
  ContainerProbeState st() { return mgr.state("uid-1", "app"); }
  // Advances the clock one second at a time, running due probes, for `secs` seconds.
  void run_for(int secs) {
    for (int i = 0; i < secs; ++i) {
      clock.advance(seconds(1));
      (void)mgr.run_due();
    }
  }

  FakeClock clock;
  ScriptedRunner runner;
  std::vector<std::string> changes;
  std::vector<ProbeEvent> events;
  ProbeManager mgr;
};

TEST_F(ProbeManagerTest, ContainerWithoutProbesIsStartedAndReady) {
  mgr.update("uid-1", {target({})});
  auto s = st();
  EXPECT_EQ(s.container_id, "c1");
  EXPECT_TRUE(s.started);
  EXPECT_TRUE(s.ready);
  EXPECT_FALSE(s.liveness_failed);
  EXPECT_EQ(mgr.run_due(), std::nullopt);
  EXPECT_TRUE(changes.empty()) << "update()'s caller reads the state itself";
}

TEST_F(ProbeManagerTest, UnknownContainerHasDefaultState) {
  auto s = mgr.state("nope", "app");
  EXPECT_EQ(s.container_id, "");
  EXPECT_FALSE(s.started);
  EXPECT_FALSE(s.ready);
}

TEST_F(ProbeManagerTest, ReadinessStartsFalseAndNeedsSuccessThreshold) {
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready", 10, 2)}})});
  EXPECT_TRUE(st().started);
  EXPECT_FALSE(st().ready);
  (void)mgr.run_due();  // first probe at once: 1 success of 2
  EXPECT_EQ(runner.count("ready"), 1);
  EXPECT_FALSE(st().ready);
  run_for(9);
  EXPECT_EQ(runner.count("ready"), 1) << "at most once per period";
  run_for(1);
  EXPECT_EQ(runner.count("ready"), 2);
  EXPECT_TRUE(st().ready);
  // Readiness failing takes failureThreshold (3) consecutive failures, and never restarts.
  runner.fallback["ready"] = ProbeOutcome::kFailure;
  run_for(20);
  EXPECT_TRUE(st().ready);
  run_for(10);
  EXPECT_FALSE(st().ready);
  EXPECT_FALSE(st().liveness_failed);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().reason, "Unhealthy");
  EXPECT_EQ(events.back().message, "Readiness probe failed: ready default");
  EXPECT_EQ(events.back().type, "Warning");
  EXPECT_EQ(events.back().container_name, "app");
}

// An agent restart: the API says this very run was started and ready. The prober starts
// from that (not from "not ready", which would take the pod out of its Services), probes at
// once, and only failureThreshold failures undo it.
TEST_F(ProbeManagerTest, ARunTheApiReportedReadyStaysReadyUntilProbesSayOtherwise) {
  ProbeTarget t = target({{"startupProbe", probe("start", 10)}, {"readinessProbe", probe("ready", 10, 0, 3)}});
  t.reported_ready = true;
  t.reported_started = true;
  mgr.update("uid-1", {t});
  EXPECT_TRUE(st().started);
  EXPECT_TRUE(st().ready);
  runner.fallback["ready"] = ProbeOutcome::kFailure;
  (void)mgr.run_due();
  EXPECT_EQ(runner.count("start"), 0) << "a started run does not probe startup again";
  EXPECT_EQ(runner.count("ready"), 1) << "readiness is probed at once";
  EXPECT_TRUE(st().ready) << "one failure of three";
  run_for(19);
  EXPECT_EQ(runner.count("ready"), 2);
  EXPECT_TRUE(st().ready) << "two failures of three";
  run_for(1);
  EXPECT_FALSE(st().ready);
  EXPECT_EQ(runner.count("start"), 0);
}

TEST_F(ProbeManagerTest, ARunTheApiReportedNotReadyOrDidNotReportStartsNotReady) {
  ProbeTarget not_ready = target({{"readinessProbe", probe("ready", 10)}});
  not_ready.reported_ready = false;
  mgr.update("uid-1", {not_ready});
  EXPECT_FALSE(st().ready);
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready", 10)}}, "c2")});
  EXPECT_FALSE(st().ready) << "a run the API has not seen starts not ready";
  // A reported state only seeds a run the prober has not seen: a later update carrying one
  // does not override the prober's own results.
  ProbeTarget same = target({{"readinessProbe", probe("ready", 10)}}, "c2");
  same.reported_ready = true;
  mgr.update("uid-1", {same});
  EXPECT_FALSE(st().ready);
}

TEST_F(ProbeManagerTest, LivenessFailureThresholdWantsRestartAndHolds) {
  json::object live = probe("live", 5, 0, 3);
  live["terminationGracePeriodSeconds"] = 7;
  mgr.update("uid-1", {target({{"livenessProbe", live}})});
  runner.fallback["live"] = ProbeOutcome::kFailure;
  (void)mgr.run_due();
  run_for(5);
  EXPECT_EQ(runner.count("live"), 2);
  EXPECT_FALSE(st().liveness_failed) << "two failures are below the threshold of 3";
  changes.clear();
  run_for(5);
  EXPECT_EQ(runner.count("live"), 3);
  auto s = st();
  EXPECT_TRUE(s.liveness_failed);
  EXPECT_EQ(s.message, "Container app failed liveness probe, will be restarted");
  EXPECT_EQ(s.termination_grace_period_seconds, 7);
  EXPECT_EQ(changes, std::vector<std::string>{"uid-1"});
  EXPECT_TRUE(s.ready) << "liveness does not touch readiness";
  // On hold until a new container id: no more probes of this container.
  run_for(30);
  EXPECT_EQ(runner.count("live"), 3);
  // The restarted container starts over.
  mgr.update("uid-1", {target({{"livenessProbe", live}}, "c2")});
  s = st();
  EXPECT_FALSE(s.liveness_failed);
  EXPECT_EQ(s.message, "");
  EXPECT_EQ(s.container_id, "c2");
  (void)mgr.run_due();
  EXPECT_EQ(runner.count("live"), 4);
  EXPECT_EQ(runner.last_container_id, "c2");
}

TEST_F(ProbeManagerTest, ASuccessBetweenFailuresResetsTheCount) {
  mgr.update("uid-1", {target({{"livenessProbe", probe("live", 1, 0, 2)}})});
  runner.script["live"] = {ProbeOutcome::kFailure, ProbeOutcome::kSuccess, ProbeOutcome::kFailure,
                           ProbeOutcome::kSuccess, ProbeOutcome::kFailure, ProbeOutcome::kFailure};
  (void)mgr.run_due();
  run_for(4);
  EXPECT_FALSE(st().liveness_failed);
  run_for(1);
  EXPECT_TRUE(st().liveness_failed);
}

TEST_F(ProbeManagerTest, StartupGatesLivenessAndReadiness) {
  mgr.update("uid-1", {target({{"startupProbe", probe("start", 2, 0, 10)},
                               {"livenessProbe", probe("live", 10)},
                               {"readinessProbe", probe("ready", 10)}})});
  EXPECT_FALSE(st().started);
  EXPECT_FALSE(st().ready);
  (void)mgr.run_due();
  run_for(6);
  EXPECT_EQ(runner.count("start"), 4);
  EXPECT_EQ(runner.count("live"), 0);
  EXPECT_EQ(runner.count("ready"), 0);
  runner.fallback["start"] = ProbeOutcome::kSuccess;
  run_for(2);
  EXPECT_EQ(runner.count("start"), 5);
  EXPECT_TRUE(st().started);
  // Readiness runs right away once started (the kubelet's manual trigger).
  EXPECT_EQ(runner.count("ready"), 1);
  EXPECT_TRUE(st().ready);
  // The startup probe does not run again for this container.
  run_for(20);
  EXPECT_EQ(runner.count("start"), 5);
  EXPECT_GE(runner.count("live"), 2);
}

TEST_F(ProbeManagerTest, StartupFailureWantsRestart) {
  mgr.update("uid-1", {target({{"startupProbe", probe("start", 1, 0, 3)},
                               {"livenessProbe", probe("live", 1)}})});
  (void)mgr.run_due();
  run_for(2);
  auto s = st();
  EXPECT_TRUE(s.liveness_failed);
  EXPECT_EQ(s.message, "Container app failed startup probe, will be restarted");
  EXPECT_FALSE(s.started);
  EXPECT_EQ(runner.count("live"), 0);
  run_for(5);
  EXPECT_EQ(runner.count("start"), 3);
}

TEST_F(ProbeManagerTest, InitialDelayIsCountedFromContainerStart) {
  ProbeTarget t = target({{"readinessProbe", probe("ready", 3, 0, 0, 7)}});
  t.started_at = clock.wall - seconds(2);  // started 2 s before we first see it
  mgr.update("uid-1", {t});
  (void)mgr.run_due();
  run_for(3);  // t = 3: 5 s since start
  EXPECT_EQ(runner.count("ready"), 0);
  run_for(3);  // t = 6: 8 s since start, on the period grid (0, 3, 6)
  EXPECT_EQ(runner.count("ready"), 1);
  EXPECT_TRUE(st().ready);
}

TEST_F(ProbeManagerTest, ErrorsAreRetriedThenThrownAway) {
  mgr.update("uid-1", {target({{"livenessProbe", probe("live", 10, 0, 1)}})});
  runner.fallback["live"] = ProbeOutcome::kError;
  (void)mgr.run_due();
  EXPECT_EQ(runner.count("live"), 3);
  EXPECT_FALSE(st().liveness_failed);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, "Unhealthy");
  EXPECT_EQ(events[0].message, "Liveness probe errored: live default");
}

TEST_F(ProbeManagerTest, WarningCountsAsSuccessWithAnEvent) {
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready")}})});
  runner.fallback["ready"] = ProbeOutcome::kWarning;
  (void)mgr.run_due();
  EXPECT_TRUE(st().ready);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, "ProbeWarning");
  EXPECT_EQ(events[0].message, "Readiness probe warning: ready default");
}

TEST_F(ProbeManagerTest, TerminatingPodStopsLivenessKeepsReadiness) {
  ProbeTarget t = target({{"livenessProbe", probe("live", 1, 0, 1)},
                          {"readinessProbe", probe("ready", 1)}});
  mgr.update("uid-1", {t});
  (void)mgr.run_due();
  EXPECT_EQ(runner.count("live"), 1);
  t.terminating = true;
  mgr.update("uid-1", {t});
  runner.fallback["live"] = ProbeOutcome::kFailure;
  run_for(5);
  EXPECT_EQ(runner.count("live"), 1);
  EXPECT_FALSE(st().liveness_failed);
  EXPECT_EQ(runner.count("ready"), 6);
}

TEST_F(ProbeManagerTest, ContainersNotListedLoseTheirProbes) {
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready", 1)}})});
  (void)mgr.run_due();
  EXPECT_TRUE(st().ready);
  mgr.update("uid-1", {});
  EXPECT_EQ(st().container_id, "");
  run_for(3);
  EXPECT_EQ(runner.count("ready"), 1);
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready", 1)}})});
  mgr.remove_pod("uid-1");
  EXPECT_EQ(mgr.run_due(), std::nullopt);
}

TEST_F(ProbeManagerTest, OneProbePerPeriodEvenAcrossAClockJump) {
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready", 3)}})});
  (void)mgr.run_due();
  run_for(30);
  EXPECT_EQ(runner.count("ready"), 11);  // t = 0, 3, ..., 30
  clock.advance(std::chrono::hours(5));
  auto next = mgr.run_due();
  EXPECT_EQ(runner.count("ready"), 12) << "missed ticks are dropped, not replayed";
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, clock.steady);
  EXPECT_LE(*next - clock.steady, seconds(3));
}

TEST_F(ProbeManagerTest, BadPeriodDoesNotHang) {
  mgr.update("uid-1", {target({{"readinessProbe", probe("ready", -5)}})});
  (void)mgr.run_due();
  run_for(3);
  EXPECT_EQ(runner.count("ready"), 4);
}

// A slow probe never overlaps itself: ticks that come while it runs are dropped.
class SlowRunner : public ProbeRunner {
 public:
  ProbeResult run(const ProbeTarget&, const json::object&) override {
    std::unique_lock lock(mu);
    ++running;
    max_running = std::max(max_running, running);
    ++calls;
    cv.notify_all();
    cv.wait(lock, [this] { return released; });
    --running;
    return {ProbeOutcome::kSuccess, ""};
  }
  std::mutex mu;
  std::condition_variable cv;
  int running = 0, max_running = 0, calls = 0;
  bool released = false;
};

TEST(ProbeManagerThreads, RunsOnItsOwnAndReportsChanges) {
  SlowRunner runner;
  std::mutex mu;
  std::condition_variable cv;
  int changes = 0;
  {
    ProbeManager mgr(runner, system_probe_clock(),
                     [&](const std::string&) {
                       std::lock_guard lock(mu);
                       ++changes;
                       cv.notify_all();
                     },
                     nullptr, ProbeManagerOptions{2, true});
    ProbeTarget t;
    t.pod_uid = "u";
    t.container_name = "app";
    t.container_id = "id";
    t.started_at = std::chrono::system_clock::now();
    t.container = {{"name", "app"}, {"readinessProbe", probe("ready", 1)}};
    mgr.update("u", {t});
    {
      std::unique_lock lock(runner.mu);
      ASSERT_TRUE(runner.cv.wait_for(lock, seconds(5), [&] { return runner.calls == 1; }));
    }
    EXPECT_FALSE(mgr.state("u", "app").ready);
    {
      std::lock_guard lock(runner.mu);
      runner.released = true;
      runner.cv.notify_all();
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(5), [&] { return changes >= 1; }));
    EXPECT_TRUE(mgr.state("u", "app").ready);
  }
  EXPECT_EQ(runner.max_running, 1);
}

}  // namespace
}  // namespace kernlet::agent
