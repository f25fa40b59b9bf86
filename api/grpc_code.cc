// gRPC status code names (see grpc_code.h).
#include "api/grpc_code.h"

#include <array>

namespace kernlet {

std::string_view grpc_code_name(int code) {
  static constexpr std::array<std::string_view, 17> kNames = {
      "OK",               "Canceled",          "Unknown",          "InvalidArgument",
      "DeadlineExceeded", "NotFound",          "AlreadyExists",    "PermissionDenied",
      "ResourceExhausted", "FailedPrecondition", "Aborted",        "OutOfRange",
      "Unimplemented",    "Internal",          "Unavailable",      "DataLoss",
      "Unauthenticated"};
  if (code < 0 || code >= static_cast<int>(kNames.size())) return "Unknown";
  return kNames[static_cast<size_t>(code)];
}

}  // namespace kernlet
