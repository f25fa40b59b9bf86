// PodStatsSource: the Summary API's StatsSource (agent/server/stats.h) over the pod layer:
// the pods the workers know, the running container instances the runtime lists, and
// their cgroups as the runtime's CgroupV2Driver names them (pod-<uid>, ctr-<instance id>)
// under the runtime's cgroup root. It opens a driver of its own on that root (open() is
// idempotent: it only creates what is missing), so the pod runtime needs no new API.
// Thread-safety: sample() is called by the StatsCollector's thread; the workers and the
// runtime are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "agent/pod/pod_runtime.h"
#include "agent/pod/pod_workers.h"
#include "agent/server/cgroup_stats.h"
#include "agent/server/stats.h"

namespace kernlet::agent {

class PodStatsSource final : public StatsSource {
 public:
  // `report` is the pod runtime's cgroup report (its root and enabled controllers).
  static Result<std::shared_ptr<PodStatsSource>> open(std::string node_name, PodWorkers* workers, PodRuntime* rt,
                                                      const cgroups::ControllerReport& report);
  Result<StatsSample> sample() override;

 private:
  PodStatsSource() = default;
  std::string node_;
  PodWorkers* workers_ = nullptr;
  PodRuntime* rt_ = nullptr;
  std::unique_ptr<cgroups::RealCgroupFs> fs_;
  std::optional<cgroups::CgroupV2Driver> driver_;
  std::optional<CgroupStatsReader> reader_;
};

}  // namespace kernlet::agent
