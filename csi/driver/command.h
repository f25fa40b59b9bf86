// Runs a helper binary of kernlet-csi-local (mkfs.ext4, resize2fs) and waits for it: no
// shell, arguments passed as they are, stderr captured for the error message.
//
// Thread-safety: safe to call concurrently (posix_spawn, waitpid on the child's own pid).
#pragma once

#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::csi::local {

// Runs argv[0] (looked up in PATH) with `argv`; ok when it exits with a status of at most
// `max_ok_status` (0; e2fsck's 1 means "errors corrected"). Otherwise the error says how it
// ended and the last of its stderr.
Result<void> run_command(const std::vector<std::string>& argv, int max_ok_status = 0);

}  // namespace kernlet::csi::local
