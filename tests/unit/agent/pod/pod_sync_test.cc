// The pod sync decisions against FakePodRuntime: restart policies, the crash-loop back-off,
// image pulls, init containers and sidecars, deadlines, termination, and re-adoption.
#include "agent/pod/pod_sync.h"

#include <gtest/gtest.h>

#include <mutex>

#include "agent/pod/fake_pod_runtime.h"
#include "api/object.h"

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;

struct Event {
  std::string type, reason, message;
};

class RecordingEvents final : public EventSink {
 public:
  void event(const json::object&, std::string_view type, std::string_view reason, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back({std::string(type), std::string(reason), message});
  }
  int count(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (auto& e : events) n += e.reason == reason;
    return n;
  }
  std::string last_message(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->reason == reason) return it->message;
    return "";
  }
  std::mutex mu;
  std::vector<Event> events;
};

json::object pod_from(const std::string& text) {
  auto o = api::decode_object(text);
  EXPECT_TRUE(o.ok()) << o.error().to_string();
  return o.ok() ? *o : json::object{};
}

std::string simple_pod(const std::string& policy, const std::string& extra_spec = "") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u1",
    "resourceVersion":"5"},"spec":{"nodeName":"n1","restartPolicy":")" +
         policy + R"(",)" + extra_spec + R"("containers":[{"name":"app","image":"busybox:1","imagePullPolicy":"IfNotPresent"}]}})";
}

const json::object& container_status(const json::object& status, const std::string& name, bool init = false) {
  const json::array* a = json::get_array(status, init ? "initContainerStatuses" : "containerStatuses");
  EXPECT_NE(a, nullptr);
  for (const auto& v : *a)
    if (json::get_string(v.as_object(), "name") == name) return v.as_object();
  ADD_FAILURE() << "no status for " << name;
  static json::object empty;
  return empty;
}

std::string state_kind(const json::object& cs) {
  const json::object* s = json::get_object(cs, "state");
  if (s == nullptr || s->empty()) return "";
  return std::string(s->begin()->key());
}
std::string waiting_reason(const json::object& cs) {
  const json::object* s = json::get_object(cs, "state");
  const json::object* w = s ? json::get_object(*s, "waiting") : nullptr;
  return w ? std::string(json::get_string(*w, "reason")) : "";
}
std::string condition_status(const json::object& status, const std::string& type) {
  auto c = api::find_condition(status, type);
  return c ? std::string(c->status()) : "";
}

class PodSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt.now_ns = [this] { return std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(); };
    rt.add_image("busybox:1");
    env = basic_environment();
    probes = no_probes(&rt);
    net = no_network();
    make_syncer();
  }
  void make_syncer() {
    SyncerOptions o;
    o.pod_logs_dir = "/tmp/logs";
    o.host_ips = {"10.0.0.1"};
    o.now = [this] { return now; };
    syncer = std::make_unique<PodSyncer>(&rt, &events, env.get(), probes.get(), net.get(), o);
  }
  // Syncs `pod` and feeds the status back into it, as the API would.
  SyncOutcome sync(json::object& pod) {
    auto out = syncer->sync(pod);
    pod["status"] = out.status;
    return out;
  }

  std::chrono::system_clock::time_point now{std::chrono::seconds(1'700'000'000)};
  FakePodRuntime rt;
  RecordingEvents events;
  std::unique_ptr<PodEnvironment> env;
  std::unique_ptr<PodProbes> probes;
  std::unique_ptr<PodNetwork> net;
  std::unique_ptr<PodSyncer> syncer;
};

TEST_F(PodSyncTest, StartsThePodAndReportsRunning) {
  auto pod = pod_from(simple_pod("Always"));
  auto out = sync(pod);
  EXPECT_EQ(rt.starts(), 1);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Running");
  const auto& cs = container_status(out.status, "app");
  EXPECT_EQ(state_kind(cs), "running");
  EXPECT_TRUE(json::get_bool_or(cs, "ready", false));
  EXPECT_TRUE(json::get_bool_or(cs, "started", false));
  EXPECT_EQ(json::get_int_or(cs, "restartCount", -1), 0);
  EXPECT_EQ(json::get_string(cs, "containerID"), "kernlet://u1_app_0");
  EXPECT_EQ(json::get_string(cs, "imageID"), "sha256:1111");
  EXPECT_EQ(condition_status(out.status, "Ready"), "True");
  EXPECT_EQ(condition_status(out.status, "ContainersReady"), "True");
  EXPECT_EQ(condition_status(out.status, "Initialized"), "True");
  EXPECT_EQ(condition_status(out.status, "PodReadyToStartContainers"), "True");
  EXPECT_EQ(condition_status(out.status, "PodScheduled"), "True");
  EXPECT_EQ(json::get_string(out.status, "hostIP"), "10.0.0.1");
  EXPECT_EQ(json::get_string(out.status, "qosClass"), "BestEffort");
  EXPECT_FALSE(json::get_string(out.status, "startTime").empty());
  EXPECT_EQ(events.count("Pulled"), 1);
  EXPECT_EQ(events.last_message("Pulled"), "Container image \"busybox:1\" already present on machine");
  EXPECT_EQ(events.last_message("Created"), "Created container: app");
  EXPECT_EQ(events.last_message("Started"), "Started container app");
  ASSERT_EQ(out.running.size(), 1u);
  // A second sync changes nothing.
  auto again = sync(pod);
  EXPECT_EQ(rt.starts(), 1);
  EXPECT_FALSE(status_differs(out.status, again.status));
}

TEST_F(PodSyncTest, SandboxGetsTheDnsConfigAndItsWarningsAsEvents) {
  SyncerOptions o;
  o.now = [this] { return now; };
  std::string seen_policy;
  o.dns_config = [&](const api::PodView& p, std::vector<std::string>* warnings) {
    seen_policy = std::string(p.spec().dns_policy());
    warnings->push_back("search list too long");
    runtime::DnsConfig c;
    c.servers = {"169.254.20.10"};
    c.options = {"ndots:5"};
    return c;
  };
  syncer = std::make_unique<PodSyncer>(&rt, &events, env.get(), probes.get(), net.get(), o);
  auto pod = pod_from(simple_pod("Always", R"("dnsPolicy":"ClusterFirst",)"));
  sync(pod);
  EXPECT_EQ(seen_policy, "ClusterFirst");
  auto sc = rt.sandbox_config("u1");
  ASSERT_TRUE(sc.has_value());
  EXPECT_EQ(sc->dns.servers, std::vector<std::string>{"169.254.20.10"});
  EXPECT_EQ(sc->dns.options, std::vector<std::string>{"ndots:5"});
  EXPECT_EQ(events.count("DNSConfigForming"), 1);
  EXPECT_EQ(events.last_message("DNSConfigForming"), "search list too long");
}

TEST_F(PodSyncTest, SandboxGetsTheHostAliases) {
  auto pod = pod_from(simple_pod("Always", R"("hostAliases":[
      {"ip":"10.1.2.3","hostnames":["foo.local","bar.local"]},
      {"ip":"10.1.2.4","hostnames":["baz.local"]}],)"));
  sync(pod);
  auto sc = rt.sandbox_config("u1");
  ASSERT_TRUE(sc.has_value());
  ASSERT_EQ(sc->host_aliases.size(), 2u);
  EXPECT_EQ(sc->host_aliases[0].ip, "10.1.2.3");
  EXPECT_EQ(sc->host_aliases[0].hostnames, (std::vector<std::string>{"foo.local", "bar.local"}));
  EXPECT_EQ(sc->host_aliases[1].ip, "10.1.2.4");
  EXPECT_EQ(sc->host_aliases[1].hostnames, std::vector<std::string>{"baz.local"});
}

TEST_F(PodSyncTest, HostnameAndSubdomainGiveTheFqdn) {
  SyncerOptions o;
  o.now = [this] { return now; };
  o.cluster_domain = "cluster.local";
  syncer = std::make_unique<PodSyncer>(&rt, &events, env.get(), probes.get(), net.get(), o);
  auto pod = pod_from(simple_pod("Always", R"("hostname":"db-0","subdomain":"db",)"));
  sync(pod);
  auto sc = rt.sandbox_config("u1");
  ASSERT_TRUE(sc.has_value());
  EXPECT_EQ(sc->hostname, "db-0");
  EXPECT_EQ(sc->hostname_fqdn, "db-0.db.default.svc.cluster.local");
}

TEST_F(PodSyncTest, CrashLoopBackOffGrowsAndRestartCountCounts) {
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  rt.exit("u1_app_0", 1);
  auto out = sync(pod);  // the first restart is immediate
  EXPECT_EQ(rt.starts(), 2);
  EXPECT_EQ(json::get_int_or(container_status(out.status, "app"), "restartCount", -1), 1);
  const json::object* last = json::get_object(container_status(out.status, "app"), "lastState");
  ASSERT_NE(last, nullptr);
  ASSERT_NE(json::get_object(*last, "terminated"), nullptr);
  EXPECT_EQ(json::get_int_or(*json::get_object(*last, "terminated"), "exitCode", -1), 1);
  EXPECT_EQ(json::get_string(*json::get_object(*last, "terminated"), "reason"), "Error");

  now += 1s;
  rt.exit("u1_app_1", 2);
  out = sync(pod);
  EXPECT_EQ(rt.starts(), 2) << "restarted inside the back-off";
  const auto& cs = container_status(out.status, "app");
  EXPECT_EQ(waiting_reason(cs), "CrashLoopBackOff");
  const json::object* w = json::get_object(*json::get_object(cs, "state"), "waiting");
  EXPECT_EQ(json::get_string(*w, "message"), "back-off 10s restarting failed container=app pod=web_default(u1)");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Running");
  EXPECT_EQ(condition_status(out.status, "Ready"), "False");
  auto ready = api::find_condition(out.status, "Ready");
  EXPECT_EQ(ready->reason(), "ContainersNotReady");
  EXPECT_EQ(ready->message(), "containers with unready status: [app]");
  ASSERT_TRUE(out.requeue_after);
  EXPECT_LE(*out.requeue_after, 10s + 1ms);
  EXPECT_GT(*out.requeue_after, 9s);
  EXPECT_EQ(events.last_message("BackOff"), "Back-off restarting failed container app in pod web_default(u1)");

  now += 10s;
  out = sync(pod);
  EXPECT_EQ(rt.starts(), 3);
  EXPECT_EQ(json::get_int_or(container_status(out.status, "app"), "restartCount", -1), 2);
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "running");
  // The next crash waits 20 s.
  now += 1s;
  rt.exit("u1_app_2", 1);
  out = sync(pod);
  ASSERT_TRUE(out.requeue_after);
  EXPECT_GT(*out.requeue_after, 19s);
  // Old instances are pruned: the latest two remain.
  EXPECT_EQ(rt.list_containers("u1").size(), 2u);
}

TEST_F(PodSyncTest, BackOffResetsAfterTenMinutesOfRunning) {
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  rt.exit("u1_app_0", 1);
  sync(pod);
  now += 11min;
  rt.exit("u1_app_1", 1);
  sync(pod);
  EXPECT_EQ(rt.starts(), 3) << "a container that ran 10 minutes restarts at once";
}

TEST_F(PodSyncTest, NeverPolicyExitZeroSucceeds) {
  auto pod = pod_from(simple_pod("Never"));
  sync(pod);
  rt.exit("u1_app_0", 0);
  auto out = sync(pod);
  EXPECT_EQ(rt.starts(), 1);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Succeeded");
  const auto& cs = container_status(out.status, "app");
  EXPECT_EQ(state_kind(cs), "terminated");
  const json::object* t = json::get_object(*json::get_object(cs, "state"), "terminated");
  EXPECT_EQ(json::get_int_or(*t, "exitCode", -1), 0);
  EXPECT_EQ(json::get_string(*t, "reason"), "Completed");
  EXPECT_EQ(api::find_condition(out.status, "Ready")->reason(), "PodCompleted");
  EXPECT_FALSE(rt.sandbox_status("u1").ready) << "a terminal pod frees its sandbox";
  out = sync(pod);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Succeeded");
  EXPECT_EQ(rt.starts(), 1);
}

TEST_F(PodSyncTest, NeverPolicyFailureFails) {
  auto pod = pod_from(simple_pod("Never"));
  sync(pod);
  rt.exit("u1_app_0", 3);
  auto out = sync(pod);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Failed");
  EXPECT_EQ(rt.starts(), 1);
}

TEST_F(PodSyncTest, OnFailureRestartsOnlyFailures) {
  auto pod = pod_from(simple_pod("OnFailure"));
  sync(pod);
  rt.exit("u1_app_0", 1);
  sync(pod);
  EXPECT_EQ(rt.starts(), 2);
  rt.exit("u1_app_1", 0);
  auto out = sync(pod);
  EXPECT_EQ(rt.starts(), 2);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Succeeded");
}

// A container the OOM killer ended (the runtime's memory.events says so): terminated with
// reason OOMKilled and exit code 137, and one Warning OOMKilling event for the instance.
TEST_F(PodSyncTest, OomKilledContainerIsReportedWithAnOomKillingEvent) {
  auto pod = pod_from(simple_pod("Never"));
  (*json::get_array(*json::get_object(pod, "spec"), "containers"))[0].as_object()["resources"] =
      json::object{{"limits", json::object{{"memory", "32Mi"}}}};
  sync(pod);
  rt.exit("u1_app_0", 137, 9, /*oom=*/true);
  auto out = sync(pod);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Failed");
  const auto& cs = container_status(out.status, "app");
  ASSERT_EQ(state_kind(cs), "terminated");
  const json::object* t = json::get_object(*json::get_object(cs, "state"), "terminated");
  EXPECT_EQ(json::get_string(*t, "reason"), "OOMKilled");
  EXPECT_EQ(json::get_int_or(*t, "exitCode", -1), 137);
  EXPECT_EQ(json::get_int_or(*t, "signal", -1), 9);
  ASSERT_EQ(events.count("OOMKilling"), 1);
  EXPECT_EQ(events.last_message("OOMKilling"),
            "Memory cgroup out of memory: container app (kernlet://u1_app_0) was OOM-killed, memory limit 32Mi");
  {
    std::lock_guard<std::mutex> lock(events.mu);
    for (const auto& e : events.events)
      if (e.reason == "OOMKilling") {
        EXPECT_EQ(e.type, "Warning");
      }
  }
  // Later syncs, and a restarted agent that finds the status already written, stay quiet.
  sync(pod);
  make_syncer();
  sync(pod);
  EXPECT_EQ(events.count("OOMKilling"), 1);
}

// Restarted after an OOM kill (Always): lastState says OOMKilled, one event per killed
// instance, none for a plain crash.
TEST_F(PodSyncTest, OomKillEventPerInstanceAcrossRestarts) {
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  rt.exit("u1_app_0", 137, 9, /*oom=*/true);
  auto out = sync(pod);
  EXPECT_EQ(rt.starts(), 2);
  const json::object* last = json::get_object(container_status(out.status, "app"), "lastState");
  ASSERT_NE(last, nullptr);
  ASSERT_NE(json::get_object(*last, "terminated"), nullptr);
  EXPECT_EQ(json::get_string(*json::get_object(*last, "terminated"), "reason"), "OOMKilled");
  EXPECT_EQ(events.count("OOMKilling"), 1);
  EXPECT_EQ(events.last_message("OOMKilling"),
            "Memory cgroup out of memory: container app (kernlet://u1_app_0) was OOM-killed");
  now += 1s;
  rt.exit("u1_app_1", 1);
  sync(pod);
  EXPECT_EQ(events.count("OOMKilling"), 1) << "exit 1 is no OOM kill";
  now += 10s;
  sync(pod);
  now += 1s;
  rt.exit("u1_app_2", 137, 9, /*oom=*/true);
  sync(pod);
  EXPECT_EQ(events.count("OOMKilling"), 2);
  EXPECT_EQ(events.last_message("OOMKilling"),
            "Memory cgroup out of memory: container app (kernlet://u1_app_2) was OOM-killed");
}

TEST_F(PodSyncTest, ImageNeverPull) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[
      {"name":"app","image":"missing:1","imagePullPolicy":"Never"}]}})");
  auto out = sync(pod);
  EXPECT_EQ(waiting_reason(container_status(out.status, "app")), "ErrImageNeverPull");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Pending");
  EXPECT_EQ(events.count("ErrImageNeverPull"), 1);
}

TEST_F(PodSyncTest, PullFailureThenBackOffThenSuccess) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[
      {"name":"app","image":"reg.example/app:1"}]}})");
  rt.fail_pull("reg.example/app:1", "manifest unknown");
  auto out = sync(pod);
  EXPECT_EQ(rt.pulls(), 1);
  const auto& cs = container_status(out.status, "app");
  EXPECT_EQ(waiting_reason(cs), "ErrImagePull");
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(cs, "state"), "waiting"), "message"), "manifest unknown");
  EXPECT_EQ(events.last_message("Failed").rfind("Error: ErrImagePull", 0), 0u);
  now += 2s;
  out = sync(pod);
  EXPECT_EQ(rt.pulls(), 1) << "pulled inside the back-off";
  EXPECT_EQ(waiting_reason(container_status(out.status, "app")), "ImagePullBackOff");
  EXPECT_EQ(events.last_message("BackOff"), "Back-off pulling image \"reg.example/app:1\"");
  rt.clear_pull_failure("reg.example/app:1");
  now += 10s;
  out = sync(pod);
  EXPECT_EQ(rt.pulls(), 2);
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "running");
  EXPECT_EQ(events.last_message("Pulling"), "Pulling image \"reg.example/app:1\"");
}

// An environment whose pull candidates are the given usernames, otherwise the basic one.
class CandidatesEnvironment final : public PodEnvironment {
 public:
  explicit CandidatesEnvironment(std::vector<std::string> users) : users_(std::move(users)) {}
  Result<Built> build(const api::PodView& pod, const api::ContainerView& c, const ImageInfo& image) override {
    return basic_->build(pod, c, image);
  }
  std::vector<images::RegistryOptions> pull_options(const api::PodView&, std::string_view) override {
    std::vector<images::RegistryOptions> out;
    for (const auto& u : users_) out.emplace_back().credentials = images::Credentials{u, u + "-pw"};
    return out;
  }
  Result<void> setup_volumes(const api::PodView& pod) override { return basic_->setup_volumes(pod); }
  Result<void> teardown_volumes(const std::string& uid) override { return basic_->teardown_volumes(uid); }

 private:
  std::vector<std::string> users_;
  std::unique_ptr<PodEnvironment> basic_ = basic_environment();
};

TEST_F(PodSyncTest, PullTriesEveryCandidateCredentialInOrder) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[
      {"name":"app","image":"reg.example/app:1"}]}})");
  env = std::make_unique<CandidatesEnvironment>(std::vector<std::string>{"stale", "right", "unused"});
  make_syncer();
  rt.require_credentials("reg.example/app:1", "right");
  auto out = sync(pod);
  EXPECT_EQ(rt.pull_users(), (std::vector<std::string>{"stale", "right"})) << "stops at the first success";
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "running");
}

TEST_F(PodSyncTest, PullFailsWhenEveryCandidateFails) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[
      {"name":"app","image":"reg.example/app:1"}]}})");
  env = std::make_unique<CandidatesEnvironment>(std::vector<std::string>{"a", "b"});
  make_syncer();
  rt.require_credentials("reg.example/app:1", "c");
  auto out = sync(pod);
  EXPECT_EQ(rt.pull_users(), (std::vector<std::string>{"a", "b"})) << "no anonymous retry";
  const auto& cs = container_status(out.status, "app");
  EXPECT_EQ(waiting_reason(cs), "ErrImagePull");
  EXPECT_EQ(json::get_string(*json::get_object(*json::get_object(cs, "state"), "waiting"), "message"),
            "[unauthorized: a, unauthorized: b]");
}

TEST_F(PodSyncTest, ConfigErrorIsAWaitingReasonNotACrash) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[
      {"name":"app","image":"busybox:1","imagePullPolicy":"IfNotPresent",
       "env":[{"name":"X","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}})");
  auto out = sync(pod);
  EXPECT_EQ(waiting_reason(container_status(out.status, "app")), "CreateContainerConfigError");
  EXPECT_EQ(rt.starts(), 0);
  EXPECT_EQ(events.count("Failed"), 1);
}

TEST_F(PodSyncTest, CreateAndRunErrors) {
  auto pod = pod_from(simple_pod("Always"));
  rt.fail_next_start("app", StartFailure::kCreate, "no such file");
  auto out = sync(pod);
  EXPECT_EQ(waiting_reason(container_status(out.status, "app")), "CreateContainerError");
  rt.fail_next_start("app", StartFailure::kRun, "exec: /bin/nope: not found");
  out = sync(pod);
  const auto& cs = container_status(out.status, "app");
  EXPECT_EQ(state_kind(cs), "terminated");
  const json::object* t = json::get_object(*json::get_object(cs, "state"), "terminated");
  EXPECT_EQ(json::get_string(*t, "reason"), "ContainerCannotRun");
  EXPECT_EQ(json::get_int_or(*t, "exitCode", -1), 128);
  out = sync(pod);  // restarted (the first restart is immediate)
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "running");
  EXPECT_EQ(json::get_int_or(container_status(out.status, "app"), "restartCount", -1), 1);
}

TEST_F(PodSyncTest, InitContainersRunInOrderBeforeTheApp) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"restartPolicy":"Always",
      "initContainers":[{"name":"i1","image":"busybox:1","imagePullPolicy":"IfNotPresent"},
                        {"name":"i2","image":"busybox:1","imagePullPolicy":"IfNotPresent"}],
      "containers":[{"name":"app","image":"busybox:1","imagePullPolicy":"IfNotPresent"}]}})");
  auto out = sync(pod);
  EXPECT_EQ(rt.latest("u1", "i1"), "u1_i1_0");
  EXPECT_EQ(rt.latest("u1", "i2"), "");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Pending");
  EXPECT_EQ(waiting_reason(container_status(out.status, "app")), "PodInitializing");
  EXPECT_EQ(waiting_reason(container_status(out.status, "i2", true)), "PodInitializing");
  auto init = api::find_condition(out.status, "Initialized");
  EXPECT_EQ(init->status(), "False");
  EXPECT_EQ(init->reason(), "ContainersNotInitialized");
  EXPECT_EQ(init->message(), "containers with incomplete status: [i1 i2]");
  rt.exit("u1_i1_0", 0);
  sync(pod);
  EXPECT_EQ(rt.latest("u1", "i2"), "u1_i2_0");
  EXPECT_EQ(rt.latest("u1", "app"), "");
  rt.exit("u1_i2_0", 1);  // fails: retried (Always)
  sync(pod);
  EXPECT_EQ(rt.latest("u1", "i2"), "u1_i2_1");
  rt.exit("u1_i2_1", 0);
  out = sync(pod);
  EXPECT_EQ(rt.latest("u1", "app"), "u1_app_0");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Running");
  EXPECT_EQ(condition_status(out.status, "Initialized"), "True");
  EXPECT_EQ(state_kind(container_status(out.status, "i1", true)), "terminated");
}

TEST_F(PodSyncTest, FailedInitContainerWithNeverFailsThePod) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"restartPolicy":"Never",
      "initContainers":[{"name":"i1","image":"busybox:1","imagePullPolicy":"IfNotPresent"}],
      "containers":[{"name":"app","image":"busybox:1","imagePullPolicy":"IfNotPresent"}]}})");
  sync(pod);
  rt.exit("u1_i1_0", 2);
  auto out = sync(pod);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Failed");
  EXPECT_EQ(rt.latest("u1", "app"), "");
  EXPECT_EQ(rt.starts(), 1);
}

TEST_F(PodSyncTest, SidecarStartsBeforeTheNextInitAndKeepsRunning) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"restartPolicy":"Never",
      "initContainers":[{"name":"side","image":"busybox:1","imagePullPolicy":"IfNotPresent","restartPolicy":"Always"},
                        {"name":"i1","image":"busybox:1","imagePullPolicy":"IfNotPresent"}],
      "containers":[{"name":"app","image":"busybox:1","imagePullPolicy":"IfNotPresent"}]}})");
  sync(pod);
  EXPECT_EQ(rt.latest("u1", "side"), "u1_side_0");
  sync(pod);
  EXPECT_EQ(rt.latest("u1", "i1"), "u1_i1_0");
  rt.exit("u1_i1_0", 0);
  auto out = sync(pod);
  EXPECT_EQ(rt.latest("u1", "app"), "u1_app_0");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Running");
  // A sidecar that dies is restarted even with restartPolicy Never.
  rt.exit("u1_side_0", 1);
  sync(pod);
  EXPECT_EQ(rt.latest("u1", "side"), "u1_side_1");
  // The app completing completes the pod; the sidecar does not hold it.
  rt.exit("u1_app_0", 0);
  out = sync(pod);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Succeeded");
}

TEST_F(PodSyncTest, ActiveDeadlineFailsThePod) {
  auto pod = pod_from(simple_pod("Always", R"("activeDeadlineSeconds":30,)"));
  auto out = sync(pod);
  ASSERT_TRUE(out.requeue_after);
  EXPECT_LE(*out.requeue_after, 30s + 1ms);
  now += 31s;
  out = sync(pod);
  EXPECT_EQ(json::get_string(out.status, "phase"), "Failed");
  EXPECT_EQ(json::get_string(out.status, "reason"), "DeadlineExceeded");
  EXPECT_EQ(rt.stopped().size(), 1u);
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "terminated");
}

TEST_F(PodSyncTest, TerminateStopsEverythingAndRemoveCleansUp) {
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  auto out = syncer->terminate(pod, 1s);
  EXPECT_EQ(rt.stopped(), std::vector<std::string>{"u1_app_0"});
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "terminated");
  EXPECT_EQ(events.last_message("Killing"), "Stopping container app");
  ASSERT_TRUE(syncer->remove("u1", "default", "web").ok());
  EXPECT_TRUE(rt.list_pods().empty());
}

TEST_F(PodSyncTest, ReadoptionAfterRestartChangesNothing) {
  auto pod = pod_from(simple_pod("Always"));
  auto first = sync(pod);
  // A new agent: new syncer, same runtime state.
  make_syncer();
  auto out = sync(pod);
  EXPECT_EQ(rt.starts(), 1);
  EXPECT_FALSE(status_differs(first.status, out.status));
}

TEST_F(PodSyncTest, DeadSandboxIsRecreatedAndContainersRestart) {
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  rt.kill_sandbox("u1");
  auto out = sync(pod);
  EXPECT_EQ(events.count("SandboxChanged"), 1);
  EXPECT_TRUE(rt.sandbox_status("u1").ready);
  EXPECT_EQ(json::get_int_or(container_status(out.status, "app"), "restartCount", -1), 1);
}

// A network plugin that fails its first `failures` ADDs, as a CNI plugin does when its
// IPAM pool is exhausted or the plugin binary is missing.
class FlakyNetwork final : public PodNetwork {
 public:
  explicit FlakyNetwork(int failures, int del_failures = 0) : failures_(failures), del_failures_(del_failures) {}
  Result<std::vector<std::string>> add(const api::PodView&, const std::string&) override {
    ++adds;
    if (failures_ > 0) {
      --failures_;
      return Error(ErrorCode::kUnavailable, "plugin kernlet-cni failed (code 11): no free address in 10.244.1.0/24");
    }
    return std::vector<std::string>{"10.244.1.7"};
  }
  std::vector<std::string> ips(const std::string&) override { return {}; }
  Result<void> del(const std::string&, const std::string&, const std::string&, const std::string&) override {
    ++dels;
    if (del_failures_ > 0) {
      --del_failures_;
      return Error(ErrorCode::kUnavailable, "plugin kernlet-cni failed (code 11): store locked");
    }
    return Ok();
  }
  int adds = 0, dels = 0;

 private:
  int failures_, del_failures_;
};

TEST_F(PodSyncTest, HostsFileGetsThePodIpOnceTheNetworkIsUp) {
  net = std::make_unique<FlakyNetwork>(0);
  make_syncer();
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  EXPECT_EQ(rt.hosts_ip("u1"), "10.244.1.7");
  auto sc = rt.sandbox_config("u1");
  ASSERT_TRUE(sc.has_value());
  EXPECT_EQ(sc->hostname_fqdn, "") << "no subdomain, no FQDN line";
}

TEST_F(PodSyncTest, NetworkFailureIsAnEventAndARetriedSandboxNeverAHalfBuiltPod) {
  auto flaky = std::make_unique<FlakyNetwork>(1);
  FlakyNetwork* fn = flaky.get();
  net = std::move(flaky);
  make_syncer();
  auto pod = pod_from(simple_pod("Always"));
  auto out = sync(pod);
  EXPECT_EQ(fn->adds, 1);
  EXPECT_EQ(events.count("FailedCreatePodSandBox"), 1);
  EXPECT_NE(events.last_message("FailedCreatePodSandBox").find("no free address"), std::string::npos)
      << events.last_message("FailedCreatePodSandBox");
  // Nothing half-built: no container started, the sandbox stopped, no pod IP, and a retry
  // is scheduled.
  EXPECT_EQ(rt.starts(), 0);
  EXPECT_FALSE(rt.sandbox_status("u1").ready);
  EXPECT_EQ(json::get_string(out.status, "podIP"), "");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Pending");
  ASSERT_TRUE(out.requeue_after.has_value());
  // The retry first DELs what the failed ADD may have left, builds the whole sandbox again,
  // and the pod runs with the plugin's address.
  out = sync(pod);
  EXPECT_EQ(fn->dels, 1);
  EXPECT_EQ(fn->adds, 2);
  EXPECT_EQ(rt.starts(), 1);
  EXPECT_EQ(json::get_string(out.status, "podIP"), "10.244.1.7");
  EXPECT_EQ(json::get_string(out.status, "phase"), "Running");
  EXPECT_EQ(events.count("FailedCreatePodSandBox"), 1);
}

TEST_F(PodSyncTest, FailedNetworkDelKeepsThePodForARetry) {
  auto flaky = std::make_unique<FlakyNetwork>(0, 1);
  FlakyNetwork* fn = flaky.get();
  net = std::move(flaky);
  make_syncer();
  auto pod = pod_from(simple_pod("Always"));
  sync(pod);
  (void)syncer->terminate(pod, 0ms);
  auto r = syncer->remove("u1", "default", "web");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("network teardown"), std::string::npos) << r.error().to_string();
  EXPECT_TRUE(rt.sandbox_status("u1").exists) << "the netns must stay for the retried DEL";
  ASSERT_TRUE(syncer->remove("u1", "default", "web").ok());
  EXPECT_EQ(fn->dels, 2);
  EXPECT_FALSE(rt.sandbox_status("u1").exists);
}

TEST(PodStatus, PatchNullsKeysNoLongerSet) {
  json::object current{{"phase", "Running"}, {"podIP", "10.1.1.1"}, {"nominatedNodeName", "x"}};
  json::object desired{{"phase", "Running"}};
  EXPECT_TRUE(status_differs(current, desired));
  auto p = status_patch("u1", current, desired);
  EXPECT_EQ(json::dump(p), R"({"metadata":{"uid":"u1"},"status":{"phase":"Running","podIP":null}})");
  json::object same{{"phase", "Running"}, {"podIP", "10.1.1.1"}, {"nominatedNodeName", "y"}};
  EXPECT_FALSE(status_differs(current, same));
}

// An environment whose volume setup fails until told otherwise (a claim not bound yet, a
// driver missing), otherwise the basic one.
class FailingVolumesEnvironment final : public PodEnvironment {
 public:
  Result<Built> build(const api::PodView& pod, const api::ContainerView& c, const ImageInfo& image) override {
    return basic_->build(pod, c, image);
  }
  std::vector<images::RegistryOptions> pull_options(const api::PodView& pod, std::string_view image) override {
    return basic_->pull_options(pod, image);
  }
  Result<void> setup_volumes(const api::PodView& pod) override {
    if (fail) return Error(ErrorCode::kUnavailable, "driver name x.csi not found in the list of registered CSI drivers");
    return basic_->setup_volumes(pod);
  }
  Result<void> teardown_volumes(const std::string& uid) override { return basic_->teardown_volumes(uid); }
  bool fail = true;

 private:
  std::unique_ptr<PodEnvironment> basic_ = basic_environment();
};

TEST_F(PodSyncTest, FailedMountRetriesWithBackOffAndOneEventPerMessage) {
  auto pod = pod_from(R"({"metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[
      {"name":"app","image":"busybox:1"}]}})");
  auto owned = std::make_unique<FailingVolumesEnvironment>();
  FailingVolumesEnvironment* fenv = owned.get();
  env = std::move(owned);
  make_syncer();
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 4; ++i) {
    auto out = sync(pod);
    ASSERT_TRUE(out.requeue_after);
    waits.push_back(*out.requeue_after);
    EXPECT_EQ(waiting_reason(container_status(out.status, "app")), "ContainerCreating");
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms, 4000ms}));
  EXPECT_EQ(events.count("FailedMount"), 1);
  EXPECT_EQ(events.last_message("FailedMount"), "driver name x.csi not found in the list of registered CSI drivers");
  fenv->fail = false;
  auto out = sync(pod);
  EXPECT_EQ(state_kind(container_status(out.status, "app")), "running");
  // A later failure starts from the initial wait again.
  fenv->fail = true;
  out = sync(pod);
  ASSERT_TRUE(out.requeue_after);
  EXPECT_EQ(*out.requeue_after, 500ms);
}

}  // namespace
}  // namespace kernlet::agent
