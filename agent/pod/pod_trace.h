// Start-up tracing: with KERNLET_POD_TRACE set (non-empty, not "0") the agent writes one
// "T pod" line to stderr per phase of a pod's start (sandbox, container create and start,
// the whole sync, the status write), for finding where start-up time goes. Thread-safe.
#pragma once

#include <chrono>
#include <cstdlib>

namespace kernlet::agent {

inline bool trace_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("KERNLET_POD_TRACE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return on;
}

// Microseconds since `since`.
inline long long trace_us(std::chrono::steady_clock::time_point since) {
  return static_cast<long long>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - since).count());
}

}  // namespace kernlet::agent
