// gRPC status -> kernlet Error (see rpc_error.h).
#include "csi/client/rpc_error.h"

#include <string>

#include "api/grpc_code.h"

namespace kernlet::csi {

ErrorCode error_code_for(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: return ErrorCode::kInvalidArgument;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return ErrorCode::kDeadlineExceeded;
    case grpc::StatusCode::NOT_FOUND: return ErrorCode::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS: return ErrorCode::kAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED: return ErrorCode::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED: return ErrorCode::kUnauthenticated;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return ErrorCode::kResourceExhausted;
    case grpc::StatusCode::FAILED_PRECONDITION: return ErrorCode::kFailedPrecondition;
    case grpc::StatusCode::ABORTED: return ErrorCode::kAborted;
    case grpc::StatusCode::UNIMPLEMENTED: return ErrorCode::kUnimplemented;
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNAVAILABLE: return ErrorCode::kUnavailable;
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS: return ErrorCode::kInternal;
    case grpc::StatusCode::OK:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DO_NOT_USE: break;
  }
  return ErrorCode::kUnknown;
}

Error rpc_error(std::string_view method, const grpc::Status& status) {
  std::string msg(method);
  msg += ": rpc error: code = ";
  msg += grpc_code_name(static_cast<int>(status.error_code()));
  msg += " desc = ";
  msg += status.error_message();
  return Error(error_code_for(status.error_code()), std::move(msg));
}

bool is_retriable(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kAborted:
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kInternal:
    case ErrorCode::kUnknown: return true;
    default: return false;
  }
}

}  // namespace kernlet::csi
