// The resources kernlet serves: groups, versions, kinds, scope, short names, categories,
// verbs and subresources, as Kubernetes' discovery documents describe them and kubectl
// expects them (`kubectl api-resources`, `kubectl get all`, short names like `po`, `deploy`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"

namespace kernlet::apiserver {

struct Subresource {
  std::string name;     // "status", "scale", "binding"
  std::string kind;     // "Pod", "Scale", "Binding"
  std::string group;    // for /scale: "autoscaling"; empty = the parent's group
  std::string version;  // for /scale: "v1"; empty = the parent's version
  std::vector<std::string> verbs;
};

struct ResourceInfo {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string resource;  // plural: "pods"
  std::string singular;  // "pod"
  std::string kind;      // "Pod"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  std::vector<Subresource> subresources;

  // "v1" or "apps/v1".
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  bool has_verb(std::string_view verb) const;
  const Subresource* subresource(std::string_view name) const;
};

// The built-in resource table, fixed at compile time. Thread-safe (immutable).
const std::vector<ResourceInfo>& builtin_resources();

// The resource served at /api(s)/<group>/<version>/<resource>, or nullptr.
const ResourceInfo* find_resource(std::string_view group, std::string_view version,
                                  std::string_view resource);
// The resource for an apiVersion + kind pair ("apps/v1", "Deployment"), or nullptr.
const ResourceInfo* find_kind(std::string_view api_version, std::string_view kind);

// Store keys. An object lives at /registry/<group>/<resource>/<namespace>/<name>; core
// resources have no group segment, cluster-scoped ones no namespace. key_prefix with an
// empty namespace is the prefix of the whole resource.
std::string key_prefix(const ResourceInfo& r, std::string_view ns);
std::string object_key(const ResourceInfo& r, std::string_view ns, std::string_view name);

// A key split back into its parts, or nullopt for a key of no served resource.
struct KeyParts {
  const ResourceInfo* resource = nullptr;
  std::string_view namespace_;  // empty for cluster-scoped resources
  std::string_view name;
};
std::optional<KeyParts> parse_key(std::string_view key);

// Discovery documents (legacy, per Kubernetes' APIVersions / APIGroupList / APIResourceList).
json::object core_api_versions(std::string_view server_address);  // GET /api
json::object api_group_list();                                     // GET /apis
json::object api_group(std::string_view group);                    // GET /apis/<group>; empty if unknown
json::object api_resource_list(std::string_view group, std::string_view version);  // empty if unknown

}  // namespace kernlet::apiserver
