#include "agent/node/node_lease.h"

#include <cstdio>
#include <stdexcept>

#include "api/object.h"

namespace kernlet::agent {
namespace {

void log_warning(const std::string& msg) { std::fprintf(stderr, "W node-lease: %s\n", msg.c_str()); }

bool has_owner(const json::object& lease, const std::string& uid) {
  for (const auto& ref : api::Meta(lease).owner_references()) {
    if (ref.kind == "Node" && ref.uid == uid) return true;
  }
  return false;
}

}  // namespace

NodeLease::NodeLease(std::shared_ptr<client::RestClient> client, NodeLeaseOptions options)
    : client_(std::move(client)), opt_(std::move(options)) {
  if (!client_) throw std::invalid_argument("NodeLease: null client");
  if (opt_.node_name.empty()) throw std::invalid_argument("NodeLease: empty node name");
  if (!opt_.clock) opt_.clock = SystemWallClock::shared();
  ref_ = client::ResourceRef("coordination.k8s.io", "v1", "leases", opt_.lease_namespace, opt_.node_name);
}

NodeLease::~NodeLease() { stop(); }

void NodeLease::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void NodeLease::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::optional<api::TimePoint> NodeLease::last_renew() const {
  std::lock_guard lock(mu_);
  return last_renew_;
}

int NodeLease::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void NodeLease::run() {
  std::chrono::milliseconds backoff = opt_.retry_initial;
  for (;;) {
    auto r = renew_once();
    std::chrono::milliseconds wait = opt_.renew_interval;
    if (r.ok()) {
      backoff = opt_.retry_initial;
    } else {
      log_warning("renew lease " + opt_.lease_namespace + "/" + opt_.node_name + ": " + r.error().to_string() +
                  "; retrying in " + std::to_string(backoff.count()) + "ms");
      wait = backoff;
      backoff = std::min(backoff * 2, opt_.retry_max);
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

std::string NodeLease::owner_uid() {
  if (opt_.node_uid) {
    std::string uid = opt_.node_uid();
    if (!uid.empty()) return uid;
  }
  // Like the kubelet: without the Node the lease is still written, and the owner reference
  // is added by a later renewal once the Node exists.
  auto node = client_->get(client::ResourceRef("", "v1", "nodes", "", opt_.node_name));
  if (!node.ok()) return "";
  return std::string(api::Meta(*node).uid());
}

json::object NodeLease::fresh_lease(api::TimePoint now, const std::string& uid) const {
  json::object lease{{"apiVersion", "coordination.k8s.io/v1"},
                     {"kind", "Lease"},
                     {"metadata", json::object{{"name", opt_.node_name}, {"namespace", opt_.lease_namespace}}},
                     {"spec", json::object{{"holderIdentity", opt_.node_name},
                                           {"leaseDurationSeconds", opt_.lease_duration.count()},
                                           {"renewTime", api::format_rfc3339_micro(now)}}}};
  if (!uid.empty()) {
    api::MutableMeta(lease).set_owner_references(
        {api::OwnerReference{"v1", "Node", opt_.node_name, uid, false, false}});
  }
  return lease;
}

Result<void> NodeLease::renew_once() {
  std::lock_guard renew_lock(renew_mu_);
  auto record = [this](const Result<void>& r, api::TimePoint t) {
    std::lock_guard lock(mu_);
    if (r.ok()) {
      last_renew_ = t;
      failures_ = 0;
    } else {
      ++failures_;
    }
  };
  api::TimePoint now = opt_.clock->now();
  Result<void> result = [&]() -> Result<void> {
    if (!cached_) {
      auto got = client_->get(ref_);
      if (!got.ok() && got.error().code() == ErrorCode::kNotFound) {
        auto created = client_->create(ref_, fresh_lease(now, owner_uid()));
        if (!created.ok()) return std::move(created).error().context("create lease " + ref_.describe());
        cached_ = std::move(*created);
        return Ok();
      }
      if (!got.ok()) return std::move(got).error().context("get lease " + ref_.describe());
      cached_ = std::move(*got);
    }
    json::object lease = *cached_;
    json::object& spec = json::ensure_object(lease, "spec");
    spec["holderIdentity"] = opt_.node_name;
    spec["leaseDurationSeconds"] = opt_.lease_duration.count();
    spec["renewTime"] = api::format_rfc3339_micro(now);
    if (api::Meta(lease).owner_references().empty()) {
      std::string uid = owner_uid();
      if (!uid.empty() && !has_owner(lease, uid)) {
        api::MutableMeta(lease).set_owner_references(
            {api::OwnerReference{"v1", "Node", opt_.node_name, uid, false, false}});
      }
    }
    auto updated = client_->update(ref_, lease);
    if (!updated.ok()) {
      cached_.reset();  // conflict or outage: read the lease again next time
      return std::move(updated).error().context("renew lease " + ref_.describe());
    }
    cached_ = std::move(*updated);
    return Ok();
  }();
  record(result, now);
  return result;
}

}  // namespace kernlet::agent
