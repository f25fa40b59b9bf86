#include "agent/cmd/prober_probes.h"

#include "agent/pod/pod_status.h"

namespace kernlet::agent {

ProberPodProbes::ProberPodProbes(PodRuntime* rt, std::function<void(const std::string&)> on_change,
                                 std::function<void(const ProbeEvent&)> on_event)
    : rt_(rt), runner_(*this) {
  manager_ = std::make_unique<ProbeManager>(runner_, system_probe_clock(), std::move(on_change), std::move(on_event));
}

ProberPodProbes::~ProberPodProbes() { manager_.reset(); }

ProbeTarget ProberPodProbes::target(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& ci) {
  ProbeTarget t;
  t.pod_uid = std::string(pod.meta().uid());
  t.pod_namespace = std::string(pod.meta().namespace_());
  t.pod_name = std::string(pod.meta().name());
  t.container_name = ci.name;
  t.container_id = ci.id;
  t.started_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ci.status.started_ns)));
  auto ips = pod.status().pod_ips();
  if (!ips.empty() && !pod.spec().host_network()) t.pod_ip = std::string(ips.front());
  if (!pod.spec().host_network()) t.netns_path = rt_->sandbox_status(t.pod_uid).netns_path;
  t.terminating = pod.meta().being_deleted();
  t.container = c.raw();
  // The status this run last reported (sidecars are init containers).
  const std::string uri = container_id_uri(ci.id);
  for (const json::array* list : {pod.status().container_statuses(), pod.status().init_container_statuses()}) {
    if (list == nullptr) continue;
    for (const auto& v : *list) {
      const json::object* cs = v.if_object();
      if (cs == nullptr || json::get_string(*cs, "name") != ci.name || json::get_string(*cs, "containerID") != uri)
        continue;
      t.reported_ready = json::get_bool(*cs, "ready");
      t.reported_started = json::get_bool(*cs, "started");
    }
  }
  return t;
}

void ProberPodProbes::update(const api::PodView& pod, const std::vector<ContainerInfo>& running) {
  std::vector<ProbeTarget> targets;
  auto find = [&](const std::string& name) -> std::optional<api::ContainerView> {
    for (const auto& c : pod.spec().containers())
      if (c.name() == name) return c;
    for (const auto& c : pod.spec().init_containers())
      if (c.name() == name && c.is_sidecar()) return c;
    return std::nullopt;
  };
  for (const auto& ci : running) {
    if (auto c = find(ci.name)) targets.push_back(target(pod, *c, ci));
  }
  manager_->update(std::string(pod.meta().uid()), targets);
}

bool ProberPodProbes::started(const std::string& pod_uid, const api::ContainerView& c, const ContainerInfo& ci) {
  auto s = manager_->state(pod_uid, ci.name);
  if (s.container_id != ci.id) return !c.startup_probe().has_value();
  return s.started;
}

bool ProberPodProbes::ready(const std::string& pod_uid, const api::ContainerView& c, const ContainerInfo& ci) {
  auto s = manager_->state(pod_uid, ci.name);
  if (s.container_id != ci.id) return !c.startup_probe() && !c.readiness_probe();
  return s.ready;
}

bool ProberPodProbes::liveness_failed(const std::string& pod_uid, const ContainerInfo& ci) {
  auto s = manager_->state(pod_uid, ci.name);
  return s.container_id == ci.id && s.liveness_failed;
}

Result<void> ProberPodProbes::run_hook(const api::PodView& pod, const api::ContainerView& c, const ContainerInfo& ci,
                                       const api::HandlerView& hook, std::chrono::milliseconds timeout) {
  return run_lifecycle_handler(*this, hook.raw(), target(pod, c, ci), timeout);
}

void ProberPodProbes::forget(const std::string& pod_uid) { manager_->remove_pod(pod_uid); }

Result<ExecOutput> ProberPodProbes::exec(const std::string& container_id, const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout) {
  KL_ASSIGN_OR_RETURN(auto r, rt_->exec(container_id, argv, timeout));
  if (r.timed_out)
    return Error(ErrorCode::kDeadlineExceeded, "command timed out after " + std::to_string(timeout.count()) + "ms");
  return ExecOutput{r.exit_code, r.output};
}

}  // namespace kernlet::agent
