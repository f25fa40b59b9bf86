// LeaseView: read-only typed view of a coordination.k8s.io/v1 Lease (node heartbeats in
// kube-node-lease, leader election), pattern: api/objects/pod.h. Leases have no defaults.
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "api/json.h"
#include "api/object.h"

namespace kernlet::api {

class LeaseSpecView {
 public:
  explicit LeaseSpecView(const json::object& s) : s_(&s) {}
  // The current holder; nullopt when nobody holds the lease.
  std::optional<std::string_view> holder_identity() const;
  std::optional<int64_t> lease_duration_seconds() const;
  // MicroTime (RFC 3339 with microseconds); "" when unset. Parse with parse_rfc3339.
  std::string_view acquire_time() const;
  std::string_view renew_time() const;
  std::optional<int64_t> lease_transitions() const;
  // Coordinated leader election: the strategy and the preferred next holder.
  std::optional<std::string_view> strategy() const;
  std::optional<std::string_view> preferred_holder() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class LeaseView {
 public:
  explicit LeaseView(const json::object& l) : l_(&l) {}
  Meta meta() const { return Meta(*l_); }
  LeaseSpecView spec() const { return LeaseSpecView(object_or_empty(*l_, "spec")); }
  const json::object& raw() const { return *l_; }

 private:
  const json::object* l_;
};

}  // namespace kernlet::api
