// The per-kind knowledge strategic merge patch needs: which lists merge, by which key,
// and which maps replace. Upstream reads it from the Go struct tags patchStrategy and
// patchMergeKey (k8s.io/api core/v1, apps/v1, batch/v1, ...); here it is a table.
// Internal to api/patch.cc.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace kernlet::api::patch_internal {

enum class FieldStrategy {
  kDefault,  // maps merge, lists and scalars replace
  kMerge,    // patchStrategy:"merge": a list merges element-wise (by merge_key, or as a set)
  kReplace,  // patchStrategy:"replace" on a map: the patch value replaces it whole
};

// One field of a type. For a list field, `fields` describe the fields of its elements.
struct SchemaNode {
  FieldStrategy strategy = FieldStrategy::kDefault;
  std::string merge_key;
  std::map<std::string, SchemaNode, std::less<>> fields;

  // The schema of member `name`, or nullptr when nothing special is known about it.
  const SchemaNode* child(std::string_view name) const;
};

// The schema of a built-in kind ("apps", "Deployment"; the core group is ""), or nullptr
// when the kind is not built in.
const SchemaNode* strategic_schema(std::string_view group, std::string_view kind);

}  // namespace kernlet::api::patch_internal
