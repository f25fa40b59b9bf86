// Fuzzes the seccomp profile parser (Localhost profiles are user input): any input either
// parses or yields an error naming a field or position; a parsed profile respects the
// limits the compiler relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/seccomp/seccomp_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kernlet::Result<kernlet::seccomp::SeccompProfile> p = kernlet::seccomp::parse_seccomp_profile(text);
  if (!p.ok()) {
    if (p.error().message().empty()) std::abort();
    return 0;
  }
  for (const auto& rule : p->syscalls) {
    if (rule.names.empty()) std::abort();
    for (const auto& n : rule.names) {
      if (n.empty()) std::abort();
    }
    for (const auto& a : rule.args) {
      if (a.index > 5) std::abort();
    }
    if (rule.errno_ret && *rule.errno_ret > 0xffff) std::abort();
  }
  return 0;
}
