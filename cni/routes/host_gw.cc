#include "cni/routes/host_gw.h"

#include <cstdio>
#include <optional>

namespace kernlet::cni::routes {

HostGwRoutes::HostGwRoutes(RouteTable& table, std::function<std::vector<client::ObjectPtr>()> nodes,
                           std::function<bool()> synced, HostGwOptions options)
    : table_(table), nodes_(std::move(nodes)), synced_(std::move(synced)), opts_(std::move(options)) {}

HostGwRoutes::~HostGwRoutes() { stop(); }

void HostGwRoutes::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    wake_ = true;  // the first reconcile (after the cache synced) removes stale routes
  }
  thread_ = std::thread([this] { run(); });
}

void HostGwRoutes::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HostGwRoutes::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

HostGwStatus HostGwRoutes::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void HostGwRoutes::log(const std::string& line) const {
  if (opts_.log) {
    opts_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

Result<void> HostGwRoutes::reconcile_once() {
  std::lock_guard<std::mutex> guard(reconcile_mu_);
  if (!synced_()) return Error(ErrorCode::kUnavailable, "host-gw routes: the Node cache has not synced yet");
  auto objects = nodes_();
  std::vector<const json::object*> nodes;
  nodes.reserve(objects.size());
  for (const auto& o : objects) nodes.push_back(o.get());
  DesiredRoutes desired = desired_routes(nodes, opts_.node_name);
  std::string skipped;
  for (const auto& s : desired.skipped) skipped += s + "; ";
  if (skipped != last_skipped_) {
    if (!skipped.empty()) log("I routes: no route for " + skipped.substr(0, skipped.size() - 2));
    last_skipped_ = skipped;
  }
  auto existing = table_.list();
  if (!existing.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.reconciles;
    status_.last_error = existing.error().to_string();
    return std::move(existing).error().context("host-gw routes");
  }
  RoutePlan plan = plan_routes(desired.routes, *existing);
  std::optional<Error> first;
  int failed = 0;
  for (const auto& r : plan.remove) {
    if (auto rc = table_.remove(r); !rc.ok()) {
      ++failed;
      log("W routes: " + rc.error().to_string());
      if (!first) first = rc.error();
    } else {
      log("I routes: removed " + r.str());
    }
  }
  for (const auto& r : plan.add) {
    if (auto rc = table_.add(r); !rc.ok()) {
      ++failed;
      log("W routes: node " + r.node + ": " + rc.error().to_string());
      if (!first) first = rc.error();
    } else {
      log("I routes: added " + r.str() + " (node " + r.node + ")");
    }
  }
  auto now = table_.list();
  std::lock_guard<std::mutex> lock(mu_);
  ++status_.reconciles;
  if (now.ok()) status_.routes = *now;
  if (first) {
    status_.last_error = first->to_string();
    return std::move(*first).context("host-gw routes: " + std::to_string(failed) + " change(s) failed, first");
  }
  status_.last_error.clear();
  return Ok();
}

void HostGwRoutes::run() {
  auto wait = opts_.resync;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, wait, [this] { return stopping_ || wake_; });
      if (stopping_) return;
      wake_ = false;
    }
    auto rc = reconcile_once();
    if (rc.ok()) {
      wait = opts_.resync;
    } else {
      // Not synced yet: the informer's synced handler wakes us; a failed change retries.
      if (rc.error().code() != ErrorCode::kUnavailable) log("W " + rc.error().to_string());
      wait = opts_.retry_after;
    }
  }
}

}  // namespace kernlet::cni::routes
