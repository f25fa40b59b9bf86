// The identity an image's USER (or a pod's runAsUser) names, resolved the way containerd
// does it: numeric parts as they are, names looked up in the image's own /etc/passwd and
// /etc/group (never the host's), the user's primary group from passwd when only a user is
// given, and the supplementary groups /etc/group lists for a named user.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::images {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// `layer_dirs` lowest first (Image::layer_dirs); the topmost layer that has the file wins
// (a whiteout of it counts as absent). Errors name the user or group that is not found:
// `user "app" not found in the image's /etc/passwd`.
Result<ResolvedUser> resolve_user(const std::vector<std::string>& layer_dirs, std::string_view user);

// The same over the files' contents (pure; for tests). Empty texts mean no file.
Result<ResolvedUser> resolve_user_from(std::string_view passwd, std::string_view group, std::string_view user);

}  // namespace kernlet::images
