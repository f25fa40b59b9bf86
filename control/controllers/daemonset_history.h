// A DaemonSet's rollout history as apps/v1 ControllerRevisions, decided without I/O
// (DaemonSetController writes the answers), as the Kubernetes 1.33 DaemonSet controller
// keeps it so `kubectl rollout history|undo daemonset` work:
//  - a revision's data is the strategic-merge patch that restores the template:
//    {"spec":{"template":{...the pod template..., "$patch":"replace"}}} — kubectl's undo
//    PATCHes the DaemonSet with exactly this document, and its history viewer applies it;
//  - a revision is named "<daemonset>-<hash>" (hash = the template hash with
//    status.collisionCount, the one pods carry), labelled with the template's labels plus
//    controller-revision-hash, annotated with the DaemonSet's annotations (so
//    kubernetes.io/change-cause shows in `rollout history`), and controlled by the
//    DaemonSet;
//  - the current revision is the one whose data matches the template; none: a new one
//    numbered one past the highest old one; several: the highest stays and the others'
//    pods are relabelled to it, then they are deleted; a current revision numbered below
//    an old one (after an undo) is renumbered to the top;
//  - old revisions beyond spec.revisionHistoryLimit (default 10) are deleted oldest
//    first, except those a live pod still carries the hash of.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/client/cache.h"
#include "api/json.h"

namespace kernlet::controllers::daemonset {

inline constexpr int64_t kDefaultRevisionHistoryLimit = 10;

// The ControllerRevision data of the DaemonSet's current template (the patch above).
json::object revision_data(const json::object& ds);

// Whether `revision`'s data restores exactly the DaemonSet's current template (null
// fields equal absent ones, as kubectl may send either).
bool revision_matches(const json::object& ds, const json::object& revision);

// The hash a revision stands for: its controller-revision-hash label, else its name (as
// upstream does for revisions written before the label existed).
std::string revision_hash(const json::object& revision);

// The revision to create for the DaemonSet's current template with number `number`.
json::object new_revision(const json::object& ds, int64_t number);

struct HistoryPlan {
  // The current revision when it exists already (possibly to be renumbered); nullopt:
  // `create` is to be written and becomes current.
  client::ObjectPtr current;
  std::optional<json::object> create;
  std::optional<int64_t> renumber_to;                // new .revision of `current`
  std::vector<client::ObjectPtr> relabel;            // revisions lacking the hash label
  std::vector<client::ObjectPtr> delete_duplicates;  // other revisions matching the template
  // Pods carrying a duplicate's hash, to relabel to the current revision's.
  std::vector<client::ObjectPtr> relabel_pods;
  std::vector<client::ObjectPtr> old;  // the other revisions, for prune_history
};

// Decides the current revision among the DaemonSet's (claimed) revisions.
HistoryPlan plan_history(const json::object& ds, const std::vector<client::ObjectPtr>& revisions,
                         const std::vector<client::ObjectPtr>& pods);

// The old revisions to delete: beyond spec.revisionHistoryLimit, lowest revision first,
// skipping those whose hash a pod (live or terminal) still carries.
std::vector<client::ObjectPtr> prune_history(const json::object& ds, std::vector<client::ObjectPtr> old,
                                             const std::vector<client::ObjectPtr>& pods);

}  // namespace kernlet::controllers::daemonset
