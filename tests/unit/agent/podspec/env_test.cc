// Table tests of agent/podspec/env.h against the kubelet's documented behaviour
// (makeEnvironmentVariables, envvars.FromServices, expansion.Expand).
#include "agent/podspec/env.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace kernlet::agent::podspec {
namespace {

json::object obj(std::string_view text) {
  Result<json::object> o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().to_string());
  return o.ok() ? *o : json::object();
}

// A pod in namespace "ns" whose first container is `container` (JSON).
json::object pod_with(std::string_view container, std::string_view spec_extra = "") {
  std::string text = R"({"metadata": {"name": "web", "namespace": "ns", "uid": "u-1",
      "labels": {"app": "web", "tier": "a\"b"}, "annotations": {"note": "hi"}},
    "spec": {"nodeName": "node-1", "serviceAccountName": "sa", "restartPolicy": "Always",)";
  text += std::string(spec_extra);
  text += R"("containers": [)" + std::string(container) + R"(,
      {"name": "other", "resources": {"limits": {"cpu": "3", "memory": "1Gi"}}}]}})";
  return obj(text);
}

struct Fixture {
  json::object pod;
  std::map<std::string, json::object, std::less<>> config_maps;
  std::map<std::string, json::object, std::less<>> secrets;
  std::vector<json::object> services;
  EnvContext ctx;

  explicit Fixture(std::string_view container, std::string_view spec_extra = "")
      : pod(pod_with(container, spec_extra)) {
    ctx.node_name = "node-1";
    ctx.host_ips = {"10.0.0.5", "fd00::5"};
    ctx.pod_ips = {"fd00:10::7", "10.244.1.7"};
    ctx.node_allocatable = {{"cpu", *Quantity::parse("4")}, {"memory", *Quantity::parse("8Gi")},
                            {"ephemeral-storage", *Quantity::parse("100Gi")}};
  }
  Result<std::vector<std::string>> env() {
    ctx.pod = &pod;
    ctx.config_map = [this](std::string_view n) -> const json::object* {
      auto it = config_maps.find(n);
      return it == config_maps.end() ? nullptr : &it->second;
    };
    ctx.secret = [this](std::string_view n) -> const json::object* {
      auto it = secrets.find(n);
      return it == secrets.end() ? nullptr : &it->second;
    };
    ctx.services.clear();
    for (const json::object& s : services) ctx.services.push_back(&s);
    const json::object& c = pod.at("spec").as_object().at("containers").as_array()[0].as_object();
    return container_env(ctx, api::ContainerView(c));
  }
};

std::string var(const std::vector<std::string>& env, std::string_view name) {
  for (const std::string& e : env) {
    if (e.compare(0, name.size(), name) == 0 && e.size() > name.size() && e[name.size()] == '=') {
      return e.substr(name.size() + 1);
    }
  }
  return "<unset>";
}

TEST(ExpandTest, KubernetesExpansionRules) {
  const std::map<std::string, std::string, std::less<>> vars = {
      {"VAR_A", "A"}, {"VAR_B", "B"}, {"VAR_REF", "$(VAR_A)"}, {"VAR_EMPTY", ""}};
  auto lookup = [&](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"$(VAR_A)", "A"},
      {"___$(VAR_B)___", "___B___"},
      {"$(VAR_A)-$(VAR_B)", "A-B"},
      {"$(VAR_DNE)", "$(VAR_DNE)"},       // unknown: left as written
      {"$(VAR_EMPTY)", ""},               // known but empty
      {"$(VAR_REF)", "$(VAR_A)"},         // no recursion
      {"$$(VAR_A)", "$(VAR_A)"},          // escaped
      {"$$$(VAR_A)", "$A"},               // escaped "$" then a reference
      {"$$$$(VAR_A)", "$$(VAR_A)"},
      {"f000-$$VAR_A", "f000-$VAR_A"},
      {"$(VAR_A", "$(VAR_A"},             // unclosed
      {"$(VAR_A)$(VAR_A", "A$(VAR_A"},
      {"$(", "$("},
      {"$()", "$()"},                     // empty name, not found
      {"$", "$"},
      {"$$", "$"},
      {"$x$", "$x$"},
      {"a$(VAR_A)b$(VAR_B)c", "aAbBc"},
      {"$(VAR_A)$$(VAR_B)$(VAR_DNE)", "A$(VAR_B)$(VAR_DNE)"},
      {"$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"},  // no nesting: the name is "VAR_A$(VAR_B"
      {"$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"},
      {"$$$$$$(VAR_A)", "$$$(VAR_A)"},
      {"$$$$$$$(VAR_A)", "$$$A"},
      {"$$$$$$$(NOPE)", "$$$$(NOPE)"},
      {"${VAR_A}", "${VAR_A}"},             // shell syntax is not Kubernetes syntax
      {"$VAR_A)", "$VAR_A)"},
      {"foo\\$(VAR_A)bar", "foo\\Abar"},  // backslashes escape nothing
      {"--$($($($($--", "--$($($($($--"},
      {"$(foo$$var)", "$(foo$$var)"},
      {"$?_boo_$!", "$?_boo_$!"},
      // Go's string(byte) quirk: the byte after a lone "$" becomes a rune.
      {"$\xc3\xa9", "$\xc3\x83\xa9"},
  };
  for (const Case& c : cases) EXPECT_EQ(expand(c.in, lookup), c.want) << c.in;
}

TEST(ContainerEnvTest, ValuesExpandAgainstEarlierVariablesOnly) {
  Fixture f(R"js({"name": "app", "env": [
      {"name": "A", "value": "a"},
      {"name": "B", "value": "$(A)-$(C)"},
      {"name": "C", "value": "c"},
      {"name": "EMPTY"},
      {"name": "A", "value": "again-$(A)"}]})js");
  Result<std::vector<std::string>> env = f.env();
  ASSERT_TRUE(env.ok()) << env.error().to_string();
  // A keeps its first position; its second definition sees the first.
  EXPECT_EQ(*env, (std::vector<std::string>{"A=again-a", "B=a-$(C)", "C=c", "EMPTY="}));
}

TEST(ContainerEnvTest, EnvFromThenEnvOverrides) {
  Fixture f(R"js({"name": "app",
      "envFrom": [{"configMapRef": {"name": "cm"}},
                  {"prefix": "S_", "secretRef": {"name": "sec"}},
                  {"configMapRef": {"name": "missing", "optional": true}},
                  {"prefix": "tab\t", "configMapRef": {"name": "cm"}},
                  {"secretRef": {"name": "gone", "optional": true}}],
      "env": [{"name": "one", "value": "override-$(two)"}, {"name": "X", "value": "$(S_pw)"}]})js");
  f.config_maps.emplace("cm", obj(R"({"data": {"one": "1", "two": "2", "1key": "digit-first"},
                                      "binaryData": {"bin": "AA=="}})"));
  f.secrets.emplace("sec", obj(R"({"type": "Opaque", "data": {"pw": "czNjcjN0"}})"));
  Result<std::vector<std::string>> env = f.env();
  ASSERT_TRUE(env.ok()) << env.error().to_string();
  EXPECT_EQ(*env, (std::vector<std::string>{"one=override-2", "two=2", "1key=digit-first", "S_pw=s3cr3t",
                                            "X=s3cr3t"}));
}

TEST(ContainerEnvTest, MissingSourcesGiveTheKubeletsMessages) {
  struct Case {
    const char* container;
    const char* want;
  };
  const Case cases[] = {
      {R"({"name": "a", "envFrom": [{"configMapRef": {"name": "nope"}}]})", R"(configmap "nope" not found)"},
      {R"({"name": "a", "envFrom": [{"secretRef": {"name": "nope"}}]})", R"(secret "nope" not found)"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]})",
       R"(configmap "nope" not found)"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]})",
       "couldn't find key k in ConfigMap ns/cm"},
      // binaryData keys are not read for env, as in the kubelet
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "bin"}}}]})",
       "couldn't find key bin in ConfigMap ns/cm"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]})",
       R"(secret "nope" not found)"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}]})",
       "couldn't find key k in Secret ns/sec"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}]})",
       "unsupported fieldPath: spec.restartPolicy"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]})",
       "field label not supported: spec.bogus"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName['x']"}}}]})",
       "field label does not support subscript: spec.nodeName['x']"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}}]})",
       "unsupported pod version: v2"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.nvidia.com/gpu"}}}]})",
       "unsupported container resource : limits.nvidia.com/gpu"},
      {R"({"name": "a", "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}}}]})",
       "container ghost not found"},
  };
  for (const Case& c : cases) {
    Fixture f(c.container);
    f.config_maps.emplace("cm", obj(R"({"data": {"other": "x"}, "binaryData": {"bin": "AA=="}})"));
    f.secrets.emplace("sec", obj(R"({"data": {"other": "eA=="}})"));
    Result<std::vector<std::string>> env = f.env();
    ASSERT_FALSE(env.ok()) << c.container;
    EXPECT_EQ(env.error().message(), c.want) << c.container;
  }
}

TEST(ContainerEnvTest, OptionalKeyRefsThatAreMissingLeaveTheVariableOut) {
  Fixture f(R"({"name": "a", "envFrom": [{"configMapRef": {"name": "cm"}}], "env": [
      {"name": "other", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nokey", "optional": true}}},
      {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "nocm", "key": "k", "optional": true}}},
      {"name": "Z", "valueFrom": {"secretKeyRef": {"name": "nosec", "key": "k", "optional": true}}},
      {"name": "W", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nokey", "optional": true}}}]})");
  f.config_maps.emplace("cm", obj(R"({"data": {"other": "from-envFrom"}})"));
  f.secrets.emplace("sec", obj(R"({"data": {}})"));
  Result<std::vector<std::string>> env = f.env();
  ASSERT_TRUE(env.ok()) << env.error().to_string();
  EXPECT_EQ(*env, (std::vector<std::string>{"other=from-envFrom"}));
}

TEST(ContainerEnvTest, FieldRefs) {
  struct Case {
    const char* path;
    const char* want;
  };
  const Case cases[] = {
      {"metadata.name", "web"},
      {"metadata.namespace", "ns"},
      {"metadata.uid", "u-1"},
      {"metadata.labels['app']", "web"},
      {"metadata.labels['absent']", ""},
      {"metadata.annotations['note']", "hi"},
      {"metadata.labels", "app=\"web\"\ntier=\"a\\\"b\""},
      {"spec.nodeName", "node-1"},
      {"spec.host", "node-1"},
      {"spec.serviceAccountName", "sa"},
      {"status.hostIP", "10.0.0.5"},
      {"status.hostIPs", "10.0.0.5,fd00::5"},
      // the node's first address is IPv4, so the pod's IPv4 address comes first
      {"status.podIP", "10.244.1.7"},
      {"status.podIPs", "10.244.1.7,fd00:10::7"},
  };
  for (const Case& c : cases) {
    Fixture f(R"({"name": "a", "env": [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": ")" +
              std::string(c.path) + R"("}}}]})");
    Result<std::vector<std::string>> env = f.env();
    ASSERT_TRUE(env.ok()) << c.path << ": " << env.error().to_string();
    EXPECT_EQ(var(*env, "X"), c.want) << c.path;
  }
}

TEST(ContainerEnvTest, PodIPFollowsAnIPv6NodeAndHostIPNeedsAnAddress) {
  Fixture f(R"({"name": "a", "env": [{"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]})");
  f.ctx.host_ips = {"fd00::5"};
  Result<std::vector<std::string>> env = f.env();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(var(*env, "P"), "fd00:10::7");

  Fixture g(R"({"name": "a", "env": [{"name": "H", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}]})");
  g.ctx.host_ips.clear();
  EXPECT_FALSE(g.env().ok());
  g.ctx.host_ip = "192.168.1.1";
  env = g.env();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(var(*env, "H"), "192.168.1.1");
}

TEST(ContainerEnvTest, ResourceFieldRefs) {
  struct Case {
    const char* resources;  // the container's resources
    const char* ref;        // the resourceFieldRef
    const char* want;
  };
  const Case cases[] = {
      {R"({"limits": {"cpu": "500m"}})", R"({"resource": "limits.cpu"})", "1"},  // ceiling
      {R"({"limits": {"cpu": "500m"}})", R"({"resource": "limits.cpu", "divisor": "1m"})", "500"},
      {R"({"limits": {"cpu": "1250m"}})", R"({"resource": "limits.cpu", "divisor": "1"})", "2"},
      {R"({"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}})", R"({"resource": "requests.cpu", "divisor": "1m"})",
       "250"},
      {R"({"requests": {"memory": "64Mi"}})", R"({"resource": "requests.memory", "divisor": "1Mi"})", "64"},
      {R"({"requests": {"memory": "64Mi"}})", R"({"resource": "requests.memory"})", "67108864"},
      {R"({"limits": {"memory": "100M"}})", R"({"resource": "limits.memory", "divisor": "1Mi"})", "96"},
      // unset limits read the node's allocatable
      {R"({})", R"({"resource": "limits.cpu"})", "4"},
      {R"({})", R"({"resource": "limits.memory", "divisor": "1Gi"})", "8"},
      {R"({})", R"({"resource": "limits.ephemeral-storage", "divisor": "1Gi"})", "100"},
      {R"({"limits": {"cpu": "0"}})", R"({"resource": "limits.cpu"})", "4"},
      // unset requests read as the spec's limit, else zero
      {R"({"limits": {"cpu": "2"}})", R"({"resource": "requests.cpu"})", "2"},
      {R"({})", R"({"resource": "requests.cpu"})", "0"},
      {R"({})", R"({"resource": "requests.memory"})", "0"},
      {R"({"limits": {"hugepages-2Mi": "4Mi"}})", R"({"resource": "limits.hugepages-2Mi", "divisor": "1Mi"})", "4"},
      // another container of the pod
      {R"({})", R"({"containerName": "other", "resource": "limits.cpu"})", "3"},
      {R"({})", R"({"containerName": "other", "resource": "limits.memory", "divisor": "1Mi"})", "1024"},
  };
  for (const Case& c : cases) {
    Fixture f(R"({"name": "a", "resources": )" + std::string(c.resources) +
              R"(, "env": [{"name": "R", "valueFrom": {"resourceFieldRef": )" + c.ref + "}}]}");
    Result<std::vector<std::string>> env = f.env();
    ASSERT_TRUE(env.ok()) << c.resources << " " << c.ref << ": " << env.error().to_string();
    EXPECT_EQ(var(*env, "R"), c.want) << c.resources << " " << c.ref;
  }
}

json::object service(std::string_view ns, std::string_view name, std::string_view cluster_ip, std::string_view ports) {
  return obj(R"({"metadata": {"name": ")" + std::string(name) + R"(", "namespace": ")" + std::string(ns) +
             R"("}, "spec": {"clusterIP": ")" + std::string(cluster_ip) + R"(", "ports": )" + std::string(ports) +
             "}}");
}

TEST(ServiceEnvTest, FromServicesNamesAndOrder) {
  std::vector<json::object> svcs;
  svcs.push_back(service("ns", "my-svc", "10.96.0.20",
                         R"([{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns-udp", "port": 53, "protocol": "UDP"}])"));
  svcs.push_back(service("default", "kubernetes", "10.96.0.1", R"([{"name": "https", "port": 443}])"));
  svcs.push_back(service("ns", "headless", "None", R"([{"port": 80}])"));
  svcs.push_back(service("ns", "pending", "", R"([{"port": 80}])"));
  svcs.push_back(service("elsewhere", "far", "10.96.0.30", R"([{"port": 80}])"));
  svcs.push_back(service("ns", "v6", "fd00::10", R"([{"port": 8080}])"));
  std::vector<const json::object*> ptrs;
  for (const json::object& s : svcs) ptrs.push_back(&s);

  const std::vector<std::pair<std::string, std::string>> want = {
      {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
      {"KUBERNETES_SERVICE_PORT", "443"},
      {"KUBERNETES_SERVICE_PORT_HTTPS", "443"},
      {"KUBERNETES_PORT", "tcp://10.96.0.1:443"},
      {"KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"},
      {"KUBERNETES_PORT_443_TCP_PROTO", "tcp"},
      {"KUBERNETES_PORT_443_TCP_PORT", "443"},
      {"KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"},
      {"MY_SVC_SERVICE_HOST", "10.96.0.20"},
      {"MY_SVC_SERVICE_PORT", "80"},
      {"MY_SVC_SERVICE_PORT_HTTP", "80"},
      {"MY_SVC_SERVICE_PORT_DNS_UDP", "53"},
      {"MY_SVC_PORT", "tcp://10.96.0.20:80"},
      {"MY_SVC_PORT_80_TCP", "tcp://10.96.0.20:80"},
      {"MY_SVC_PORT_80_TCP_PROTO", "tcp"},
      {"MY_SVC_PORT_80_TCP_PORT", "80"},
      {"MY_SVC_PORT_80_TCP_ADDR", "10.96.0.20"},
      {"MY_SVC_PORT_53_UDP", "udp://10.96.0.20:53"},
      {"MY_SVC_PORT_53_UDP_PROTO", "udp"},
      {"MY_SVC_PORT_53_UDP_PORT", "53"},
      {"MY_SVC_PORT_53_UDP_ADDR", "10.96.0.20"},
      {"V6_SERVICE_HOST", "fd00::10"},
      {"V6_SERVICE_PORT", "8080"},
      {"V6_PORT", "tcp://[fd00::10]:8080"},
      {"V6_PORT_8080_TCP", "tcp://[fd00::10]:8080"},
      {"V6_PORT_8080_TCP_PROTO", "tcp"},
      {"V6_PORT_8080_TCP_PORT", "8080"},
      {"V6_PORT_8080_TCP_ADDR", "fd00::10"},
  };
  EXPECT_EQ(service_env("ns", true, ptrs), want);

  // enableServiceLinks: false keeps the master service only.
  auto links_off = service_env("ns", false, ptrs);
  ASSERT_EQ(links_off.size(), 8u);
  EXPECT_EQ(links_off[0].first, "KUBERNETES_SERVICE_HOST");

  // A service called kubernetes in the pod's own namespace wins over default/kubernetes.
  svcs.push_back(service("ns", "kubernetes", "10.96.9.9", R"([{"port": 443}])"));
  ptrs.push_back(&svcs.back());
  auto shadowed = service_env("ns", true, ptrs);
  EXPECT_EQ(shadowed[0], (std::pair<std::string, std::string>{"KUBERNETES_SERVICE_HOST", "10.96.9.9"}));
  // ... but not with links off.
  EXPECT_EQ(service_env("ns", false, ptrs)[0].second, "10.96.0.1");
}

TEST(ContainerEnvTest, ServiceVariablesComeLastAndYieldToTheContainers) {
  Fixture f(R"js({"name": "a", "env": [{"name": "KUBERNETES_SERVICE_PORT", "value": "mine"},
                                     {"name": "URL", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"}]})js");
  f.services.push_back(service("default", "kubernetes", "10.96.0.1", R"([{"name": "https", "port": 443}])"));
  Result<std::vector<std::string>> env = f.env();
  ASSERT_TRUE(env.ok());
  ASSERT_GE(env->size(), 3u);
  EXPECT_EQ((*env)[0], "KUBERNETES_SERVICE_PORT=mine");
  EXPECT_EQ((*env)[1], "URL=https://10.96.0.1:mine");
  EXPECT_EQ((*env)[2], "KUBERNETES_SERVICE_HOST=10.96.0.1");
  int count = 0;
  for (const std::string& e : *env) count += e.rfind("KUBERNETES_SERVICE_PORT=", 0) == 0 ? 1 : 0;
  EXPECT_EQ(count, 1);
}

TEST(ContainerEnvTest, EnableServiceLinksFalseKeepsOnlyTheMasterService) {
  Fixture f(R"({"name": "a"})", R"("enableServiceLinks": false,)");
  f.services.push_back(service("default", "kubernetes", "10.96.0.1", R"([{"port": 443}])"));
  f.services.push_back(service("ns", "db", "10.96.0.7", R"([{"port": 5432}])"));
  Result<std::vector<std::string>> env = f.env();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(var(*env, "KUBERNETES_SERVICE_HOST"), "10.96.0.1");
  EXPECT_EQ(var(*env, "DB_SERVICE_HOST"), "<unset>");
}

TEST(ExpandCommandTest, CommandArgsAndSubPathExpr) {
  json::object c = obj(R"js({"name": "a", "command": ["/bin/sh", "-c", "echo $(MSG) $$(MSG) $(NOPE)"],
                          "args": ["$(POD)"]})js");
  const std::vector<std::string> env = {"MSG=hello", "POD=web", "EMPTY="};
  ExpandedCommand cmd = expand_command_and_args(api::ContainerView(c), env);
  EXPECT_EQ(cmd.command, (std::vector<std::string>{"/bin/sh", "-c", "echo hello $(MSG) $(NOPE)"}));
  EXPECT_EQ(cmd.args, (std::vector<std::string>{"web"}));

  Result<std::string> p = expand_sub_path_expr("logs/$(POD)", env);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "logs/web");
  p = expand_sub_path_expr("$(ZED)/$(EMPTY)/$(POD)", env);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message(), "missing value for EMPTY, ZED");
}

}  // namespace
}  // namespace kernlet::agent::podspec
