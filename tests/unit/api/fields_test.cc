#include "api/fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kernlet::api {
namespace {

std::string parsed(std::string_view text) {
  auto s = FieldSelector::parse(text);
  if (!s.ok()) return "ERROR: " + s.error().message();
  return s->to_string();
}

json::object obj(std::string_view text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return o.ok() ? *o : json::object();
}

// Kubernetes' TestSelectorParse and TestSelectorParseWithEscapes: input -> canonical form.
TEST(FieldSelectorParse, CanonicalForm) {
  struct Case {
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {",", ""},
      {"a=b", "a=b"},
      {"a==b", "a=b"},
      {"a!=b", "a!=b"},
      {"x=a,y=b,z=c", "x=a,y=b,z=c"},
      {"z=c,y=b,x=a", "x=a,y=b,z=c"},
      {"x=a,,y=b", "x=a,y=b"},
      {"x=", "x="},
      {"x=,z= ", "x=,z= "},  // spaces are data, not separators
      {"x!=a,y=b", "x!=a,y=b"},
      {"metadata.name=my-pod", "metadata.name=my-pod"},
      {"x=a\\=b", "x=a\\=b"},
      {"x=a\\,b", "x=a\\,b"},
      {"x=a\\\\b", "x=a\\\\b"},
      {"x=a\\\\", "x=a\\\\"},
      {"x!=a\\,b\\=c", "x!=a\\,b\\=c"},
      {"=", ""},   // both sides empty: dropped
      {"!=", ""},
      {"=x", "=x"},
      {"x!!=y", "x!!=y"},  // the field ends at the first operator
      {"a=b!c", "a=b!c"},
  };
  for (const auto& c : cases) EXPECT_EQ(parsed(c.in), c.want) << c.in;
}

TEST(FieldSelectorParse, Errors) {
  struct Case {
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"a", "invalid selector: 'a'; can't understand 'a'"},
      {"x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"},
      {"a=b,x,c", "invalid selector: 'a=b,x,c'; can't understand 'c'"},  // sorted: c before x
      {"a=b=c", "invalid field selector: unescaped character in value: 61"},
      {"a===b", "invalid field selector: unescaped character in value: 61"},
      {"a=b\\", "invalid field selector: invalid escape sequence: \\"},
      {"a=b\\x", "invalid field selector: invalid escape sequence: \\x"},
      {"a=\\!b", "invalid field selector: invalid escape sequence: \\!"},
      {"a=b\\\xc3\xa9", "invalid field selector: invalid escape sequence: \\\xc3\xa9"},
  };
  for (const auto& c : cases) EXPECT_EQ(parsed(c.in), "ERROR: " + c.want) << c.in;
}

TEST(FieldSelectorParse, UnescapesValues) {
  auto s = FieldSelector::parse("x=a\\,b\\=c\\\\d");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->terms().size(), 1u);
  EXPECT_EQ(s->terms()[0].value, "a,b=c\\d");
  EXPECT_EQ(escape_field_value("a,b=c\\d"), "a\\,b\\=c\\\\d");
  EXPECT_EQ(*unescape_field_value("a\\,b\\=c\\\\d"), "a,b=c\\d");
  EXPECT_EQ(*unescape_field_value("plain"), "plain");
}

TEST(FieldSelectorMatch, SetMatching) {
  struct Case {
    std::string selector;
    FieldSet fields;
    bool want;
  };
  const std::vector<Case> cases = {
      {"", {{"x", "y"}}, true},
      {"x=y", {{"x", "y"}}, true},
      {"x==y", {{"x", "y"}}, true},
      {"x=y,z=w", {{"x", "y"}, {"z", "w"}}, true},
      {"x!=y,z!=w", {{"x", "z"}, {"z", "a"}}, true},
      {"x=", {}, true},  // missing reads as ""
      {"x!=", {{"x", "a"}}, true},
      {"x=z", {}, false},
      {"x=y", {{"x", "z"}}, false},
      {"x=y,z=w", {{"x", "w"}, {"z", "w"}}, false},
      {"x!=y,z!=w", {{"x", "z"}, {"z", "w"}}, false},
      {"x=a\\,b", {{"x", "a,b"}}, true},
  };
  for (const auto& c : cases) {
    auto s = FieldSelector::parse(c.selector);
    ASSERT_TRUE(s.ok()) << c.selector;
    EXPECT_EQ(s->matches(c.fields), c.want) << c.selector;
  }
  EXPECT_FALSE(FieldSelector::nothing().matches(FieldSet{}));
  EXPECT_TRUE(FieldSelector::nothing().matches_nothing());
  EXPECT_TRUE(FieldSelector().empty());
}

TEST(FieldSelectorResource, UnsupportedFieldsAreRejectedWithKubernetesText) {
  struct Case {
    std::string resource, selector, want_error;
  };
  const std::vector<Case> cases = {
      {"pods", "spec.foo=x", "field label not supported: spec.foo"},
      {"pods", "status.phase=Running,spec.foo=x", "field label not supported: spec.foo"},
      {"nodes", "metadata.namespace=x", "field label not supported: metadata.namespace"},
      {"namespaces", "metadata.namespace=x", "field label not supported: metadata.namespace"},
      {"events", "involvedObject.foo=x", "field label not supported: involvedObject.foo"},
      {"secrets", "data=x", "field label not supported: data"},
      {"jobs", "status.active=1", "field label \"status.active\" not supported for Job"},
      {"replicasets", "status.replicas=1",
       "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""},
      {"configmaps", "data.x=1",
       "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""},
  };
  for (const auto& c : cases) {
    auto s = FieldSelector::parse_for(c.resource, c.selector);
    ASSERT_FALSE(s.ok()) << c.resource << " " << c.selector;
    EXPECT_EQ(s.error().message(), c.want_error);
  }
}

TEST(FieldSelectorResource, SupportedFields) {
  struct Case {
    std::string resource, selector;
  };
  const std::vector<Case> ok = {
      {"pods", "metadata.name=a,metadata.namespace=b,spec.nodeName=n,spec.restartPolicy=Always,"
               "spec.schedulerName=s,spec.serviceAccountName=sa,spec.hostNetwork=true,"
               "status.phase=Running,status.podIP=1.2.3.4,status.podIPs=x,status.nominatedNodeName=n"},
      {"nodes", "metadata.name=a,spec.unschedulable=true"},
      {"replicationcontrollers", "metadata.name=a,metadata.namespace=b,status.replicas=1"},
      {"events", "involvedObject.kind=Pod,involvedObject.namespace=d,involvedObject.name=p,"
                 "involvedObject.uid=u,involvedObject.apiVersion=v1,involvedObject.resourceVersion=1,"
                 "involvedObject.fieldPath=f,reason=r,reportingComponent=c,source=s,type=Normal,"
                 "metadata.namespace=d,metadata.name=n"},
      {"namespaces", "metadata.name=a,status.phase=Active"},
      {"secrets", "type=Opaque,metadata.name=a,metadata.namespace=b"},
      {"services", "spec.clusterIP=None,spec.type=ClusterIP,metadata.name=a,metadata.namespace=b"},
      {"jobs", "status.successful=1,metadata.name=a,metadata.namespace=b"},
      {"certificatesigningrequests", "spec.signerName=kubernetes.io/kubelet-serving,metadata.name=a"},
      {"configmaps", "metadata.name=a,metadata.namespace=b"},
      {"replicasets", "metadata.name=a"},
  };
  for (const auto& c : ok) {
    auto s = FieldSelector::parse_for(c.resource, c.selector);
    EXPECT_TRUE(s.ok()) << c.resource << ": " << s.error().message();
  }
  auto host = FieldSelector::parse_for("pods", "spec.host=node-1");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->to_string(), "spec.nodeName=node-1");
  EXPECT_EQ(host->requires_exact_match("spec.nodeName"), "node-1");
}

const char* kPod = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "web-1", "namespace": "prod"},
  "spec": {"nodeName": "node-a", "restartPolicy": "Always", "schedulerName": "default-scheduler",
           "serviceAccountName": "default"},
  "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}]}
})";

TEST(FieldSelectorResource, PodFieldsAsTheApiserverReadsThem) {
  json::object pod = obj(kPod);
  FieldSet f = selectable_fields("pods", pod);
  EXPECT_EQ(f["metadata.name"], "web-1");
  EXPECT_EQ(f["metadata.namespace"], "prod");
  EXPECT_EQ(f["spec.nodeName"], "node-a");
  EXPECT_EQ(f["spec.hostNetwork"], "false");  // unset bool reads as false
  EXPECT_EQ(f["status.podIP"], "10.0.0.7");   // podIPs[0] wins over podIP
  EXPECT_EQ(f["status.podIPs"], "");
  EXPECT_EQ(f["status.nominatedNodeName"], "");

  auto match = [&](std::string_view sel) {
    auto s = FieldSelector::parse_for("pods", sel);
    EXPECT_TRUE(s.ok()) << sel;
    return s.ok() && s->matches("pods", pod);
  };
  EXPECT_TRUE(match("spec.nodeName=node-a"));
  EXPECT_TRUE(match("spec.host=node-a"));
  EXPECT_FALSE(match("spec.nodeName=node-b"));
  EXPECT_TRUE(match("status.phase!=Succeeded,status.phase!=Failed"));
  EXPECT_TRUE(match("spec.hostNetwork=false"));
  EXPECT_FALSE(match("spec.hostNetwork=true"));
  EXPECT_TRUE(match("metadata.namespace=prod,metadata.name=web-1"));
  EXPECT_TRUE(match("spec.nodeName!="));
  EXPECT_TRUE(match("status.nominatedNodeName="));
  EXPECT_TRUE(match(""));

  pod["spec"].as_object()["hostNetwork"] = true;
  EXPECT_TRUE(match("spec.hostNetwork=true"));
  json::object bare = obj(R"({"status": {"podIP": "10.1.1.1"}})");
  EXPECT_EQ(selectable_fields("pods", bare)["status.podIP"], "10.1.1.1");
}

TEST(FieldSelectorResource, NumbersBooleansAndDefaults) {
  json::object node = obj(R"({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}})");
  EXPECT_TRUE(FieldSelector::parse_for("nodes", "spec.unschedulable=true")->matches("nodes", node));
  json::object node2 = obj(R"({"metadata": {"name": "n2"}, "spec": {}})");
  EXPECT_TRUE(FieldSelector::parse_for("nodes", "spec.unschedulable=false")->matches("nodes", node2));

  json::object rc = obj(R"({"metadata": {"name": "r"}, "status": {"replicas": 3}})");
  EXPECT_TRUE(FieldSelector::parse_for("replicationcontrollers", "status.replicas=3")
                  ->matches("replicationcontrollers", rc));
  json::object rc0 = obj(R"({"metadata": {"name": "r"}, "status": {}})");
  EXPECT_TRUE(FieldSelector::parse_for("replicationcontrollers", "status.replicas=0")
                  ->matches("replicationcontrollers", rc0));

  json::object job = obj(R"({"metadata": {"name": "j"}, "status": {"succeeded": 2}})");
  EXPECT_TRUE(FieldSelector::parse_for("jobs", "status.successful=2")->matches("jobs", job));
  EXPECT_FALSE(FieldSelector::parse_for("jobs", "status.successful=0")->matches("jobs", job));

  json::object ns = obj(R"({"metadata": {"name": "kube-system"}, "status": {"phase": "Active"}})");
  EXPECT_TRUE(FieldSelector::parse_for("namespaces", "status.phase=Active,metadata.name=kube-system")
                  ->matches("namespaces", ns));

  json::object secret = obj(R"({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls"})");
  EXPECT_TRUE(FieldSelector::parse_for("secrets", "type=kubernetes.io/tls")->matches("secrets", secret));

  // A cluster-scoped object read with the default field set has an empty namespace.
  json::object pv = obj(R"({"metadata": {"name": "pv1"}})");
  EXPECT_TRUE(FieldSelector::parse_for("persistentvolumes", "metadata.namespace=")
                  ->matches("persistentvolumes", pv));
}

TEST(FieldSelectorResource, EventSourceFallsBackToReportingComponent) {
  json::object ev = obj(R"({
    "metadata": {"name": "e1", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u-1"},
    "reason": "Scheduled", "type": "Normal", "reportingComponent": "default-scheduler"
  })");
  FieldSet f = selectable_fields("events", ev);
  EXPECT_EQ(f["source"], "default-scheduler");
  EXPECT_EQ(f["reportingComponent"], "default-scheduler");
  EXPECT_EQ(f["involvedObject.fieldPath"], "");
  auto s = FieldSelector::parse_for("events", "involvedObject.kind=Pod,involvedObject.name=web-1,type!=Warning");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->matches("events", ev));

  json::object ev2 = obj(R"({"source": {"component": "kubelet"}, "reportingComponent": "x"})");
  EXPECT_EQ(selectable_fields("events", ev2)["source"], "kubelet");
}

TEST(FieldSelector, SupportedFieldList) {
  auto nodes = supported_fields("nodes");
  EXPECT_EQ(nodes, (std::vector<std::string_view>{"metadata.name", "spec.unschedulable"}));
  auto other = supported_fields("widgets");
  EXPECT_EQ(other, (std::vector<std::string_view>{"metadata.name", "metadata.namespace"}));
  EXPECT_EQ(*convert_field_label("pods", "spec.host"), "spec.nodeName");
}

}  // namespace
}  // namespace kernlet::api
