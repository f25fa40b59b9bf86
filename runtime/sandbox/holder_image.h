// The kernlet-pod-holder binary (holder_main.cc), embedded in this library and exposed as a
// sealed memfd: executing it from there means no process in a pod can reach a writable
// host binary through /proc/<pid>/exe (CVE-2019-5736), and the runtime needs no install path.
#pragma once

#include "api/result.h"

namespace kernlet::runtime {

// The process-wide sealed memfd holding the holder binary (created on first use, kept open
// with O_CLOEXEC for the life of the process). Thread-safe.
Result<int> holder_image_fd();

}  // namespace kernlet::runtime
