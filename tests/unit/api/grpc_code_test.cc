// grpc_code_name: the names the kubelet's messages quote, for every code of the protocol.
#include "api/grpc_code.h"

#include <gtest/gtest.h>

namespace kernlet {
namespace {

TEST(GrpcCodeName, NamesEveryCodeAsGoPrintsIt) {
  EXPECT_EQ(grpc_code_name(0), "OK");
  EXPECT_EQ(grpc_code_name(1), "Canceled");  // Go's spelling, not CANCELLED
  EXPECT_EQ(grpc_code_name(4), "DeadlineExceeded");
  EXPECT_EQ(grpc_code_name(9), "FailedPrecondition");
  EXPECT_EQ(grpc_code_name(10), "Aborted");
  EXPECT_EQ(grpc_code_name(12), "Unimplemented");
  EXPECT_EQ(grpc_code_name(14), "Unavailable");
  EXPECT_EQ(grpc_code_name(16), "Unauthenticated");
}

TEST(GrpcCodeName, UnknownNumbersAreUnknown) {
  EXPECT_EQ(grpc_code_name(-1), "Unknown");
  EXPECT_EQ(grpc_code_name(17), "Unknown");
  EXPECT_EQ(grpc_code_name(1 << 20), "Unknown");
}

}  // namespace
}  // namespace kernlet
