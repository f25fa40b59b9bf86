// PATCH semantics of the Kubernetes API server: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and strategic merge patch for built-in kinds.
//
// All three are pure functions of JSON documents: no store, no server. The caller decodes
// the request body, applies the patch to the stored object and validates the result.
//
// Error codes, and the HTTP answer the apiserver gives for each (patch_error_status):
//   kInvalidArgument   the patch document is malformed                      -> 400 BadRequest
//   kConflict          a well-formed patch does not apply to this object:    -> 422 Invalid,
//                      a JSON patch path that is missing, a failed `test`,      message "the server
//                      a strategic list of lists                                rejected our request
//                                                                               due to an error in
//                                                                               our request", the
//                                                                               detail in causes[0]
//   kResourceExhausted more than 10000 JSON patch operations                 -> 413
//   kInternal          strategic merge failures upstream does not classify   -> 500 (reason "")
//                      (a list element without its merge key, mixed element types)
// Kubernetes does not tell a failed `test` apart from other JSON patch failures: both are 422.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "api/status.h"

namespace kernlet::api {

enum class PatchType {
  kJson,            // application/json-patch+json
  kMerge,           // application/merge-patch+json
  kStrategicMerge,  // application/strategic-merge-patch+json
};

// Maps a Content-Type to its patch type; kInvalidArgument for anything else.
Result<PatchType> patch_type_from_content_type(std::string_view content_type);

// RFC 7386 JSON merge patch: null members delete, objects merge recursively, any other
// patch value (arrays included) replaces. A non-object patch replaces the whole document
// (the apiserver then fails to decode a non-object; a `null` patch is a 400 there).
Result<json::value> apply_merge_patch(const json::value& original, const json::value& patch);

// One decoded RFC 6902 operation.
struct JsonPatchOperation {
  enum class Op { kAdd, kRemove, kReplace, kMove, kCopy, kTest };
  Op op;
  std::string path;   // a JSON pointer, still escaped
  std::string from;   // move and copy
  json::value value;  // add, replace and test
};

// The apiserver's limit on operations in one JSON patch (maxJSONPatchOperations).
inline constexpr std::size_t kMaxJsonPatchOperations = 10000;
// Bytes that `copy` operations may add to a document in one patch; the apiserver arms
// evanphx/json-patch's AccumulatedCopySizeLimit with its request body limit, 3 MiB.
inline constexpr std::size_t kMaxJsonPatchCopyBytes = 3 * 1024 * 1024;

// Decodes a JSON patch document: an array of operation objects. kInvalidArgument names
// the operation ("json patch operation 1: missing \"path\""); more than
// kMaxJsonPatchOperations is kResourceExhausted.
Result<std::vector<JsonPatchOperation>> decode_json_patch(const json::value& patch);

// Applies decoded operations in order, all or nothing. A failed `test` is kConflict
// ("json patch operation 0 (test /a): test failed"); a missing path or bad index is
// kConflict too ("json patch operation 2 (remove /spec/foo): path not found").
Result<json::value> apply_json_patch(const json::value& original,
                                     const std::vector<JsonPatchOperation>& operations);

// decode_json_patch then apply.
Result<json::value> apply_json_patch(const json::value& original, const json::value& patch);

// Whether the apiserver accepts a strategic merge patch for this kind: built-in kinds
// only. Custom resources answer 415 UnsupportedMediaType for
// application/strategic-merge-patch+json, since their Go struct tags are unknown.
bool strategic_merge_patch_supported(std::string_view api_version, std::string_view kind);

// Kubernetes strategic merge patch (k8s.io/apimachinery strategicpatch, as the apiserver
// applies it): lists declared patchStrategy=merge merge by their patchMergeKey (or as sets
// of primitives), other lists and scalars replace, maps merge; null deletes; directives
// $patch (replace, delete, in maps and list elements), $retainKeys,
// $deleteFromPrimitiveList/<list> and $setElementOrder/<list>. Both documents must be
// objects. An unsupported kind is kInvalidArgument "strategic merge patch format is not
// supported" (what StrategicMergeMapPatch says for unstructured objects).
Result<json::value> apply_strategic_merge_patch(const json::value& original,
                                                const json::value& patch,
                                                std::string_view api_version,
                                                std::string_view kind);

// The Status the Kubernetes apiserver answers when applying a patch failed with `e`.
Status patch_error_status(const Error& e);

}  // namespace kernlet::api
