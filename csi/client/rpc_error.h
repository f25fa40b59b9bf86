// From a failed gRPC call to a kernlet Error, and the retry decision the node agent makes on
// it. The Error keeps the gRPC code twice: as an ErrorCode callers branch on, and as its
// canonical name in the message, in the kubelet's wording (`NodeStageVolume: rpc error:
// code = Aborted desc = ...`), so a FailedMount Event reads as users know it.
//
// Thread-safety: pure functions.
#pragma once

#include <grpcpp/support/status.h>

#include <string_view>

#include "api/result.h"

namespace kernlet::csi {

// The kernlet ErrorCode for a gRPC code. INVALID_ARGUMENT and OUT_OF_RANGE ->
// kInvalidArgument, CANCELLED -> kUnavailable, DATA_LOSS -> kInternal, the rest one to one.
ErrorCode error_code_for(grpc::StatusCode code);

// The Error for `method` failing with `status`.
Error rpc_error(std::string_view method, const grpc::Status& status);

// Whether the same call may succeed when simply repeated later (with back-off): aborted,
// unavailable, deadline exceeded, resource exhausted, internal and unknown. Invalid
// argument, not found, already exists, failed precondition, unimplemented and the
// permission errors need something else to change first.
bool is_retriable(const Error& error);

}  // namespace kernlet::csi
