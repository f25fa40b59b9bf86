// What a Service's backends are, as the EndpointSlice and Endpoints controllers compute
// them: the pods its selector matches that have an IP and have not finished, each with
// its ready/serving/terminating conditions, its node and zone, and its ports — named
// target ports resolved per pod, so pods that number a port differently land in
// different slices. Slices hold at most `max_endpoints` endpoints (100 by default).
//
// Pure: the controller lists the Service's pods and diffs the result against the slices
// it owns. Thread-safe (no state).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::controllers::endpoints {

inline constexpr std::string_view kManagedBy = "endpointslice-controller.k8s.io";

struct Inputs {
  const json::object* service = nullptr;
  std::vector<const json::object*> pods;         // the Service's namespace; filtered here
  std::map<std::string, std::string> node_zones;  // node name → topology.kubernetes.io/zone
  std::size_t max_endpoints = 100;
};

// The EndpointSlices (discovery.k8s.io/v1, complete objects with labels and the owner
// reference) the Service should have; names are stable for the same port set:
// `<service>-<port-set hash>[-<n>]`. A Service without a selector gets none (its slices
// are managed by hand).
std::vector<json::object> desired_endpoint_slices(const Inputs& in);

// The legacy core/v1 Endpoints object: subsets grouped by port set, ready pods under
// `addresses`, the others under `notReadyAddresses`; terminating pods left out unless
// publishNotReadyAddresses.
json::object desired_endpoints(const Inputs& in);

// Whether `pod` is selected by the Service (its selector, its namespace).
bool selects(const json::object& service, const json::object& pod);

}  // namespace kernlet::controllers::endpoints
