#include "control/apiserver/metrics_collector.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <cstdio>

#include "api/object.h"
#include "control/apiserver/pod_logs.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {
namespace {

bool node_ready(const json::object& node) {
  const json::object* status = json::get_object(node, "status");
  const json::array* conds = status ? json::get_array(*status, "conditions") : nullptr;
  if (conds == nullptr) return false;
  for (const json::value& c : *conds) {
    if (c.is_object() && json::get_string(c.as_object(), "type") == "Ready")
      return json::get_string(c.as_object(), "status") == "True";
  }
  return false;
}

}  // namespace

MetricsCollector::MetricsCollector(store::Store& store, std::shared_ptr<NodeProxy> proxy,
                                   std::chrono::milliseconds resolution)
    : store_(store), proxy_(std::move(proxy)), resolution_(resolution) {}

MetricsCollector::~MetricsCollector() { stop(); }

void MetricsCollector::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void MetricsCollector::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricsCollector::loop() {
  for (;;) {
    scrape_once();
    std::unique_lock lk(mu_);
    if (cv_.wait_for(lk, resolution_, [this] { return stopping_; })) return;
  }
}

void MetricsCollector::scrape_once() {
  const ResourceInfo* nodes_r = find_resource("", "v1", "nodes");
  struct Target {
    std::string name;
    NodeTarget endpoint;
    Result<std::string> body = Error(ErrorCode::kUnavailable, "not scraped");
  };
  std::vector<Target> targets;
  store::ListOptions page;
  page.limit = 500;
  for (;;) {
    auto l = store_.list(key_prefix(*nodes_r, ""), page);
    if (!l.ok()) {
      std::fprintf(stderr, "warning metrics: list nodes: %s\n", l.error().to_string().c_str());
      return;  // keep what we have; the next round retries
    }
    for (const auto& kv : l->kvs) {
      auto node = json::parse_object(kv.value, kv.key);
      if (!node.ok() || !node_ready(*node)) continue;
      auto ep = kubelet_endpoint(*node);
      if (auto* target = std::get_if<NodeTarget>(&ep)) targets.push_back({std::string(api::Meta(*node).name()), *target});
    }
    if (!l->more) break;
    page.revision = l->revision;
    page.continue_key = l->continue_key;
  }

  const auto timeout = std::clamp(resolution_ * 9 / 10, std::chrono::milliseconds(1000), std::chrono::milliseconds(10'000));
  asio::io_context io;
  for (Target& t : targets) {
    asio::co_spawn(
        io,
        [this, &t, timeout]() -> asio::awaitable<void> {
          const std::string path = "/stats/summary";  // named: no temporary across co_await (GCC PR 99576)
          t.body = co_await proxy_->fetch(t.endpoint, path, timeout);
        },
        asio::detached);
  }
  io.run();

  std::map<std::string, metrics::NodeUsage, std::less<>> nodes;
  std::map<std::string, metrics::PodUsage, std::less<>> pods;
  for (Target& t : targets) {
    if (!t.body.ok()) {
      std::fprintf(stderr, "warning metrics: scrape node %s: %s\n", t.name.c_str(), t.body.error().to_string().c_str());
      continue;
    }
    auto obj = json::parse_object(*t.body, "summary of node " + t.name);
    if (!obj.ok()) {
      std::fprintf(stderr, "warning metrics: %s\n", obj.error().to_string().c_str());
      continue;
    }
    auto summary = metrics::parse_summary(*obj, t.name);
    if (!summary.ok()) {
      std::fprintf(stderr, "warning metrics: %s\n", summary.error().to_string().c_str());
      continue;
    }
    if (summary->node) {
      summary->node->name = t.name;
      nodes[t.name] = std::move(*summary->node);
    }
    for (metrics::PodUsage& p : summary->pods) {
      std::string key = p.namespace_ + "/" + p.name;
      pods[key] = std::move(p);
    }
  }
  std::lock_guard lk(mu_);
  nodes_ = std::move(nodes);
  pods_ = std::move(pods);
}

std::optional<metrics::NodeUsage> MetricsCollector::node(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

std::optional<metrics::PodUsage> MetricsCollector::pod(std::string_view ns, std::string_view name,
                                                       std::string_view uid) const {
  std::string key = std::string(ns) + "/" + std::string(name);
  std::lock_guard lk(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || (!uid.empty() && !it->second.uid.empty() && it->second.uid != uid)) return std::nullopt;
  return it->second;
}

}  // namespace kernlet::apiserver
