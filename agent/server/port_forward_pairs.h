// The stream pairing of the port-forward protocol (portforward.k8s.io over SPDY/3.1), as
// the kubelet does it: a client asks for one forwarded connection by opening two SPDY
// streams, an error stream and a data stream, whose headers carry `streamType` ("error",
// "data"), `port` (1..65535) and `requestID` (the same for both). The connection is made
// once both are there; a pair still missing a stream after the creation timeout is given
// up (its error stream, if any, gets "timed out waiting for streams"). Clients too old to
// send requestID get one derived from the stream ids (error stream N, data stream N+2),
// which only works when they open one pair at a time.
//
// Pure bookkeeping, no I/O; not thread-safe (one per connection, io thread only).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/server/spdy.h"
#include "api/result.h"

namespace kernlet::agent {

inline constexpr std::string_view kPortForwardProtocol = "portforward.k8s.io";
// The WebSocket subprotocol kubectl 1.31+ (1.30 with KUBECTL_PORT_FORWARD_WEBSOCKETS=true)
// asks for: SPDY/3.1 frames tunnelled in binary WebSocket messages.
inline constexpr std::string_view kPortForwardTunnelProtocol = "SPDY/3.1+portforward.k8s.io";

enum class PortForwardStreamType { kData, kError };

// What one SYN_STREAM of a port-forward connection asks for.
struct PortForwardStream {
  uint32_t stream_id = 0;
  PortForwardStreamType type = PortForwardStreamType::kData;
  uint16_t port = 0;
  std::string request_id;  // from the header, or derived from the stream id
};

// Reads the headers of a new stream. Errors (kInvalidArgument), worded as the kubelet's:
// `"port" header is required`, `unable to parse "x" as a port`, `port "0" must be > 0`,
// `"streamType" header is required`, `invalid stream type "x"`.
Result<PortForwardStream> parse_port_forward_stream(uint32_t stream_id, const spdy::Headers& headers);

// A data stream and its error stream, ready to be forwarded.
struct PortForwardPair {
  std::string request_id;
  uint16_t port = 0;  // the data stream's
  uint32_t data_id = 0;
  uint32_t error_id = 0;
};

class PortForwardPairs {
 public:
  using Clock = std::chrono::steady_clock;

  struct Added {
    std::optional<PortForwardPair> complete;  // both streams are there: forward it
    // A second stream of a type the request already has: the message for the request's
    // error stream (`error_stream`, 0 when it has none yet); the new stream is refused.
    std::optional<std::string> error;
    uint32_t error_stream = 0;
  };

  // Adds a stream opened at `now`.
  Added add(const PortForwardStream& s, Clock::time_point now);

  // Requests opened before `now - timeout` and still missing a stream: removed and
  // returned (their message: timeout_message()).
  std::vector<PortForwardPair> expire(Clock::time_point now, Clock::duration timeout);
  static std::string timeout_message(const std::string& request_id);

  // Requests waiting for their second stream.
  std::size_t waiting() const { return waiting_.size(); }

 private:
  struct Waiting {
    PortForwardPair pair;
    Clock::time_point since;
  };
  std::map<std::string, Waiting> waiting_;
};

}  // namespace kernlet::agent
