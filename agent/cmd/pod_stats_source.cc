#include "agent/cmd/pod_stats_source.h"

#include <map>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::agent {

Result<std::shared_ptr<PodStatsSource>> PodStatsSource::open(std::string node_name, PodWorkers* workers,
                                                             PodRuntime* rt, const cgroups::ControllerReport& report) {
  std::shared_ptr<PodStatsSource> s(new PodStatsSource());
  s->node_ = std::move(node_name);
  s->workers_ = workers;
  s->rt_ = rt;
  s->fs_ = std::make_unique<cgroups::RealCgroupFs>();
  cgroups::CgroupV2Options o;
  o.root = report.root;
  o.controllers = report.enabled;
  auto d = cgroups::CgroupV2Driver::open(*s->fs_, o);
  if (!d.ok()) return std::move(d).error().context("stats: cgroup driver");
  s->driver_.emplace(std::move(*d));
  s->reader_.emplace(*s->driver_, *s->fs_);
  return s;
}

Result<StatsSample> PodStatsSource::sample() {
  StatsSample out;
  out.at = std::chrono::system_clock::now();
  KL_ASSIGN_OR_RETURN(out.node, reader_->read_node(node_));
  for (const client::ObjectPtr& pod : workers_->list()) {
    api::Meta m(*pod);
    const std::string uid(m.uid());
    auto pod_path = driver_->pod_path(uid);
    if (!pod_path.ok()) continue;
    auto exists = fs_->exists(*pod_path);
    if (!exists.ok() || !*exists) continue;  // not started yet, or already removed
    PodReading p;
    p.name = m.name();
    p.namespace_ = m.namespace_();
    p.uid = uid;
    if (const json::object* st = json::get_object(*pod, "status")) p.start_time = json::get_string(*st, "startTime");
    std::vector<std::string> leaves;
    if (auto ids = driver_->list_containers(uid); ids.ok()) {
      for (const std::string& id : *ids)
        if (auto path = driver_->container_path(uid, id); path.ok()) leaves.push_back(*path);
    }
    auto usage = reader_->read(*pod_path, leaves);
    if (!usage.ok()) continue;  // removed while we read it
    p.usage = *usage;
    // The newest running instance of each container.
    std::map<std::string, ContainerInfo> running;
    for (ContainerInfo& c : rt_->list_containers(uid)) {
      if (c.status.state != runtime::ContainerState::kRunning) continue;
      auto it = running.find(c.name);
      if (it == running.end() || it->second.attempt < c.attempt) running[c.name] = std::move(c);
    }
    for (const auto& [name, c] : running) {
      auto path = driver_->container_path(uid, c.id);
      if (!path.ok()) continue;
      auto cu = reader_->read(*path, {*path});
      if (!cu.ok()) continue;
      ContainerReading cr;
      cr.name = name;
      cr.usage = *cu;
      if (c.status.started_ns > 0)
        cr.start_time = api::format_rfc3339(std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(c.status.started_ns))));
      p.containers.push_back(std::move(cr));
    }
    out.pods.push_back(std::move(p));
  }
  return out;
}

}  // namespace kernlet::agent
