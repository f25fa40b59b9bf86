#include "control/apiserver/pod_logs.h"

#include <gtest/gtest.h>

namespace kernlet::apiserver {
namespace {

json::object parse(std::string_view text) { return json::parse_object(text).value(); }

RequestInfo request(std::string_view target) {
  auto info = parse_request_info("GET", target);
  EXPECT_TRUE(info.ok());
  return *info;
}

std::string message(const std::variant<std::string, api::Status>& v) {
  return std::holds_alternative<api::Status>(v) ? std::get<api::Status>(v).message() : "ok: " + std::get<std::string>(v);
}

TEST(PodLogContainer, TheOnlyContainerIsTheDefault) {
  auto pod = parse(R"({"spec":{"nodeName":"n1","containers":[{"name":"app"}]}})");
  EXPECT_EQ(message(pod_log_container(pod, request("/api/v1/namespaces/default/pods/web/log"))), "ok: app");
}

TEST(PodLogContainer, ErrorsAsKubernetesWordsThem) {
  auto multi = parse(R"({"spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}],
                                  "initContainers":[{"name":"init"}]}})");
  auto v = pod_log_container(multi, request("/api/v1/namespaces/default/pods/web/log"));
  ASSERT_TRUE(std::holds_alternative<api::Status>(v));
  EXPECT_EQ(std::get<api::Status>(v).code(), 400);
  EXPECT_EQ(message(v), "a container name must be specified for pod web, choose one of: [a b] or one of the init "
                        "containers: [init]");
  EXPECT_EQ(message(pod_log_container(multi, request("/api/v1/namespaces/default/pods/web/log?container=c"))),
            "container c is not valid for pod web");
  EXPECT_EQ(message(pod_log_container(multi, request("/api/v1/namespaces/default/pods/web/log?container=init"))),
            "ok: init");
  auto pending = parse(R"({"spec":{"containers":[{"name":"a"}]}})");
  EXPECT_EQ(message(pod_log_container(pending, request("/api/v1/namespaces/default/pods/web/log"))),
            "pod web does not have a host assigned");
}

TEST(KubeletEndpoint, InternalIpThenHostnameAndTheKubeletPort) {
  auto node = parse(R"({"metadata":{"name":"n1"},"status":{"addresses":[{"type":"Hostname","address":"n1.local"},
      {"type":"InternalIP","address":"10.0.0.5"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10251}}}})");
  auto t = std::get<NodeTarget>(kubelet_endpoint(node));
  EXPECT_EQ(t.host, "10.0.0.5");
  EXPECT_EQ(t.port, 10251);
  auto named = parse(R"({"metadata":{"name":"n1"},"status":{"addresses":[{"type":"Hostname","address":"n1.local"}]}})");
  t = std::get<NodeTarget>(kubelet_endpoint(named));
  EXPECT_EQ(t.host, "n1.local");
  EXPECT_EQ(t.port, 10250);
  auto none = parse(R"({"metadata":{"name":"n1"},"status":{}})");
  auto bad = kubelet_endpoint(none);
  ASSERT_TRUE(std::holds_alternative<api::Status>(bad));
  EXPECT_EQ(std::get<api::Status>(bad).code(), 500);
}

TEST(KubeletLogTarget, PassesTheLogOptionsOn) {
  auto info = request(
      "/api/v1/namespaces/default/pods/web/log?container=app&follow=true&tailLines=5&timestamps=1&sinceTime="
      "2026-11-26T21%3A00%3A00Z&limitBytes=100&previous=false&insecureSkipTLSVerifyBackend=true");
  EXPECT_EQ(message(kubelet_log_target("default", "web", "app", info)),
            "ok: /containerLogs/default/web/app?follow=true&timestamps=true&tailLines=5&limitBytes=100&sinceTime="
            "2026-11-26T21%3A00%3A00Z");
  EXPECT_EQ(message(kubelet_log_target("default", "web", "app",
                                       request("/api/v1/namespaces/default/pods/web/log?tailLines=x"))),
            "invalid value for query parameter tailLines: \"x\" (want an integer)");
}

TEST(KubeletExecTarget, CommandInOrderAndTheKubeletsStreamNames) {
  auto info = request(
      "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo%20a%26b&container=app&stdin=true&"
      "stdout=true&stderr=false&tty=1");
  EXPECT_EQ(message(kubelet_exec_target("default", "web", "app", info)),
            "ok: /exec/default/web/app?command=sh&command=-c&command=echo%20a%26b&input=1&output=1&tty=1");
}

TEST(KubeletExecTarget, ErrorsAsKubernetesWordsThem) {
  auto no_command = kubelet_exec_target("default", "web", "app",
                                        request("/api/v1/namespaces/default/pods/web/exec?stdout=true"));
  ASSERT_TRUE(std::holds_alternative<api::Status>(no_command));
  EXPECT_EQ(std::get<api::Status>(no_command).code(), 400);
  EXPECT_EQ(message(no_command), "you must specify at least one command for the container");
  EXPECT_EQ(message(kubelet_exec_target("default", "web", "app",
                                        request("/api/v1/namespaces/default/pods/web/exec?command=ls&tty=true"))),
            "you must specify at least one of stdin, stdout, stderr");
  EXPECT_EQ(message(kubelet_exec_target("default", "web", "app",
                                        request("/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=maybe"))),
            "invalid value for query parameter stdout: \"maybe\" (want true or false)");
}

TEST(KubeletAttachTarget, StreamsWithoutCommand) {
  RequestInfo info = request("/api/v1/namespaces/default/pods/web/attach?container=app&stdin=true&stdout=true&tty=1");
  EXPECT_EQ(message(kubelet_attach_target("default", "web", "app", info)), "ok: /attach/default/web/app?input=1&output=1&tty=1");
  EXPECT_EQ(message(kubelet_attach_target("default", "web", "app",
                                          request("/api/v1/namespaces/default/pods/web/attach?tty=true"))),
            "you must specify at least one of stdin, stdout, stderr");
}

TEST(KubeletPortForwardTarget, PortsPassedOnAndChecked) {
  EXPECT_EQ(message(kubelet_port_forward_target("default", "web",
                                                request("/api/v1/namespaces/default/pods/web/portforward"))),
            "ok: /portForward/default/web");
  EXPECT_EQ(message(kubelet_port_forward_target(
                "default", "web", request("/api/v1/namespaces/default/pods/web/portforward?ports=80&ports=8080,9090"))),
            "ok: /portForward/default/web?port=80&port=8080&port=9090");
  auto bad = kubelet_port_forward_target("default", "web",
                                         request("/api/v1/namespaces/default/pods/web/portforward?ports=http"));
  ASSERT_TRUE(std::holds_alternative<api::Status>(bad));
  EXPECT_EQ(std::get<api::Status>(bad).code(), 400);
  EXPECT_EQ(message(bad), "invalid port \"http\": must be a number in 1..65535");
  EXPECT_EQ(message(kubelet_port_forward_target("default", "web",
                                                request("/api/v1/namespaces/default/pods/web/portforward?ports=0"))),
            "invalid port \"0\": must be a number in 1..65535");
}

TEST(PortForwardRefusal, UnscheduledAndNotRunningPods) {
  auto running = parse(R"({"metadata":{"name":"web"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}})");
  EXPECT_FALSE(port_forward_refusal(running));
  auto unscheduled = parse(R"({"metadata":{"name":"web"},"spec":{},"status":{"phase":"Pending"}})");
  auto r = port_forward_refusal(unscheduled);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), 400);
  EXPECT_EQ(r->message(), "pod web does not have a host assigned");
  auto pending = parse(R"({"metadata":{"name":"web"},"spec":{"nodeName":"n1"}})");
  r = port_forward_refusal(pending);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message(), "unable to forward port because pod is not running. Current status=Pending");
  auto done = parse(R"({"metadata":{"name":"web"},"spec":{"nodeName":"n1"},"status":{"phase":"Succeeded"}})");
  EXPECT_EQ(port_forward_refusal(done)->message(),
            "unable to forward port because pod is not running. Current status=Succeeded");
}

}  // namespace
}  // namespace kernlet::apiserver
