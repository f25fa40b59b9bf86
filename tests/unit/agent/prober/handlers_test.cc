// Probe handlers and lifecycle hooks that need no network: exec through a fake runtime,
// port resolution, the kubelet's messages.
#include <gtest/gtest.h>

#include <thread>

#include "agent/prober/lifecycle.h"
#include "agent/prober/net_probe.h"
#include "agent/prober/probe_handlers.h"
#include "api/objects/pod.h"

namespace kernlet::agent {
using api::IntOrString;
using api::ProbeView;
namespace {

class FakeRuntime : public ProbeRuntime {
 public:
  Result<ExecOutput> exec(const std::string& id, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override {
    last_id = id;
    last_argv = argv;
    last_timeout = timeout;
    return next;
  }
  Result<ExecOutput> next = ExecOutput{0, ""};
  std::string last_id;
  std::vector<std::string> last_argv;
  std::chrono::milliseconds last_timeout{0};
};

ProbeTarget make_target() {
  ProbeTarget t;
  t.pod_uid = "9f1c";
  t.pod_namespace = "default";
  t.pod_name = "web";
  t.container_name = "app";
  t.container_id = "cid";
  t.container = {{"name", "app"},
                 {"ports", json::array{json::object{{"name", "http"}, {"containerPort", 8080}}}}};
  return t;
}

json::object exec_probe(std::vector<std::string> cmd, int timeout = 0) {
  json::array a;
  for (auto& c : cmd) a.emplace_back(json::string(c));
  json::object p{{"exec", json::object{{"command", a}}}};
  if (timeout) p["timeoutSeconds"] = timeout;
  return p;
}

TEST(ProbeHandlers, ExecExitCodeDecides) {
  FakeRuntime rt;
  HandlerProbeRunner runner(rt);
  auto t = make_target();
  rt.next = ExecOutput{0, "fine\n"};
  auto r = runner.run(t, exec_probe({"cat", "/tmp/healthy"}, 4));
  EXPECT_EQ(r.outcome, ProbeOutcome::kSuccess);
  EXPECT_EQ(rt.last_id, "cid");
  EXPECT_EQ(rt.last_argv, (std::vector<std::string>{"cat", "/tmp/healthy"}));
  EXPECT_EQ(rt.last_timeout, std::chrono::seconds(4));
  rt.next = ExecOutput{1, "cat: /tmp/healthy: No such file or directory\n"};
  r = runner.run(t, exec_probe({"cat", "/tmp/healthy"}));
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message, "cat: /tmp/healthy: No such file or directory\n");
  EXPECT_EQ(rt.last_timeout, std::chrono::seconds(1)) << "timeoutSeconds defaults to 1";
}

TEST(ProbeHandlers, ExecTimeoutIsAFailureOtherErrorsAreErrors) {
  FakeRuntime rt;
  HandlerProbeRunner runner(rt);
  rt.next = Error(ErrorCode::kDeadlineExceeded, "exec: timed out");
  auto r = runner.run(make_target(), exec_probe({"sh", "-c", "sleep 5"}));
  EXPECT_EQ(r.outcome, ProbeOutcome::kFailure);
  EXPECT_EQ(r.message, "command \"sh -c sleep 5\" timed out");
  rt.next = Error(ErrorCode::kNotFound, "container cid not found");
  r = runner.run(make_target(), exec_probe({"true"}));
  EXPECT_EQ(r.outcome, ProbeOutcome::kError);
  EXPECT_EQ(r.message, "container cid not found");
}

TEST(ProbeHandlers, ExecOutputIsCappedAt10KiB) {
  FakeRuntime rt;
  HandlerProbeRunner runner(rt);
  rt.next = ExecOutput{2, std::string(20000, 'x')};
  auto r = runner.run(make_target(), exec_probe({"x"}));
  EXPECT_EQ(r.message.size(), 10240u);
}

TEST(ProbeHandlers, PortResolution) {
  auto c = make_target().container;
  EXPECT_EQ(*resolve_container_port(IntOrString{true, 80, {}}, c), 80);
  EXPECT_EQ(*resolve_container_port(IntOrString{false, 0, "http"}, c), 8080);
  EXPECT_EQ(*resolve_container_port(IntOrString{false, 0, "9090"}, c), 9090);
  auto missing = resolve_container_port(IntOrString{false, 0, "grpc"}, c);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "port grpc not found");
  auto zero = resolve_container_port(IntOrString{true, 0, {}}, c);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().message(), "invalid port number: 0");
  EXPECT_FALSE(resolve_container_port(IntOrString{true, 70000, {}}, c).ok());
}

TEST(ProbeHandlers, BadPortIsAnErrorNotAFailure) {
  FakeRuntime rt;
  HandlerProbeRunner runner(rt);
  json::object p{{"httpGet", json::object{{"port", "metrics"}, {"path", "/healthz"}}}};
  auto r = runner.run(make_target(), p);
  EXPECT_EQ(r.outcome, ProbeOutcome::kError);
  EXPECT_EQ(r.message, "port metrics not found");
  json::object none{{"periodSeconds", 3}};
  EXPECT_EQ(runner.run(make_target(), none).outcome, ProbeOutcome::kError);
}

TEST(ProbeHandlers, HttpRequestDefaults) {
  auto t = make_target();
  json::object h{{"port", "http"},
                 {"httpHeaders", json::array{json::object{{"name", "X-Probe"}, {"value", "1"}}}}};
  auto req = http_request_for(h, t, kProbeUserAgent);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->host, "127.0.0.1") << "no pod IP: the pod's own loopback";
  EXPECT_EQ(req->port, 8080);
  EXPECT_EQ(req->path, "/");
  EXPECT_EQ(req->scheme, "HTTP");
  EXPECT_EQ(req->user_agent, "kube-probe/1.30");
  ASSERT_EQ(req->headers.size(), 1u);
  t.pod_ip = "10.88.0.7";
  EXPECT_EQ(http_request_for(h, t, kProbeUserAgent)->host, "10.88.0.7");
  h["host"] = "10.1.1.1";
  EXPECT_EQ(http_request_for(h, t, kProbeUserAgent)->host, "10.1.1.1");
}

TEST(ProbeHandlers, GoQuote) {
  EXPECT_EQ(go_quote("a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
}

TEST(Lifecycle, ExecFailureCarriesTheKubeletMessage) {
  FakeRuntime rt;
  rt.next = ExecOutput{3, "oops"};
  json::object h{{"exec", json::object{{"command", json::array{"sh", "-c", "exit 3"}}}}};
  auto r = run_lifecycle_handler(rt, h, make_target(), std::chrono::seconds(30));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "Exec lifecycle hook ([sh -c exit 3]) for Container \"app\" in Pod "
            "\"web_default(9f1c)\" failed - error: command 'sh -c exit 3' exited with 3: oops, "
            "message: \"oops\"");
  EXPECT_EQ(rt.last_timeout, std::chrono::seconds(30));
  rt.next = ExecOutput{0, ""};
  EXPECT_TRUE(run_lifecycle_handler(rt, h, make_target(), std::chrono::seconds(30)).ok());
}

TEST(Lifecycle, SleepWaitsAndEndsEarlyOnStop) {
  FakeRuntime rt;
  json::object h{{"sleep", json::object{{"seconds", 1}}}};
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(run_lifecycle_handler(rt, h, make_target(), std::chrono::seconds(5)).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));

  json::object long_sleep{{"sleep", json::object{{"seconds", 600}}}};
  std::stop_source stop;
  std::thread stopper([&] { stop.request_stop(); });
  start = std::chrono::steady_clock::now();
  auto r = run_lifecycle_handler(rt, long_sleep, make_target(), std::chrono::seconds(600),
                                 stop.get_token());
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  EXPECT_EQ(r.error().message(),
            "Sleep lifecycle hook (600) for Container \"app\" in Pod \"web_default(9f1c)\" "
            "failed - error: container terminated before sleep hook finished");
}

TEST(Lifecycle, SleepLongerThanTheTimeoutFails) {
  FakeRuntime rt;
  json::object h{{"sleep", json::object{{"seconds", 3}}}};
  auto r = run_lifecycle_handler(rt, h, make_target(), std::chrono::milliseconds(100));
  EXPECT_FALSE(r.ok());
}

TEST(Lifecycle, TcpSocketIsNotARunnableHook) {
  FakeRuntime rt;
  json::object h{{"tcpSocket", json::object{{"port", 80}}}};
  auto r = run_lifecycle_handler(rt, h, make_target(), std::chrono::seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("Cannot run handler: invalid handler: ", 0), 0u);
}

}  // namespace
}  // namespace kernlet::agent
