// The canonical names of gRPC status codes, as Go's codes.Code prints them ("OK",
// "Canceled", "InvalidArgument", ...): the wording of the kubelet's messages that quote a
// gRPC error ("rpc error: code = Unavailable desc = ..."), which users and tools match on.
// The codes are the gRPC wire protocol's numbers (0-16), so this needs no gRPC headers;
// callers pass `static_cast<int>(grpc::StatusCode)`.
//
// Thread-safety: pure function.
#pragma once

#include <string_view>

namespace kernlet {

// The name of gRPC status code `code`; "Code(<n>)" is not built for unknown numbers, they
// read "Unknown" (a code this side does not know is unknown to it).
std::string_view grpc_code_name(int code);

}  // namespace kernlet
