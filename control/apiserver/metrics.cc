#include "control/apiserver/metrics.h"

#include <cstdio>

#include "api/object.h"
#include "api/time.h"

namespace kernlet::apiserver::metrics {
namespace {

std::optional<uint64_t> u64_at(const json::object& o, std::string_view section, std::string_view key) {
  const json::object* s = json::get_object(o, section);
  if (s == nullptr) return std::nullopt;
  auto v = json::get_int(*s, key);
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

TimePoint time_of(const json::object& o, TimePoint fallback) {
  const json::object* cpu = json::get_object(o, "cpu");
  if (cpu == nullptr) return fallback;
  auto t = api::parse_rfc3339(json::get_string(*cpu, "time"));
  return t.ok() ? *t : fallback;
}

json::object meta_from(const json::object& object, bool namespaced) {
  api::Meta m(object);
  json::object meta{{"name", m.name()}, {"creationTimestamp", api::now_rfc3339()}};
  if (namespaced) meta["namespace"] = m.namespace_();
  if (const json::object* labels = m.labels()) meta["labels"] = *labels;
  return meta;
}

}  // namespace

Result<NodeSummary> parse_summary(const json::object& summary, std::string_view node_name) {
  const json::object* node = json::get_object(summary, "node");
  if (node == nullptr) return Error(ErrorCode::kInvalidArgument, "summary of node " + std::string(node_name) + ": no \"node\"");
  const TimePoint now = std::chrono::system_clock::now();
  NodeSummary out;
  auto cpu = u64_at(*node, "cpu", "usageNanoCores");
  auto mem = u64_at(*node, "memory", "workingSetBytes");
  if (cpu && mem) {
    NodeUsage n;
    n.name = std::string(json::get_string(*node, "nodeName", node_name));
    n.timestamp = time_of(*node, now);
    n.cpu_nanocores = *cpu;
    n.memory_bytes = *mem;
    out.node = std::move(n);
  }
  if (const json::array* pods = json::get_array(summary, "pods")) {
    for (const json::value& pv : *pods) {
      if (!pv.is_object()) continue;
      const json::object& p = pv.as_object();
      const json::object* ref = json::get_object(p, "podRef");
      const json::array* containers = json::get_array(p, "containers");
      if (ref == nullptr || containers == nullptr || containers->empty()) continue;
      PodUsage u;
      u.namespace_ = json::get_string(*ref, "namespace");
      u.name = json::get_string(*ref, "name");
      u.uid = json::get_string(*ref, "uid");
      u.timestamp = time_of(p, now);
      bool complete = !u.name.empty();
      for (const json::value& cv : *containers) {
        if (!cv.is_object()) continue;
        const json::object& c = cv.as_object();
        auto ccpu = u64_at(c, "cpu", "usageNanoCores");
        auto cmem = u64_at(c, "memory", "workingSetBytes");
        if (!ccpu || !cmem) {
          complete = false;
          break;
        }
        u.containers.push_back({std::string(json::get_string(c, "name")), *ccpu, *cmem});
      }
      if (complete) out.pods.push_back(std::move(u));
    }
  }
  return out;
}

std::string cpu_quantity(uint64_t nanocores) { return std::to_string(nanocores) + "n"; }

std::string memory_quantity(uint64_t bytes) {
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + "Ki";
  return std::to_string(bytes);
}

std::string window_string(std::chrono::milliseconds window) {
  const int64_t ms = window.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s + "s";
}

json::object node_metrics_json(const NodeUsage& usage, const json::object& node, std::chrono::milliseconds window) {
  return {{"kind", "NodeMetrics"},
          {"apiVersion", "metrics.k8s.io/v1beta1"},
          {"metadata", meta_from(node, false)},
          {"timestamp", api::format_rfc3339(usage.timestamp)},
          {"window", window_string(window)},
          {"usage", json::object{{"cpu", cpu_quantity(usage.cpu_nanocores)},
                                 {"memory", memory_quantity(usage.memory_bytes)}}}};
}

json::object pod_metrics_json(const PodUsage& usage, const json::object& pod, std::chrono::milliseconds window) {
  json::array containers;
  for (const ContainerUsage& c : usage.containers) {
    containers.push_back(json::object{{"name", c.name},
                                      {"usage", json::object{{"cpu", cpu_quantity(c.cpu_nanocores)},
                                                             {"memory", memory_quantity(c.memory_bytes)}}}});
  }
  return {{"kind", "PodMetrics"},
          {"apiVersion", "metrics.k8s.io/v1beta1"},
          {"metadata", meta_from(pod, true)},
          {"timestamp", api::format_rfc3339(usage.timestamp)},
          {"window", window_string(window)},
          {"containers", std::move(containers)}};
}

json::object metrics_list_json(std::string_view kind, json::array items) {
  return {{"kind", kind}, {"apiVersion", "metrics.k8s.io/v1beta1"}, {"metadata", json::object{}},
          {"items", std::move(items)}};
}

}  // namespace kernlet::apiserver::metrics
