#include "control/apiserver/validate.h"

#include <gtest/gtest.h>

#include "control/apiserver/defaults.h"

namespace kernlet::apiserver {
namespace {

json::object parse(std::string_view text) { return json::parse_object(text).value(); }

struct Cause {
  std::string reason;
  std::string field;
  std::string message;
};

std::string show(const std::vector<api::StatusCause>& causes) {
  std::string s;
  for (const auto& c : causes) s += "[" + c.reason + "] " + c.field + ": " + c.message + "\n";
  return s;
}

// Defaults first, as the API server does, then validation.
std::vector<api::StatusCause> create(std::string_view api_version, std::string_view kind, std::string_view text) {
  const ResourceInfo* r = find_kind(api_version, kind);
  json::object obj = parse(text);
  apply_defaults(*r, obj);
  return validate_create(*r, obj);
}

bool has(const std::vector<api::StatusCause>& causes, const Cause& want) {
  for (const auto& c : causes)
    if (c.reason == want.reason && c.field == want.field && c.message == want.message) return true;
  return false;
}

struct ValidateCase {
  const char* name;
  const char* api_version;
  const char* kind;
  const char* object;
  Cause want;
};

class ValidateCreate : public testing::TestWithParam<ValidateCase> {};

TEST_P(ValidateCreate, ReportsTheCauseKubectlPrints) {
  const auto& c = GetParam();
  auto causes = create(c.api_version, c.kind, c.object);
  EXPECT_TRUE(has(causes, c.want)) << "want " << c.want.field << ": " << c.want.message << "\ngot:\n" << show(causes);
}

#define POD(spec) R"({"metadata":{"name":"p","namespace":"default"},"spec":)" spec "}"
#define DEPLOY(spec) R"({"metadata":{"name":"d","namespace":"default"},"spec":)" spec "}"

const ValidateCase kCreateCases[] = {
    {"NameRequired", "v1", "ConfigMap", R"({"metadata":{"namespace":"default"}})",
     {"FieldValueRequired", "metadata.name", "Required value: name or generateName is required"}},
    {"NameInvalid", "v1", "ConfigMap", R"({"metadata":{"name":"Foo","namespace":"default"}})",
     {"FieldValueInvalid", "metadata.name",
      "Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
      "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
      "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}},
    {"NamespaceRequired", "v1", "ConfigMap", R"({"metadata":{"name":"x"}})",
     {"FieldValueRequired", "metadata.namespace", "Required value"}},
    {"NamespaceOnClusterScoped", "v1", "Node", R"({"metadata":{"name":"n","namespace":"default"}})",
     {"FieldValueForbidden", "metadata.namespace", "Forbidden: not allowed on this type"}},
    {"PodNoContainers", "v1", "Pod", POD(R"({"containers":[]})"),
     {"FieldValueRequired", "spec.containers", "Required value"}},
    {"PodImageRequired", "v1", "Pod", POD(R"({"containers":[{"name":"c"}]})"),
     {"FieldValueRequired", "spec.containers[0].image", "Required value"}},
    {"PodDuplicateContainer", "v1", "Pod",
     POD(R"({"initContainers":[{"name":"c","image":"x"}],"containers":[{"name":"c","image":"x"}]})"),
     {"FieldValueDuplicate", "spec.containers[0].name", "Duplicate value: \"c\""}},
    {"PodBadPort", "v1", "Pod", POD(R"({"containers":[{"name":"c","image":"x","ports":[{"containerPort":70000}]}]})"),
     {"FieldValueInvalid", "spec.containers[0].ports[0].containerPort",
      "Invalid value: 70000: must be between 1 and 65535, inclusive"}},
    {"PodBadProtocol", "v1", "Pod",
     POD(R"({"containers":[{"name":"c","image":"x","ports":[{"containerPort":80,"protocol":"HTTP"}]}]})"),
     {"FieldValueNotSupported", "spec.containers[0].ports[0].protocol",
      "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""}},
    {"PodRestartPolicy", "v1", "Pod", POD(R"({"restartPolicy":"Sometimes","containers":[{"name":"c","image":"x"}]})"),
     {"FieldValueNotSupported", "spec.restartPolicy",
      "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""}},
    {"PodRequestsOverLimits", "v1", "Pod",
     POD(R"({"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"2"},"limits":{"cpu":"1"}}}]})"),
     {"FieldValueInvalid", "spec.containers[0].resources.requests[cpu]",
      "Invalid value: \"2\": must be less than or equal to cpu limit of 1"}},
    {"PodMountOfUnknownVolume", "v1", "Pod",
     POD(R"({"containers":[{"name":"c","image":"x","volumeMounts":[{"name":"data","mountPath":"/d"}]}]})"),
     {"FieldValueNotFound", "spec.containers[0].volumeMounts[0].name", "Not found: \"data\""}},
    {"PodDuplicateVolume", "v1", "Pod",
     POD(R"({"volumes":[{"name":"v"},{"name":"v"}],"containers":[{"name":"c","image":"x"}]})"),
     {"FieldValueDuplicate", "spec.volumes[1].name", "Duplicate value: \"v\""}},
    {"ServiceName1035", "v1", "Service", R"({"metadata":{"name":"1web","namespace":"default"},"spec":{"ports":[{"port":80}]}})",
     {"FieldValueInvalid", "metadata.name",
      "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
      "with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex "
      "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"}},
    {"ServicePortsRequired", "v1", "Service", R"({"metadata":{"name":"s","namespace":"default"},"spec":{}})",
     {"FieldValueRequired", "spec.ports", "Required value"}},
    {"ServicePortNameRequired", "v1", "Service",
     R"({"metadata":{"name":"s","namespace":"default"},"spec":{"ports":[{"port":80},{"port":443,"name":"https"}]}})",
     {"FieldValueRequired", "spec.ports[0].name", "Required value"}},
    {"ServiceDuplicatePortName", "v1", "Service",
     R"({"metadata":{"name":"s","namespace":"default"},"spec":{"ports":[{"port":80,"name":"a"},{"port":81,"name":"a"}]}})",
     {"FieldValueDuplicate", "spec.ports[1].name", "Duplicate value: \"a\""}},
    {"ServiceType", "v1", "Service",
     R"({"metadata":{"name":"s","namespace":"default"},"spec":{"type":"Foo","ports":[{"port":80}]}})",
     {"FieldValueNotSupported", "spec.type",
      "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""}},
    {"ServicePortRange", "v1", "Service",
     R"({"metadata":{"name":"s","namespace":"default"},"spec":{"ports":[{"port":0,"targetPort":8080}]}})",
     {"FieldValueInvalid", "spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"}},
    {"DeploymentSelectorMismatch", "apps/v1", "Deployment",
     DEPLOY(R"({"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"api"}},
        "spec":{"containers":[{"name":"c","image":"x"}]}}})"),
     {"FieldValueInvalid", "spec.template.metadata.labels",
      "Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`"}},
    {"DeploymentSelectorRequired", "apps/v1", "Deployment",
     DEPLOY(R"({"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"x"}]}}})"),
     {"FieldValueRequired", "spec.selector", "Required value"}},
    {"DeploymentNegativeReplicas", "apps/v1", "Deployment", DEPLOY(R"({"replicas":-1})"),
     {"FieldValueInvalid", "spec.replicas", "Invalid value: -1: must be greater than or equal to 0"}},
    {"DeploymentZeroSurgeAndUnavailable", "apps/v1", "Deployment",
     DEPLOY(R"({"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":0}}})"),
     {"FieldValueInvalid", "spec.strategy.rollingUpdate.maxUnavailable",
      "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"}},
    {"DeploymentBadPercent", "apps/v1", "Deployment", DEPLOY(R"({"strategy":{"rollingUpdate":{"maxSurge":"25"}}})"),
     {"FieldValueInvalid", "spec.strategy.rollingUpdate.maxSurge",
      "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"25\"}: a valid percent string must be a numeric "
      "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"}},
    {"DaemonSetEmptySelector", "apps/v1", "DaemonSet", DEPLOY(R"({"selector":{}})"),
     {"FieldValueInvalid", "spec.selector",
      "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"}},
    {"JobRestartAlways", "batch/v1", "Job",
     R"({"metadata":{"name":"j","namespace":"default"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}})",
     {"FieldValueNotSupported", "spec.template.spec.restartPolicy",
      "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""}},
    {"CronJobScheduleRequired", "batch/v1", "CronJob", R"({"metadata":{"name":"c","namespace":"default"},"spec":{}})",
     {"FieldValueRequired", "spec.schedule", "Required value"}},
    {"CronJobScheduleFields", "batch/v1", "CronJob",
     R"({"metadata":{"name":"c","namespace":"default"},"spec":{"schedule":"* * *"}})",
     {"FieldValueInvalid", "spec.schedule", "Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"}},
    {"CronJobScheduleRange", "batch/v1", "CronJob",
     R"({"metadata":{"name":"c","namespace":"default"},"spec":{"schedule":"61 * * * *"}})",
     {"FieldValueInvalid", "spec.schedule", "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"}},
    {"ConfigMapKey", "v1", "ConfigMap", R"({"metadata":{"name":"c","namespace":"default"},"data":{"a b":"x"}})",
     {"FieldValueInvalid", "data[a b]",
      "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
      "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"}},
    {"SecretTlsKeys", "v1", "Secret",
     R"({"metadata":{"name":"s","namespace":"default"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}})",
     {"FieldValueRequired", "data[tls.key]", "Required value"}},
    {"NamespaceNameIsLabel", "v1", "Namespace", R"({"metadata":{"name":"a.b"}})",
     {"FieldValueInvalid", "metadata.name", "Invalid value: \"a.b\": must not contain dots"}},
    {"PVCAccessModes", "v1", "PersistentVolumeClaim",
     R"({"metadata":{"name":"c","namespace":"default"},"spec":{"resources":{"requests":{"storage":"1Gi"}}}})",
     {"FieldValueRequired", "spec.accessModes", "Required value: at least 1 access mode is required"}},
    {"PVCStorage", "v1", "PersistentVolumeClaim",
     R"({"metadata":{"name":"c","namespace":"default"},"spec":{"accessModes":["ReadWriteOnce"]}})",
     {"FieldValueRequired", "spec.resources[storage]", "Required value"}},
    {"StorageClassProvisioner", "storage.k8s.io/v1", "StorageClass", R"({"metadata":{"name":"sc"}})",
     {"FieldValueRequired", "provisioner", "Required value"}},
    {"CSIDriverName", "storage.k8s.io/v1", "CSIDriver", R"({"metadata":{"name":"Local_Driver"}})",
     {"FieldValueInvalid", "metadata.name",
      "Invalid value: \"Local_Driver\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
      "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
      "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}},
    {"CSINodeNodeID", "storage.k8s.io/v1", "CSINode",
     R"({"metadata":{"name":"n1"},"spec":{"drivers":[{"name":"local.csi.kernlet.io"}]}})",
     {"FieldValueRequired", "spec.drivers[0].nodeID", "Required value"}},
    {"VolumeAttachmentSource", "storage.k8s.io/v1", "VolumeAttachment",
     R"({"metadata":{"name":"va"},"spec":{"attacher":"local.csi.kernlet.io","nodeName":"n1","source":{}}})",
     {"FieldValueRequired", "spec.source",
      "Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"}},
    {"EndpointSliceAddressType", "discovery.k8s.io/v1", "EndpointSlice",
     R"({"metadata":{"name":"e","namespace":"default"},"addressType":"IPv5"})",
     {"FieldValueNotSupported", "addressType", "Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""}},
    {"HPAMaxBelowMin", "autoscaling/v2", "HorizontalPodAutoscaler",
     R"({"metadata":{"name":"h","namespace":"default"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"d"},
        "minReplicas":3,"maxReplicas":2}})",
     {"FieldValueInvalid", "spec.maxReplicas", "Invalid value: 2: must be greater than or equal to `minReplicas`"}},
    {"HPATargetName", "autoscaling/v2", "HorizontalPodAutoscaler",
     R"({"metadata":{"name":"h","namespace":"default"},"spec":{"scaleTargetRef":{"kind":"Deployment"},"maxReplicas":2}})",
     {"FieldValueRequired", "spec.scaleTargetRef.name", "Required value"}},
    {"LeaseDuration", "coordination.k8s.io/v1", "Lease",
     R"({"metadata":{"name":"l","namespace":"default"},"spec":{"leaseDurationSeconds":0}})",
     {"FieldValueInvalid", "spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"}},
};

INSTANTIATE_TEST_SUITE_P(Validate, ValidateCreate, testing::ValuesIn(kCreateCases),
                         [](const testing::TestParamInfo<ValidateCase>& i) { return std::string(i.param.name); });

TEST(Validate, ValidObjectsHaveNoCauses) {
  EXPECT_EQ(show(create("v1", "Pod", POD(R"({"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}]}]})"))), "");
  EXPECT_EQ(show(create("apps/v1", "Deployment", DEPLOY(R"({"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"x"}]}}})"))), "");
  EXPECT_EQ(show(create("batch/v1", "CronJob", R"({"metadata":{"name":"c","namespace":"default"},"spec":{"schedule":"@hourly",
      "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"x"}]}}}}}})")), "");
  EXPECT_EQ(show(create("v1", "Service", R"({"metadata":{"name":"web","namespace":"default"},"spec":{"ports":[{"port":80}]}})")), "");
}

TEST(Validate, CronSchedules) {
  for (const char* ok : {"*/5 * * * *", "0 0 1 jan mon", "0 9-17/2 * * MON-FRI", "@daily", "@every 1h30m", "0,30 * * * 0"})
    EXPECT_EQ(check_cron_schedule(ok), "") << ok;
  EXPECT_EQ(check_cron_schedule("0 0 0 * *"), "beginning of range (0) below minimum (1): 0");
  EXPECT_EQ(check_cron_schedule("@fortnightly"), "unrecognized descriptor: @fortnightly");
  EXPECT_EQ(check_cron_schedule("5-2 * * * *"), "beginning of range (5) beyond end of range (2): 5-2");
  EXPECT_EQ(check_cron_schedule("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
  EXPECT_EQ(check_cron_schedule("*/0 * * * *"), "step of range should be a positive number: */0");
}

std::vector<api::StatusCause> update(std::string_view api_version, std::string_view kind, std::string_view old_text,
                                     std::string_view new_text) {
  const ResourceInfo* r = find_kind(api_version, kind);
  json::object old = parse(old_text);
  json::object obj = parse(new_text);
  apply_defaults(*r, old);
  apply_defaults(*r, obj);
  return validate_update(*r, obj, old, "");
}

TEST(Validate, PodUpdateMayChangeImagesOnly) {
  const char* old = POD(R"({"containers":[{"name":"c","image":"nginx:1"}]})");
  EXPECT_EQ(show(update("v1", "Pod", old, POD(R"({"containers":[{"name":"c","image":"nginx:2"}]})"))), "");
  auto causes = update("v1", "Pod", old, POD(R"({"containers":[{"name":"c","image":"nginx:1","ports":[{"containerPort":80}]}]})"));
  EXPECT_TRUE(has(causes, {"FieldValueForbidden", "spec",
                           "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                           "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                           "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
                           "set to 1 if it was previously negative)"}))
      << show(causes);
}

TEST(Validate, DeploymentSelectorIsImmutable) {
  const char* old = DEPLOY(R"({"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web","v":"2"}},
      "spec":{"containers":[{"name":"c","image":"x"}]}}})");
  const char* upd = DEPLOY(R"({"selector":{"matchLabels":{"app":"web","v":"2"}},"template":{"metadata":{"labels":{"app":"web","v":"2"}},
      "spec":{"containers":[{"name":"c","image":"x"}]}}})");
  auto causes = update("apps/v1", "Deployment", old, upd);
  EXPECT_TRUE(has(causes, {"FieldValueInvalid", "spec.selector",
                           "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, "
                           "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"}))
      << show(causes);
}

TEST(Validate, ServiceClusterIPMayNotChange) {
  auto causes = update("v1", "Service",
                       R"({"metadata":{"name":"s","namespace":"default"},"spec":{"clusterIP":"10.96.0.5","ports":[{"port":80}]}})",
                       R"({"metadata":{"name":"s","namespace":"default"},"spec":{"clusterIP":"10.96.0.6","ports":[{"port":80}]}})");
  EXPECT_TRUE(has(causes, {"FieldValueInvalid", "spec.clusterIPs[0]",
                           "Invalid value: []string{\"10.96.0.6\"}: may not change once set"}))
      << show(causes);
}

TEST(Validate, ImmutableConfigMapData) {
  auto causes = update("v1", "ConfigMap", R"({"metadata":{"name":"c","namespace":"d"},"immutable":true,"data":{"a":"1"}})",
                       R"({"metadata":{"name":"c","namespace":"d"},"immutable":true,"data":{"a":"2"}})");
  EXPECT_TRUE(has(causes, {"FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set"}))
      << show(causes);
}

TEST(Validate, NamespaceAndUidAreImmutable) {
  auto causes = update("v1", "ConfigMap", R"({"metadata":{"name":"c","namespace":"a","uid":"1"}})",
                       R"({"metadata":{"name":"c","namespace":"b","uid":"1"}})");
  EXPECT_TRUE(has(causes, {"FieldValueInvalid", "metadata.namespace", "Invalid value: \"b\": field is immutable"}))
      << show(causes);
}

}  // namespace
}  // namespace kernlet::apiserver
