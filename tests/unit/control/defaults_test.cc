#include "control/apiserver/defaults.h"

#include <gtest/gtest.h>

namespace kernlet::apiserver {
namespace {

json::object parse(std::string_view text) { return json::parse_object(text).value(); }

json::object defaulted(std::string_view api_version, std::string_view kind, std::string_view text) {
  const ResourceInfo* r = find_kind(api_version, kind);
  EXPECT_NE(r, nullptr) << kind;
  json::object obj = parse(text);
  apply_defaults(*r, obj);
  return obj;
}

struct DefaultsCase {
  const char* name;
  const char* api_version;
  const char* kind;
  const char* input;
  const char* want;
};

class DefaultsTable : public testing::TestWithParam<DefaultsCase> {};

TEST_P(DefaultsTable, StoredObjectIsWhatKubectlShows) {
  const auto& c = GetParam();
  json::object got = defaulted(c.api_version, c.kind, c.input);
  EXPECT_EQ(json::value(got), json::value(parse(c.want))) << json::dump(got);
  // Defaulting twice changes nothing.
  json::object again = got;
  apply_defaults(*find_kind(c.api_version, c.kind), again);
  EXPECT_EQ(again, got);
}

const DefaultsCase kCases[] = {
    {"Pod", "v1", "Pod",
     R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"nginx","image":"nginx:1.27",
        "ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"500m"}},
        "readinessProbe":{"httpGet":{"port":80}}}]}})",
     R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"nginx","image":"nginx:1.27",
        "ports":[{"containerPort":80,"protocol":"TCP"}],
        "resources":{"limits":{"cpu":"500m"},"requests":{"cpu":"500m"}},
        "readinessProbe":{"httpGet":{"port":80,"path":"/","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,
                          "successThreshold":1,"failureThreshold":3},
        "imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log",
        "terminationMessagePolicy":"File"}],
        "dnsPolicy":"ClusterFirst","restartPolicy":"Always","securityContext":{},"terminationGracePeriodSeconds":30,
        "schedulerName":"default-scheduler","enableServiceLinks":true,"priority":0,
        "preemptionPolicy":"PreemptLowerPriority",
        "tolerations":[
          {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
          {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}})"},
    {"PodVolumesAndExistingToleration", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"c","image":"busybox"}],
        "volumes":[{"name":"a"},{"name":"b","configMap":{"name":"cm"}},{"name":"h","hostPath":{"path":"/x"}}],
        "tolerations":[{"operator":"Exists"}]}})",
     R"({"spec":{"containers":[{"name":"c","image":"busybox","imagePullPolicy":"Always",
        "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","resources":{}}],
        "volumes":[{"name":"a","emptyDir":{}},{"name":"b","configMap":{"name":"cm","defaultMode":420}},
                   {"name":"h","hostPath":{"path":"/x","type":""}}],
        "tolerations":[{"operator":"Exists"}],
        "dnsPolicy":"ClusterFirst","restartPolicy":"Always","securityContext":{},"terminationGracePeriodSeconds":30,
        "schedulerName":"default-scheduler","enableServiceLinks":true,"priority":0,
        "preemptionPolicy":"PreemptLowerPriority"}})"},
    {"Service", "v1", "Service",
     R"({"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})",
     R"({"spec":{"selector":{"app":"web"},"ports":[{"port":80,"protocol":"TCP","targetPort":80}],
        "sessionAffinity":"None","type":"ClusterIP","internalTrafficPolicy":"Cluster",
        "ipFamilyPolicy":"SingleStack","ipFamilies":["IPv4"]}})"},
    {"ServiceNodePort", "v1", "Service",
     R"({"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":"http"}]}})",
     R"({"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":"http","protocol":"TCP"}],
        "sessionAffinity":"None","externalTrafficPolicy":"Cluster","internalTrafficPolicy":"Cluster",
        "ipFamilyPolicy":"SingleStack","ipFamilies":["IPv4"]}})"},
    {"Deployment", "apps/v1", "Deployment",
     R"({"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"web","image":"nginx"}]}}}})",
     R"({"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"web","image":"nginx","imagePullPolicy":"Always",
          "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","resources":{}}],
          "dnsPolicy":"ClusterFirst","restartPolicy":"Always","securityContext":{},
          "terminationGracePeriodSeconds":30,"schedulerName":"default-scheduler"}},
        "replicas":1,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},
        "revisionHistoryLimit":10,"progressDeadlineSeconds":600}})"},
    {"DaemonSet", "apps/v1", "DaemonSet", R"({"spec":{}})",
     R"({"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}},
        "revisionHistoryLimit":10}})"},
    {"ReplicaSet", "apps/v1", "ReplicaSet", R"({"spec":{}})", R"({"spec":{"replicas":1}})"},
    {"Job", "batch/v1", "Job", R"({"metadata":{"name":"pi"},"spec":{}})",
     R"({"metadata":{"name":"pi"},"spec":{"completions":1,"parallelism":1,"backoffLimit":6,
        "completionMode":"NonIndexed","suspend":false,"podReplacementPolicy":"TerminatingOrFailed"}})"},
    {"JobParallelOnly", "batch/v1", "Job", R"({"spec":{"parallelism":3}})",
     R"({"spec":{"parallelism":3,"backoffLimit":6,"completionMode":"NonIndexed","suspend":false,
        "podReplacementPolicy":"TerminatingOrFailed"}})"},
    {"CronJob", "batch/v1", "CronJob", R"({"spec":{"schedule":"*/5 * * * *"}})",
     R"({"spec":{"schedule":"*/5 * * * *","concurrencyPolicy":"Allow","suspend":false,
        "successfulJobsHistoryLimit":3,"failedJobsHistoryLimit":1}})"},
    {"HPA", "autoscaling/v2", "HorizontalPodAutoscaler", R"({"spec":{"maxReplicas":5}})",
     R"({"spec":{"maxReplicas":5,"minReplicas":1,"metrics":[{"type":"Resource","resource":{"name":"cpu",
        "target":{"type":"Utilization","averageUtilization":80}}}]}})"},
    {"Namespace", "v1", "Namespace", R"({"metadata":{"name":"dev"}})",
     R"({"metadata":{"name":"dev","labels":{"kubernetes.io/metadata.name":"dev"}},"status":{"phase":"Active"}})"},
    {"Secret", "v1", "Secret", R"({"data":{}})", R"({"data":{},"type":"Opaque"})"},
    {"PVC", "v1", "PersistentVolumeClaim", R"({"spec":{}})",
     R"({"spec":{"volumeMode":"Filesystem"},"status":{"phase":"Pending"}})"},
    {"PV", "v1", "PersistentVolume", R"({"spec":{}})",
     R"({"spec":{"persistentVolumeReclaimPolicy":"Retain","volumeMode":"Filesystem"},"status":{"phase":"Pending"}})"},
    {"StorageClass", "storage.k8s.io/v1", "StorageClass", R"({"provisioner":"x"})",
     R"({"provisioner":"x","reclaimPolicy":"Delete","volumeBindingMode":"Immediate"})"},
    {"CSIDriver", "storage.k8s.io/v1", "CSIDriver", R"({"spec":{"attachRequired":false}})",
     R"({"spec":{"attachRequired":false,"podInfoOnMount":false,"storageCapacity":false,"requiresRepublish":false,
        "seLinuxMount":false,"fsGroupPolicy":"ReadWriteOnceWithFSType","volumeLifecycleModes":["Persistent"]}})"},
    {"ConfigMapUntouched", "v1", "ConfigMap", R"({"data":{"a":"b"}})", R"({"data":{"a":"b"}})"},
};

INSTANTIATE_TEST_SUITE_P(Defaults, DefaultsTable, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<DefaultsCase>& i) { return std::string(i.param.name); });

TEST(Defaults, ImagePullPolicyByTag) {
  EXPECT_EQ(default_image_pull_policy("nginx"), "Always");
  EXPECT_EQ(default_image_pull_policy("nginx:latest"), "Always");
  EXPECT_EQ(default_image_pull_policy("nginx:1.27"), "IfNotPresent");
  EXPECT_EQ(default_image_pull_policy("localhost:5000/app"), "Always");
  EXPECT_EQ(default_image_pull_policy("localhost:5000/app:v1"), "IfNotPresent");
  EXPECT_EQ(default_image_pull_policy("nginx@sha256:abcd"), "IfNotPresent");
}

TEST(Defaults, ServiceClientIPAffinityGetsTimeout) {
  json::object got = defaulted("v1", "Service", R"({"spec":{"sessionAffinity":"ClientIP","ports":[{"port":53,"protocol":"UDP"}]}})");
  EXPECT_EQ(json::value(got.at("spec").at("sessionAffinityConfig")),
            json::value(parse(R"({"clientIP":{"timeoutSeconds":10800}})")));
  EXPECT_EQ(got.at("spec").at("ports").at(0).at("protocol"), "UDP");
}

TEST(Defaults, PodTemplateGetsNoPodOnlyDefaults) {
  json::object got = defaulted("batch/v1", "CronJob",
                               R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x:1","resources":{"limits":{"cpu":"1"}}}]}}}}}})");
  const json::object& pod = got.at("spec").at("jobTemplate").at("spec").at("template").at("spec").as_object();
  EXPECT_FALSE(pod.contains("tolerations"));
  EXPECT_FALSE(pod.contains("enableServiceLinks"));
  EXPECT_FALSE(pod.at("containers").at(0).at("resources").as_object().contains("requests"));
  EXPECT_EQ(pod.at("restartPolicy"), "Always");
  EXPECT_FALSE(got.at("spec").at("jobTemplate").at("spec").as_object().contains("backoffLimit"));
}

TEST(Defaults, JobTakesTemplateLabelsWhenItHasNone) {
  json::object got = defaulted("batch/v1", "Job", R"({"spec":{"template":{"metadata":{"labels":{"app":"pi"}}}}})");
  EXPECT_EQ(json::value(got.at("metadata").at("labels")), json::value(parse(R"({"app":"pi"})")));
}

}  // namespace
}  // namespace kernlet::apiserver
