// The record a child process writes to its parent's report pipe during container setup,
// shared by the runtime library and the static holder/exec binary (kernlet-pod-holder).
// Fixed size so a single write() is atomic on a pipe (PIPE_BUF) and parsing needs no framing.
#pragma once

#include <stdint.h>

namespace kernlet::runtime {

inline constexpr uint32_t kChildReportMagic = 0x4b4c4352;  // "KLCR"

enum ChildReportKind : int32_t {
  kChildReady = 1,  // setup finished; waiting for the start byte
  kChildError = 2,  // setup or exec failed; errno and message set
};

struct ChildReport {
  uint32_t magic;
  int32_t kind;
  int32_t err;      // errno of the failing call, 0 if none
  char message[500];
};
static_assert(sizeof(ChildReport) <= 512, "a report must fit in PIPE_BUF for an atomic write");

}  // namespace kernlet::runtime
