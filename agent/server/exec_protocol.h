// The remote-command protocol of the kubelet API's /exec (and /attach) endpoints over
// WebSocket, as kubectl 1.30+ speaks it: subprotocols v5.channel.k8s.io and
// v4.channel.k8s.io, every message binary with the channel in its first byte (0 stdin,
// 1 stdout, 2 stderr, 3 error/status, 4 resize), the status a metav1.Status JSON, and in
// v5 the close signal (channel 255, payload = the channel closed: stdin EOF).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::agent {

enum ExecChannel : uint8_t {
  kChannelStdin = 0,
  kChannelStdout = 1,
  kChannelStderr = 2,
  kChannelError = 3,
  kChannelResize = 4,
  kChannelClose = 255,  // v5 only: the payload's first byte names the channel closed
};

inline constexpr std::string_view kExecProtocolV5 = "v5.channel.k8s.io";
inline constexpr std::string_view kExecProtocolV4 = "v4.channel.k8s.io";

// The query of /exec/{ns}/{pod}/{container}, as kube-apiserver forwards a PodExecOptions:
// command (repeated), input, output, error, tty. kubectl's own names (stdin, stdout,
// stderr) are accepted too, so the endpoint also answers a client that calls it directly.
struct ExecQuery {
  std::vector<std::string> command;
  bool input = false;   // stdin
  bool output = false;  // stdout
  bool error = false;   // stderr
  bool tty = false;
};

// Parses and checks the query. Errors (kInvalidArgument): a malformed escape, no command
// (`you must specify at least one command for the container`), no stream (`you must
// specify at least one of stdin, stdout, stderr`), tty together with stderr (`tty and
// stderr cannot both be true`: a terminal has one output).
Result<ExecQuery> parse_exec_query(std::string_view query);

// The query of /attach/{ns}/{pod}/{container} (PodAttachOptions): as parse_exec_query
// but without a command (one is an error: `attach takes no command`).
Result<ExecQuery> parse_attach_query(std::string_view query);

// The subprotocol to answer from a Sec-WebSocket-Protocol header (a comma-separated list
// in the client's order of preference): the first of v5 and v4 the client offers; nullopt
// when it offers neither.
std::optional<std::string> negotiate_exec_protocol(std::string_view offered);

// One message on the wire: the channel byte followed by the data.
std::string frame_message(uint8_t channel, std::string_view data);

struct ExecMessage {
  uint8_t channel = 0;
  std::string_view data;  // a view into the message
};
// Splits a received message. Errors (kInvalidArgument): an empty message.
Result<ExecMessage> parse_message(std::string_view message);

// A terminal size from channel 4 ({"Width":80,"Height":24}). Errors (kInvalidArgument):
// not JSON, or a size outside 0..65535.
struct TerminalSize {
  uint16_t width = 0;
  uint16_t height = 0;
};
Result<TerminalSize> parse_resize(std::string_view json);

// The metav1.Status sent on channel 3 when the command has ended: Success for exit code
// 0; else Failure, reason NonZeroExitCode, details.causes[{reason: ExitCode, message:
// "<code>"}], from which kubectl takes its own exit code.
std::string exit_status_json(int exit_code, const std::vector<std::string>& command);
// The Failure Status for a command that could not be run at all (InternalError, 500).
std::string error_status_json(std::string_view message);

}  // namespace kernlet::agent
