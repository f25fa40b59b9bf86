// The resource metrics API (metrics.k8s.io/v1beta1), as metrics-server serves it:
// NodeMetrics and PodMetrics built from the kubelets' Summary API (GET /stats/summary).
//
// CPU is the kubelet's usageNanoCores (the rate over its own sampling interval) and
// memory the workingSetBytes, as metrics-server takes them. A pod is reported only when
// every container it lists has both values (metrics-server drops partial pods).
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::apiserver::metrics {

using TimePoint = std::chrono::system_clock::time_point;

struct ContainerUsage {
  std::string name;
  uint64_t cpu_nanocores = 0;
  uint64_t memory_bytes = 0;
};

struct PodUsage {
  std::string namespace_, name, uid;
  TimePoint timestamp;
  std::vector<ContainerUsage> containers;
};

struct NodeUsage {
  std::string name;
  TimePoint timestamp;
  uint64_t cpu_nanocores = 0;
  uint64_t memory_bytes = 0;
};

struct NodeSummary {
  std::optional<NodeUsage> node;  // nullopt: the node's own numbers were incomplete
  std::vector<PodUsage> pods;
};

// The usable part of one kubelet's Summary. `node_name` names the node when the summary
// does not. Errors: not a Summary (no "node" object).
Result<NodeSummary> parse_summary(const json::object& summary, std::string_view node_name);

// Quantities as metrics-server writes them: "123456n" for CPU, "2048Ki" (or plain bytes
// when not a multiple of 1024) for memory.
std::string cpu_quantity(uint64_t nanocores);
std::string memory_quantity(uint64_t bytes);
// A Go duration for "window": "15s", "1.5s".
std::string window_string(std::chrono::milliseconds window);

// A NodeMetrics / PodMetrics object; `object` is the Node / Pod it is about (its labels
// are copied, as metrics-server does).
json::object node_metrics_json(const NodeUsage& usage, const json::object& node, std::chrono::milliseconds window);
json::object pod_metrics_json(const PodUsage& usage, const json::object& pod, std::chrono::milliseconds window);
// A NodeMetricsList / PodMetricsList.
json::object metrics_list_json(std::string_view kind, json::array items);

}  // namespace kernlet::apiserver::metrics
