// Kubernetes pod specs -> Resources for the pod's and its containers' cgroups.
//
// Thread-safety: pure functions over views the caller keeps alive.
#pragma once

#include <cstdint>
#include <optional>

#include "api/objects/pod.h"
#include "api/result.h"
#include "runtime/cgroups/cgroup_settings.h"

namespace kernlet::cgroups {

// A container's cpu/memory requests and limits in milliCPU and bytes. A request left unset
// reads as the limit, as API defaulting makes it. pids_limit stays unset (it is a node-level
// setting). Errors name the container and the malformed quantity.
Result<Resources> container_resources(const api::ContainerView& c);

// The pod cgroup's Resources: pod_resources() over spec.containers (plus sidecar init
// containers, which run beside them) and the other spec.initContainers, with the node's
// podPidsLimit.
Result<Resources> pod_cgroup_resources(const api::PodView& pod,
                                       std::optional<int64_t> pod_pids_limit);

}  // namespace kernlet::cgroups
