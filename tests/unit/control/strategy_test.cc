#include "control/apiserver/strategy.h"

#include <gtest/gtest.h>

namespace kernlet::apiserver {
namespace {

json::object parse(std::string_view text) { return json::parse_object(text).value(); }
const ResourceInfo& kind(std::string_view api_version, std::string_view k) { return *find_kind(api_version, k); }

TEST(Strategy, DeploymentCreateResetsStatusAndSetsGeneration) {
  json::object d = parse(R"({"metadata":{"name":"web","generation":7},"spec":{"replicas":2},"status":{"replicas":9}})");
  prepare_for_create(kind("apps/v1", "Deployment"), d);
  EXPECT_EQ(d.at("metadata").at("generation"), 1);
  EXPECT_EQ(json::value(d.at("status")), json::value(json::object{}));
}

TEST(Strategy, PodCreateIsPendingWithQosClass) {
  json::object p = parse(R"({"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1","memory":"1Gi"},
      "requests":{"cpu":"1","memory":"1Gi"}}}]},"status":{"phase":"Running"}})");
  prepare_for_create(kind("v1", "Pod"), p);
  EXPECT_EQ(json::value(p.at("status")), json::value(parse(R"({"phase":"Pending","qosClass":"Guaranteed"})")));
  json::object be = parse(R"({"spec":{"containers":[{"name":"c"}]}})");
  prepare_for_create(kind("v1", "Pod"), be);
  EXPECT_EQ(be.at("status").at("qosClass"), "BestEffort");
}

TEST(Strategy, UpdateKeepsStatusAndBumpsGenerationOnlyOnSpecChange) {
  const auto& r = kind("apps/v1", "Deployment");
  json::object old = parse(R"({"metadata":{"name":"web","generation":3},"spec":{"replicas":2},"status":{"replicas":2}})");
  json::object same = parse(R"({"metadata":{"name":"web","labels":{"a":"b"}},"spec":{"replicas":2},"status":{"replicas":0}})");
  prepare_for_update(r, same, old, "");
  EXPECT_EQ(same.at("metadata").at("generation"), 3);
  EXPECT_EQ(same.at("status").at("replicas"), 2);
  json::object scaled = parse(R"({"metadata":{"name":"web","generation":99},"spec":{"replicas":5}})");
  prepare_for_update(r, scaled, old, "");
  EXPECT_EQ(scaled.at("metadata").at("generation"), 4);
  EXPECT_EQ(scaled.at("status").at("replicas"), 2);
  json::object annotated = parse(R"({"metadata":{"name":"web","annotations":{"x":"y"}},"spec":{"replicas":2}})");
  prepare_for_update(r, annotated, old, "");
  EXPECT_EQ(annotated.at("metadata").at("generation"), 4);
}

TEST(Strategy, ReplicaSetAnnotationChangeKeepsGeneration) {
  json::object old = parse(R"({"metadata":{"generation":2},"spec":{"replicas":1}})");
  json::object upd = parse(R"({"metadata":{"annotations":{"x":"y"}},"spec":{"replicas":1}})");
  prepare_for_update(kind("apps/v1", "ReplicaSet"), upd, old, "");
  EXPECT_EQ(upd.at("metadata").at("generation"), 2);
}

TEST(Strategy, StatusUpdateChangesOnlyStatus) {
  json::object old = parse(R"({"metadata":{"name":"web","generation":3,"labels":{"a":"1"}},"spec":{"replicas":2},"status":{}})");
  json::object upd = parse(R"({"metadata":{"name":"web","labels":{"a":"2"}},"spec":{"replicas":9},"status":{"replicas":2}})");
  prepare_for_update(kind("apps/v1", "Deployment"), upd, old, "status");
  EXPECT_EQ(upd.at("spec").at("replicas"), 2);
  EXPECT_EQ(upd.at("status").at("replicas"), 2);
  EXPECT_EQ(upd.at("metadata").at("labels").at("a"), "1");
  EXPECT_EQ(upd.at("metadata").at("generation"), 3);
}

TEST(Strategy, PodStatusUpdateLetsLabelsThrough) {
  json::object old = parse(R"({"metadata":{"labels":{"a":"1"},"ownerReferences":[{"uid":"u"}]},"spec":{"nodeName":"n1"}})");
  json::object upd = parse(R"({"metadata":{"labels":{"a":"2"}},"spec":{"nodeName":"n2"},"status":{"phase":"Running"}})");
  prepare_for_update(kind("v1", "Pod"), upd, old, "status");
  EXPECT_EQ(upd.at("spec").at("nodeName"), "n1");
  EXPECT_EQ(upd.at("metadata").at("labels").at("a"), "2");
  EXPECT_EQ(upd.at("metadata").at("ownerReferences").at(0).at("uid"), "u");
  EXPECT_EQ(upd.at("status").at("phase"), "Running");
}

TEST(Strategy, JobCreateGeneratesSelectorAndLabels) {
  json::object job = parse(R"({"metadata":{"name":"pi","uid":"1234"},"spec":{"template":{"spec":{}}}})");
  prepare_for_create(kind("batch/v1", "Job"), job);
  EXPECT_EQ(json::value(job.at("spec").at("selector")),
            json::value(parse(R"({"matchLabels":{"batch.kubernetes.io/controller-uid":"1234"}})")));
  json::value want_labels = parse(R"({"controller-uid":"1234","batch.kubernetes.io/controller-uid":"1234",
      "job-name":"pi","batch.kubernetes.io/job-name":"pi"})");
  EXPECT_EQ(json::value(job.at("spec").at("template").at("metadata").at("labels")), want_labels);
  EXPECT_EQ(json::value(job.at("metadata").at("labels")), want_labels);
  EXPECT_EQ(job.at("metadata").at("generation"), 1);
}

TEST(Strategy, JobManualSelectorIsLeftAlone) {
  json::object job = parse(R"({"metadata":{"name":"pi","uid":"1"},"spec":{"manualSelector":true,
      "selector":{"matchLabels":{"x":"y"}},"template":{"metadata":{"labels":{"x":"y"}}}}})");
  json::object before = job;
  prepare_for_create(kind("batch/v1", "Job"), job);
  EXPECT_EQ(job.at("spec"), before.at("spec"));
}

TEST(Strategy, SecretStringDataFoldsIntoData) {
  json::object s = parse(R"({"data":{"a":"eA==","b":"eQ=="},"stringData":{"b":"hello","c":"hi!"}})");
  prepare_for_create(kind("v1", "Secret"), s);
  EXPECT_EQ(json::value(s), json::value(parse(R"({"data":{"a":"eA==","b":"aGVsbG8=","c":"aGkh"}})")));
}

TEST(Strategy, NamespaceCreateAddsFinalizerAndUpdateKeepsIt) {
  json::object ns = parse(R"({"metadata":{"name":"dev"}})");
  prepare_for_create(kind("v1", "Namespace"), ns);
  EXPECT_EQ(json::value(ns.at("spec")), json::value(parse(R"({"finalizers":["kubernetes"]})")));
  EXPECT_EQ(ns.at("status").at("phase"), "Active");
  json::object upd = parse(R"({"metadata":{"name":"dev"},"spec":{"finalizers":[]},"status":{"phase":"Terminating"}})");
  prepare_for_update(kind("v1", "Namespace"), upd, ns, "");
  EXPECT_EQ(upd.at("spec"), ns.at("spec"));
  EXPECT_EQ(upd.at("status").at("phase"), "Active");
}

TEST(Strategy, ServiceUpdateKeepsStatusAndAllocatedClusterIP) {
  json::object old = parse(R"({"spec":{"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"ports":[{"port":80}]},
      "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})");
  json::object upd = parse(R"({"spec":{"ports":[{"port":81}]}})");
  prepare_for_update(kind("v1", "Service"), upd, old, "");
  EXPECT_EQ(upd.at("spec").at("clusterIP"), "10.96.0.10");
  EXPECT_EQ(upd.at("status"), old.at("status"));
  EXPECT_FALSE(upd.at("metadata").as_object().contains("generation"));
}

TEST(Strategy, ServiceTypeChangeDropsWhatTheNewTypeDoesNotUse) {
  json::object old = parse(R"({"spec":{"type":"NodePort","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
      "ports":[{"port":80,"nodePort":30080},{"port":443,"nodePort":30443}]}})");
  // `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'`: the allocated node ports go.
  json::object to_cluster_ip = parse(R"({"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
      "ports":[{"port":80,"nodePort":30080},{"port":443,"nodePort":30443}]}})");
  prepare_for_update(kind("v1", "Service"), to_cluster_ip, old, "");
  EXPECT_EQ(to_cluster_ip.at("spec").at("ports"), parse(R"({"p":[{"port":80},{"port":443}]})").at("p"));
  EXPECT_EQ(to_cluster_ip.at("spec").at("clusterIP"), "10.96.0.10");
  // A node port the user changed in the same write is theirs: kept (validation judges it).
  json::object changed = parse(R"({"spec":{"type":"ClusterIP","ports":[{"port":80,"nodePort":30081},{"port":443,"nodePort":30443}]}})");
  prepare_for_update(kind("v1", "Service"), changed, old, "");
  EXPECT_EQ(changed.at("spec").at("ports").at(0).at("nodePort"), 30081);
  // To ExternalName: the allocated cluster IP goes too.
  json::object to_external = parse(R"({"spec":{"type":"ExternalName","externalName":"db.example.com",
      "clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"ports":[{"port":80,"nodePort":30080},{"port":443,"nodePort":30443}]}})");
  prepare_for_update(kind("v1", "Service"), to_external, old, "");
  EXPECT_FALSE(to_external.at("spec").as_object().contains("clusterIP"));
  EXPECT_FALSE(to_external.at("spec").as_object().contains("clusterIPs"));
  EXPECT_FALSE(to_external.at("spec").at("ports").at(0).as_object().contains("nodePort"));
}

TEST(Strategy, ConfigMapHasNoGeneration) {
  json::object cm = parse(R"({"metadata":{"name":"x"},"data":{}})");
  prepare_for_create(kind("v1", "ConfigMap"), cm);
  EXPECT_FALSE(cm.at("metadata").as_object().contains("generation"));
}

}  // namespace
}  // namespace kernlet::apiserver
