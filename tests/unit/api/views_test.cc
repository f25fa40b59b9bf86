// Views of Service, EndpointSlice/Endpoints, ConfigMap/Secret, Lease, Event and the storage
// kinds, read from realistic manifests, with Kubernetes' defaults for absent fields.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "api/objects/common.h"
#include "api/objects/config.h"
#include "api/objects/coordination.h"
#include "api/objects/endpoint_slice.h"
#include "api/objects/event.h"
#include "api/objects/service.h"
#include "api/objects/storage.h"

namespace kernlet::api {
namespace {

using Strings = std::vector<std::string_view>;

json::object load(std::string_view file) {
  std::ifstream in(std::string(KERNLET_TESTDATA) + "/" + std::string(file));
  std::stringstream ss;
  ss << in.rdbuf();
  auto o = decode_object(ss.str());
  EXPECT_TRUE(o.ok()) << file << ": " << o.error().message();
  return o.ok() ? *o : json::object{};
}

json::object obj(std::string_view text) {
  auto o = decode_object(text);
  EXPECT_TRUE(o.ok()) << text << ": " << o.error().message();
  return o.ok() ? *o : json::object{};
}

Quantity q(std::string_view text) { return *Quantity::parse(text); }

// ---- Service ----------------------------------------------------------------------------

TEST(ServiceView, ReadsALoadBalancerService) {
  json::object doc = load("service.json");
  ServiceView svc(doc);
  EXPECT_EQ(svc.meta().name(), "web");
  ServiceSpecView spec = svc.spec();
  EXPECT_EQ(spec.type(), "LoadBalancer");
  EXPECT_EQ(spec.cluster_ip(), "10.96.14.7");
  EXPECT_EQ(spec.cluster_ips(), (Strings{"10.96.14.7", "fd00:10:96::e07"}));
  EXPECT_FALSE(spec.is_headless());
  EXPECT_EQ(spec.ip_families(), (Strings{"IPv4", "IPv6"}));
  EXPECT_EQ(spec.ip_family_policy(), "PreferDualStack");
  ASSERT_NE(spec.selector(), nullptr);
  EXPECT_EQ(map_value(spec.selector(), "tier"), "frontend");
  EXPECT_EQ(spec.session_affinity(), "ClientIP");
  // ClientIP without sessionAffinityConfig: Kubernetes' three hours.
  EXPECT_EQ(spec.session_affinity_timeout_seconds(), 10800);
  EXPECT_EQ(spec.external_traffic_policy(), "Local");
  EXPECT_EQ(spec.internal_traffic_policy(), "Cluster");
  EXPECT_EQ(spec.health_check_node_port(), 32001);
  EXPECT_EQ(spec.external_ips(), (Strings{"203.0.113.10"}));
  EXPECT_EQ(spec.load_balancer_source_ranges(), (Strings{"198.51.100.0/24", "192.0.2.0/25"}));
  EXPECT_EQ(spec.load_balancer_class(), "kernlet.io/metal-lb");
  EXPECT_EQ(spec.allocate_load_balancer_node_ports(), false);
  EXPECT_FALSE(spec.publish_not_ready_addresses());
  EXPECT_EQ(spec.traffic_distribution(), std::nullopt);

  auto ports = spec.ports();
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0].name(), "http");
  EXPECT_EQ(ports[0].protocol(), "TCP");
  EXPECT_EQ(ports[0].port(), 80);
  EXPECT_EQ(ports[0].target_port(), (IntOrString{false, 0, "http"}));
  EXPECT_EQ(ports[0].node_port(), 31080);
  EXPECT_EQ(ports[0].app_protocol(), "kubernetes.io/h2c");
  EXPECT_EQ(ports[1].protocol(), "TCP");  // defaulted
  EXPECT_EQ(ports[1].target_port(), (IntOrString{true, 8443, {}}));
  EXPECT_EQ(ports[1].app_protocol(), std::nullopt);
  EXPECT_EQ(ports[2].protocol(), "UDP");
  EXPECT_EQ(ports[2].target_port(), (IntOrString{true, 53, {}}));  // defaults to port

  auto https = spec.find_port("https");
  ASSERT_TRUE(https.has_value());
  EXPECT_EQ(https->port(), 443);
  EXPECT_FALSE(spec.find_port("grpc").has_value());

  auto ingress = svc.status().load_balancer_ingress();
  ASSERT_EQ(ingress.size(), 3u);
  EXPECT_EQ(ingress[0].ip(), "203.0.113.50");
  EXPECT_EQ(ingress[0].ip_mode(), "VIP");  // the API default for an IP ingress
  ASSERT_NE(ingress[0].ports(), nullptr);
  EXPECT_EQ(ingress[0].ports()->size(), 1u);
  EXPECT_EQ(ingress[1].hostname(), "web.shop.example.com");
  EXPECT_EQ(ingress[1].ip_mode(), std::nullopt);  // no IP, no mode
  EXPECT_EQ(ingress[2].ip_mode(), "Proxy");
  EXPECT_TRUE(svc.status().conditions().empty());
}

TEST(ServiceView, DefaultsOfAMinimalService) {
  json::object doc = obj(R"({"kind":"Service","spec":{"ports":[{"port":80}]}})");
  ServiceSpecView spec = ServiceView(doc).spec();
  EXPECT_EQ(spec.type(), "ClusterIP");
  EXPECT_EQ(spec.session_affinity(), "None");
  EXPECT_EQ(spec.session_affinity_timeout_seconds(), std::nullopt);
  EXPECT_EQ(spec.external_traffic_policy(), "");  // not externally accessible
  EXPECT_EQ(spec.internal_traffic_policy(), "Cluster");
  EXPECT_EQ(spec.allocate_load_balancer_node_ports(), std::nullopt);
  EXPECT_EQ(spec.selector(), nullptr);
  EXPECT_TRUE(spec.cluster_ips().empty());
  EXPECT_TRUE(spec.external_ips().empty());
  EXPECT_EQ(spec.load_balancer_class(), std::nullopt);
  ASSERT_EQ(spec.ports().size(), 1u);
  EXPECT_EQ(spec.ports()[0].name(), "");
  EXPECT_EQ(spec.ports()[0].protocol(), "TCP");
  EXPECT_EQ(spec.ports()[0].target_port(), (IntOrString{true, 80, {}}));
  EXPECT_EQ(spec.ports()[0].node_port(), 0);
  EXPECT_TRUE(spec.find_port("").has_value());
  EXPECT_TRUE(ServiceView(doc).status().load_balancer_ingress().empty());
}

TEST(ServiceView, TargetPortZeroOrEmptyReadsAsPort) {
  json::object doc = obj(R"({"spec":{"ports":[{"port":80,"targetPort":0},
                                                {"port":81,"targetPort":""}]}})");
  auto ports = ServiceView(doc).spec().ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].target_port(), (IntOrString{true, 80, {}}));
  EXPECT_EQ(ports[1].target_port(), (IntOrString{true, 81, {}}));
}

TEST(ServiceView, TrafficPolicyDefaultsFollowTheType) {
  json::object node_port = obj(R"({"spec":{"type":"NodePort"}})");
  EXPECT_EQ(ServiceView(node_port).spec().external_traffic_policy(), "Cluster");
  EXPECT_EQ(ServiceView(node_port).spec().allocate_load_balancer_node_ports(), std::nullopt);
  json::object lb = obj(R"({"spec":{"type":"LoadBalancer"}})");
  EXPECT_EQ(ServiceView(lb).spec().external_traffic_policy(), "Cluster");
  EXPECT_EQ(ServiceView(lb).spec().allocate_load_balancer_node_ports(), true);
  json::object with_external_ip = obj(R"({"spec":{"externalIPs":["203.0.113.7"]}})");
  EXPECT_EQ(ServiceView(with_external_ip).spec().external_traffic_policy(), "Cluster");
  json::object external_name =
      obj(R"({"spec":{"type":"ExternalName","externalName":"db.example.com"}})");
  EXPECT_EQ(ServiceView(external_name).spec().external_name(), "db.example.com");
  EXPECT_EQ(ServiceView(external_name).spec().internal_traffic_policy(), "");
  EXPECT_EQ(ServiceView(external_name).spec().external_traffic_policy(), "");
  json::object local = obj(R"({"spec":{"internalTrafficPolicy":"Local"}})");
  EXPECT_EQ(ServiceView(local).spec().internal_traffic_policy(), "Local");
}

TEST(ServiceView, SessionAffinityTimeout) {
  json::object custom = obj(R"({"spec":{"sessionAffinity":"ClientIP",
      "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}}}})");
  EXPECT_EQ(ServiceView(custom).spec().session_affinity_timeout_seconds(), 600);
  // With affinity None, Kubernetes drops the config: there is no timeout.
  json::object none = obj(R"({"spec":{"sessionAffinity":"None",
      "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}}}})");
  EXPECT_EQ(ServiceView(none).spec().session_affinity_timeout_seconds(), std::nullopt);
}

TEST(ServiceView, HeadlessAndSingleClusterIp) {
  json::object headless = obj(R"({"spec":{"clusterIP":"None"}})");
  EXPECT_TRUE(ServiceView(headless).spec().is_headless());
  EXPECT_EQ(ServiceView(headless).spec().cluster_ips(), (Strings{"None"}));
  json::object legacy = obj(R"({"spec":{"clusterIP":"10.96.0.10"}})");
  EXPECT_EQ(ServiceView(legacy).spec().cluster_ips(), (Strings{"10.96.0.10"}));
}

// ---- EndpointSlice / Endpoints ----------------------------------------------------------

TEST(EndpointSliceView, ReadsASlice) {
  json::object doc = load("endpoint_slice.json");
  EndpointSliceView slice(doc);
  EXPECT_EQ(slice.address_type(), "IPv4");
  EXPECT_EQ(slice.service_name(), "web");
  EXPECT_EQ(slice.meta().label(kEndpointSliceManagedByLabel), "endpointslice-controller.k8s.io");

  auto eps = slice.endpoints();
  ASSERT_EQ(eps.size(), 3u);
  EXPECT_EQ(eps[0].addresses(), (Strings{"10.244.1.17"}));
  EXPECT_TRUE(eps[0].conditions().ready());
  EXPECT_TRUE(eps[0].conditions().serving());
  EXPECT_FALSE(eps[0].conditions().terminating());
  EXPECT_EQ(eps[0].node_name(), "node-a");
  EXPECT_EQ(eps[0].zone(), "zone-1");
  EXPECT_EQ(eps[0].hostname(), "web-0");
  ASSERT_TRUE(eps[0].target_ref().has_value());
  EXPECT_EQ(eps[0].target_ref()->kind(), "Pod");
  EXPECT_EQ(eps[0].target_ref()->namespace_(), "shop");
  EXPECT_EQ(eps[0].target_ref()->name(), "web-7d4b9c8f6d-x2kq9");
  EXPECT_EQ(eps[0].target_ref()->uid(), "5b0e9f42-7a3c-4d1e-9c2a-1f8e6b3d7a90");
  ASSERT_NE(eps[0].hints(), nullptr);

  // A terminating pod that still passes its readiness probe.
  EXPECT_FALSE(eps[1].conditions().ready());
  EXPECT_TRUE(eps[1].conditions().serving());
  EXPECT_TRUE(eps[1].conditions().terminating());
  EXPECT_EQ(eps[1].zone(), std::nullopt);
  EXPECT_EQ(eps[1].hostname(), std::nullopt);
  EXPECT_EQ(eps[1].hints(), nullptr);

  // Unset conditions: ready and serving read true, terminating false; the raw values stay
  // unset.
  EndpointConditionsView unknown = eps[2].conditions();
  EXPECT_TRUE(unknown.ready());
  EXPECT_TRUE(unknown.serving());
  EXPECT_FALSE(unknown.terminating());
  EXPECT_EQ(unknown.ready_value(), std::nullopt);
  EXPECT_EQ(unknown.serving_value(), std::nullopt);
  EXPECT_EQ(unknown.terminating_value(), std::nullopt);
  EXPECT_EQ(eps[1].conditions().ready_value(), false);
  EXPECT_EQ(eps[2].node_name(), std::nullopt);
  EXPECT_FALSE(eps[2].target_ref().has_value());

  auto ports = slice.ports();
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0].name(), "http");
  EXPECT_EQ(ports[0].port(), 8080);
  EXPECT_EQ(ports[0].protocol(), "TCP");
  EXPECT_EQ(ports[0].app_protocol(), "http");
  EXPECT_EQ(ports[1].protocol(), "UDP");
  EXPECT_EQ(ports[1].app_protocol(), std::nullopt);
  // An empty port: all ports, unnamed, TCP.
  EXPECT_EQ(ports[2].name(), "");
  EXPECT_EQ(ports[2].port(), std::nullopt);
  EXPECT_EQ(ports[2].protocol(), "TCP");
}

TEST(EndpointSliceView, SliceWithoutServiceLabel) {
  json::object doc = obj(R"({"kind":"EndpointSlice","addressType":"FQDN"})");
  EndpointSliceView slice(doc);
  EXPECT_EQ(slice.service_name(), std::nullopt);
  EXPECT_EQ(slice.address_type(), "FQDN");
  EXPECT_TRUE(slice.endpoints().empty());
  EXPECT_TRUE(slice.ports().empty());
}

TEST(EndpointsView, ReadsSubsets) {
  json::object doc = load("endpoints.json");
  EndpointsView ep(doc);
  EXPECT_EQ(ep.meta().name(), "web");
  auto subsets = ep.subsets();
  ASSERT_EQ(subsets.size(), 1u);
  auto ready = subsets[0].addresses();
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].ip(), "10.244.1.17");
  EXPECT_EQ(ready[0].node_name(), "node-a");
  ASSERT_TRUE(ready[0].target_ref().has_value());
  EXPECT_EQ(ready[0].target_ref()->name(), "web-7d4b9c8f6d-x2kq9");
  EXPECT_EQ(ready[1].hostname(), "web-1");
  EXPECT_EQ(ready[1].node_name(), std::nullopt);
  EXPECT_FALSE(ready[1].target_ref().has_value());
  auto not_ready = subsets[0].not_ready_addresses();
  ASSERT_EQ(not_ready.size(), 1u);
  EXPECT_EQ(not_ready[0].ip(), "10.244.2.9");
  auto ports = subsets[0].ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].name(), "http");
  EXPECT_EQ(ports[0].port(), 8080);
  EXPECT_EQ(ports[0].protocol(), "TCP");
  EXPECT_EQ(ports[0].app_protocol(), std::nullopt);
  EXPECT_EQ(ports[1].protocol(), "TCP");  // defaulted
  EXPECT_EQ(ports[1].app_protocol(), "http");
}

// ---- ConfigMap / Secret -----------------------------------------------------------------

TEST(Base64, DecodesAsGoDoes) {
  EXPECT_EQ(*decode_base64(""), "");
  EXPECT_EQ(*decode_base64("c2VjcmV0"), "secret");
  EXPECT_EQ(*decode_base64("cGFzc3dvcmQ="), "password");
  EXPECT_EQ(*decode_base64("YQ=="), "a");
  EXPECT_EQ(*decode_base64("YWI="), "ab");
  EXPECT_EQ(*decode_base64("c2Vj\r\ncmV0\n"), "secret");  // line breaks are skipped
  EXPECT_EQ(*decode_base64("AP8="), std::string("\x00\xff", 2));
}

TEST(Base64, RejectsMalformedInput) {
  auto bad_char = decode_base64("c2Vj*mV0");
  ASSERT_FALSE(bad_char.ok());
  EXPECT_EQ(bad_char.error().message(), "illegal base64 data at input byte 4");
  EXPECT_EQ(bad_char.error().code(), ErrorCode::kInvalidArgument);
  auto after_padding = decode_base64("YQ==YQ==");
  ASSERT_FALSE(after_padding.ok());
  EXPECT_EQ(after_padding.error().message(), "illegal base64 data at input byte 4");
  EXPECT_FALSE(decode_base64("c2VjcmV").ok());  // missing padding
  EXPECT_FALSE(decode_base64("YQ=").ok());      // short padding
  EXPECT_FALSE(decode_base64("Y===").ok());     // too much padding
  EXPECT_FALSE(decode_base64("YQ=a").ok());
  EXPECT_FALSE(decode_base64("c2VjcmV0-_").ok());  // URL alphabet is not standard base64
}

TEST(ConfigMapView, ReadsDataAndBinaryData) {
  json::object doc = obj(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"web-config","namespace":"shop"},
    "data":{"nginx.conf":"worker_processes 2;\n","LOG_LEVEL":"info"},
    "binaryData":{"logo.png":"iVBORw0K"}})");
  ConfigMapView cm(doc);
  EXPECT_EQ(cm.meta().name(), "web-config");
  EXPECT_EQ(cm.data_value("LOG_LEVEL"), "info");
  EXPECT_EQ(cm.data_value("nginx.conf"), "worker_processes 2;\n");
  EXPECT_EQ(cm.data_value("missing"), std::nullopt);
  auto logo = cm.binary_data_value("logo.png");
  ASSERT_TRUE(logo.ok());
  EXPECT_EQ(*logo, std::string("\x89PNG\r\n", 6));
  auto missing = cm.binary_data_value("favicon.ico");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, std::nullopt);
  auto all = cm.all_data();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at("LOG_LEVEL"), "info");
  EXPECT_EQ(all->at("logo.png"), std::string("\x89PNG\r\n", 6));
  EXPECT_FALSE(cm.immutable());
}

TEST(ConfigMapView, EmptyAndImmutable) {
  json::object doc = obj(R"({"kind":"ConfigMap","immutable":true,"binaryData":{"k":"!!"}})");
  ConfigMapView cm(doc);
  EXPECT_TRUE(cm.immutable());
  EXPECT_EQ(cm.data(), nullptr);
  EXPECT_EQ(cm.data_value("k"), std::nullopt);
  auto bad = cm.binary_data_value("k");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "binaryData[k]: illegal base64 data at input byte 0");
  EXPECT_FALSE(cm.all_data().ok());
}

TEST(SecretView, DecodesDataOnRequest) {
  json::object doc = obj(R"({"apiVersion":"v1","kind":"Secret",
    "metadata":{"name":"db-credentials","namespace":"shop"},
    "data":{"username":"c2hvcA==","password":"czNjcjN0IQ==","token":"abc*"}})");
  SecretView s(doc);
  EXPECT_EQ(s.type(), "Opaque");  // defaulted
  EXPECT_FALSE(s.immutable());
  auto user = s.data_value("username");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, "shop");
  EXPECT_EQ(**s.data_value("password"), "s3cr3t!");
  auto absent = s.data_value("api-key");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(*absent, std::nullopt);
  auto bad = s.data_value("token");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "data[token]: illegal base64 data at input byte 3");
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  auto all = s.decoded_data();
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.error().message(), "data[token]: illegal base64 data at input byte 3");
  EXPECT_EQ(s.string_data(), nullptr);
}

TEST(SecretView, StringDataOverridesData) {
  json::object doc = obj(R"({"kind":"Secret","type":"kubernetes.io/tls","immutable":true,
    "data":{"tls.crt":"Y2VydA==","tls.key":"b2xk"},
    "stringData":{"tls.key":"new-key"}})");
  SecretView s(doc);
  EXPECT_EQ(s.type(), kSecretTypeTls);
  EXPECT_TRUE(s.immutable());
  EXPECT_EQ(s.string_data_value("tls.key"), "new-key");
  EXPECT_EQ(s.string_data_value("tls.crt"), std::nullopt);
  auto all = s.decoded_data();
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, (DataMap{{"tls.crt", "cert"}, {"tls.key", "new-key"}}));
}

// ---- Lease ------------------------------------------------------------------------------

TEST(LeaseView, ReadsANodeLease) {
  json::object doc = obj(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"node-a","namespace":"kube-node-lease"},
    "spec":{"holderIdentity":"node-a","leaseDurationSeconds":40,
            "acquireTime":"2026-11-20T08:00:00.000000Z",
            "renewTime":"2026-11-20T09:14:03.123456Z","leaseTransitions":2}})");
  LeaseSpecView spec = LeaseView(doc).spec();
  EXPECT_EQ(spec.holder_identity(), "node-a");
  EXPECT_EQ(spec.lease_duration_seconds(), 40);
  EXPECT_EQ(spec.acquire_time(), "2026-11-20T08:00:00.000000Z");
  EXPECT_EQ(spec.renew_time(), "2026-11-20T09:14:03.123456Z");
  EXPECT_EQ(spec.lease_transitions(), 2);
  EXPECT_EQ(spec.strategy(), std::nullopt);
  EXPECT_EQ(spec.preferred_holder(), std::nullopt);
  EXPECT_EQ(LeaseView(doc).meta().namespace_(), "kube-node-lease");
}

TEST(LeaseView, UnheldLease) {
  json::object doc = obj(R"({"kind":"Lease","spec":{"holderIdentity":"",
    "strategy":"OldestEmulationVersion","preferredHolder":"cm-2"}})");
  LeaseSpecView spec = LeaseView(doc).spec();
  EXPECT_EQ(spec.holder_identity(), "");  // released, not unset
  EXPECT_EQ(spec.lease_duration_seconds(), std::nullopt);
  EXPECT_EQ(spec.renew_time(), "");
  EXPECT_EQ(spec.lease_transitions(), std::nullopt);
  EXPECT_EQ(spec.strategy(), "OldestEmulationVersion");
  EXPECT_EQ(spec.preferred_holder(), "cm-2");
  json::object empty = obj(R"({"kind":"Lease"})");
  EXPECT_EQ(LeaseView(empty).spec().holder_identity(), std::nullopt);
}

// ---- Events -----------------------------------------------------------------------------

TEST(CoreV1EventView, ReadsAKubeletEvent) {
  json::object doc = obj(R"({"apiVersion":"v1","kind":"Event",
    "metadata":{"name":"web-7d4b9c8f6d-x2kq9.1879a2b3c4d5e6f7","namespace":"shop"},
    "involvedObject":{"kind":"Pod","namespace":"shop","name":"web-7d4b9c8f6d-x2kq9",
      "uid":"5b0e9f42-7a3c-4d1e-9c2a-1f8e6b3d7a90","apiVersion":"v1","resourceVersion":"184467",
      "fieldPath":"spec.containers{web}"},
    "reason":"BackOff","message":"Back-off restarting failed container web",
    "source":{"component":"kubelet","host":"node-a"},
    "firstTimestamp":"2026-11-20T08:20:00Z","lastTimestamp":"2026-11-20T08:31:10Z",
    "count":14,"type":"Warning","eventTime":null,
    "reportingComponent":"kubelet","reportingInstance":"node-a"})");
  CoreV1EventView ev(doc);
  ObjectReferenceView io = ev.involved_object();
  EXPECT_EQ(io.kind(), "Pod");
  EXPECT_EQ(io.name(), "web-7d4b9c8f6d-x2kq9");
  EXPECT_EQ(io.api_version(), "v1");
  EXPECT_EQ(io.resource_version(), "184467");
  EXPECT_EQ(io.field_path(), "spec.containers{web}");
  EXPECT_EQ(ev.reason(), "BackOff");
  EXPECT_EQ(ev.message(), "Back-off restarting failed container web");
  EXPECT_EQ(ev.type(), "Warning");
  EXPECT_EQ(ev.count(), 14);
  EXPECT_EQ(ev.first_timestamp(), "2026-11-20T08:20:00Z");
  EXPECT_EQ(ev.last_timestamp(), "2026-11-20T08:31:10Z");
  EXPECT_EQ(ev.event_time(), "");  // null
  EXPECT_FALSE(ev.series().has_value());
  EXPECT_EQ(ev.source_component(), "kubelet");
  EXPECT_EQ(ev.source_host(), "node-a");
  EXPECT_EQ(ev.reporting_component(), "kubelet");
  EXPECT_EQ(ev.reporting_instance(), "node-a");
  EXPECT_EQ(ev.action(), "");
  EXPECT_FALSE(ev.related().has_value());
}

TEST(CoreV1EventView, SeriesEvent) {
  json::object doc = obj(R"({"kind":"Event","eventTime":"2026-11-20T08:20:00.000001Z",
    "series":{"count":3,"lastObservedTime":"2026-11-20T08:25:00.500000Z"},
    "related":{"kind":"Node","name":"node-a"}})");
  CoreV1EventView ev(doc);
  EXPECT_EQ(ev.event_time(), "2026-11-20T08:20:00.000001Z");
  ASSERT_TRUE(ev.series().has_value());
  EXPECT_EQ(ev.series()->count(), 3);
  EXPECT_EQ(ev.series()->last_observed_time(), "2026-11-20T08:25:00.500000Z");
  ASSERT_TRUE(ev.related().has_value());
  EXPECT_EQ(ev.related()->kind(), "Node");
  EXPECT_EQ(ev.count(), 0);
  EXPECT_EQ(ev.involved_object().name(), "");
}

TEST(EventsV1EventView, ReadsASchedulerEvent) {
  json::object doc = obj(R"({"apiVersion":"events.k8s.io/v1","kind":"Event",
    "metadata":{"name":"web-7d4b9c8f6d-x2kq9.1879a2b3c4d5e6f8","namespace":"shop"},
    "eventTime":"2026-11-20T08:14:03.214519Z",
    "series":{"count":2,"lastObservedTime":"2026-11-20T08:14:33.000000Z"},
    "reportingController":"default-scheduler","reportingInstance":"default-scheduler-cp-1",
    "action":"Scheduling","reason":"FailedScheduling",
    "regarding":{"kind":"Pod","namespace":"shop","name":"web-7d4b9c8f6d-x2kq9"},
    "note":"0/3 nodes are available: 3 Insufficient cpu.","type":"Warning",
    "deprecatedSource":{"component":"default-scheduler"},
    "deprecatedFirstTimestamp":"2026-11-20T08:14:03Z",
    "deprecatedLastTimestamp":"2026-11-20T08:14:33Z","deprecatedCount":2})");
  EventsV1EventView ev(doc);
  EXPECT_EQ(ev.regarding().kind(), "Pod");
  EXPECT_EQ(ev.regarding().name(), "web-7d4b9c8f6d-x2kq9");
  EXPECT_FALSE(ev.related().has_value());
  EXPECT_EQ(ev.reason(), "FailedScheduling");
  EXPECT_EQ(ev.note(), "0/3 nodes are available: 3 Insufficient cpu.");
  EXPECT_EQ(ev.type(), "Warning");
  EXPECT_EQ(ev.event_time(), "2026-11-20T08:14:03.214519Z");
  ASSERT_TRUE(ev.series().has_value());
  EXPECT_EQ(ev.series()->count(), 2);
  EXPECT_EQ(ev.reporting_controller(), "default-scheduler");
  EXPECT_EQ(ev.reporting_instance(), "default-scheduler-cp-1");
  EXPECT_EQ(ev.action(), "Scheduling");
  EXPECT_EQ(ev.deprecated_source_component(), "default-scheduler");
  EXPECT_EQ(ev.deprecated_source_host(), "");
  EXPECT_EQ(ev.deprecated_first_timestamp(), "2026-11-20T08:14:03Z");
  EXPECT_EQ(ev.deprecated_last_timestamp(), "2026-11-20T08:14:33Z");
  EXPECT_EQ(ev.deprecated_count(), 2);
}

// ---- Storage ----------------------------------------------------------------------------

TEST(PersistentVolumeView, ReadsABoundCsiVolume) {
  json::object doc = load("persistent_volume.json");
  PersistentVolumeView pv(doc);
  PersistentVolumeSpecView spec = pv.spec();
  auto cap = spec.storage_capacity();
  ASSERT_TRUE(cap.ok());
  EXPECT_EQ(*cap, q("20Gi"));
  EXPECT_TRUE(spec.capacity().has("storage"));
  EXPECT_EQ(spec.access_modes(), (Strings{"ReadWriteOnce"}));
  EXPECT_EQ(spec.reclaim_policy(), "Delete");
  EXPECT_EQ(spec.storage_class_name(), "fast-local");
  EXPECT_EQ(spec.mount_options(), (Strings{"noatime"}));
  EXPECT_EQ(spec.volume_mode(), "Filesystem");  // defaulted
  ASSERT_TRUE(spec.claim_ref().has_value());
  EXPECT_EQ(spec.claim_ref()->namespace_(), "shop");
  EXPECT_EQ(spec.claim_ref()->name(), "data-db-0");
  EXPECT_EQ(spec.claim_ref()->uid(), "3d1f9a2b-6c4e-4f11-9b7a-2e8d0c5f1a63");
  ASSERT_NE(spec.node_affinity(), nullptr);
  EXPECT_NE(json::get_path(*spec.node_affinity(), "required"), nullptr);
  ASSERT_TRUE(spec.csi().has_value());
  CsiPersistentVolumeSourceView csi = *spec.csi();
  EXPECT_EQ(csi.driver(), "csi.kernlet.io");
  EXPECT_EQ(csi.volume_handle(), "vol-0a1b2c3d");
  EXPECT_EQ(csi.fs_type(), "ext4");
  EXPECT_FALSE(csi.read_only());
  EXPECT_EQ(map_value(csi.volume_attributes(), "storage.kubernetes.io/csiProvisionerIdentity"),
            "1732090000000-8081-csi.kernlet.io");
  ASSERT_NE(csi.node_publish_secret_ref(), nullptr);
  EXPECT_EQ(json::get_string(*csi.node_publish_secret_ref(), "name"), "csi-creds");
  EXPECT_EQ(csi.node_stage_secret_ref(), nullptr);
  EXPECT_EQ(csi.controller_publish_secret_ref(), nullptr);
  EXPECT_EQ(csi.controller_expand_secret_ref(), nullptr);
  EXPECT_EQ(csi.node_expand_secret_ref(), nullptr);
  EXPECT_EQ(spec.host_path(), nullptr);
  EXPECT_EQ(spec.local(), nullptr);
  EXPECT_EQ(pv.status().phase(), "Bound");
  EXPECT_EQ(pv.status().last_phase_transition_time(), "2026-11-20T08:01:02Z");
}

TEST(PersistentVolumeView, DefaultsOfAHostPathVolume) {
  json::object doc = obj(R"({"kind":"PersistentVolume","metadata":{"name":"pv-local"},
    "spec":{"capacity":{"storage":"5Gi"},"accessModes":["ReadWriteOnce"],
            "hostPath":{"path":"/srv/pv-local","type":"DirectoryOrCreate"}}})");
  PersistentVolumeView pv(doc);
  EXPECT_EQ(pv.spec().reclaim_policy(), "Retain");
  EXPECT_EQ(pv.spec().volume_mode(), "Filesystem");
  EXPECT_EQ(pv.spec().storage_class_name(), "");
  EXPECT_FALSE(pv.spec().claim_ref().has_value());
  EXPECT_FALSE(pv.spec().csi().has_value());
  EXPECT_EQ(pv.spec().node_affinity(), nullptr);
  ASSERT_NE(pv.spec().host_path(), nullptr);
  EXPECT_EQ(json::get_string(*pv.spec().host_path(), "path"), "/srv/pv-local");
  EXPECT_EQ(pv.status().phase(), "Pending");
  EXPECT_EQ(pv.status().reason(), "");
  EXPECT_EQ(pv.status().message(), "");
}

TEST(PersistentVolumeView, MalformedCapacityNamesTheField) {
  json::object doc = obj(R"({"spec":{"capacity":{"storage":"20GB"}}})");
  auto cap = PersistentVolumeView(doc).spec().storage_capacity();
  ASSERT_FALSE(cap.ok());
  EXPECT_NE(cap.error().message().find("spec.capacity[storage]"), std::string::npos)
      << cap.error().message();
}

TEST(PersistentVolumeClaimView, ReadsABoundClaim) {
  json::object doc = load("persistent_volume_claim.json");
  PersistentVolumeClaimView pvc(doc);
  PersistentVolumeClaimSpecView spec = pvc.spec();
  EXPECT_EQ(spec.access_modes(), (Strings{"ReadWriteOnce"}));
  auto req = spec.storage_request();
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(*req, q("20Gi"));
  EXPECT_EQ(*spec.limits().get("storage"), q("25Gi"));
  EXPECT_EQ(spec.storage_class_name(), "fast-local");
  EXPECT_EQ(pvc_storage_class(pvc), "fast-local");
  EXPECT_EQ(spec.volume_name(), "pvc-3d1f9a2b-6c4e-4f11-9b7a-2e8d0c5f1a63");
  EXPECT_EQ(spec.volume_mode(), "Block");
  ASSERT_NE(spec.selector(), nullptr);
  ASSERT_NE(spec.data_source(), nullptr);
  EXPECT_EQ(json::get_string(*spec.data_source(), "kind"), "VolumeSnapshot");
  EXPECT_EQ(spec.data_source_ref(), nullptr);
  EXPECT_EQ(spec.volume_attributes_class_name(), std::nullopt);
  EXPECT_EQ(pvc.status().phase(), "Bound");
  EXPECT_EQ(pvc.status().access_modes(), (Strings{"ReadWriteOnce"}));
  EXPECT_EQ(*pvc.status().capacity().get("storage"), q("20Gi"));
  ASSERT_EQ(pvc.status().conditions().size(), 1u);
  EXPECT_EQ(pvc.status().conditions()[0].type(), "Resizing");
}

TEST(PersistentVolumeClaimView, StorageClassUnsetVersusEmpty) {
  json::object unset = obj(R"({"kind":"PersistentVolumeClaim",
    "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})");
  PersistentVolumeClaimView a(unset);
  EXPECT_EQ(a.spec().storage_class_name(), std::nullopt);  // the default class applies
  EXPECT_EQ(pvc_storage_class(a), std::nullopt);
  EXPECT_EQ(a.spec().volume_mode(), "Filesystem");
  EXPECT_EQ(a.spec().volume_name(), "");
  EXPECT_EQ(a.spec().selector(), nullptr);
  EXPECT_EQ(a.status().phase(), "Pending");
  EXPECT_TRUE(a.status().capacity().empty());

  json::object empty = obj(R"({"spec":{"storageClassName":""}})");
  PersistentVolumeClaimView b(empty);
  ASSERT_TRUE(b.spec().storage_class_name().has_value());  // explicitly no class
  EXPECT_EQ(*b.spec().storage_class_name(), "");
  EXPECT_EQ(*b.spec().storage_request(), Quantity());

  json::object annotated = obj(R"({"metadata":{"annotations":
    {"volume.beta.kubernetes.io/storage-class":"slow"}},"spec":{"storageClassName":"fast"}})");
  EXPECT_EQ(pvc_storage_class(PersistentVolumeClaimView(annotated)), "slow");
}

TEST(StorageClassView, ReadsAndDefaults) {
  json::object doc = obj(R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
    "metadata":{"name":"fast-local",
                "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
    "provisioner":"csi.kernlet.io","parameters":{"fsType":"xfs","tier":"nvme"},
    "reclaimPolicy":"Retain","allowVolumeExpansion":true,"mountOptions":["discard"],
    "volumeBindingMode":"WaitForFirstConsumer",
    "allowedTopologies":[{"matchLabelExpressions":[
      {"key":"topology.kubernetes.io/zone","values":["zone-1"]}]}]})");
  StorageClassView sc(doc);
  EXPECT_EQ(sc.provisioner(), "csi.kernlet.io");
  EXPECT_EQ(sc.parameter("fsType"), "xfs");
  EXPECT_EQ(sc.parameter("missing"), std::nullopt);
  EXPECT_EQ(string_entries(sc.parameters()).size(), 2u);
  EXPECT_EQ(sc.reclaim_policy(), "Retain");
  EXPECT_TRUE(sc.allow_volume_expansion());
  EXPECT_EQ(sc.mount_options(), (Strings{"discard"}));
  EXPECT_EQ(sc.volume_binding_mode(), "WaitForFirstConsumer");
  ASSERT_NE(sc.allowed_topologies(), nullptr);
  EXPECT_EQ(sc.allowed_topologies()->size(), 1u);
  EXPECT_TRUE(sc.is_default_class());

  json::object minimal = obj(R"({"kind":"StorageClass","metadata":{"name":"standard",
    "annotations":{"storageclass.kubernetes.io/is-default-class":"false"}},
    "provisioner":"rancher.io/local-path"})");
  StorageClassView m(minimal);
  EXPECT_EQ(m.reclaim_policy(), "Delete");
  EXPECT_EQ(m.volume_binding_mode(), "Immediate");
  EXPECT_FALSE(m.allow_volume_expansion());
  EXPECT_EQ(m.parameters(), nullptr);
  EXPECT_EQ(m.allowed_topologies(), nullptr);
  EXPECT_FALSE(m.is_default_class());
  json::object beta = obj(R"({"metadata":{"annotations":
    {"storageclass.beta.kubernetes.io/is-default-class":"true"}}})");
  EXPECT_TRUE(StorageClassView(beta).is_default_class());
}

}  // namespace
}  // namespace kernlet::api
