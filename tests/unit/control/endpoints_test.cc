#include "control/controllers/endpoints.h"

#include <gtest/gtest.h>

#include <string>

namespace kernlet::controllers::endpoints {
namespace {

json::object obj(const std::string& text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v->as_object();
}

json::object service(const std::string& spec) {
  return obj(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","uid":"svc-uid"},"spec":)" + spec + "}");
}

// A pod with the app=web label, an IP, Ready or not, on a node; ports as JSON.
json::object pod(const std::string& name, const std::string& ip, bool ready, const std::string& ports = "[]",
                 const std::string& extra_meta = "", const std::string& phase = "Running") {
  return obj(R"({"metadata":{"name":")" + name + R"(","namespace":"shop","uid":"uid-)" + name +
             R"(","labels":{"app":"web"})" + extra_meta + R"(},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x","ports":)" +
             ports + R"(}]},"status":{"phase":")" + phase + R"(","podIP":")" + ip +
             R"(","conditions":[{"type":"Ready","status":")" + (ready ? "True" : "False") + R"("}]}})");
}

TEST(EndpointSlices, ConditionsPortsAndOwnership) {
  auto svc = service(R"({"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]})");
  auto ready = pod("a", "10.0.0.1", true);
  auto starting = pod("b", "10.0.0.2", false);
  auto stopping = pod("c", "10.0.0.3", true, "[]", R"(,"deletionTimestamp":"2026-11-26T10:00:00Z")");
  auto no_ip = pod("d", "", true);
  auto done = pod("e", "10.0.0.5", false, "[]", "", "Succeeded");
  auto other = obj(R"({"metadata":{"name":"x","namespace":"shop","labels":{"app":"db"}},"status":{"podIP":"10.0.0.9"}})");
  Inputs in{&svc, {&ready, &starting, &stopping, &no_ip, &done, &other}, {{"n1", "zone-a"}}};
  auto slices = desired_endpoint_slices(in);
  ASSERT_EQ(slices.size(), 1u);
  const json::object& s = slices[0];
  EXPECT_EQ(s.at("addressType"), "IPv4");
  EXPECT_EQ(s.at("metadata").at("labels").at("kubernetes.io/service-name"), "web");
  EXPECT_EQ(s.at("metadata").at("ownerReferences").at(0).at("uid"), "svc-uid");
  EXPECT_EQ(s.at("ports"), obj(R"({"p":[{"name":"http","protocol":"TCP","port":8080}]})").at("p"));
  const json::array& eps = s.at("endpoints").as_array();
  ASSERT_EQ(eps.size(), 3u);  // a, b, c: no IP, finished and unselected pods are out
  EXPECT_EQ(eps[0].at("conditions"), obj(R"({"ready":true,"serving":true,"terminating":false})"));
  EXPECT_EQ(eps[1].at("conditions"), obj(R"({"ready":false,"serving":false,"terminating":false})"));
  EXPECT_EQ(eps[2].at("conditions"), obj(R"({"ready":false,"serving":true,"terminating":true})"));
  EXPECT_EQ(eps[0].at("nodeName"), "n1");
  EXPECT_EQ(eps[0].at("zone"), "zone-a");
  EXPECT_EQ(eps[0].at("targetRef").at("name"), "a");

  // Legacy Endpoints: ready under addresses, the starting pod under notReadyAddresses,
  // the terminating one left out.
  auto ep = desired_endpoints(in);
  ASSERT_EQ(ep.at("subsets").as_array().size(), 1u);
  const json::object& subset = ep.at("subsets").at(0).as_object();
  EXPECT_EQ(subset.at("addresses").as_array().size(), 1u);
  EXPECT_EQ(subset.at("addresses").at(0).at("ip"), "10.0.0.1");
  EXPECT_EQ(subset.at("notReadyAddresses").at(0).at("ip"), "10.0.0.2");
}

TEST(EndpointSlices, NamedPortsResolvePerPod) {
  auto svc = service(R"({"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"web","protocol":"TCP"}]})");
  auto old_pod = pod("a", "10.0.0.1", true, R"([{"name":"web","containerPort":8080}])");
  auto new_pod = pod("b", "10.0.0.2", true, R"([{"name":"web","containerPort":9090}])");
  auto unnamed = pod("c", "10.0.0.3", true, R"([{"containerPort":8080}])");
  Inputs in{&svc, {&old_pod, &new_pod, &unnamed}, {}};
  auto slices = desired_endpoint_slices(in);
  // Two port sets (8080, 9090) and the pod that serves neither, in a slice of its own.
  ASSERT_EQ(slices.size(), 3u);
  std::map<int64_t, std::string> by_port;
  for (const auto& s : slices) {
    const json::array& ports = s.at("ports").as_array();
    const json::array& eps = s.at("endpoints").as_array();
    ASSERT_EQ(eps.size(), 1u);
    by_port[ports.empty() ? 0 : ports[0].at("port").as_int64()] = eps[0].at("addresses").at(0).as_string().c_str();
  }
  EXPECT_EQ(by_port, (std::map<int64_t, std::string>{{0, "10.0.0.3"}, {8080, "10.0.0.1"}, {9090, "10.0.0.2"}}));
  // The same port set keeps its name across calls.
  EXPECT_EQ(desired_endpoint_slices(in)[0].at("metadata").at("name"), slices[0].at("metadata").at("name"));
}

TEST(EndpointSlices, AtMostMaxEndpointsPerSlice) {
  auto svc = service(R"({"selector":{"app":"web"},"ports":[{"port":80}]})");
  std::vector<json::object> pods;
  for (int i = 0; i < 250; ++i) pods.push_back(pod("p" + std::to_string(1000 + i), "10.1.0." + std::to_string(i % 250), true));
  Inputs in{&svc, {}, {}};
  for (const auto& p : pods) in.pods.push_back(&p);
  auto slices = desired_endpoint_slices(in);
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[0].at("endpoints").as_array().size(), 100u);
  EXPECT_EQ(slices[2].at("endpoints").as_array().size(), 50u);
  EXPECT_NE(slices[0].at("metadata").at("name"), slices[1].at("metadata").at("name"));
}

TEST(EndpointSlices, NoBackendsAndNoSelector) {
  auto svc = service(R"({"selector":{"app":"web"},"ports":[{"port":80}]})");
  Inputs in{&svc, {}, {}};
  auto slices = desired_endpoint_slices(in);
  ASSERT_EQ(slices.size(), 1u);  // an empty slice: "no endpoints", not "unknown"
  EXPECT_TRUE(slices[0].at("endpoints").as_array().empty());
  EXPECT_FALSE(desired_endpoints(in).contains("subsets"));
  auto manual = service(R"({"ports":[{"port":80}]})");
  Inputs m{&manual, {}, {}};
  EXPECT_TRUE(desired_endpoint_slices(m).empty());
}

TEST(EndpointSlices, PublishNotReadyAndHeadlessHostnames) {
  auto svc = service(R"({"selector":{"app":"web"},"clusterIP":"None","publishNotReadyAddresses":true,"ports":[{"port":80}]})");
  auto p = obj(R"({"metadata":{"name":"db-0","namespace":"shop","uid":"u","labels":{"app":"web"}},
      "spec":{"hostname":"db-0","subdomain":"web","containers":[]},"status":{"phase":"Running","podIP":"10.0.0.7"}})");
  Inputs in{&svc, {&p}, {}};
  auto slices = desired_endpoint_slices(in);
  ASSERT_EQ(slices.size(), 1u);
  const json::object& ep = slices[0].at("endpoints").at(0).as_object();
  EXPECT_EQ(ep.at("conditions").at("ready"), true);
  EXPECT_EQ(ep.at("hostname"), "db-0");
}

}  // namespace
}  // namespace kernlet::controllers::endpoints
