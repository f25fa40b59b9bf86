// Table printers of the workload groups: apps (Deployment, ReplicaSet, DaemonSet,
// StatefulSet), batch (Job, CronJob) and autoscaling (HorizontalPodAutoscaler).
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "api/object.h"
#include "control/apiserver/tables.h"
#include "control/apiserver/tables_printers.h"

namespace kernlet::apiserver::tables {

namespace {

const json::object& sub(const json::object& o, std::string_view key) {
  return api::object_or_empty(o, key);
}

const json::object& template_spec(const json::object& workload_spec) {
  return sub(sub(workload_spec, "template"), "spec");
}

// Appends the wide Containers, Images and Selector cells of a workload.
void append_template_cells(Row& row, const json::object& pod_spec, std::string selector) {
  auto [names, images] = container_cells(pod_spec);
  row.cells.emplace_back(names);
  row.cells.emplace_back(images);
  row.cells.emplace_back(selector);
}

// ---- apps -------------------------------------------------------------------------------

constexpr Column kDeploymentColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Up-to-date", "string", "",
     "Total number of non-terminating pods targeted by this deployment that have the desired "
     "template spec.",
     0},
    {"Available", "string", "",
     "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted "
     "by this deployment.",
     0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Containers", "string", "", kContainersDescription, 1},
    {"Images", "string", "", kImagesDescription, 1},
    {"Selector", "string", "", "Label selector for pods.", 1},
};

Row print_deployment(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  Row row;
  row.cells = {api::Meta(obj).name(),
               std::to_string(int_or(status, "readyReplicas")) + "/" + std::to_string(int_or(spec, "replicas")),
               int_or(status, "updatedReplicas"), int_or(status, "availableReplicas"), age(obj, now)};
  // Deployments print the selector's String() as is: an empty one is "", not "<none>".
  auto selector = selector_string(json::get_object(spec, "selector"));
  append_template_cells(row, template_spec(spec), selector ? *selector : "<invalid>");
  return row;
}

constexpr Column kReplicaSetColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Desired", "integer", "", "Replicas is the number of desired pods.", 0},
    {"Current", "integer", "", "Replicas is the most recently observed number of non-terminating pods.", 0},
    {"Ready", "integer", "", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Containers", "string", "", kContainersDescription, 1},
    {"Images", "string", "", kImagesDescription, 1},
    {"Selector", "string", "", "Selector is a label query over pods that should match the replica count.", 1},
};

Row print_replica_set(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  Row row;
  row.cells = {api::Meta(obj).name(), int_or(spec, "replicas"), int_or(status, "replicas"),
               int_or(status, "readyReplicas"), age(obj, now)};
  append_template_cells(row, template_spec(spec), format_label_selector(json::get_object(spec, "selector")));
  return row;
}

constexpr Column kDaemonSetColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Desired", "integer", "", "The total number of nodes that should be running the daemon pod.", 0},
    {"Current", "integer", "", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", 0},
    {"Ready", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.", 0},
    {"Up-to-date", "integer", "", "The total number of nodes that are running updated daemon pod", 0},
    {"Available", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)", 0},
    {"Node Selector", "string", "", "NodeSelector is a selector which must be true for the pod to fit on a node.", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Containers", "string", "", kContainersDescription, 1},
    {"Images", "string", "", kImagesDescription, 1},
    {"Selector", "string", "", "A label query over pods that are managed by the daemon set.", 1},
};

Row print_daemon_set(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  Row row;
  row.cells = {api::Meta(obj).name(),
               int_or(status, "desiredNumberScheduled"),
               int_or(status, "currentNumberScheduled"),
               int_or(status, "numberReady"),
               int_or(status, "updatedNumberScheduled"),
               int_or(status, "numberAvailable"),
               format_labels(json::get_object(template_spec(spec), "nodeSelector")),
               age(obj, now)};
  append_template_cells(row, template_spec(spec), format_label_selector(json::get_object(spec, "selector")));
  return row;
}

constexpr Column kControllerRevisionColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Controller", "string", "", "Controller of the object", 0},
    {"Revision", "string", "", "Revision of the ControllerRevision", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

// The controller as kubectl names it: "<kind lowercased>.<group>/<name>" ("daemonset.apps/x").
Row print_controller_revision(const json::object& obj, TimePoint now) {
  std::string controller = "<none>";
  if (auto ref = api::Meta(obj).controller_ref()) {
    std::string kind = ref->kind;
    for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::size_t slash = ref->api_version.find('/');
    controller = kind;
    if (slash != std::string::npos) controller += "." + ref->api_version.substr(0, slash);
    controller += "/" + ref->name;
  }
  Row row;
  row.cells = {api::Meta(obj).name(), controller, int_or(obj, "revision"), age(obj, now)};
  return row;
}

constexpr Column kStatefulSetColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Containers", "string", "", kContainersDescription, 1},
    {"Images", "string", "", kImagesDescription, 1},
};

Row print_stateful_set(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  Row row;
  row.cells = {api::Meta(obj).name(),
               std::to_string(int_or(sub(obj, "status"), "readyReplicas")) + "/" +
                   std::to_string(int_or(spec, "replicas")),
               age(obj, now)};
  auto [names, images] = container_cells(template_spec(spec));
  row.cells.emplace_back(names);
  row.cells.emplace_back(images);
  return row;
}

// ---- batch ------------------------------------------------------------------------------

constexpr Column kJobColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Status", "string", "", "Status of the job.", 0},
    {"Completions", "string", "", "The number of pods which reached phase Succeeded.", 0},
    {"Duration", "string", "", "Time required to complete the job.", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Containers", "string", "", kContainersDescription, 1},
    {"Images", "string", "", kImagesDescription, 1},
    {"Selector", "string", "", "A label query over pods that should match the pod count.", 1},
};

// Whether the first condition of `type` is True (later duplicates are ignored, as upstream).
bool job_condition(const json::object& status, std::string_view type) {
  auto c = api::find_condition(status, type);
  return c && c->is_true();
}

Row print_job(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  const int64_t succeeded = int_or(status, "succeeded");
  std::string completions;
  if (auto want = json::get_int(spec, "completions")) {
    completions = std::to_string(succeeded) + "/" + std::to_string(*want);
  } else if (int64_t parallelism = int_or(spec, "parallelism"); parallelism > 1) {
    completions = std::to_string(succeeded) + "/1 of " + std::to_string(parallelism);
  } else {
    completions = std::to_string(succeeded) + "/1";
  }
  std::string duration;
  if (auto start = parse_time(json::get_string(status, "startTime"))) {
    auto end = parse_time(json::get_string(status, "completionTime"));
    duration = human_duration((end ? *end : now) - *start);
  }
  std::string_view state = "Running";
  if (job_condition(status, "Complete")) {
    state = "Complete";
  } else if (job_condition(status, "Failed")) {
    state = "Failed";
  } else if (!api::Meta(obj).deletion_timestamp().empty()) {
    state = "Terminating";
  } else if (job_condition(status, "Suspended")) {
    state = "Suspended";
  } else if (job_condition(status, "FailureTarget")) {
    state = "FailureTarget";
  } else if (job_condition(status, "SuccessCriteriaMet")) {
    state = "SuccessCriteriaMet";
  }
  Row row;
  row.cells = {api::Meta(obj).name(), state, completions, duration, age(obj, now)};
  append_template_cells(row, template_spec(spec), format_label_selector(json::get_object(spec, "selector")));
  return row;
}

constexpr Column kCronJobColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Schedule", "string", "", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.", 0},
    {"Timezone", "string", "", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.", 0},
    {"Suspend", "boolean", "", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.", 0},
    {"Active", "integer", "", "A list of pointers to currently running jobs.", 0},
    {"Last Schedule", "string", "", "Information when was the last time the job was successfully scheduled.", 0},
    {"Age", "string", "", kAgeDescription, 0},
    {"Containers", "string", "", kContainersDescription, 1},
    {"Images", "string", "", kImagesDescription, 1},
    {"Selector", "string", "", "A label query over pods that should match the pod count.", 1},
};

Row print_cron_job(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  const json::object& job_spec = sub(sub(spec, "jobTemplate"), "spec");
  std::string last_schedule = "<none>";
  if (!json::get_string(status, "lastScheduleTime").empty()) {
    last_schedule = since(json::get_string(status, "lastScheduleTime"), now);
  }
  std::string_view time_zone = "<none>";
  if (const json::value* tz = json::find(spec, "timeZone"); tz != nullptr && tz->is_string()) {
    time_zone = tz->get_string();
  }
  // printBoolPtr: the Suspend cell is text, "<unset>" for a nil pointer.
  std::string_view suspend = "<unset>";
  if (auto s = json::get_bool(spec, "suspend")) suspend = *s ? "True" : "False";
  const json::array* active = json::get_array(status, "active");
  Row row;
  row.cells = {api::Meta(obj).name(), json::get_string(spec, "schedule"), time_zone, suspend,
               static_cast<int64_t>(active ? active->size() : 0), last_schedule, age(obj, now)};
  append_template_cells(row, template_spec(job_spec),
                        format_label_selector(json::get_object(job_spec, "selector")));
  return row;
}

// ---- autoscaling ------------------------------------------------------------------------

constexpr Column kHpaColumns[] = {
    {"Name", "string", "name", kNameDescription, 0},
    {"Reference", "string", "", "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.", 0},
    {"Targets", "string", "", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).", 0},
    {"MinPods", "string", "", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.", 0},
    {"MaxPods", "string", "", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.", 0},
    {"Replicas", "string", "", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.", 0},
    {"Age", "string", "", kAgeDescription, 0},
};

// The status entry at the same index as the spec metric, when it has the source member.
const json::object* metric_status(const std::vector<const json::object*>& statuses, size_t i,
                                  std::string_view member) {
  if (i >= statuses.size()) return nullptr;
  return json::get_object(*statuses[i], member);
}

std::string percent(int64_t v) { return std::to_string(v) + "%"; }

// "<current>/<target>" for a metric whose target is a value or an average value.
std::string value_metric(const json::object& source, const json::object* status, std::string_view avg_suffix) {
  const json::object& target = sub(source, "target");
  const json::object* current = status ? json::get_object(*status, "current") : nullptr;
  if (const json::value* avg = json::find(target, "averageValue"); avg != nullptr && !avg->is_null()) {
    std::string cur = "<unknown>";
    if (current != nullptr) {
      if (const json::value* c = json::find(*current, "averageValue"); c && !c->is_null()) cur = quantity_string(c);
    }
    return cur + "/" + quantity_string(avg) + std::string(avg_suffix);
  }
  std::string cur = "<unknown>";
  if (status != nullptr) cur = quantity_string(current ? json::find(*current, "value") : nullptr);
  return cur + "/" + quantity_string(json::find(target, "value"));
}

// "<resource>: <current>/<target>" for Resource and ContainerResource metrics.
std::string resource_metric(const json::object& source, const json::object* status) {
  std::string name(json::get_string(source, "name"));
  const json::object& target = sub(source, "target");
  const json::object* current = status ? json::get_object(*status, "current") : nullptr;
  if (const json::value* avg = json::find(target, "averageValue"); avg != nullptr && !avg->is_null()) {
    std::string cur = "<unknown>";
    if (status != nullptr) cur = quantity_string(current ? json::find(*current, "averageValue") : nullptr);
    return name + ": " + cur + "/" + quantity_string(avg);
  }
  std::string cur = "<unknown>";
  if (current != nullptr) {
    if (auto u = json::get_int(*current, "averageUtilization")) cur = percent(*u);
  }
  std::string tgt = "<auto>";
  if (auto u = json::get_int(target, "averageUtilization")) tgt = percent(*u);
  return name + ": " + cur + "/" + tgt;
}

std::string format_hpa_metrics(const json::object& spec, const json::object& status) {
  std::vector<const json::object*> specs = api::get_object_array(spec, "metrics");
  if (specs.empty()) return "<none>";
  std::vector<const json::object*> statuses = api::get_object_array(status, "currentMetrics");
  std::vector<std::string> list;
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string_view type = json::get_string(*specs[i], "type");
    if (type == "External") {
      list.push_back(value_metric(sub(*specs[i], "external"), metric_status(statuses, i, "external"), " (avg)"));
    } else if (type == "Pods") {
      // Pods metrics only have an average value.
      const json::object* st = metric_status(statuses, i, "pods");
      std::string cur = "<unknown>";
      if (st != nullptr) cur = quantity_string(json::find(sub(*st, "current"), "averageValue"));
      list.push_back(cur + "/" + quantity_string(json::find(sub(sub(*specs[i], "pods"), "target"), "averageValue")));
    } else if (type == "Object") {
      list.push_back(value_metric(sub(*specs[i], "object"), metric_status(statuses, i, "object"), " (avg)"));
    } else if (type == "Resource") {
      list.push_back(resource_metric(sub(*specs[i], "resource"), metric_status(statuses, i, "resource")));
    } else if (type == "ContainerResource") {
      list.push_back(resource_metric(sub(*specs[i], "containerResource"),
                                     metric_status(statuses, i, "containerResource")));
    } else {
      list.emplace_back("<unknown type>");
    }
  }
  constexpr size_t kMax = 2;
  std::string out;
  for (size_t i = 0; i < list.size() && i < kMax; ++i) out += (i == 0 ? "" : ", ") + list[i];
  if (list.size() > kMax) out += " + " + std::to_string(list.size() - kMax) + " more...";
  return out;
}

Row print_hpa(const json::object& obj, TimePoint now) {
  const json::object& spec = sub(obj, "spec");
  const json::object& status = sub(obj, "status");
  const json::object& ref = sub(spec, "scaleTargetRef");
  std::string min_pods = "<unset>";
  if (auto m = json::get_int(spec, "minReplicas")) min_pods = std::to_string(*m);
  Row row;
  row.cells = {api::Meta(obj).name(),
               std::string(json::get_string(ref, "kind")) + "/" + std::string(json::get_string(ref, "name")),
               format_hpa_metrics(spec, status),
               min_pods,
               int_or(spec, "maxReplicas"),
               int_or(status, "currentReplicas"),
               age(obj, now)};
  return row;
}

}  // namespace

const Printer* find_workload_printer(std::string_view group, std::string_view resource) {
  struct Entry {
    std::string_view group;
    std::string_view resource;
    Printer printer;
  };
  static const Entry kEntries[] = {
      {"apps", "deployments", {kDeploymentColumns, print_deployment}},
      {"apps", "replicasets", {kReplicaSetColumns, print_replica_set}},
      {"apps", "daemonsets", {kDaemonSetColumns, print_daemon_set}},
      {"apps", "controllerrevisions", {kControllerRevisionColumns, print_controller_revision}},
      {"apps", "statefulsets", {kStatefulSetColumns, print_stateful_set}},
      {"batch", "jobs", {kJobColumns, print_job}},
      {"batch", "cronjobs", {kCronJobColumns, print_cron_job}},
      {"autoscaling", "horizontalpodautoscalers", {kHpaColumns, print_hpa}},
  };
  for (const Entry& e : kEntries) {
    if (e.group == group && e.resource == resource) return &e.printer;
  }
  return nullptr;
}

}  // namespace kernlet::apiserver::tables
