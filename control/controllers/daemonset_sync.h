// One sync of a DaemonSet, decided without I/O (DaemonSetController carries it out), as
// the Kubernetes 1.33 DaemonSet controller:
//  - a node should run the daemon pod when it matches the template's nodeName,
//    nodeSelector and required node affinity and its NoSchedule/NoExecute taints are
//    tolerated; a pod already there keeps running unless a NoExecute taint is untolerated.
//    The tolerations upstream adds to every daemon pod count: not-ready and unreachable
//    (NoExecute), disk-, memory- and pid-pressure and unschedulable (NoSchedule), and
//    network-unavailable (NoSchedule) for hostNetwork pods;
//  - pods are created with required node affinity `matchFields metadata.name In [<node>]`
//    (replacing the template's terms, as upstream); the scheduler binds them;
//  - per node, failed pods are deleted, and extra pods beyond one (the oldest stays;
//    during a surge, the oldest old and the oldest updated one stay); a node gets a new
//    pod only once no pod of the DaemonSet is left there, terminating ones included;
//  - pods carry controller-revision-hash = the template hash (rollout::pod_template_hash
//    with status.collisionCount, upstream's ComputeHash); RollingUpdate replaces old pods
//    within maxUnavailable (delete then create) or maxSurge (create, then delete the old
//    one once the new one is available); OnDelete leaves old pods until users delete them;
//  - status: desired/current/misscheduled/ready/available/updated/unavailable,
//    observedGeneration.
// The rollout history (ControllerRevisions) is daemonset_history.h's; the hash pods are
// compared with is the current revision's controller-revision-hash.
// Pure; thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/client/cache.h"
#include "api/json.h"

namespace kernlet::controllers::daemonset {

inline constexpr std::string_view kRevisionHash = "controller-revision-hash";

struct Plan {
  std::vector<std::string> create_on;     // node names
  std::vector<client::ObjectPtr> to_delete;
  json::object status;
  std::optional<std::chrono::seconds> requeue_after;  // minReadySeconds pending
};

// The template hash of the DaemonSet's current template.
std::string current_hash(const json::object& ds);

// The tolerations every daemon pod gets (appended unless an equal key/effect exists).
void add_daemon_tolerations(json::object& pod_spec);

// The node a daemon pod is for: spec.nodeName, else its matchFields metadata.name.
std::string target_node(const json::object& pod);

// Should `node` run the pod, and may a pod already there continue?
struct NodeFit {
  bool should_run = false;
  bool should_continue = false;
};
NodeFit node_fit(const json::object& ds, const json::object& node);

// Decides one sync given all nodes and the DaemonSet's pods.
// `hash` is the current revision's (empty: current_hash(ds)).
Plan plan_sync(const json::object& ds, const std::vector<client::ObjectPtr>& nodes,
               const std::vector<client::ObjectPtr>& pods, std::chrono::system_clock::time_point now,
               std::string_view hash = {});

// The pod to create on `node`, labelled with `hash` (empty: current_hash(ds)) and
// pod-template-generation.
json::object pod_for_node(const json::object& ds, const std::string& node, std::string_view hash = {});

}  // namespace kernlet::controllers::daemonset
