#include "agent/metrics/agent_metrics.h"

#include <array>
#include <map>
#include <string>

namespace kernlet::agent::metrics {

void append_pod_metrics(const std::vector<std::shared_ptr<const json::object>>& pods, PrometheusText& out) {
  static constexpr std::array<std::string_view, 5> kPhases = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
  std::map<std::string_view, std::uint64_t> n;
  for (auto p : kPhases) n[p] = 0;
  for (const auto& pod : pods) {
    if (!pod) continue;
    const json::object* status = json::get_object(*pod, "status");
    std::string_view phase = status ? json::get_string(*status, "phase") : std::string_view();
    // A pod the agent has not written a status for yet is Pending, as the API shows it.
    if (phase.empty()) phase = "Pending";
    auto it = n.find(phase);
    if (it == n.end()) it = n.find("Unknown");
    ++it->second;
  }
  out.family("kernlet_agent_pods", "Pods this node runs, by status.phase.", MetricType::kGauge);
  for (auto p : kPhases) out.sample({{"phase", std::string(p)}}, n[p]);
}

}  // namespace kernlet::agent::metrics
