// Probes against a real container: exec probes through RuntimeProbeExec, and network probes
// into the pod sandbox's own network namespace (root, busybox-static).
#include <gtest/gtest.h>

#include "agent/prober/lifecycle.h"
#include "agent/prober/probe_handlers.h"
#include "agent/prober/runtime_probe_exec.h"
#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RuntimeProbeTest : public runtime::testing::RuntimeTest {
 protected:
  // A running container whose command is `args`, in a fresh pod.
  std::string start(std::vector<std::string> args) {
    runtime::Sandbox* sb = make_sandbox();
    if (sb == nullptr) return "";
    netns_ = sb->netns_path();
    auto spec = spec_for(sb->id(), std::move(args));
    auto c = rt_->create(spec);
    EXPECT_TRUE(c.ok()) << c.error().to_string();
    auto s = rt_->start(spec.id);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return spec.id;
  }
  ProbeTarget target(const std::string& id) {
    ProbeTarget t;
    t.pod_uid = "u";
    t.pod_namespace = "default";
    t.pod_name = "web";
    t.container_name = "app";
    t.container_id = id;
    t.netns_path = netns_;
    t.container = {{"name", "app"}};
    return t;
  }
  std::mutex mu_;
  std::string netns_;
};

TEST_F(RuntimeProbeTest, ExecProbeCollectsOutputAndExitCode) {
  std::string id = start({"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  RuntimeProbeExec exec(*rt_, mu_, nullptr);
  auto r = exec.exec(id, {"sh", "-c", "echo out; echo err >&2; exit 3"}, seconds(10));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->output, "out\nerr\n");
  // Much output: 10 KiB kept, the rest drained so the command is not blocked.
  r = exec.exec(id, {"sh", "-c", "yes | head -c 200000; exit 0"}, seconds(10));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output.size(), 10240u);

  HandlerProbeRunner runner(exec);
  json::object probe{{"exec", json::object{{"command", json::array{"test", "-e", "/tmp/ready"}}}}};
  EXPECT_EQ(runner.run(target(id), probe).outcome, ProbeOutcome::kFailure);
  ASSERT_TRUE(exec.exec(id, {"touch", "/tmp/ready"}, seconds(10)).ok());
  EXPECT_EQ(runner.run(target(id), probe).outcome, ProbeOutcome::kSuccess);
}

TEST_F(RuntimeProbeTest, ExecProbeTimeoutKillsTheCommand) {
  std::string id = start({"sleep", "1000"});
  ASSERT_FALSE(id.empty());
  RuntimeProbeExec exec(*rt_, mu_, nullptr);
  auto begin = std::chrono::steady_clock::now();
  auto r = exec.exec(id, {"sleep", "100"}, milliseconds(500));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  // The killed command is gone from the container.
  auto ps = exec.exec(id, {"sh", "-c", "ps -o args | grep -c '^sleep 100$' || true"}, seconds(10));
  ASSERT_TRUE(ps.ok()) << ps.error().to_string();
  EXPECT_EQ(ps->output, "0\n");
  HandlerProbeRunner runner(exec);
  json::object probe{{"exec", json::object{{"command", json::array{"sleep", "100"}}}},
                     {"timeoutSeconds", 1}};
  auto res = runner.run(target(id), probe);
  EXPECT_EQ(res.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(res.message, "command \"sleep 100\" timed out");
}

TEST_F(RuntimeProbeTest, HttpProbeReachesAServerInThePodsNetwork) {
  std::string id = start({"sh", "-c",
                          "mkdir -p /tmp/www && echo hello > /tmp/www/index.html && "
                          "exec httpd -f -p 8080 -h /tmp/www"});
  ASSERT_FALSE(id.empty());
  ASSERT_FALSE(netns_.empty()) << "the sandbox has its own network namespace";
  RuntimeProbeExec exec(*rt_, mu_, nullptr);
  HandlerProbeRunner runner(exec);
  json::object tcp{{"tcpSocket", json::object{{"port", 8080}}}};
  // httpd binds shortly after start: wait for it with a deadline.
  auto until = std::chrono::steady_clock::now() + seconds(10);
  ProbeResult r;
  do {
    r = runner.run(target(id), tcp);
  } while (r.outcome != ProbeOutcome::kSuccess && std::chrono::steady_clock::now() < until);
  ASSERT_EQ(r.outcome, ProbeOutcome::kSuccess) << r.message;
  json::object http{{"httpGet", json::object{{"port", 8080}, {"path", "/index.html"}}}};
  r = runner.run(target(id), http);
  EXPECT_EQ(r.outcome, ProbeOutcome::kSuccess) << r.message;
  EXPECT_EQ(r.message, "hello\n");
  json::object missing{{"httpGet", json::object{{"port", 8080}, {"path", "/nope"}}}};
  r = runner.run(target(id), missing);
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message, "HTTP probe failed with statuscode: 404");
  // A postStart-style exec hook in the same container.
  json::object hook{{"exec", json::object{{"command", json::array{"sh", "-c", "exit 2"}}}}};
  auto h = run_lifecycle_handler(exec, hook, target(id), seconds(10));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message().find("failed - error: command 'sh -c exit 2' exited with 2: "),
            std::string::npos) << h.error().message();
}

}  // namespace
}  // namespace kernlet::agent
