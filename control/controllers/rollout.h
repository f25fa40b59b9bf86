// The arithmetic of a Deployment's rolling update, as Kubernetes' deployment controller
// does it: maxSurge/maxUnavailable from absolute numbers or percentages, how far the new
// ReplicaSet may grow, how far the old ones may shrink (unhealthy replicas first, then the
// oldest), the pod-template-hash, and the revision numbers `kubectl rollout history|undo`
// read. Pure; the controller reads the objects and writes the answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/result.h"

namespace kernlet::controllers::rollout {

struct Fenceposts {
  int32_t max_surge = 0;
  int32_t max_unavailable = 0;
};

// Resolves maxSurge (percent rounded up) and maxUnavailable (percent rounded down) against
// the desired replicas; both zero becomes maxUnavailable 1, as upstream. Unset values
// default to 25 %. Errors name the field: `spec.strategy.rollingUpdate.maxSurge: invalid
// value "ten": must be an integer or a percentage`.
Result<Fenceposts> resolve_fenceposts(const std::optional<api::IntOrString>& max_surge,
                                      const std::optional<api::IntOrString>& max_unavailable, int32_t replicas);

struct ReplicaSetState {
  std::string name;
  int32_t replicas = 0;   // spec.replicas
  int32_t available = 0;  // status.availableReplicas
  std::string created;    // metadata.creationTimestamp (RFC 3339), for age order
};

// The new ReplicaSet's next spec.replicas under RollingUpdate: grow while the total of all
// ReplicaSets' replicas stays within replicas + maxSurge.
int32_t new_replicas(int32_t replicas, const Fenceposts& f, const ReplicaSetState& new_rs,
                     const std::vector<ReplicaSetState>& old_rss);

// How to shrink the old ReplicaSets so that at least replicas - maxUnavailable stay
// available: first remove their unavailable replicas, then available ones, oldest
// ReplicaSet first. Returns the new spec.replicas of each old ReplicaSet, in input order.
std::vector<int32_t> scale_down_old(int32_t replicas, const Fenceposts& f, const ReplicaSetState& new_rs,
                                    const std::vector<ReplicaSetState>& old_rss);

// The pod-template-hash label value for a Deployment's pod template (and collisionCount):
// a 32-bit FNV-1a of the template's canonical JSON, spelled with Kubernetes' safe alphabet
// (no vowels, so it never spells words).
std::string pod_template_hash(const json::object& pod_template, int32_t collision_count);

// Whether two pod templates are the same rollout target (the hash label ignored).
bool same_template(const json::object& a, const json::object& b);

// The deployment.kubernetes.io/revision annotation's next value: one more than the
// highest among the old ReplicaSets (unparseable ones count as 0).
int64_t next_revision(const std::vector<std::string_view>& old_revisions);

}  // namespace kernlet::controllers::rollout
