// RequestInfo: what an API request addresses, parsed from its method, path and query the
// way Kubernetes' apiserver does (verb, API group/version, namespace, resource, name,
// subresource), before any handler runs. Pure: no I/O, unit-tested without a server.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::apiserver {

struct RequestInfo {
  // True for /api/... and /apis/... resource requests; false for /version, /healthz,
  // discovery (/api, /apis, /apis/<g>, /apis/<g>/<v>) and anything else.
  bool is_resource_request = false;
  std::string path;          // decoded path
  // Kubernetes verbs: get, list, watch, create, update, patch, delete, deletecollection.
  // For non-resource requests: the lowercase HTTP method.
  std::string verb;
  std::string api_prefix;    // "api" or "apis"
  std::string api_group;     // "" for core
  std::string api_version;   // "v1"
  std::string namespace_;    // "" for cluster-scoped or all-namespace requests
  std::string resource;      // "pods"
  std::string subresource;   // "status", "binding", "scale", …
  std::string name;          // "" for collection requests
  std::multimap<std::string, std::string, std::less<>> query;  // decoded parameters

  // The last value of a query parameter, if present.
  std::optional<std::string_view> param(std::string_view key) const;
  // A boolean query parameter: "true"/"1" → true, "false"/"0"/absent → false. Other values
  // are an error naming the parameter.
  Result<bool> bool_param(std::string_view key) const;
  // An integer query parameter (absent → nullopt); malformed → error naming it.
  Result<std::optional<int64_t>> int_param(std::string_view key) const;
};

// Parses a request target ("/api/v1/namespaces/default/pods?watch=1") for an HTTP method
// ("GET"). Malformed percent-escapes or path segments are errors (kInvalidArgument).
Result<RequestInfo> parse_request_info(std::string_view method, std::string_view target);

// Percent-decoding as Go's url.QueryUnescape (`+` → space when `plus_is_space`).
Result<std::string> url_decode(std::string_view s, bool plus_is_space);

}  // namespace kernlet::apiserver
