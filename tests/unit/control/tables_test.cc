#include "control/apiserver/tables.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "api/time.h"

namespace kernlet::apiserver {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

std::string testdata_path(const std::string& name) { return std::string(KERNLET_TESTDATA) + "/" + name; }

json::object load(const std::string& name) {
  std::ifstream in(testdata_path(name));
  std::stringstream ss;
  ss << in.rdbuf();
  auto obj = json::parse_object(ss.str(), name);
  if (!obj.ok()) ADD_FAILURE() << obj.error().to_string();
  return obj.ok() ? *obj : json::object{};
}

json::object parse(std::string_view text) {
  auto obj = json::parse_object(text);
  if (!obj.ok()) ADD_FAILURE() << obj.error().to_string() << "\n" << text;
  return obj.ok() ? *obj : json::object{};
}

system_clock::time_point at(std::string_view rfc3339) { return *api::parse_rfc3339(rfc3339); }

const ResourceInfo& resource(std::string_view group, std::string_view version, std::string_view plural) {
  const ResourceInfo* r = find_resource(group, version, plural);
  if (r != nullptr) return *r;
  static std::deque<ResourceInfo> extra;  // kinds kernlet does not serve (default table)
  ResourceInfo info;
  info.group = group;
  info.version = version;
  info.resource = plural;
  info.kind = "Thing";
  return extra.emplace_back(info);
}

json::object table(const ResourceInfo& r, const std::vector<json::object>& objs, system_clock::time_point now,
                   IncludeObject include = IncludeObject::kMetadata) {
  std::vector<const json::object*> ptrs;
  for (const auto& o : objs) ptrs.push_back(&o);
  TableOptions opts;
  opts.now = now;
  opts.include_object = include;
  return make_table(r, ptrs, opts);
}

// The header kubectl prints: every column with its priority ("IP*" for priority 1).
std::vector<std::string> header(const json::object& t) {
  std::vector<std::string> out;
  for (const auto& c : t.at("columnDefinitions").as_array()) {
    std::string name(c.as_object().at("name").as_string());
    if (c.as_object().at("priority").as_int64() != 0) name += "*";
    out.push_back(name);
  }
  return out;
}

// Row i's cells as JSON text, so strings, integers and booleans are told apart.
std::string cells(const json::object& t, size_t i = 0) {
  return json::dump(t.at("rows").as_array().at(i).as_object().at("cells"));
}

// ---- ages -------------------------------------------------------------------------------

TEST(TableHumanDuration, MatchesApimachinery) {
  struct Case {
    std::chrono::nanoseconds d;
    const char* want;
  };
  const Case cases[] = {
      {-3s, "<invalid>"},
      {-2s, "<invalid>"},
      {-1500ms, "0s"},  // within clock skew: "now"
      {0s, "0s"},
      {45s, "45s"},
      {119s, "119s"},
      {120s, "2m"},
      {3min + 2s, "3m2s"},
      {9min + 59s, "9m59s"},
      {10min + 30s, "10m"},
      {179min, "179m"},
      {3h, "3h"},
      {5h + 3min, "5h3m"},
      {7h + 59min, "7h59m"},
      {8h + 30min, "8h"},
      {47h + 59min, "47h"},
      {48h, "2d"},
      {3 * 24h + 4h, "3d4h"},
      {7 * 24h + 23h, "7d23h"},
      {8 * 24h + 5h, "8d"},
      {729 * 24h, "729d"},
      {730 * 24h, "2y"},
      {740 * 24h, "2y10d"},
      {8 * 365 * 24h, "8y"},
      {3000 * 24h, "8y"},
  };
  for (const auto& c : cases) EXPECT_EQ(human_duration(c.d), c.want) << c.d.count();
}

// ---- pods -------------------------------------------------------------------------------

struct PodCase {
  const char* name;
  const char* pod;      // JSON of the pod
  const char* status;   // STATUS column
  const char* ready;    // READY column
};

TEST(TablePodStatus, FollowsKubectlLogic) {
  const PodCase cases[] = {
      {"pending unscheduled", R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending"}})",
       "Pending", "0/1"},
      {"scheduling gated",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending","conditions":[
           {"type":"PodScheduled","status":"False","reason":"SchedulingGated"}]}})",
       "SchedulingGated", "0/1"},
      {"container creating",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending","containerStatuses":[
           {"name":"a","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}}]}})",
       "ContainerCreating", "0/1"},
      {"running",
       R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running","containerStatuses":[
           {"name":"a","ready":true,"state":{"running":{"startedAt":"2026-11-20T08:00:00Z"}}},
           {"name":"b","ready":false,"state":{"running":{"startedAt":"2026-11-20T08:00:00Z"}}}]}})",
       "Running", "1/2"},
      {"completed",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Succeeded","containerStatuses":[
           {"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})",
       "Completed", "0/1"},
      {"error",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Failed","containerStatuses":[
           {"name":"a","ready":false,"state":{"terminated":{"exitCode":1,"reason":"Error"}}}]}})",
       "Error", "0/1"},
      {"exit code without reason",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running","containerStatuses":[
           {"name":"a","ready":false,"state":{"terminated":{"exitCode":137}}}]}})",
       "ExitCode:137", "0/1"},
      {"signal without reason",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running","containerStatuses":[
           {"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"signal":9}}}]}})",
       "Signal:9", "0/1"},
      {"crash loop",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running","containerStatuses":[
           {"name":"a","ready":false,"restartCount":4,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})",
       "CrashLoopBackOff", "0/1"},
      {"init 0/2 running first",
       R"({"spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":false,"state":{"running":{}}},
             {"name":"i2","ready":false,"state":{"waiting":{"reason":"PodInitializing"}}}],
           "containerStatuses":[{"name":"a","ready":false,"state":{"waiting":{"reason":"PodInitializing"}}}]}})",
       "Init:0/2", "0/1"},
      {"init 1/2",
       R"({"spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":true,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
             {"name":"i2","ready":false,"state":{"running":{}}}]}})",
       "Init:1/2", "0/1"},
      {"init error",
       R"({"spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":false,"state":{"terminated":{"exitCode":1,"reason":"Error"}}}]}})",
       "Init:Error", "0/1"},
      {"init exit code",
       R"({"spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":false,"state":{"terminated":{"exitCode":3}}}]}})",
       "Init:ExitCode:3", "0/1"},
      {"init signal",
       R"({"spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":false,"state":{"terminated":{"exitCode":143,"signal":15}}}]}})",
       "Init:Signal:15", "0/1"},
      {"init crash loop",
       R"({"spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})",
       "Init:CrashLoopBackOff", "0/1"},
      {"pod initializing",
       R"({"spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Pending","initContainerStatuses":[
             {"name":"i1","ready":true,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
           "containerStatuses":[{"name":"a","ready":false,"state":{"waiting":{"reason":"PodInitializing"}}}]}})",
       "PodInitializing", "0/1"},
      {"sidecar started counts as ready",
       R"({"spec":{"initContainers":[{"name":"proxy","restartPolicy":"Always"}],"containers":[{"name":"a"}]},
           "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"}],
           "initContainerStatuses":[{"name":"proxy","ready":true,"started":true,"state":{"running":{}}}],
           "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}})",
       "Running", "2/2"},
      {"one container done, another ready",
       R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running",
           "conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[
           {"name":"a","ready":true,"state":{"running":{}}},
           {"name":"b","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})",
       "Running", "1/2"},
      {"one container done, pod not ready",
       R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running",
           "conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[
           {"name":"a","ready":true,"state":{"running":{}}},
           {"name":"b","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})",
       "NotReady", "1/2"},
      {"evicted",
       R"({"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Failed","reason":"Evicted",
           "message":"The node was low on resource: memory."}})",
       "Evicted", "0/1"},
      {"terminating",
       R"({"metadata":{"deletionTimestamp":"2026-11-20T08:20:00Z"},"spec":{"containers":[{"name":"a"}]},
           "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}})",
       "Terminating", "1/1"},
      {"deleted after finishing keeps its status",
       R"({"metadata":{"deletionTimestamp":"2026-11-20T08:20:00Z"},"spec":{"containers":[{"name":"a"}]},
           "status":{"phase":"Succeeded","containerStatuses":[
           {"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})",
       "Completed", "0/1"},
      {"node lost",
       R"({"metadata":{"deletionTimestamp":"2026-11-20T08:20:00Z"},"spec":{"containers":[{"name":"a"}]},
           "status":{"phase":"Running","reason":"NodeLost"}})",
       "Unknown", "0/1"},
  };
  const auto now = at("2026-11-20T08:30:00Z");
  for (const auto& c : cases) {
    json::object pod = parse(c.pod);
    EXPECT_EQ(pod_status_reason(pod), c.status) << c.name;
    json::object t = table(resource("", "v1", "pods"), {pod}, now);
    const auto& row = t.at("rows").as_array().at(0).as_object().at("cells").as_array();
    EXPECT_EQ(row.at(1).as_string(), c.ready) << c.name;
    EXPECT_EQ(row.at(2).as_string(), c.status) << c.name;
  }
}

TEST(TablePods, ColumnsAndFixtureRow) {
  json::object pod = load("pod.json");
  json::object t = table(resource("", "v1", "pods"), {pod}, at("2026-11-20T08:24:03Z"));
  EXPECT_EQ(t.at("kind").as_string(), "Table");
  EXPECT_EQ(t.at("apiVersion").as_string(), "meta.k8s.io/v1");
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*",
                                                 "Nominated Node*", "Readiness Gates*"}));
  const auto& name_col = t.at("columnDefinitions").as_array().at(0).as_object();
  EXPECT_EQ(name_col.at("type").as_string(), "string");
  EXPECT_EQ(name_col.at("format").as_string(), "name");
  EXPECT_FALSE(name_col.at("description").as_string().empty());
  EXPECT_EQ(t.at("columnDefinitions").as_array().at(3).as_object().at("type").as_string(), "string");
  EXPECT_EQ(cells(t),
            R"(["web-7d4b9c8f6d-x2kq9","1/1","Running","0","10m","10.244.3.17","node-3","<none>","<none>"])");
  const auto& row = t.at("rows").as_array().at(0).as_object();
  EXPECT_FALSE(row.contains("conditions"));
  const auto& obj = row.at("object").as_object();
  EXPECT_EQ(obj.at("kind").as_string(), "PartialObjectMetadata");
  EXPECT_EQ(obj.at("apiVersion").as_string(), "meta.k8s.io/v1");
  EXPECT_EQ(obj.at("metadata").as_object().at("uid").as_string(), "5b0e9f42-7a3c-4d1e-9c2a-1f8e6b3d7a90");
  EXPECT_FALSE(obj.contains("spec"));
}

TEST(TablePods, RestartsShowWhenTheLastOneWas) {
  json::object pod = parse(R"({
    "metadata":{"name":"api-0","creationTimestamp":"2026-11-20T06:00:00Z"},
    "spec":{"containers":[{"name":"api"},{"name":"log"}],"nodeName":"node-1",
            "readinessGates":[{"conditionType":"example.com/lb"},{"conditionType":"example.com/dns"}]},
    "status":{"phase":"Running","podIPs":[{"ip":"10.1.0.4"},{"ip":"fd00::4"}],"nominatedNodeName":"node-2",
      "conditions":[{"type":"example.com/lb","status":"True"},{"type":"example.com/dns","status":"False"}],
      "containerStatuses":[
        {"name":"api","ready":false,"restartCount":5,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
         "lastState":{"terminated":{"exitCode":2,"finishedAt":"2026-11-20T08:27:00Z"}}},
        {"name":"log","ready":true,"restartCount":1,"state":{"running":{}},
         "lastState":{"terminated":{"exitCode":0,"finishedAt":"2026-11-20T07:00:00Z"}}}]}})");
  json::object t = table(resource("", "v1", "pods"), {pod}, at("2026-11-20T08:30:00Z"));
  EXPECT_EQ(cells(t), R"j(["api-0","1/2","CrashLoopBackOff","6 (3m ago)","150m","10.1.0.4","node-1","node-2","1/2"])j");
}

TEST(TablePods, FinishedPodsCarryACompletedRowCondition) {
  json::object ok = parse(R"({"metadata":{"name":"a"},"status":{"phase":"Succeeded"}})");
  json::object failed = parse(R"({"metadata":{"name":"b"},"status":{"phase":"Failed"}})");
  json::object t = table(resource("", "v1", "pods"), {ok, failed}, at("2026-11-20T08:30:00Z"));
  EXPECT_EQ(json::dump(t.at("rows").as_array().at(0).as_object().at("conditions")),
            R"([{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}])");
  EXPECT_EQ(json::dump(t.at("rows").as_array().at(1).as_object().at("conditions")),
            R"([{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}])");
  EXPECT_EQ(cells(t, 0), R"(["a","0/0","Succeeded","0","<unknown>","<none>","<none>","<none>","<none>"])");
}

// ---- table envelope ---------------------------------------------------------------------

TEST(TableEnvelope, ListMetaAndIncludeObject) {
  json::object pod = load("pod.json");
  std::vector<const json::object*> objs{&pod};
  TableOptions opts;
  opts.now = at("2026-11-20T08:24:03Z");
  opts.resource_version = "190233";
  opts.continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ";
  opts.remaining_item_count = 12;
  json::object t = make_table(resource("", "v1", "pods"), objs, opts);
  EXPECT_EQ(json::dump(t.at("metadata")),
            R"({"resourceVersion":"190233","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ","remainingItemCount":12})");

  opts = TableOptions{};
  opts.include_object = IncludeObject::kNone;
  opts.no_headers = true;
  t = make_table(resource("", "v1", "pods"), objs, opts);
  EXPECT_EQ(json::dump(t.at("metadata")), "{}");
  EXPECT_TRUE(t.at("columnDefinitions").is_null());
  EXPECT_TRUE(t.at("rows").as_array().at(0).as_object().at("object").is_null());

  json::object bare = parse(R"({"metadata":{"name":"x"}})");
  t = table(resource("", "v1", "pods"), {pod, bare}, at("2026-11-20T08:24:03Z"), IncludeObject::kObject);
  EXPECT_EQ(t.at("rows").as_array().at(0).as_object().at("object").as_object(), pod);
  const auto& full = t.at("rows").as_array().at(1).as_object().at("object").as_object();
  EXPECT_EQ(full.at("kind").as_string(), "Pod");
  EXPECT_EQ(full.at("apiVersion").as_string(), "v1");

  t = table(resource("", "v1", "pods"), {}, at("2026-11-20T08:24:03Z"));
  EXPECT_TRUE(t.at("rows").as_array().empty());
  EXPECT_EQ(header(t).size(), 9u);
}

TEST(TableEnvelope, IncludeObjectParameter) {
  EXPECT_EQ(parse_include_object(""), IncludeObject::kMetadata);
  EXPECT_EQ(parse_include_object("Metadata"), IncludeObject::kMetadata);
  EXPECT_EQ(parse_include_object("Object"), IncludeObject::kObject);
  EXPECT_EQ(parse_include_object("None"), IncludeObject::kNone);
  EXPECT_EQ(parse_include_object("object"), std::nullopt);
}

TEST(TableDefault, NameAndCreatedAtForKindsWithoutPrinter) {
  json::object role = parse(R"({"metadata":{"name":"reader","creationTimestamp":"2026-11-20T08:14:03Z"}})");
  json::object unset = parse(R"({"metadata":{"name":"nil"}})");
  json::object t = table(resource("rbac.authorization.k8s.io", "v1", "roles"), {role, unset}, at("2026-11-20T09:00:00Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Created At"}));
  EXPECT_EQ(t.at("columnDefinitions").as_array().at(1).as_object().at("type").as_string(), "date");
  EXPECT_EQ(cells(t, 0), R"(["reader","2026-11-20T08:14:03Z"])");
  EXPECT_EQ(cells(t, 1), R"(["nil","0001-01-01T00:00:00Z"])");
}

// ---- nodes, namespaces ------------------------------------------------------------------

TEST(TableNodes, StatusRolesAndWideColumns) {
  json::object node = load("node.json");
  const auto now = at("2026-11-20T08:14:03Z");
  json::object t = table(resource("", "v1", "nodes"), {node}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Status", "Roles", "Age", "Version", "Internal-IP*",
                                                 "External-IP*", "OS-Image*", "Kernel-Version*",
                                                 "Container-Runtime*"}));
  EXPECT_EQ(cells(t), R"(["node-3","Ready","<none>","48d","v1.31.0","192.0.2.13","<none>",)"
                      R"j("Debian GNU/Linux 12 (bookworm)","6.1.0-27-cloud-amd64","kernlet://0.1.0"])j");

  json::object cordoned = parse(R"({
    "metadata":{"name":"cp-1","creationTimestamp":"2026-11-20T05:00:00Z",
      "labels":{"node-role.kubernetes.io/worker":"","node-role.kubernetes.io/control-plane":"",
                "node-role.kubernetes.io/":"","kubernetes.io/role":"infra"}},
    "spec":{"unschedulable":true},
    "status":{"conditions":[{"type":"Ready","status":"Unknown"}],
      "addresses":[{"type":"ExternalIP","address":"198.51.100.7"}]}})");
  json::object no_ready = parse(R"({"metadata":{"name":"new"}})");
  t = table(resource("", "v1", "nodes"), {cordoned, no_ready}, now);
  EXPECT_EQ(cells(t, 0), R"(["cp-1","NotReady,SchedulingDisabled","control-plane,infra,worker","3h14m","",)"
                         R"("<none>","198.51.100.7","<unknown>","<unknown>","<unknown>"])");
  EXPECT_EQ(json::dump(t.at("rows").as_array().at(1).as_object().at("cells").as_array().at(1)), R"("Unknown")");
}

TEST(TableNamespaces, PhaseAndAge) {
  json::object ns = parse(
      R"({"metadata":{"name":"shop","creationTimestamp":"2026-11-18T08:00:00Z"},"status":{"phase":"Terminating"}})");
  json::object t = table(resource("", "v1", "namespaces"), {ns}, at("2026-11-20T08:00:00Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Status", "Age"}));
  EXPECT_EQ(cells(t), R"(["shop","Terminating","2d"])");
}

// ---- services, endpoints ----------------------------------------------------------------

TEST(TableServices, LoadBalancerFixture) {
  json::object svc = load("service.json");
  json::object t = table(resource("", "v1", "services"), {svc}, at("2026-11-20T08:15:11Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age",
                                                 "Selector*"}));
  EXPECT_EQ(cells(t), R"(["web","LoadBalancer","10.96.14.7",)"
                      R"("203.0.113.50,203.0.113.51,web.shop.example.com,203.0.113.10",)"
                      R"("80:31080/TCP,443:31443/TCP,53:31053/UDP","5m","app.kubernetes.io/name=web,tier=frontend"])");
}

TEST(TableServices, OtherTypes) {
  const auto now = at("2026-11-20T08:15:11Z");
  json::object cluster = parse(R"({"metadata":{"name":"db","creationTimestamp":"2026-11-20T08:15:00Z"},
    "spec":{"type":"ClusterIP","clusterIP":"None","clusterIPs":["None"],"ports":[{"port":5432,"protocol":"TCP"}],
            "selector":{"app":"db"}}})");
  json::object node_port = parse(R"({"metadata":{"name":"np"},
    "spec":{"type":"NodePort","clusterIP":"10.96.0.9","externalIPs":["192.0.2.1","192.0.2.2"],
            "ports":[{"port":80,"nodePort":30080,"protocol":"TCP"}]}})");
  json::object pending = parse(R"({"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","clusterIPs":["10.96.0.10"]}})");
  json::object external = parse(R"({"metadata":{"name":"ext"},"spec":{"type":"ExternalName","externalName":"db.example.com"}})");
  json::object t = table(resource("", "v1", "services"), {cluster, node_port, pending, external}, now);
  EXPECT_EQ(cells(t, 0), R"(["db","ClusterIP","None","<none>","5432/TCP","11s","app=db"])");
  EXPECT_EQ(cells(t, 1), R"(["np","NodePort","10.96.0.9","192.0.2.1,192.0.2.2","80:30080/TCP","<unknown>","<none>"])");
  EXPECT_EQ(cells(t, 2), R"(["lb","LoadBalancer","10.96.0.10","<pending>","<none>","<unknown>","<none>"])");
  EXPECT_EQ(cells(t, 3), R"(["ext","ExternalName","<none>","db.example.com","<none>","<unknown>","<none>"])");
}

TEST(TableEndpoints, FirstThreeThenMore) {
  json::object ep = load("endpoints.json");
  json::object empty = parse(R"({"metadata":{"name":"none"}})");
  json::object headless = parse(R"({"metadata":{"name":"h"},"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"fd00::2"}]}]})");
  json::object v6 = parse(R"({"metadata":{"name":"v6"},"subsets":[{"addresses":[{"ip":"fd00::2"}],"ports":[{"port":80}]}]})");
  json::object t = table(resource("", "v1", "endpoints"), {ep, empty, headless, v6}, at("2026-11-20T08:15:11Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Endpoints", "Age"}));
  EXPECT_EQ(cells(t, 0), R"(["web","10.244.1.17:8080,10.244.1.18:8080,10.244.1.17:9102 + 1 more...","<unknown>"])");
  EXPECT_EQ(cells(t, 1), R"(["none","<none>","<unknown>"])");
  EXPECT_EQ(cells(t, 2), R"(["h","10.0.0.1,fd00::2","<unknown>"])");
  EXPECT_EQ(cells(t, 3), R"(["v6","[fd00::2]:80","<unknown>"])");
}

TEST(TableEndpointSlices, PortsAndAddresses) {
  json::object slice = load("endpoint_slice.json");
  json::object many = parse(R"({"metadata":{"name":"many"},"addressType":"IPv6",
    "endpoints":[{"addresses":["fd00::1","fd00::2"]},{"addresses":["fd00::3","fd00::4","fd00::5"]}],
    "ports":[{"name":"a","port":1},{"name":"b","port":2},{"name":"c","port":3},{"name":"d","port":4}]})");
  json::object bare = parse(R"({"metadata":{"name":"bare"},"addressType":"FQDN","ports":[{"name":"named"}]})");
  json::object t = table(resource("discovery.k8s.io", "v1", "endpointslices"), {slice, many, bare},
                         at("2026-11-20T08:15:11Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "AddressType", "Ports", "Endpoints", "Age"}));
  EXPECT_EQ(cells(t, 0), R"(["web-8x2lq","IPv4","8080,53,*","10.244.1.17,10.244.2.9,10.244.3.4","<unknown>"])");
  EXPECT_EQ(cells(t, 1), R"(["many","IPv6","1,2,3 + 1 more...","fd00::1,fd00::2,fd00::3 + 2 more...","<unknown>"])");
  EXPECT_EQ(cells(t, 2), R"(["bare","FQDN","named","<unset>","<unknown>"])");
}

// ---- workloads --------------------------------------------------------------------------

TEST(TableDeployments, FixtureRow) {
  json::object d = load("deployment.json");
  json::object t = table(resource("apps", "v1", "deployments"), {d}, at("2026-11-20T09:00:00Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers*",
                                                 "Images*", "Selector*"}));
  EXPECT_EQ(cells(t), R"(["web","4/4",2,3,"<unknown>","web","registry.example.com/shop/web:2.14.1",)"
                      R"("app.kubernetes.io/name=web"])");
}

TEST(TableReplicaSets, SelectorExpressionsSortByKey) {
  json::object rs = parse(R"({"metadata":{"name":"web-7d4b9c8f6d","creationTimestamp":"2026-11-20T08:00:00Z"},
    "spec":{"replicas":3,"selector":{"matchLabels":{"tier":"web"},"matchExpressions":[
        {"key":"env","operator":"In","values":["staging","prod"]},
        {"key":"legacy","operator":"DoesNotExist"},
        {"key":"app","operator":"Exists"},
        {"key":"zone","operator":"NotIn","values":["b","a"]}]},
      "template":{"spec":{"containers":[{"name":"web","image":"web:1"},{"name":"log","image":"fluentbit:3"}]}}},
    "status":{"replicas":3,"readyReplicas":2}})");
  json::object t = table(resource("apps", "v1", "replicasets"), {rs}, at("2026-11-20T08:05:00Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Desired", "Current", "Ready", "Age", "Containers*",
                                                 "Images*", "Selector*"}));
  EXPECT_EQ(cells(t), R"(["web-7d4b9c8f6d",3,3,2,"5m","web,log","web:1,fluentbit:3",)"
                      R"j("app,env in (prod,staging),!legacy,tier=web,zone notin (a,b)"])j");
}

TEST(TableDaemonSets, Counts) {
  json::object ds = parse(R"({"metadata":{"name":"kube-proxy","creationTimestamp":"2026-11-10T08:00:00Z"},
    "spec":{"selector":{"matchLabels":{"k8s-app":"kube-proxy"}},
      "template":{"spec":{"nodeSelector":{"kubernetes.io/os":"linux"},"containers":[{"name":"kube-proxy","image":"kp:1"}]}}},
    "status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"updatedNumberScheduled":1,"numberAvailable":2}})");
  json::object t = table(resource("apps", "v1", "daemonsets"), {ds}, at("2026-11-20T08:00:00Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                                                 "Node Selector", "Age", "Containers*", "Images*", "Selector*"}));
  EXPECT_EQ(cells(t), R"(["kube-proxy",3,3,2,1,2,"kubernetes.io/os=linux","10d","kube-proxy","kp:1","k8s-app=kube-proxy"])");
}

TEST(TableJobs, FixtureAndStatuses) {
  json::object job = load("job.json");
  const auto now = at("2026-11-20T09:05:04Z");
  json::object t = table(resource("batch", "v1", "jobs"), {job}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Status", "Completions", "Duration", "Age", "Containers*",
                                                 "Images*", "Selector*"}));
  EXPECT_EQ(cells(t), R"(["reindex-29384750","Running","6/10","5m","<unknown>","reindex",)"
                      R"("registry.example.com/shop/reindex:1.3.0",)"
                      R"("batch.kubernetes.io/controller-uid=7f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6"])");

  struct Case {
    const char* json;
    const char* status;
    const char* completions;
    const char* duration;
  };
  const Case cases[] = {
      {R"({"spec":{"completions":1},"status":{"succeeded":1,"startTime":"2026-11-20T09:00:00Z",
          "completionTime":"2026-11-20T09:00:42Z","conditions":[{"type":"SuccessCriteriaMet","status":"True"},
          {"type":"Complete","status":"True"}]}})",
       "Complete", "1/1", "42s"},
      {R"({"spec":{"parallelism":3},"status":{"failed":2,"startTime":"2026-11-20T09:00:00Z",
          "conditions":[{"type":"FailureTarget","status":"True"},{"type":"Failed","status":"True"}]}})",
       "Failed", "0/1 of 3", "5m4s"},
      {R"({"spec":{"suspend":true},"status":{"conditions":[{"type":"Suspended","status":"True"}]}})",
       "Suspended", "0/1", ""},
      {R"({"metadata":{"deletionTimestamp":"2026-11-20T09:05:00Z"},"spec":{"parallelism":1},
          "status":{"conditions":[{"type":"Suspended","status":"True"}]}})",
       "Terminating", "0/1", ""},
      {R"({"status":{"conditions":[{"type":"FailureTarget","status":"True"}]}})", "FailureTarget", "0/1", ""},
      {R"({"status":{"conditions":[{"type":"SuccessCriteriaMet","status":"True"}]}})", "SuccessCriteriaMet", "0/1",
       ""},
  };
  for (const auto& c : cases) {
    json::object j = parse(c.json);
    json::object jt = table(resource("batch", "v1", "jobs"), {j}, now);
    const auto& row = jt.at("rows").as_array().at(0).as_object().at("cells").as_array();
    EXPECT_EQ(row.at(1).as_string(), c.status) << c.json;
    EXPECT_EQ(row.at(2).as_string(), c.completions) << c.json;
    EXPECT_EQ(row.at(3).as_string(), c.duration) << c.json;
  }
}

TEST(TableCronJobs, FixtureRow) {
  json::object cj = load("cronjob.json");
  json::object t = table(resource("batch", "v1", "cronjobs"), {cj}, at("2026-11-20T09:05:04Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Schedule", "Timezone", "Suspend", "Active",
                                                 "Last Schedule", "Age", "Containers*", "Images*", "Selector*"}));
  EXPECT_EQ(t.at("columnDefinitions").as_array().at(3).as_object().at("type").as_string(), "boolean");
  EXPECT_EQ(cells(t), R"(["reindex","30 */2 * * *","Europe/Paris","<unset>",1,"35m","<unknown>","reindex",)"
                      R"("registry.example.com/shop/reindex:1.3.0","<none>"])");
  json::object plain = parse(R"({"metadata":{"name":"n"},"spec":{"schedule":"@hourly","suspend":false}})");
  t = table(resource("batch", "v1", "cronjobs"), {plain}, at("2026-11-20T09:05:04Z"));
  EXPECT_EQ(cells(t), R"(["n","@hourly","<none>","False",0,"<none>","<unknown>","","","<none>"])");
}

TEST(TableHorizontalPodAutoscalers, TargetsPerMetric) {
  json::object hpa = load("hpa.json");
  json::object t = table(resource("autoscaling", "v2", "horizontalpodautoscalers"), {hpa}, at("2026-11-20T09:05:04Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"}));
  // Statuses pair with specs by index, as upstream does: the memory spec meets a status of
  // another type and shows <unknown>.
  EXPECT_EQ(cells(t), R"(["web","Deployment/web","cpu: 81%/65%, memory: <unknown>/512Mi + 4 more...","2",12,4,"<unknown>"])");

  json::object simple = parse(R"({"metadata":{"name":"api","creationTimestamp":"2026-11-20T09:00:00Z"},
    "spec":{"scaleTargetRef":{"kind":"Deployment","name":"api"},"maxReplicas":5,
      "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}},
                 {"type":"Pods","pods":{"metric":{"name":"qps"},"target":{"type":"AverageValue","averageValue":"1500m"}}}]},
    "status":{"currentReplicas":2,"currentMetrics":[
      {"type":"Resource","resource":{"name":"cpu","current":{"averageUtilization":45}}},
      {"type":"Pods","pods":{"metric":{"name":"qps"},"current":{"averageValue":"1.2"}}}]}})");
  json::object unknown = parse(R"({"metadata":{"name":"cold"},"spec":{"scaleTargetRef":{"kind":"StatefulSet","name":"db"},
    "minReplicas":1,"maxReplicas":3,"metrics":[
      {"type":"Resource","resource":{"name":"memory","target":{"type":"Utilization","averageUtilization":70}}},
      {"type":"External","external":{"metric":{"name":"q"},"target":{"type":"Value","value":"10k"}}}]}})");
  json::object none = parse(R"({"metadata":{"name":"none"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"x"},"maxReplicas":1}})");
  t = table(resource("autoscaling", "v2", "horizontalpodautoscalers"), {simple, unknown, none}, at("2026-11-20T09:05:04Z"));
  EXPECT_EQ(cells(t, 0), R"(["api","Deployment/api","cpu: 45%/80%, 1200m/1500m","<unset>",5,2,"5m4s"])");
  EXPECT_EQ(cells(t, 1), R"(["cold","StatefulSet/db","memory: <unknown>/70%, <unknown>/10k","1",3,0,"<unknown>"])");
  EXPECT_EQ(cells(t, 2), R"(["none","Deployment/x","<none>","<unset>",1,0,"<unknown>"])");
}

// ---- config, storage, coordination, events ----------------------------------------------

TEST(TableConfig, ConfigMapsSecretsServiceAccounts) {
  const auto now = at("2026-11-20T09:00:00Z");
  json::object cm = parse(R"({"metadata":{"name":"web-config","creationTimestamp":"2026-11-20T08:59:15Z"},
    "data":{"a":"1","b":"2"},"binaryData":{"c":"AA=="}})");
  json::object t = table(resource("", "v1", "configmaps"), {cm}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Data", "Age"}));
  EXPECT_EQ(cells(t), R"(["web-config",3,"45s"])");

  json::object secret = parse(R"({"metadata":{"name":"tls","creationTimestamp":"2026-11-20T08:00:00Z"},
    "type":"kubernetes.io/tls","data":{"tls.crt":"AA==","tls.key":"AA=="}})");
  t = table(resource("", "v1", "secrets"), {secret}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Type", "Data", "Age"}));
  EXPECT_EQ(cells(t), R"(["tls","kubernetes.io/tls",2,"60m"])");

  json::object sa = parse(R"({"metadata":{"name":"default","creationTimestamp":"2026-11-20T08:59:58Z"}})");
  t = table(resource("", "v1", "serviceaccounts"), {sa}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Secrets", "Age"}));
  EXPECT_EQ(cells(t), R"(["default",0,"2s"])");
}

TEST(TableStorage, VolumesClaimsClasses) {
  const auto now = at("2026-11-20T09:00:00Z");
  json::object pv = load("persistent_volume.json");
  json::object t = table(resource("", "v1", "persistentvolumes"), {pv}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Capacity", "Access Modes", "Reclaim Policy", "Status",
                                                 "Claim", "StorageClass", "VolumeAttributesClass", "Reason", "Age",
                                                 "VolumeMode*"}));
  EXPECT_EQ(cells(t), R"(["pvc-3d1f9a2b-6c4e-4f11-9b7a-2e8d0c5f1a63","20Gi","RWO","Delete","Bound",)"
                      R"("shop/data-db-0","fast-local","<unset>","","<unknown>","<unset>"])");

  json::object pvc = load("persistent_volume_claim.json");
  json::object pending = parse(R"({"metadata":{"name":"new","deletionTimestamp":"2026-11-20T08:59:00Z",
      "annotations":{"volume.beta.kubernetes.io/storage-class":"legacy"}},
    "spec":{"accessModes":["ReadWriteMany","ReadWriteOnce","ReadWriteOnce"],"storageClassName":"fast",
      "resources":{"requests":{"storage":"1Gi"}}},"status":{"phase":"Pending"}})");
  t = table(resource("", "v1", "persistentvolumeclaims"), {pvc, pending}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Status", "Volume", "Capacity", "Access Modes",
                                                 "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode*"}));
  EXPECT_EQ(cells(t, 0), R"(["data-db-0","Bound","pvc-3d1f9a2b-6c4e-4f11-9b7a-2e8d0c5f1a63","20Gi","RWO",)"
                         R"("fast-local","<unset>","<unknown>","Block"])");
  EXPECT_EQ(cells(t, 1), R"(["new","Terminating","","","","legacy","<unset>","<unknown>","<unset>"])");

  json::object sc = parse(R"({"metadata":{"name":"fast-local","creationTimestamp":"2026-11-19T09:00:00Z",
      "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
    "provisioner":"csi.kernlet.io","reclaimPolicy":"Retain","volumeBindingMode":"WaitForFirstConsumer",
    "allowVolumeExpansion":true})");
  json::object plain = parse(R"({"metadata":{"name":"slow"},"provisioner":"example.com/nfs"})");
  t = table(resource("storage.k8s.io", "v1", "storageclasses"), {sc, plain}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode",
                                                 "AllowVolumeExpansion", "Age"}));
  EXPECT_EQ(cells(t, 0), R"j(["fast-local (default)","csi.kernlet.io","Retain","WaitForFirstConsumer",true,"24h"])j");
  EXPECT_EQ(cells(t, 1), R"(["slow","example.com/nfs","Delete","Immediate",false,"<unknown>"])");
}

TEST(TableLeases, Holder) {
  json::object lease = parse(R"({"metadata":{"name":"node-3","namespace":"kube-node-lease",
    "creationTimestamp":"2026-10-02T11:40:27Z"},"spec":{"holderIdentity":"node-3","leaseDurationSeconds":40}})");
  json::object free = parse(R"({"metadata":{"name":"kube-scheduler"},"spec":{}})");
  json::object t = table(resource("coordination.k8s.io", "v1", "leases"), {lease, free}, at("2026-11-20T09:00:00Z"));
  EXPECT_EQ(header(t), (std::vector<std::string>{"Name", "Holder", "Age"}));
  EXPECT_EQ(cells(t, 0), R"(["node-3","node-3","48d"])");
  EXPECT_EQ(cells(t, 1), R"(["kube-scheduler","","<unknown>"])");
}

TEST(TableEvents, CoreAndEventsV1) {
  const auto now = at("2026-11-20T09:00:00Z");
  json::object pulled = parse(R"({"metadata":{"name":"web-x.17a9"},
    "involvedObject":{"kind":"Pod","name":"web-x","namespace":"shop","fieldPath":"spec.containers{web}"},
    "reason":"Pulled","message":"  Container image \"web:1\" already present on machine\n","type":"Normal",
    "source":{"component":"kubelet","host":"node-3"},"count":3,
    "firstTimestamp":"2026-11-20T08:00:00Z","lastTimestamp":"2026-11-20T08:58:30Z"})");
  json::object series = parse(R"({"metadata":{"name":"s"},"involvedObject":{"kind":"Node"},
    "reason":"Rebooted","type":"Warning","eventTime":"2026-11-20T08:50:00.000000Z",
    "reportingComponent":"kernlet-agent","reportingInstance":"node-3",
    "series":{"count":7,"lastObservedTime":"2026-11-20T08:59:00.123456Z"}})");
  json::object fresh = parse(R"({"metadata":{"name":"f"},"involvedObject":{"kind":"Deployment","name":"web"},
    "reason":"ScalingReplicaSet","type":"Normal","eventTime":"2026-11-20T08:59:50.000000Z",
    "reportingComponent":"deployment-controller"})");
  json::object t = table(resource("", "v1", "events"), {pulled, series, fresh}, now);
  EXPECT_EQ(header(t), (std::vector<std::string>{"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*",
                                                 "Message", "First Seen*", "Count*", "Name*"}));
  EXPECT_EQ(cells(t, 0), R"(["90s","Normal","Pulled","pod/web-x","spec.containers{web}","kubelet, node-3",)"
                         R"("Container image \"web:1\" already present on machine","60m",3,"web-x.17a9"])");
  EXPECT_EQ(cells(t, 1), R"(["59s","Warning","Rebooted","node","","kernlet-agent, node-3","","10m",7,"s"])");
  EXPECT_EQ(cells(t, 2), R"(["10s","Normal","ScalingReplicaSet","deployment/web","","deployment-controller","","10s",1,"f"])");

  json::object v1 = parse(R"({"metadata":{"name":"e"},"regarding":{"kind":"Pod","name":"p","fieldPath":"spec.containers{c}"},
    "reason":"BackOff","note":"Back-off restarting failed container","type":"Warning",
    "eventTime":"2026-11-20T08:40:00.000000Z","reportingController":"kubelet","reportingInstance":"node-1",
    "deprecatedCount":12,"deprecatedFirstTimestamp":"2026-11-20T08:40:00Z","deprecatedLastTimestamp":"2026-11-20T08:59:00Z",
    "deprecatedSource":{"component":"kubelet","host":"node-1"}})");
  t = table(resource("events.k8s.io", "v1", "events"), {v1}, now);
  EXPECT_EQ(cells(t), R"(["60s","Warning","BackOff","pod/p","spec.containers{c}","kubelet, node-1",)"
                      R"("Back-off restarting failed container","20m",12,"e"])");
}

}  // namespace
}  // namespace kernlet::apiserver
