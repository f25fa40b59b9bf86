#include "agent/server/exec_protocol.h"

#include "agent/server/log_query.h"
#include "api/json.h"

namespace kernlet::agent {
namespace {

// The API machinery's query booleans: "false" and "0" are false, anything else true.
bool query_bool(std::string_view v) { return v != "false" && v != "0"; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

json::object status_base() {
  return json::object{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}}};
}

Result<ExecQuery> parse_stream_query(std::string_view query, bool attach) {
  ExecQuery q;
  KL_ASSIGN_OR_RETURN(auto params, parse_query(query));
  for (auto& [name, value] : params) {
    if (name == "command") {
      q.command.push_back(std::move(value));
    } else if (name == "input" || name == "stdin") {
      q.input = query_bool(value);
    } else if (name == "output" || name == "stdout") {
      q.output = query_bool(value);
    } else if (name == "error" || name == "stderr") {
      q.error = query_bool(value);
    } else if (name == "tty") {
      q.tty = query_bool(value);
    }
  }
  if (attach) {
    if (!q.command.empty()) return Error(ErrorCode::kInvalidArgument, "attach takes no command");
  } else if (q.command.empty()) {
    return Error(ErrorCode::kInvalidArgument, "you must specify at least one command for the container");
  }
  if (!q.input && !q.output && !q.error)
    return Error(ErrorCode::kInvalidArgument, "you must specify at least one of stdin, stdout, stderr");
  if (q.tty && q.error) return Error(ErrorCode::kInvalidArgument, "tty and stderr cannot both be true");
  return q;
}

}  // namespace

Result<ExecQuery> parse_exec_query(std::string_view query) { return parse_stream_query(query, false); }

Result<ExecQuery> parse_attach_query(std::string_view query) { return parse_stream_query(query, true); }

std::optional<std::string> negotiate_exec_protocol(std::string_view offered) {
  std::optional<std::string> v4;
  while (!offered.empty()) {
    std::size_t comma = offered.find(',');
    std::string_view p = trim(offered.substr(0, comma));
    offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
    if (p == kExecProtocolV5) return std::string(p);
    if (p == kExecProtocolV4 && !v4) v4 = std::string(p);
  }
  return v4;
}

std::string frame_message(uint8_t channel, std::string_view data) {
  std::string m;
  m.reserve(data.size() + 1);
  m.push_back(static_cast<char>(channel));
  m.append(data);
  return m;
}

Result<ExecMessage> parse_message(std::string_view message) {
  if (message.empty()) return Error(ErrorCode::kInvalidArgument, "empty message: no channel byte");
  return ExecMessage{static_cast<uint8_t>(message.front()), message.substr(1)};
}

Result<TerminalSize> parse_resize(std::string_view text) {
  auto v = json::parse_object(text, "terminal size");
  if (!v.ok()) return v.error();
  auto dim = [&](std::string_view key) -> Result<uint16_t> {
    std::optional<int64_t> n = json::get_int(*v, key);
    if (!n) return uint16_t{0};
    if (*n < 0 || *n > 65535)
      return Error(ErrorCode::kInvalidArgument, "terminal size: " + std::string(key) + " " + std::to_string(*n) +
                                                    " is outside 0..65535");
    return static_cast<uint16_t>(*n);
  };
  TerminalSize s;
  KL_ASSIGN_OR_RETURN(s.width, dim("Width"));
  KL_ASSIGN_OR_RETURN(s.height, dim("Height"));
  return s;
}

std::string exit_status_json(int exit_code, const std::vector<std::string>& command) {
  json::object s = status_base();
  if (exit_code == 0) {
    s["status"] = "Success";
    return json::dump(s);
  }
  std::string cmd = "[";
  for (std::size_t i = 0; i < command.size(); ++i) cmd += (i ? " " : "") + command[i];
  cmd += "]";
  s["status"] = "Failure";
  s["message"] = "command terminated with non-zero exit code: error executing command " + cmd + ", exit code " +
                 std::to_string(exit_code);
  s["reason"] = "NonZeroExitCode";
  s["details"] = json::object{
      {"causes", json::array{json::object{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}}}};
  return json::dump(s);
}

std::string error_status_json(std::string_view message) {
  json::object s = status_base();
  s["status"] = "Failure";
  s["message"] = message;
  s["reason"] = "InternalError";
  s["details"] = json::object{{"causes", json::array{json::object{{"message", message}}}}};
  s["code"] = 500;
  return json::dump(s);
}

}  // namespace kernlet::agent
