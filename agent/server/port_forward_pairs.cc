#include "agent/server/port_forward_pairs.h"

#include <charconv>

namespace kernlet::agent {

Result<PortForwardStream> parse_port_forward_stream(uint32_t stream_id, const spdy::Headers& headers) {
  auto bad = [](std::string m) { return Error(ErrorCode::kInvalidArgument, std::move(m)); };
  PortForwardStream s;
  s.stream_id = stream_id;
  const std::string port(spdy::header_value(headers, "port"));
  if (port.empty()) return bad("\"port\" header is required");
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || end != port.data() + port.size() || v > 65535) {
    return bad("unable to parse \"" + port + "\" as a port");
  }
  if (v < 1) return bad("port \"" + port + "\" must be > 0");
  s.port = static_cast<uint16_t>(v);
  const std::string type(spdy::header_value(headers, "streamtype"));
  if (type.empty()) return bad("\"streamType\" header is required");
  if (type == "data") {
    s.type = PortForwardStreamType::kData;
  } else if (type == "error") {
    s.type = PortForwardStreamType::kError;
  } else {
    return bad("invalid stream type \"" + type + "\"");
  }
  s.request_id = std::string(spdy::header_value(headers, "requestid"));
  if (s.request_id.empty()) {
    // An old client: its error stream N and data stream N+2 make one request.
    const uint32_t base = s.type == PortForwardStreamType::kError ? stream_id : stream_id - 2;
    s.request_id = "stream-" + std::to_string(base);
  }
  return s;
}

PortForwardPairs::Added PortForwardPairs::add(const PortForwardStream& s, Clock::time_point now) {
  Added out;
  auto [it, created] = waiting_.try_emplace(s.request_id, Waiting{PortForwardPair{s.request_id}, now});
  (void)created;
  PortForwardPair& p = it->second.pair;
  uint32_t& slot = s.type == PortForwardStreamType::kData ? p.data_id : p.error_id;
  if (slot != 0) {
    out.error = "error processing stream for request " + s.request_id + ": " +
                (s.type == PortForwardStreamType::kData ? "data" : "error") + " stream already assigned";
    out.error_stream = p.error_id;
    return out;
  }
  slot = s.stream_id;
  if (s.type == PortForwardStreamType::kData) p.port = s.port;
  if (p.data_id != 0 && p.error_id != 0) {
    out.complete = std::move(p);
    waiting_.erase(it);
  }
  return out;
}

std::vector<PortForwardPair> PortForwardPairs::expire(Clock::time_point now, Clock::duration timeout) {
  std::vector<PortForwardPair> out;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (now - it->second.since >= timeout) {
      out.push_back(std::move(it->second.pair));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::string PortForwardPairs::timeout_message(const std::string& request_id) {
  return "(request " + request_id + ") timed out waiting for streams";
}

}  // namespace kernlet::agent
