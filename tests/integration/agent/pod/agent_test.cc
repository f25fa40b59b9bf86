// kernlet-agent end to end on the real runtime: a real kernlet-control (no scheduler, no
// controllers: pods are created with spec.nodeName set), the kernlet-agent binary as a
// child process with --network none, the project's busybox test image imported into the
// agent's image store. Everything is removed afterwards (containers and pods through the
// runtime, the test's cgroup root, the temp dir), also when a test fails.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/pod/real_pod_runtime.h"
#include "api/client/rest_client.h"
#include "api/object.h"
#include "runtime/images/image_store.h"
#include "tests/integration/client/control_plane.h"
#include "tests/integration/runtime/images/fixtures.h"

namespace kernlet::agent {
namespace {

using namespace std::chrono_literals;
using client::testing::ControlPlane;
using client::testing::eventually;

constexpr const char* kImage = "kernlet.test/busybox:1";

std::string agent_binary() {
  std::string path;
  if (const char* bin = std::getenv("KERNLET_BIN")) path = std::string(bin) + "/kernlet-agent";
#ifdef KERNLET_AGENT_BIN
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) path = KERNLET_AGENT_BIN;
#endif
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = "needs root (namespaces, cgroups)";
      return;
    }
    if (ControlPlane::binary().empty()) {
      skip_ = "kernlet-control is not built";
      return;
    }
    if (agent_binary().empty()) {
      skip_ = "kernlet-agent is not built";
      return;
    }
    std::string why;
    std::string images = images::testing::test_images(&why);
    if (images.empty()) {
      skip_ = why;
      return;
    }
    dir_ = "/tmp/kl-agent-it-" + std::to_string(::getpid());
    cgroup_root_ = "/sys/fs/cgroup/unified/kl-agent-it-" + std::to_string(::getpid());
    if (::access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) != 0) cgroup_root_ = "/sys/fs/cgroup/kl-agent-it-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_ + "/root");
    {
      auto store = images::ImageStore::open(dir_ + "/root/images");
      ASSERT_TRUE(store.ok()) << store.error().to_string();
      auto img = (*store)->import_oci_layout(images + "/busybox", kImage);
      ASSERT_TRUE(img.ok()) << img.error().to_string();
    }
    cp_ = new ControlPlane();
    auto r = cp_->start();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    auto c = cp_->client();
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    client_ = *c;
    start_agent();
  }

  static void TearDownTestSuite() {
    stop_agent();
    if (!dir_.empty()) {
      // The agent leaves containers running by design: remove them through the runtime.
      RealPodRuntimeOptions o;
      o.root_dir = dir_ + "/root";
      o.cgroup_root = cgroup_root_;
      if (auto rt = RealPodRuntime::open(o); rt.ok()) {
        for (const auto& uid : (*rt)->list_pods()) (void)(*rt)->remove_pod(uid);
      }
      ::rmdir(cgroup_root_.c_str());
      // The agent binds <root>/pods onto itself (rshared) and leaves it, as the kubelet.
      ::umount2((dir_ + "/root/pods").c_str(), MNT_DETACH);
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
    delete cp_;
    cp_ = nullptr;
    client_.reset();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(client_, nullptr);
  }

  static void start_agent() {
    std::vector<std::string> argv = {agent_binary(),
                                     "--kubeconfig", cp_->kubeconfig_path().string(),
                                     "--node-name", node_,
                                     "--root-dir", dir_ + "/root",
                                     "--cgroup-root", cgroup_root_,
                                     "--pod-logs-dir", dir_ + "/logs",
                                     "--network", "none",
                                     "--node-ip", "127.0.0.1"};
    agent_ = images::testing::Child(argv, dir_ + "/agent.log");
    ASSERT_GT(agent_.pid(), 0);
  }
  static void stop_agent() { agent_.stop(); }  // SIGKILL by pid, then reaped

  static client::ResourceRef pods() { return client::ResourceRef("", "v1", "pods", "default"); }

  json::object create_pod(const std::string& name, const std::string& restart_policy, const std::string& script,
                          int grace = 2) {
    std::string text = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                       R"("},"spec":{"nodeName":")" + node_ + R"(","restartPolicy":")" + restart_policy +
                       R"(","terminationGracePeriodSeconds":)" + std::to_string(grace) +
                       R"(,"containers":[{"name":"c","image":")" + kImage +
                       R"(","imagePullPolicy":"IfNotPresent","command":["sh","-c",)" + json::dump(json::value(script)) +
                       R"(]}]}})";
    auto obj = api::decode_object(text);
    EXPECT_TRUE(obj.ok()) << obj.error().to_string();
    auto created = client_->create(pods(), *obj);
    EXPECT_TRUE(created.ok()) << created.error().to_string();
    return created.ok() ? *created : json::object{};
  }

  json::object get_pod(const std::string& name) {
    auto p = client_->get(pods().named(name));
    return p.ok() ? *p : json::object{};
  }

  static const json::object* container_status(const json::object& pod) {
    const json::object* st = json::get_object(pod, "status");
    const json::array* a = st ? json::get_array(*st, "containerStatuses") : nullptr;
    if (a == nullptr || a->empty()) return nullptr;
    return &(*a)[0].as_object();
  }
  static std::string phase(const json::object& pod) {
    const json::object* st = json::get_object(pod, "status");
    return st ? std::string(json::get_string(*st, "phase")) : "";
  }
  static const json::object* state(const json::object& pod, const std::string& kind) {
    const json::object* cs = container_status(pod);
    const json::object* s = cs ? json::get_object(*cs, "state") : nullptr;
    return s ? json::get_object(*s, kind) : nullptr;
  }

  std::string agent_log() { return slurp(dir_ + "/agent.log"); }

  bool gone(const std::string& name) {
    auto r = client_->get(pods().named(name));
    return !r.ok() && r.error().code() == ErrorCode::kNotFound;
  }

  void delete_and_wait(const std::string& name) {
    (void)client_->remove(pods().named(name));
    EXPECT_TRUE(eventually([&] { return gone(name); }, 30s))
        << name << " was not removed; agent log:\n"
        << agent_log();
  }

  static inline std::string skip_;
  static inline std::string dir_;
  static inline std::string cgroup_root_;
  static inline std::string node_ = "it-node-" + std::to_string(::getpid());
  static inline ControlPlane* cp_ = nullptr;
  static inline std::shared_ptr<client::RestClient> client_;
  static inline images::testing::Child agent_;
};

TEST_F(AgentTest, PodRunsWithStatusAndLogs) {
  json::object created = create_pod("running", "Always", "echo hello from kernlet; exec sleep 3600");
  json::object pod;
  ASSERT_TRUE(eventually([&] {
    pod = get_pod("running");
    return phase(pod) == "Running" && state(pod, "running") != nullptr;
  }, 30s)) << json::dump(pod) << "\nagent log:\n" << agent_log();
  const json::object* cs = container_status(pod);
  EXPECT_TRUE(json::get_bool_or(*cs, "ready", false));
  EXPECT_TRUE(json::get_bool_or(*cs, "started", false));
  EXPECT_EQ(json::get_int_or(*cs, "restartCount", -1), 0);
  EXPECT_EQ(json::get_string(*cs, "containerID").rfind("kernlet://", 0), 0u);
  EXPECT_EQ(json::get_string(*cs, "imageID").rfind("sha256:", 0), 0u);
  const json::object& st = *json::get_object(pod, "status");
  EXPECT_EQ(json::get_string(st, "hostIP"), "127.0.0.1");
  EXPECT_EQ(json::find(st, "podIP"), nullptr) << "--network none gives no pod IP";
  EXPECT_EQ(json::get_string(st, "qosClass"), "BestEffort");
  auto ready = api::find_condition(st, "Ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status(), "True");
  const std::string uid(api::Meta(pod).uid());
  const std::string log = dir_ + "/logs/default_running_" + uid + "/c/0.log";
  EXPECT_TRUE(eventually([&] { return slurp(log).find(" stdout F hello from kernlet") != std::string::npos; }, 10s))
      << log << ": " << slurp(log);
  delete_and_wait("running");
}

// Probes and hooks run as the container does (CRI ExecSync), not as root: the readiness
// probe passes only as uid 1234, and the postStart hook's identity reaches the log.
TEST_F(AgentTest, ProbesAndHooksRunAsTheContainersUser) {
  std::string text = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"as-user"},"spec":{"nodeName":")" +
                     node_ + R"(","terminationGracePeriodSeconds":1,
      "securityContext":{"runAsUser":1234,"runAsGroup":2345,"supplementalGroups":[3456]},
      "containers":[{"name":"c","image":")" + std::string(kImage) + R"(","imagePullPolicy":"IfNotPresent",
        "command":["sh","-c","while [ ! -f /tmp/hook ]; do sleep 0.1; done; echo hook $(cat /tmp/hook); exec sleep 3600"],
        "lifecycle":{"postStart":{"exec":{"command":["sh","-c","echo $(id -u) $(id -g) $(id -G) > /tmp/hook"]}}},
        "readinessProbe":{"exec":{"command":["sh","-c","[ $(id -u) = 1234 ]"]},"periodSeconds":1}}]}})";
  auto obj = api::decode_object(text);
  ASSERT_TRUE(obj.ok()) << obj.error().to_string();
  auto created = client_->create(pods(), *obj);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  json::object pod;
  EXPECT_TRUE(eventually([&] {
    pod = get_pod("as-user");
    const json::object* cs = container_status(pod);
    return cs != nullptr && json::get_bool_or(*cs, "ready", false);
  }, 30s)) << "the readiness probe did not pass as uid 1234: " << json::dump(pod) << "\nagent log:\n" << agent_log();
  const std::string uid(api::Meta(pod).uid());
  const std::string log = dir_ + "/logs/default_as-user_" + uid + "/c/0.log";
  EXPECT_TRUE(eventually([&] { return slurp(log).find(" stdout F hook ") != std::string::npos; }, 10s)) << slurp(log);
  EXPECT_NE(slurp(log).find(" stdout F hook 1234 2345 2345 3456\n"), std::string::npos) << slurp(log);
  delete_and_wait("as-user");
}

TEST_F(AgentTest, ExitZeroWithNeverSucceedsAndFailureFails) {
  create_pod("job-ok", "Never", "echo done; exit 0");
  create_pod("job-bad", "Never", "exit 3");
  json::object ok, bad;
  ASSERT_TRUE(eventually([&] {
    ok = get_pod("job-ok");
    bad = get_pod("job-bad");
    return phase(ok) == "Succeeded" && phase(bad) == "Failed";
  }, 30s)) << json::dump(ok) << "\n" << json::dump(bad) << "\nagent log:\n" << agent_log();
  const json::object* t = state(ok, "terminated");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(json::get_int_or(*t, "exitCode", -1), 0);
  EXPECT_EQ(json::get_string(*t, "reason"), "Completed");
  EXPECT_FALSE(json::get_string(*t, "finishedAt").empty());
  t = state(bad, "terminated");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(json::get_int_or(*t, "exitCode", -1), 3);
  EXPECT_EQ(json::get_string(*t, "reason"), "Error");
  EXPECT_EQ(json::get_int_or(*container_status(bad), "restartCount", -1), 0);
  delete_and_wait("job-ok");
  delete_and_wait("job-bad");
}

TEST_F(AgentTest, CrashingContainerRestartsIntoCrashLoopBackOff) {
  create_pod("crasher", "Always", "echo crash; exit 1");
  json::object pod;
  ASSERT_TRUE(eventually([&] {
    pod = get_pod("crasher");
    const json::object* w = state(pod, "waiting");
    const json::object* cs = container_status(pod);
    return w != nullptr && json::get_string(*w, "reason") == "CrashLoopBackOff" && cs != nullptr &&
           json::get_int_or(*cs, "restartCount", 0) >= 1;
  }, 40s)) << json::dump(pod) << "\nagent log:\n" << agent_log();
  const json::object* cs = container_status(pod);
  const json::object* last = json::get_object(*json::get_object(*cs, "lastState"), "terminated");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(json::get_int_or(*last, "exitCode", -1), 1);
  EXPECT_EQ(phase(pod), "Running");
  // After the 10 s back-off the container runs again: the count grows.
  int64_t before = json::get_int_or(*cs, "restartCount", 0);
  ASSERT_TRUE(eventually([&] {
    pod = get_pod("crasher");
    const json::object* c = container_status(pod);
    return c != nullptr && json::get_int_or(*c, "restartCount", 0) > before;
  }, 30s)) << json::dump(pod);
  delete_and_wait("crasher");
}

TEST_F(AgentTest, DeleteHonoursTheGracePeriod) {
  // The trap takes 2 s to finish: a SIGKILL would end it at once, no SIGTERM would make the
  // deletion wait the whole 8 s grace period.
  create_pod("graceful", "Always", "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.2; done", 8);
  json::object pod;
  ASSERT_TRUE(eventually([&] {
    pod = get_pod("graceful");
    return state(pod, "running") != nullptr;
  }, 30s)) << json::dump(pod) << "\nagent log:\n" << agent_log();
  // The API server deletes a pod at once when its node is not registered: the agent must
  // have registered it.
  ASSERT_TRUE(eventually([&] { return client_->get(client::ResourceRef("", "v1", "nodes", "", node_)).ok(); }, 20s))
      << "node " << node_ << " not registered; agent log:\n"
      << agent_log();
  std::this_thread::sleep_for(300ms);  // let the shell install its trap
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(client_->remove(pods().named("graceful")).ok());
  ASSERT_TRUE(eventually([&] { return gone("graceful"); }, 30s))
      << agent_log();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 1900ms) << agent_log();
  EXPECT_LT(took, 7s) << agent_log();
}

TEST_F(AgentTest, KillNineAndRestartChangesNothing) {
  create_pod("steady", "Always", "exec sleep 3600");
  create_pod("ends-while-down", "Never", "sleep 4; exit 7");
  json::object steady, ending;
  ASSERT_TRUE(eventually([&] {
    steady = get_pod("steady");
    ending = get_pod("ends-while-down");
    return state(steady, "running") != nullptr && state(ending, "running") != nullptr;
  }, 30s)) << agent_log();
  const std::string started_at(json::get_string(*state(steady, "running"), "startedAt"));
  const std::string cid(json::get_string(*container_status(steady), "containerID"));
  stop_agent();  // kill -9
  std::this_thread::sleep_for(5s);  // "ends-while-down" exits meanwhile
  auto t0 = std::chrono::steady_clock::now();
  start_agent();
  ASSERT_TRUE(eventually([&] {
    ending = get_pod("ends-while-down");
    return phase(ending) == "Failed";
  }, 20s)) << json::dump(ending) << "\nagent log:\n" << agent_log();
  auto converged = std::chrono::steady_clock::now() - t0;
  std::fprintf(stderr, "status converged %lld ms after the agent restart\n",
               static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(converged).count()));
  EXPECT_LT(converged, 5s);
  const json::object* t = state(ending, "terminated");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(json::get_int_or(*t, "exitCode", -1), 7) << "the real exit code, recorded while the agent was down";
  // The steady pod: same container, not restarted.
  std::this_thread::sleep_for(1s);
  steady = get_pod("steady");
  ASSERT_NE(state(steady, "running"), nullptr) << json::dump(steady);
  EXPECT_EQ(json::get_string(*state(steady, "running"), "startedAt"), started_at);
  EXPECT_EQ(json::get_string(*container_status(steady), "containerID"), cid);
  EXPECT_EQ(json::get_int_or(*container_status(steady), "restartCount", -1), 0);
  delete_and_wait("steady");
  delete_and_wait("ends-while-down");
}

}  // namespace
}  // namespace kernlet::agent
