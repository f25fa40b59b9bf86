// subPath and subPathExpr: expansion, validation and a race-free open beneath the volume.
// Thread-safety: free functions; safe to call concurrently.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "api/unique_fd.h"

namespace kernlet::csi {

// A container's resolved environment, name -> value.
using EnvMap = std::map<std::string, std::string, std::less<>>;

// An EnvMap from "NAME=value" strings (what agent/podspec's container_env returns); the
// last definition of a name wins; entries without '=' are skipped.
EnvMap env_map_from_strings(const std::vector<std::string>& env);

// Expands $(VAR) in a subPathExpr with the container's environment, as the kubelet does:
// `$$` is a literal `$`, a `$` not followed by `(`...`)` stays as written. A referenced
// variable that is unset or empty is an error: `missing value for A, B` (sorted).
Result<std::string> expand_sub_path_expr(std::string_view expr, const EnvMap& env);

// Checks a (possibly expanded) subPath: relative and without a ".." element. Errors are
// kInvalidArgument and name the subPath.
Result<void> validate_sub_path(std::string_view sub_path);

// Opens `root`/`sub_path` as an O_PATH fd without leaving `root`: resolved by openat2(2)
// with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so neither ".." nor a symlink (relative or
// absolute) can lead outside, and no path is re-walked later by anyone. Missing
// directories are created (each with mkdirat on a parent fd opened beneath `root`, mode
// copied from `root`, as the kubelet does). An absolute symlink whose target lies inside
// `root` as the host sees it (allowed upstream) is accepted through a second, symlink-free
// walk of its resolved path. Errors name the subPath and the volume path:
// `subpath "x" not within volume path "/v"`.
Result<UniqueFd> open_sub_path(const std::string& root, std::string_view sub_path);

}  // namespace kernlet::csi
