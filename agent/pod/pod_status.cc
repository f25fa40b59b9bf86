#include "agent/pod/pod_status.h"

#include <algorithm>
#include <chrono>

#include "api/time.h"

namespace kernlet::agent {

namespace {

const json::object* terminated_of(const json::object& st, std::string_view which) {
  const json::object* s = json::get_object(st, which);
  return s != nullptr ? json::get_object(*s, "terminated") : nullptr;
}
bool has_state(const json::object& cs, std::string_view kind) {
  const json::object* s = json::get_object(cs, "state");
  return s != nullptr && json::get_object(*s, kind) != nullptr;
}
const json::object* find_status(const json::array& a, std::string_view name) {
  for (const auto& v : a) {
    if (v.is_object() && json::get_string(v.as_object(), "name") == name) return &v.as_object();
  }
  return nullptr;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += " ";
    s += names[i];
  }
  return s + "]";
}

json::object terminated_object(const ContainerInfo& ci) {
  const auto& s = ci.status;
  json::object t;
  t["exitCode"] = s.exit_code < 0 ? 0 : s.exit_code;
  if (s.signal != 0) t["signal"] = s.signal;
  std::string reason = s.reason;
  if (ci.oom_killed.value_or(false)) reason = "OOMKilled";
  if (reason.empty() || reason == "Unknown") reason = s.exit_code == 0 ? "Completed" : (s.exit_code < 0 ? "Unknown" : "Error");
  t["reason"] = reason;
  if (!s.message.empty()) t["message"] = s.message;
  std::string started = time_from_ns(s.started_ns);
  std::string finished = time_from_ns(s.finished_ns);
  if (!started.empty()) t["startedAt"] = started;
  if (!finished.empty()) t["finishedAt"] = finished;
  t["containerID"] = container_id_uri(ci.id);
  return t;
}

bool instance_running(const ContainerInfo& ci) { return ci.status.state == runtime::ContainerState::kRunning; }
bool instance_exited(const ContainerInfo& ci) {
  return ci.status.state == runtime::ContainerState::kExited || ci.status.state == runtime::ContainerState::kUnknown;
}

json::object container_status(const api::ContainerView& c, bool is_init, bool initialized, const StatusInput& in) {
  json::object cs;
  const std::string name(c.name());
  cs["name"] = name;
  const std::vector<ContainerInfo>* inst = nullptr;
  if (auto it = in.instances.find(name); it != in.instances.end() && !it->second.empty()) inst = &it->second;
  const ContainerInfo* latest = inst != nullptr ? &inst->back() : nullptr;
  const ContainerInfo* previous = inst != nullptr && inst->size() > 1 ? &(*inst)[inst->size() - 2] : nullptr;
  auto waiting = in.waiting.find(name);
  json::object state, last;
  bool running = false;
  if (latest != nullptr && instance_running(*latest)) {
    state["running"] = instance_state(*latest).at("running");
    running = true;
    if (previous != nullptr) last["terminated"] = terminated_object(*previous);
  } else if (waiting != in.waiting.end()) {
    json::object w{{"reason", waiting->second.reason}};
    if (!waiting->second.message.empty()) w["message"] = waiting->second.message;
    state["waiting"] = std::move(w);
    if (latest != nullptr && instance_exited(*latest)) last["terminated"] = terminated_object(*latest);
  } else if (latest != nullptr && instance_exited(*latest)) {
    state["terminated"] = terminated_object(*latest);
    if (previous != nullptr) last["terminated"] = terminated_object(*previous);
  } else if (latest != nullptr) {
    state["waiting"] = json::object{{"reason", "ContainerCreating"}};
  } else {
    // Not created yet: app containers wait for the init containers, init containers for
    // their turn, and everything for the sandbox.
    std::string reason = is_init || !initialized ? "PodInitializing" : "ContainerCreating";
    state["waiting"] = json::object{{"reason", reason}};
  }
  cs["state"] = std::move(state);
  cs["lastState"] = std::move(last);
  bool started = running && (!in.started || in.started(c, *latest));
  bool ready = running && (!in.ready || in.ready(c, *latest));
  if (is_init && !c.is_sidecar()) ready = latest != nullptr && instance_exited(*latest) && latest->status.exit_code == 0;
  cs["ready"] = ready;
  cs["restartCount"] = latest != nullptr ? latest->attempt : 0;
  cs["image"] = std::string(c.image());
  auto id = in.image_ids.find(name);
  cs["imageID"] = id != in.image_ids.end() ? id->second : std::string();
  if (latest != nullptr) cs["containerID"] = container_id_uri(latest->id);
  cs["started"] = started;
  return cs;
}

json::object condition(const api::PodView& pod, const std::string& now, std::string_view type, bool status,
                       std::string_view reason = {}, std::string_view message = {}) {
  json::object c{{"type", type}, {"status", status ? "True" : "False"}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  std::string when = now;
  if (auto old = api::pod_condition(pod.status(), type); old && old->status() == (status ? "True" : "False") &&
                                                          !old->last_transition_time().empty()) {
    when = std::string(old->last_transition_time());
  }
  c["lastProbeTime"] = nullptr;
  c["lastTransitionTime"] = when;
  return c;
}

json::value normalized(const json::value& v) {
  if (v.is_object()) {
    json::object o;
    for (const auto& kv : v.as_object()) {
      if (kv.value().is_null()) continue;
      if (kv.value().is_object() && kv.value().as_object().empty()) continue;
      o[kv.key()] = normalized(kv.value());
    }
    return o;
  }
  if (v.is_array()) {
    json::array a;
    for (const auto& e : v.as_array()) a.push_back(normalized(e));
    return a;
  }
  return v;
}

}  // namespace

std::string container_id_uri(std::string_view id) { return "kernlet://" + std::string(id); }

std::string time_from_ns(int64_t ns) {
  if (ns <= 0) return {};
  return api::format_rfc3339(api::TimePoint(std::chrono::duration_cast<api::TimePoint::duration>(std::chrono::nanoseconds(ns))));
}

json::object instance_state(const ContainerInfo& ci) {
  if (instance_running(ci)) {
    json::object r;
    std::string started = time_from_ns(ci.status.started_ns);
    if (!started.empty()) r["startedAt"] = started;
    return json::object{{"running", std::move(r)}};
  }
  if (instance_exited(ci)) return json::object{{"terminated", terminated_object(ci)}};
  return json::object{{"waiting", json::object{{"reason", "ContainerCreating"}}}};
}

bool pod_initialized(const api::PodView& pod, const json::array& init_statuses) {
  for (const auto& c : pod.spec().init_containers()) {
    const json::object* cs = find_status(init_statuses, c.name());
    if (cs == nullptr) return false;
    if (c.is_sidecar()) {
      if (!json::get_bool_or(*cs, "started", false)) return false;
      continue;
    }
    const json::object* t = terminated_of(*cs, "state");
    if (t == nullptr || json::get_int_or(*t, "exitCode", -1) != 0) return false;
  }
  return true;
}

std::string pod_phase(const api::PodView& pod, const json::array& init_statuses, const json::array& statuses) {
  const auto spec = pod.spec();
  int pending_init = 0, failed_init = 0;
  for (const auto& c : spec.init_containers()) {
    const json::object* cs = find_status(init_statuses, c.name());
    if (c.is_sidecar()) {
      if (cs == nullptr || !json::get_bool_or(*cs, "started", false)) ++pending_init;
      continue;
    }
    if (cs == nullptr) {
      ++pending_init;
      continue;
    }
    if (has_state(*cs, "running")) {
      ++pending_init;
    } else if (const json::object* t = terminated_of(*cs, "state")) {
      if (json::get_int_or(*t, "exitCode", 0) != 0) ++failed_init;
    } else if (const json::object* lt = terminated_of(*cs, "lastState")) {
      if (json::get_int_or(*lt, "exitCode", 0) != 0) {
        ++failed_init;
      } else {
        ++pending_init;
      }
    } else {
      ++pending_init;
    }
  }
  int unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const auto& c : spec.containers()) {
    const json::object* cs = find_status(statuses, c.name());
    if (cs == nullptr) {
      ++unknown;
      continue;
    }
    if (has_state(*cs, "running")) {
      ++running;
    } else if (const json::object* t = terminated_of(*cs, "state")) {
      ++stopped;
      if (json::get_int_or(*t, "exitCode", -1) == 0) ++succeeded;
    } else if (has_state(*cs, "waiting")) {
      if (terminated_of(*cs, "lastState") != nullptr) {
        ++stopped;
      } else {
        ++waiting;
      }
    } else {
      ++unknown;
    }
  }
  const auto policy = spec.restart_policy();
  if (failed_init > 0 && policy == "Never") return "Failed";
  if (pending_init > 0 || waiting > 0) return "Pending";
  if (running > 0 && unknown == 0) return "Running";
  if (running == 0 && stopped > 0 && unknown == 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

json::object build_pod_status(const api::PodView& pod, const StatusInput& in) {
  const auto spec = pod.spec();
  json::array init_statuses, statuses;
  // Init containers first: whether they are done decides the app containers' waiting reason.
  bool any_app_instance = false;
  for (const auto& c : spec.containers()) {
    auto it = in.instances.find(std::string(c.name()));
    if (it != in.instances.end() && !it->second.empty()) any_app_instance = true;
  }
  for (const auto& c : spec.init_containers()) init_statuses.push_back(container_status(c, true, false, in));
  bool initialized = any_app_instance || pod_initialized(pod, init_statuses);
  for (const auto& c : spec.containers()) statuses.push_back(container_status(c, false, initialized, in));

  std::string phase = pod_phase(pod, init_statuses, statuses);
  // Phases only move forward: a terminal pod stays terminal.
  std::string_view api_phase = pod.status().phase();
  if (api_phase == "Succeeded" || api_phase == "Failed") phase = std::string(api_phase);
  if (in.pod_failure) phase = "Failed";
  const bool terminal = phase == "Succeeded" || phase == "Failed";

  json::object st;
  st["phase"] = phase;
  json::array conds;
  std::vector<std::string> not_init;
  for (const auto& c : spec.init_containers()) {
    const json::object* cs = find_status(init_statuses, c.name());
    bool done = cs != nullptr && (c.is_sidecar() ? json::get_bool_or(*cs, "started", false)
                                                 : (terminated_of(*cs, "state") != nullptr &&
                                                    json::get_int_or(*terminated_of(*cs, "state"), "exitCode", -1) == 0));
    if (!done) not_init.emplace_back(c.name());
  }
  std::vector<std::string> unready;
  for (const auto& c : spec.init_containers()) {
    if (!c.is_sidecar()) continue;
    const json::object* cs = find_status(init_statuses, c.name());
    if (cs == nullptr || !json::get_bool_or(*cs, "ready", false)) unready.emplace_back(c.name());
  }
  for (const auto& c : spec.containers()) {
    const json::object* cs = find_status(statuses, c.name());
    if (cs == nullptr || !json::get_bool_or(*cs, "ready", false)) unready.emplace_back(c.name());
  }
  conds.push_back(condition(pod, in.now, "PodReadyToStartContainers", in.sandbox_ready && !terminal));
  if (initialized || not_init.empty()) {
    conds.push_back(condition(pod, in.now, "Initialized", true));
  } else {
    conds.push_back(condition(pod, in.now, "Initialized", false, "ContainersNotInitialized",
                              "containers with incomplete status: " + join_names(not_init)));
  }
  if (terminal) {
    conds.push_back(condition(pod, in.now, "Ready", false, "PodCompleted"));
    conds.push_back(condition(pod, in.now, "ContainersReady", false, "PodCompleted"));
  } else if (unready.empty()) {
    conds.push_back(condition(pod, in.now, "Ready", true));
    conds.push_back(condition(pod, in.now, "ContainersReady", true));
  } else {
    std::string msg = "containers with unready status: " + join_names(unready);
    conds.push_back(condition(pod, in.now, "Ready", false, "ContainersNotReady", msg));
    conds.push_back(condition(pod, in.now, "ContainersReady", false, "ContainersNotReady", msg));
  }
  conds.push_back(condition(pod, in.now, "PodScheduled", true));
  st["conditions"] = std::move(conds);
  if (in.pod_failure) {
    st["reason"] = in.pod_failure->reason;
    st["message"] = in.pod_failure->message;
  }
  if (!in.host_ips.empty()) {
    st["hostIP"] = in.host_ips.front();
    json::array h;
    for (const auto& ip : in.host_ips) h.push_back(json::object{{"ip", ip}});
    st["hostIPs"] = std::move(h);
  }
  if (!in.pod_ips.empty()) {
    st["podIP"] = in.pod_ips.front();
    json::array p;
    for (const auto& ip : in.pod_ips) p.push_back(json::object{{"ip", ip}});
    st["podIPs"] = std::move(p);
  }
  if (!in.start_time.empty()) st["startTime"] = in.start_time;
  if (!spec.init_containers().empty()) st["initContainerStatuses"] = std::move(init_statuses);
  st["containerStatuses"] = std::move(statuses);
  std::string_view qos = pod.status().qos_class();
  if (!qos.empty()) {
    st["qosClass"] = std::string(qos);
  } else if (auto q = api::pod_qos_class(pod); q.ok()) {
    st["qosClass"] = std::string(api::qos_class_name(*q));
  }
  return st;
}

const std::vector<std::string>& owned_status_keys() {
  static const std::vector<std::string> keys = {"phase",  "conditions", "reason",  "message", "hostIP",
                                                "hostIPs", "podIP",     "podIPs",  "startTime",
                                                "initContainerStatuses", "containerStatuses", "qosClass"};
  return keys;
}

bool status_differs(const json::object& current, const json::object& desired) {
  for (const auto& k : owned_status_keys()) {
    const json::value* a = json::find(current, k);
    const json::value* b = json::find(desired, k);
    json::value na = a != nullptr ? normalized(*a) : json::value();
    json::value nb = b != nullptr ? normalized(*b) : json::value();
    if (na != nb) return true;
  }
  return false;
}

json::object status_patch(std::string_view uid, const json::object& current, const json::object& desired) {
  json::object status;
  for (const auto& k : owned_status_keys()) {
    const json::value* b = json::find(desired, k);
    if (b != nullptr) {
      status[k] = *b;
    } else if (json::find(current, k) != nullptr) {
      status[k] = nullptr;
    }
  }
  return json::object{{"metadata", json::object{{"uid", uid}}}, {"status", std::move(status)}};
}

}  // namespace kernlet::agent
