#include "api/objects/pod.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace kernlet::api {
namespace {

json::object load_pod() {
  std::ifstream in(std::string(KERNLET_TESTDATA) + "/pod.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto o = decode_object(ss.str());
  EXPECT_TRUE(o.ok()) << o.error().message();
  return o.ok() ? *o : json::object{};
}

json::object obj(std::string_view text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return o.ok() ? *o : json::object{};
}

using Strings = std::vector<std::string_view>;

TEST(PodView, ReadsTheInitContainer) {
  json::object doc = load_pod();
  PodView pod(doc);
  auto inits = pod.spec().init_containers();
  ASSERT_EQ(inits.size(), 1u);
  const ContainerView& c = inits[0];
  EXPECT_EQ(c.name(), "migrate");
  EXPECT_EQ(c.image(), "registry.example.com/shop/migrate:2.14.1");
  EXPECT_EQ(c.command(), (Strings{"/bin/migrate", "--to=latest"}));
  EXPECT_TRUE(c.args().empty());
  auto env = c.env();
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0].name(), "DB_HOST");
  EXPECT_EQ(env[0].value(), "db.shop.svc.cluster.local");
  EXPECT_EQ(env[0].value_from(), nullptr);
  ASSERT_NE(env[1].value_from(), nullptr);
  EXPECT_EQ(json::dump(*env[1].value_from()), R"({"secretKeyRef":{"name":"db","key":"password"}})");
  EXPECT_EQ(c.resources().request("cpu")->milli_value().value(), 50);
  EXPECT_EQ(c.resources().request("memory")->value().value(), 32 << 20);
  EXPECT_FALSE(c.resources().limits().has("cpu"));
  EXPECT_EQ(c.resources().limit("memory")->value().value(), 64 << 20);
  EXPECT_FALSE(c.is_sidecar());
  EXPECT_EQ(c.restart_policy(), std::nullopt);
}

TEST(PodView, ReadsTheMainContainer) {
  json::object doc = load_pod();
  PodView pod(doc);
  auto containers = pod.spec().containers();
  ASSERT_EQ(containers.size(), 1u);
  const ContainerView& c = containers[0];
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.args(), (Strings{"--listen=:8080", "--metrics=:9102", "--log-level=info"}));
  EXPECT_TRUE(c.command().empty());
  EXPECT_EQ(c.working_dir(), "");

  auto ports = c.ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].name(), "http");
  EXPECT_EQ(ports[0].container_port(), 8080);
  EXPECT_EQ(ports[0].protocol(), "TCP");
  EXPECT_EQ(ports[1].container_port(), 9102);
  EXPECT_EQ(ports[1].host_port(), 0);
  EXPECT_EQ(ports[1].host_ip(), "");
  EXPECT_EQ(c.find_port("metrics"), 9102);
  EXPECT_EQ(c.find_port("grpc"), std::nullopt);

  auto env = c.env();
  ASSERT_EQ(env.size(), 3u);
  EXPECT_EQ(env[2].name(), "GOMAXPROCS");
  EXPECT_EQ(json::get_path(*env[2].value_from(), "resourceFieldRef")->at("resource"), "limits.cpu");
  ASSERT_NE(c.env_from(), nullptr);
  EXPECT_EQ(c.env_from()->size(), 1u);

  EXPECT_EQ(c.resources().request("cpu")->milli_value().value(), 250);
  EXPECT_EQ(c.resources().limit("cpu")->milli_value().value(), 1000);
  EXPECT_EQ(c.resources().limit("memory")->value().value(), 512 << 20);
  EXPECT_EQ(c.resources().requests().to_list()->size(), 2u);

  auto mounts = c.volume_mounts();
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].name(), "config");
  EXPECT_EQ(mounts[0].mount_path(), "/etc/web");
  EXPECT_TRUE(mounts[0].read_only());
  EXPECT_FALSE(mounts[1].read_only());
  EXPECT_EQ(mounts[1].sub_path(), "");
  EXPECT_EQ(mounts[2].mount_path(), "/var/run/secrets/kubernetes.io/serviceaccount");

  auto live = c.liveness_probe();
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->handler().kind(), HandlerView::Kind::HttpGet);
  EXPECT_EQ(live->handler().kind_name(), "httpGet");
  ASSERT_TRUE(live->handler().http_get().has_value());
  HttpGetView get = *live->handler().http_get();
  EXPECT_EQ(get.path(), "/healthz");
  EXPECT_EQ(get.port(), (IntOrString{false, 0, "http"}));
  EXPECT_EQ(get.scheme(), "HTTP");
  EXPECT_EQ(get.host(), "");
  EXPECT_EQ(live->initial_delay_seconds(), 5);
  EXPECT_EQ(live->period_seconds(), 10);
  EXPECT_EQ(live->failure_threshold(), 3);
  EXPECT_EQ(live->termination_grace_period_seconds(), std::nullopt);

  auto ready = c.readiness_probe();
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->handler().kind(), HandlerView::Kind::TcpSocket);
  EXPECT_EQ(ready->handler().tcp_socket_port(), (IntOrString{true, 8080, {}}));
  EXPECT_EQ(ready->period_seconds(), 5);
  EXPECT_EQ(ready->initial_delay_seconds(), 0);
  EXPECT_FALSE(c.startup_probe().has_value());

  EXPECT_FALSE(c.post_start().has_value());
  ASSERT_TRUE(c.pre_stop().has_value());
  EXPECT_EQ(c.pre_stop()->kind(), HandlerView::Kind::Exec);
  EXPECT_EQ(c.pre_stop()->exec_command(), (Strings{"/bin/sh", "-c", "sleep 5"}));

  ASSERT_TRUE(c.security_context().has_value());
  SecurityContextView sc = *c.security_context();
  EXPECT_EQ(sc.run_as_non_root(), true);
  EXPECT_EQ(sc.run_as_user(), 10001);
  EXPECT_EQ(sc.run_as_group(), std::nullopt);
  EXPECT_EQ(sc.allow_privilege_escalation(), false);
  EXPECT_TRUE(sc.read_only_root_filesystem());
  EXPECT_FALSE(sc.privileged());
  EXPECT_EQ(sc.capabilities_drop(), (Strings{"ALL"}));
  EXPECT_TRUE(sc.capabilities_add().empty());

  EXPECT_EQ(c.image_pull_policy(), "IfNotPresent");
  EXPECT_EQ(c.termination_message_path(), "/dev/termination-log");
  EXPECT_EQ(c.termination_message_policy(), "File");
  EXPECT_FALSE(c.stdin_());
  EXPECT_FALSE(c.stdin_once());
  EXPECT_FALSE(c.tty());
}

TEST(PodView, ReadsTheSpec) {
  json::object doc = load_pod();
  PodSpecView spec = PodView(doc).spec();
  auto volumes = spec.volumes();
  ASSERT_EQ(volumes.size(), 3u);
  EXPECT_EQ(volumes[0].name(), "config");
  EXPECT_EQ(volumes[0].source_kind(), "configMap");
  EXPECT_EQ(json::get_string(*volumes[0].source(), "name"), "web-config");
  EXPECT_EQ(volumes[1].source_kind(), "emptyDir");
  EXPECT_EQ(json::get_string(*volumes[1].source(), "sizeLimit"), "1Gi");
  EXPECT_EQ(volumes[2].source_kind(), "projected");
  EXPECT_EQ(json::get_array(*volumes[2].source(), "sources")->size(), 3u);
  ASSERT_TRUE(spec.find_volume("cache").has_value());
  EXPECT_FALSE(spec.find_volume("nope").has_value());

  EXPECT_EQ(spec.restart_policy(), "Always");
  EXPECT_EQ(spec.termination_grace_period_seconds(), 30);
  EXPECT_EQ(spec.dns_policy(), "ClusterFirst");
  EXPECT_EQ(spec.service_account_name(), "web");
  EXPECT_EQ(spec.node_name(), "node-3");
  ASSERT_NE(spec.node_selector(), nullptr);
  EXPECT_EQ(json::get_string(*spec.node_selector(), "kubernetes.io/os"), "linux");
  ASSERT_NE(spec.affinity(), nullptr);
  EXPECT_TRUE(spec.affinity()->contains("podAntiAffinity"));
  EXPECT_EQ(spec.scheduler_name(), "default-scheduler");
  EXPECT_EQ(spec.priority(), 0);
  EXPECT_TRUE(spec.enable_service_links());
  EXPECT_FALSE(spec.host_network());
  EXPECT_FALSE(spec.host_pid());
  EXPECT_FALSE(spec.host_ipc());
  EXPECT_FALSE(spec.share_process_namespace());
  EXPECT_EQ(spec.security_context(), nullptr);
  EXPECT_EQ(spec.hostname(), "");
  EXPECT_EQ(spec.subdomain(), "");
  EXPECT_EQ(spec.runtime_class_name(), "");
  EXPECT_TRUE(spec.overhead().empty());

  auto tolerations = spec.tolerations();
  ASSERT_EQ(tolerations.size(), 2u);
  EXPECT_EQ(tolerations[0].key(), "node.kubernetes.io/not-ready");
  EXPECT_EQ(tolerations[0].operator_(), "Exists");
  EXPECT_EQ(tolerations[0].effect(), "NoExecute");
  EXPECT_EQ(tolerations[0].toleration_seconds(), 300);
  EXPECT_EQ(tolerations[1].value(), "");
}

TEST(PodView, ReadsTheStatus) {
  json::object doc = load_pod();
  PodView pod(doc);
  PodStatusView st = pod.status();
  EXPECT_EQ(st.phase(), "Running");
  EXPECT_FALSE(pod_is_terminal(pod));
  auto conds = st.conditions();
  ASSERT_EQ(conds.size(), 4u);
  EXPECT_EQ(conds[0].type(), "Initialized");
  EXPECT_EQ(conds[0].last_transition_time(), "2026-11-20T08:14:09Z");
  EXPECT_EQ(conds[0].last_probe_time(), "");  // null in the document
  auto ready = pod_condition(st, "Ready");
  ASSERT_TRUE(ready.has_value());
  EXPECT_TRUE(ready->is_true());
  EXPECT_EQ(ready->last_transition_time(), "2026-11-20T08:14:16Z");
  EXPECT_FALSE(pod_condition(st, "DisruptionTarget").has_value());
  EXPECT_EQ(st.pod_ip(), "10.244.3.17");
  EXPECT_EQ(st.pod_ips(), (Strings{"10.244.3.17"}));
  EXPECT_EQ(st.host_ip(), "192.0.2.13");
  EXPECT_EQ(st.start_time(), "2026-11-20T08:14:03Z");
  ASSERT_NE(st.container_statuses(), nullptr);
  EXPECT_EQ(st.container_statuses()->size(), 1u);
  ASSERT_NE(st.init_container_statuses(), nullptr);
  EXPECT_EQ(st.qos_class(), "Burstable");
  EXPECT_EQ(pod.meta().name(), "web-7d4b9c8f6d-x2kq9");
}

TEST(PodView, EmptyPodReadsKubernetesDefaults) {
  json::object doc = obj(R"({"kind":"Pod","spec":{"containers":[{"name":"c","image":"busybox",
      "ports":[{"containerPort":53,"protocol":"UDP"},{"containerPort":80}],
      "startupProbe":{"grpc":{"port":9000}}}]}})");
  PodView pod(doc);
  PodSpecView spec = pod.spec();
  EXPECT_EQ(spec.restart_policy(), "Always");
  EXPECT_EQ(spec.termination_grace_period_seconds(), 30);
  EXPECT_EQ(spec.scheduler_name(), "default-scheduler");
  EXPECT_EQ(spec.dns_policy(), "ClusterFirst");
  EXPECT_EQ(spec.priority(), std::nullopt);
  EXPECT_TRUE(spec.init_containers().empty());
  EXPECT_TRUE(spec.volumes().empty());
  EXPECT_EQ(spec.node_selector(), nullptr);
  ContainerView c = spec.containers().at(0);
  EXPECT_EQ(c.ports()[0].protocol(), "UDP");
  EXPECT_EQ(c.ports()[1].protocol(), "TCP");
  EXPECT_EQ(c.image_pull_policy(), "Always");  // untagged means :latest
  EXPECT_FALSE(c.liveness_probe().has_value());
  ProbeView p = *c.startup_probe();
  EXPECT_EQ(p.handler().kind(), HandlerView::Kind::Grpc);
  EXPECT_EQ(p.handler().grpc_port(), 9000);
  EXPECT_EQ(p.handler().grpc_service(), "");
  EXPECT_EQ(p.period_seconds(), 10);
  EXPECT_EQ(p.timeout_seconds(), 1);
  EXPECT_EQ(p.success_threshold(), 1);
  EXPECT_EQ(p.failure_threshold(), 3);
  EXPECT_EQ(p.initial_delay_seconds(), 0);
  EXPECT_FALSE(c.security_context().has_value());
  EXPECT_EQ(pod.status().phase(), "");
  EXPECT_FALSE(pod_is_terminal(pod));

  json::object nothing;
  EXPECT_TRUE(PodView(nothing).spec().containers().empty());
  EXPECT_EQ(PodView(nothing).meta().name(), "");
}

TEST(PodView, MistypedFieldsReadAsUnset) {
  json::object doc = obj(R"({"spec":{"containers":[7,{"name":3,"ports":"x","args":["a",1,"b"]}],
      "terminationGracePeriodSeconds":"60","restartPolicy":false,"tolerations":{}}})");
  PodSpecView spec = PodView(doc).spec();
  auto cs = spec.containers();
  ASSERT_EQ(cs.size(), 1u);  // the non-object element is skipped
  EXPECT_EQ(cs[0].name(), "");
  EXPECT_TRUE(cs[0].ports().empty());
  EXPECT_EQ(cs[0].args(), (Strings{"a", "b"}));
  EXPECT_EQ(spec.termination_grace_period_seconds(), 30);
  EXPECT_EQ(spec.restart_policy(), "Always");
  EXPECT_TRUE(spec.tolerations().empty());
}

TEST(PodView, LifecycleHandlers) {
  json::object c = obj(R"({"lifecycle":{
      "postStart":{"httpGet":{"port":8080,"httpHeaders":[{"name":"X-A","value":"1"}]}},
      "preStop":{"sleep":{"seconds":7}}}})");
  ContainerView v(c);
  ASSERT_TRUE(v.post_start().has_value());
  HttpGetView get = *v.post_start()->http_get();
  EXPECT_EQ(get.path(), "/");
  EXPECT_EQ(get.port(), (IntOrString{true, 8080, {}}));
  ASSERT_EQ(get.http_headers().size(), 1u);
  EXPECT_EQ(get.http_headers()[0].first, "X-A");
  EXPECT_EQ(get.http_headers()[0].second, "1");
  EXPECT_EQ(v.pre_stop()->kind(), HandlerView::Kind::Sleep);
  EXPECT_EQ(v.pre_stop()->sleep_seconds(), 7);
  EXPECT_EQ(v.pre_stop()->http_get(), std::nullopt);
  json::object none = obj(R"({"exec":"not an object"})");
  EXPECT_EQ(HandlerView(none).kind(), HandlerView::Kind::None);
  EXPECT_EQ(HandlerView(none).kind_name(), "");
}

TEST(PodView, ImagePullPolicyDefaultFollowsTheTag) {
  struct Case {
    const char* image;
    const char* policy;
  };
  const Case cases[] = {
      {"nginx", "Always"},
      {"nginx:latest", "Always"},
      {"nginx:1.27", "IfNotPresent"},
      {"registry.example.com:5000/shop/web", "Always"},
      {"registry.example.com:5000/shop/web:2.1", "IfNotPresent"},
      {"registry.example.com:5000/shop/web:latest", "Always"},
      {"nginx@sha256:3e7a0d2c5f8b1e4a7d0c3f6b9e2a5d8c1f4b7e0a3d6c9f2b5e8a1d4c7f0b3e6a", "IfNotPresent"},
      {"nginx:latest@sha256:3e7a0d2c5f8b1e4a7d0c3f6b9e2a5d8c1f4b7e0a3d6c9f2b5e8a1d4c7f0b3e6a", "Always"},
  };
  for (const Case& c : cases) {
    json::object o;
    o["image"] = c.image;
    EXPECT_EQ(ContainerView(o).image_pull_policy(), c.policy) << c.image;
    o["imagePullPolicy"] = "Never";
    EXPECT_EQ(ContainerView(o).image_pull_policy(), "Never") << c.image;
  }
}

TEST(PodView, TolerationsMatchTaintsAsKubernetesDoes) {
  struct Case {
    const char* toleration;
    const char* key;
    const char* value;
    const char* effect;
    bool tolerates;
  };
  const Case cases[] = {
      {R"({"key":"k","operator":"Equal","value":"v","effect":"NoSchedule"})", "k", "v", "NoSchedule", true},
      {R"({"key":"k","value":"v"})", "k", "v", "NoExecute", true},  // Equal, any effect
      {R"({"key":"k","value":"v"})", "k", "w", "NoSchedule", false},
      {R"({"key":"k","operator":"Exists"})", "k", "anything", "NoSchedule", true},
      {R"({"key":"k","operator":"Exists","effect":"NoExecute"})", "k", "", "NoSchedule", false},
      {R"({"operator":"Exists"})", "any", "thing", "NoExecute", true},
      {R"({"key":"other","operator":"Exists"})", "k", "", "NoSchedule", false},
      {R"({"key":"k","operator":"Bogus","value":"v"})", "k", "v", "NoSchedule", false},
  };
  for (const Case& c : cases) {
    json::object t = obj(c.toleration);
    EXPECT_EQ(TolerationView(t).tolerates(c.key, c.value, c.effect), c.tolerates) << c.toleration;
  }
}

// ---- QoS --------------------------------------------------------------------------------

struct QosCase {
  const char* name;
  const char* spec;
  QosClass expected;
};

TEST(PodQos, ClassesFollowKubernetesRules) {
  const QosCase cases[] = {
      {"no resources", R"({"containers":[{"name":"a"},{"name":"b"}]})", QosClass::BestEffort},
      {"only an extended resource",
       R"({"containers":[{"resources":{"requests":{"nvidia.com/gpu":"1"},"limits":{"nvidia.com/gpu":"1"}}}]})",
       QosClass::BestEffort},
      {"equal cpu and memory",
       R"({"containers":[{"resources":{"requests":{"cpu":"1","memory":"1Gi"},"limits":{"cpu":"1000m","memory":"1024Mi"}}}]})",
       QosClass::Guaranteed},
      {"limits only: requests default to them",
       R"({"containers":[{"resources":{"limits":{"cpu":"500m","memory":"256Mi"}}}]})",
       QosClass::Guaranteed},
      {"request below limit",
       R"({"containers":[{"resources":{"requests":{"cpu":"250m","memory":"1Gi"},"limits":{"cpu":"1","memory":"1Gi"}}}]})",
       QosClass::Burstable},
      {"memory limit only",
       R"({"containers":[{"resources":{"limits":{"memory":"1Gi"}}}]})", QosClass::Burstable},
      {"request only", R"({"containers":[{"resources":{"requests":{"cpu":"100m"}}}]})",
       QosClass::Burstable},
      {"one guaranteed, one best effort",
       R"({"containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"b"}]})",
       QosClass::Burstable},
      {"init container breaks guaranteed",
       R"({"initContainers":[{"resources":{"requests":{"cpu":"1"}}}],
           "containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]})",
       QosClass::Burstable},
      {"all containers guaranteed",
       R"({"initContainers":[{"resources":{"limits":{"cpu":"2","memory":"64Mi"}}}],
           "containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]})",
       QosClass::Guaranteed},
      {"zero quantities are no resources",
       R"({"containers":[{"resources":{"requests":{"cpu":"0"},"limits":{"memory":"0"}}}]})",
       QosClass::BestEffort},
      {"pod-level resources take over",
       R"({"resources":{"limits":{"cpu":"1","memory":"1Gi"}},
           "containers":[{"resources":{"requests":{"cpu":"100m"}}}]})",
       QosClass::Guaranteed},
      {"pod-level burstable",
       R"({"resources":{"requests":{"cpu":"1"}},"containers":[{"name":"a"}]})",
       QosClass::Burstable},
  };
  for (const QosCase& c : cases) {
    json::object doc;
    doc["spec"] = json::parse(c.spec).value();
    auto q = pod_qos_class(PodView(doc));
    ASSERT_TRUE(q.ok()) << c.name << ": " << q.error().message();
    EXPECT_EQ(qos_class_name(*q), qos_class_name(c.expected)) << c.name;
  }
}

TEST(PodQos, TestdataPodIsBurstable) {
  json::object doc = load_pod();
  auto q = pod_qos_class(PodView(doc));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(qos_class_name(*q), PodView(doc).status().qos_class());
}

TEST(PodQos, MalformedQuantityIsAnErrorNamingIt) {
  json::object doc = obj(R"({"spec":{"containers":[{"name":"a"},
      {"resources":{"limits":{"cpu":"one"}}}]}})");
  auto q = pod_qos_class(PodView(doc));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().message().rfind("spec.containers[1].resources.limits[cpu]: ", 0), 0u)
      << q.error().message();
}

// ---- resource requests ------------------------------------------------------------------

struct RequestsCase {
  const char* name;
  const char* spec;
  const char* cpu;     // expected canonical quantity, nullptr: absent
  const char* memory;  // expected canonical quantity, nullptr: absent
};

TEST(PodRequests, EffectiveRequestsAsTheSchedulerCountsThem) {
  const RequestsCase cases[] = {
      {"nothing", R"({"containers":[{"name":"a"}]})", nullptr, nullptr},
      {"sum of containers",
       R"({"containers":[{"resources":{"requests":{"cpu":"250m","memory":"64Mi"}}},
                         {"resources":{"requests":{"cpu":"500m"}}}]})",
       "750m", "64Mi"},
      {"limit stands in for an unset request",
       R"({"containers":[{"resources":{"requests":{"cpu":"100m"},"limits":{"cpu":"1","memory":"1Gi"}}}]})",
       "100m", "1Gi"},
      {"init container larger than the sum",
       R"({"initContainers":[{"resources":{"requests":{"cpu":"2","memory":"10Mi"}}}],
           "containers":[{"resources":{"requests":{"cpu":"1","memory":"100Mi"}}}]})",
       "2", "100Mi"},
      {"init containers count one at a time",
       R"({"initContainers":[{"resources":{"requests":{"cpu":"1"}}},{"resources":{"requests":{"cpu":"1500m"}}}],
           "containers":[{"resources":{"requests":{"cpu":"1"}}}]})",
       "1500m", nullptr},
      {"sidecar adds to containers and to later init containers",
       R"({"initContainers":[
             {"restartPolicy":"Always","resources":{"requests":{"cpu":"500m","memory":"50Mi"}}},
             {"resources":{"requests":{"cpu":"2","memory":"10Mi"}}}],
           "containers":[{"resources":{"requests":{"cpu":"1","memory":"100Mi"}}}]})",
       "2500m", "150Mi"},
      {"init container before the sidecar does not see it",
       R"({"initContainers":[
             {"resources":{"requests":{"cpu":"2"}}},
             {"restartPolicy":"Always","resources":{"requests":{"cpu":"500m"}}}],
           "containers":[{"resources":{"requests":{"cpu":"1"}}}]})",
       "2", nullptr},
      {"overhead is added",
       R"({"overhead":{"cpu":"250m","memory":"120Mi"},
           "containers":[{"resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]})",
       "1250m", "1144Mi"},
      {"pod-level requests override, then overhead",
       R"({"resources":{"requests":{"cpu":"3"}},"overhead":{"cpu":"100m"},
           "containers":[{"resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]})",
       "3100m", "1Gi"},
  };
  for (const RequestsCase& c : cases) {
    json::object doc;
    doc["spec"] = json::parse(c.spec).value();
    auto r = pod_resource_requests(PodView(doc));
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.error().message();
    auto check = [&](const char* res, const char* want) {
      auto it = r->find(res);
      if (want == nullptr) {
        EXPECT_EQ(it, r->end()) << c.name << ": " << res;
        return;
      }
      ASSERT_NE(it, r->end()) << c.name << ": " << res;
      EXPECT_EQ(it->second, Quantity::parse(want).value())
          << c.name << ": " << res << " = " << it->second.to_string();
    };
    check("cpu", c.cpu);
    check("memory", c.memory);
  }
}

TEST(PodRequests, TestdataPod) {
  json::object doc = load_pod();
  auto r = pod_resource_requests(PodView(doc));
  ASSERT_TRUE(r.ok()) << r.error().message();
  // web requests 250m/256Mi; the migrate init container (50m/32Mi) fits under that.
  EXPECT_EQ(r->at("cpu"), Quantity::parse("250m").value());
  EXPECT_EQ(r->at("memory"), Quantity::parse("256Mi").value());
  EXPECT_EQ(r->size(), 2u);
}

TEST(PodRequests, ExtendedResourcesAreSummedToo) {
  json::object doc = obj(R"({"spec":{"containers":[
      {"resources":{"limits":{"nvidia.com/gpu":"1"}}},
      {"resources":{"requests":{"nvidia.com/gpu":"2","ephemeral-storage":"1Gi"}}}]}})");
  auto r = pod_resource_requests(PodView(doc));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("nvidia.com/gpu"), Quantity::from_int(3));
  EXPECT_EQ(r->at("ephemeral-storage"), Quantity::parse("1Gi").value());
}

TEST(PodRequests, MalformedQuantityNamesTheContainer) {
  json::object doc = obj(R"({"spec":{"initContainers":[{"resources":{"requests":{"memory":"12Q"}}}]}})");
  auto r = pod_resource_requests(PodView(doc));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("spec.initContainers[0].resources.requests[memory]: ", 0), 0u)
      << r.error().message();
}

TEST(PodPhase, TerminalPhases) {
  for (const char* phase : {"Succeeded", "Failed"}) {
    json::object doc = obj(std::string(R"({"status":{"phase":")") + phase + "\"}}");
    EXPECT_TRUE(pod_is_terminal(PodView(doc))) << phase;
  }
  for (const char* phase : {"Pending", "Running", "Unknown"}) {
    json::object doc = obj(std::string(R"({"status":{"phase":")") + phase + "\"}}");
    EXPECT_FALSE(pod_is_terminal(PodView(doc))) << phase;
  }
}

}  // namespace
}  // namespace kernlet::api
