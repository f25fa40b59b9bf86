// SPDY/3.1 framing, as Kubernetes' streaming protocols (exec, attach, port-forward over
// `Upgrade: SPDY/3.1`, kubectl before 1.30 and every port-forward) use it: the frame
// layout (control frames SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
// HEADERS, WINDOW_UPDATE; data frames), the name/value header block, and its zlib
// compression with the SPDY/3 dictionary (one compression context per direction for the
// whole connection, each block ended with a sync flush).
//
// Written from the SPDY/3 draft's frame definitions; no flow control is done here: the
// Kubernetes peers (moby/spdystream) neither send nor honour WINDOW_UPDATE.
//
// The free functions are pure and thread-safe; a HeaderCompressor/HeaderDecompressor keeps
// zlib state across the blocks of one connection and is not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/result.h"

namespace kernlet::agent::spdy {

inline constexpr uint16_t kVersion = 3;
inline constexpr std::size_t kHeaderBytes = 8;            // every frame starts with 8 bytes
inline constexpr uint32_t kMaxLength = 0xffffff;          // the 24-bit length field
inline constexpr uint32_t kMaxStreamId = 0x7fffffff;      // 31 bits
inline constexpr std::size_t kMaxHeaderBlockBytes = 1 << 20;  // decompressed: refuse more

enum class FrameType : uint16_t {
  kData = 0,  // not a control type: the frame's first bit is 0
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;             // data and SYN_STREAM/SYN_REPLY/HEADERS
inline constexpr uint8_t kFlagUnidirectional = 0x02;  // SYN_STREAM

// RST_STREAM status codes.
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// GOAWAY status codes.
enum GoAwayStatus : uint32_t { kGoAwayOk = 0, kGoAwayProtocolError = 1, kGoAwayInternalError = 2 };

struct Setting {
  uint8_t flags = 0;
  uint32_t id = 0;  // 24 bits
  uint32_t value = 0;
};

// One frame. Which fields mean something depends on `type`:
//   kData: stream_id, flags, payload (the data)
//   kSynStream: stream_id, associated_id, priority (0..7), slot, flags, payload (the
//     compressed header block)
//   kSynReply, kHeaders: stream_id, flags, payload (compressed header block)
//   kRstStream: stream_id, status
//   kSettings: flags, settings
//   kPing: ping_id
//   kGoAway: stream_id (last good stream), status
//   kWindowUpdate: stream_id, delta
struct Frame {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;
  uint32_t associated_id = 0;
  uint8_t priority = 0;
  uint8_t slot = 0;
  uint32_t status = 0;
  uint32_t ping_id = 0;
  uint32_t delta = 0;
  std::vector<Setting> settings;
  std::string payload;

  bool fin() const { return (flags & kFlagFin) != 0; }
};

// The wire form of `f`. Errors (kInvalidArgument): a payload over 2^24-1 bytes, a stream
// id over 31 bits, a priority over 7.
Result<std::string> encode_frame(const Frame& f);

// The first frame of `buf`: nullopt when `buf` does not hold a whole frame yet (read more);
// else the frame, and `*consumed` its length on the wire. Errors (kInvalidArgument, naming
// what is wrong): a control frame of another version than 3, an unknown control type is
// NOT an error (SPDY says ignore it: returned with its raw payload and a type value the
// enum does not name), a length that does not fit the frame type, stream id 0 where one is
// required.
Result<std::optional<Frame>> decode_frame(std::string_view buf, std::size_t* consumed);

// A frame type's name for messages ("SYN_STREAM"; "type 12" for unknown ones).
std::string frame_type_name(FrameType t);

// Header blocks. Names are lower case (the SPDY/3 rule; Go's framer lower-cases what it
// sends and rejects what is not); a name may carry several values, which travel joined by
// NUL bytes. Decoded blocks keep the wire order.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The uncompressed block. Errors (kInvalidArgument): an empty or upper-case name, a
// duplicate name.
Result<std::string> encode_header_block(const Headers& h);
// Errors (kInvalidArgument): truncated, an empty, upper-case or duplicate name, bytes left
// over after the last pair.
Result<Headers> decode_header_block(std::string_view block);

// The first value of `name` (case-insensitive), or empty.
std::string_view header_value(const Headers& h, std::string_view name);

// The SPDY/3 compression dictionary (1423 bytes), built from the draft's word list.
const std::string& header_dictionary();

// Deflates header blocks for one direction of one connection.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  // The compressed block of `h`. Errors: the encoding's, or zlib's.
  Result<std::string> compress(const Headers& h);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Inflates header blocks received on one connection.
class HeaderDecompressor {
 public:
  HeaderDecompressor();
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  // The headers of one compressed block. Errors (kInvalidArgument): not zlib data, a
  // dictionary other than SPDY/3's, a block that inflates past kMaxHeaderBlockBytes, a bad
  // decoded block. After an error the connection's compression state is lost: end it.
  Result<Headers> decompress(std::string_view block);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace kernlet::agent::spdy
