// UniqueFd for runtime/cgroups: the project's one fd owner (api/unique_fd.h), by its local name.
#pragma once

#include "api/unique_fd.h"

namespace kernlet::cgroups {

using UniqueFd = ::kernlet::UniqueFd;

}  // namespace kernlet::cgroups
