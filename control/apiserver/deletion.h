// DeleteOptions: what a DELETE request asks for (meta.k8s.io/v1 DeleteOptions, from the
// body and/or the query), and the decisions Kubernetes' registry takes from it before an
// object is touched: which propagation policy applies, and how long a pod's grace is.
// Pure: no I/O, unit-tested without a server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/json.h"
#include "api/status.h"
#include "control/apiserver/request_info.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {

// metadata.finalizers the garbage collector owns.
inline constexpr std::string_view kOrphanFinalizer = "orphan";
inline constexpr std::string_view kForegroundFinalizer = "foregroundDeletion";

enum class Propagation {
  kUnset,       // the resource's default applies
  kBackground,  // delete now; the garbage collector deletes dependents afterwards
  kForeground,  // mark; dependents are deleted first, then the object
  kOrphan,      // mark; dependents lose their ownerReference, then the object is deleted
};

std::string_view to_string(Propagation p);

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  Propagation propagation = Propagation::kUnset;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  bool dry_run = false;
};

// Parses the options of a DELETE or deletecollection: a DeleteOptions body (JSON or YAML
// already decoded by the caller, or empty), then query parameters (gracePeriodSeconds,
// propagationPolicy, orphanDependents, dryRun), which win as in Kubernetes. Errors are the
// Status to answer with: 400 for malformed input, 422 for invalid combinations
// (`propagationPolicy` and `orphanDependents` both set, an unknown policy, a negative
// grace period, dryRun other than All).
std::variant<DeleteOptions, api::Status> parse_delete_options(const RequestInfo& info, const json::value* body);

// The policy for deleting `obj` of resource `r`: the requested one; else what a pending
// GC finalizer already says; else the resource's default — Orphan for batch/v1 Jobs (kept
// by Kubernetes for compatibility), Background for everything else.
Propagation effective_propagation(const ResourceInfo& r, const json::object& obj, Propagation requested);

// The warning Kubernetes returns when a batch/v1 Job is deleted with its default
// (orphaning) policy, or nullopt when none applies.
std::optional<std::string> delete_warning(const ResourceInfo& r, Propagation requested);

// The grace period a pod gets: the requested one, else its
// spec.terminationGracePeriodSeconds (30 when unset). An unscheduled pod, a pod that has
// finished (Succeeded/Failed), and any pod whose node is gone are deleted at once (0):
// nothing runs that could be stopped gracefully.
int64_t pod_grace_period(const json::object& pod, std::optional<int64_t> requested, bool node_exists);

}  // namespace kernlet::apiserver
