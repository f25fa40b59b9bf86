// UniqueFd for runtime/logs: the project's one fd owner (api/unique_fd.h), by its local name.
#pragma once

#include "api/unique_fd.h"

namespace kernlet::logs {

using UniqueFd = ::kernlet::UniqueFd;

}  // namespace kernlet::logs
