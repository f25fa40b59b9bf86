// agent_metrics: the agent's own series for /metrics, computed from what the pod workers
// hold (pure; unit-tested):
//   kernlet_agent_pods{phase}  gauge: pods this node runs by status.phase (Pending, Running,
//                              Succeeded, Failed, Unknown; all five always written)
// Thread-safety: pure functions.
#pragma once

#include <memory>
#include <vector>

#include "agent/metrics/prometheus_text.h"
#include "api/json.h"

namespace kernlet::agent::metrics {

void append_pod_metrics(const std::vector<std::shared_ptr<const json::object>>& pods, PrometheusText& out);

}  // namespace kernlet::agent::metrics
