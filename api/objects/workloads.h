// Views of the apps/v1 workload kinds, Deployment, ReplicaSet and DaemonSet (pattern:
// api/objects/pod.h), with the defaults the API server writes, and the int-or-percent
// arithmetic their rollouts use (maxSurge, maxUnavailable).
// Thread-safety: safe to use concurrently as long as nobody writes the document; the free
// function is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/common.h"
#include "api/result.h"

namespace kernlet::api {

// Kubernetes' intstr.GetScaledValueFromIntOrPercent: an int is returned as is; a string
// must be "<integer>%" and gives that percent of `total`, rounded up or down. Any other
// string (including a bare number "25") is an error (kInvalidArgument):
// `invalid value for IntOrString: invalid type: string is not a percentage`.
Result<int64_t> scaled_value_from_int_or_percent(const IntOrString& v, int64_t total,
                                                 bool round_up);

// ---- Deployment -------------------------------------------------------------------------

// spec
class DeploymentSpecView {
 public:
  explicit DeploymentSpecView(const json::object& s) : s_(&s) {}
  int64_t replicas() const;  // default 1
  // The LabelSelector (matchLabels / matchExpressions); nullptr when unset.
  const json::object* selector() const;
  PodTemplateView template_() const;
  std::string_view strategy_type() const;  // "RollingUpdate" (default) or "Recreate"
  // strategy.rollingUpdate.maxSurge / maxUnavailable, default "25%"; nullopt unless the
  // strategy is RollingUpdate.
  std::optional<IntOrString> max_surge() const;
  std::optional<IntOrString> max_unavailable() const;
  int64_t min_ready_seconds() const;          // default 0
  int64_t revision_history_limit() const;     // default 10
  int64_t progress_deadline_seconds() const;  // default 600
  bool paused() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// status
class DeploymentStatusView {
 public:
  explicit DeploymentStatusView(const json::object& s) : s_(&s) {}
  int64_t observed_generation() const;  // 0 when unset
  int64_t replicas() const;             // counts below: 0 when unset
  int64_t updated_replicas() const;
  int64_t ready_replicas() const;
  int64_t available_replicas() const;
  int64_t unavailable_replicas() const;
  std::optional<int64_t> terminating_replicas() const;
  std::optional<int64_t> collision_count() const;
  std::vector<ConditionView> conditions() const;
  // "Available", "Progressing" or "ReplicaFailure".
  std::optional<ConditionView> condition(std::string_view type) const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class DeploymentView {
 public:
  explicit DeploymentView(const json::object& d) : d_(&d) {}
  Meta meta() const { return Meta(*d_); }
  DeploymentSpecView spec() const { return DeploymentSpecView(object_or_empty(*d_, "spec")); }
  DeploymentStatusView status() const {
    return DeploymentStatusView(object_or_empty(*d_, "status"));
  }
  const json::object& raw() const { return *d_; }

 private:
  const json::object* d_;
};

// ---- ReplicaSet -------------------------------------------------------------------------

class ReplicaSetSpecView {
 public:
  explicit ReplicaSetSpecView(const json::object& s) : s_(&s) {}
  int64_t replicas() const;  // default 1
  const json::object* selector() const;
  PodTemplateView template_() const;
  int64_t min_ready_seconds() const;  // default 0
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class ReplicaSetStatusView {
 public:
  explicit ReplicaSetStatusView(const json::object& s) : s_(&s) {}
  int64_t observed_generation() const;  // 0 when unset
  int64_t replicas() const;             // counts below: 0 when unset
  int64_t fully_labeled_replicas() const;
  int64_t ready_replicas() const;
  int64_t available_replicas() const;
  std::optional<int64_t> terminating_replicas() const;
  std::vector<ConditionView> conditions() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class ReplicaSetView {
 public:
  explicit ReplicaSetView(const json::object& rs) : rs_(&rs) {}
  Meta meta() const { return Meta(*rs_); }
  ReplicaSetSpecView spec() const { return ReplicaSetSpecView(object_or_empty(*rs_, "spec")); }
  ReplicaSetStatusView status() const {
    return ReplicaSetStatusView(object_or_empty(*rs_, "status"));
  }
  const json::object& raw() const { return *rs_; }

 private:
  const json::object* rs_;
};

// ---- DaemonSet --------------------------------------------------------------------------

class DaemonSetSpecView {
 public:
  explicit DaemonSetSpecView(const json::object& s) : s_(&s) {}
  const json::object* selector() const;
  PodTemplateView template_() const;
  std::string_view update_strategy_type() const;  // "RollingUpdate" (default) or "OnDelete"
  // updateStrategy.rollingUpdate.maxUnavailable (default 1) / maxSurge (default 0);
  // nullopt unless the strategy is RollingUpdate.
  std::optional<IntOrString> max_unavailable() const;
  std::optional<IntOrString> max_surge() const;
  int64_t min_ready_seconds() const;       // default 0
  int64_t revision_history_limit() const;  // default 10
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class DaemonSetStatusView {
 public:
  explicit DaemonSetStatusView(const json::object& s) : s_(&s) {}
  int64_t observed_generation() const;  // 0 when unset
  int64_t desired_number_scheduled() const;  // counts below: 0 when unset
  int64_t current_number_scheduled() const;
  int64_t number_misscheduled() const;
  int64_t number_ready() const;
  int64_t updated_number_scheduled() const;
  int64_t number_available() const;
  int64_t number_unavailable() const;
  std::optional<int64_t> collision_count() const;
  std::vector<ConditionView> conditions() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

class DaemonSetView {
 public:
  explicit DaemonSetView(const json::object& ds) : ds_(&ds) {}
  Meta meta() const { return Meta(*ds_); }
  DaemonSetSpecView spec() const { return DaemonSetSpecView(object_or_empty(*ds_, "spec")); }
  DaemonSetStatusView status() const {
    return DaemonSetStatusView(object_or_empty(*ds_, "status"));
  }
  const json::object& raw() const { return *ds_; }

 private:
  const json::object* ds_;
};

}  // namespace kernlet::api
