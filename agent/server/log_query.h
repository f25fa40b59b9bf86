// The query of GET /containerLogs/{namespace}/{pod}/{container}, as the kubelet reads it
// (v1.PodLogOptions in URL form). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/result.h"
#include "runtime/logs/log_reader.h"

namespace kernlet::agent {

struct LogQuery {
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> since_seconds;
  std::optional<logs::TimePoint> since_time;
  std::optional<int64_t> limit_bytes;
};

// Decodes percent-escapes (and, in a query, '+' as space). Errors: a malformed escape
// (kInvalidArgument).
Result<std::string> url_decode(std::string_view s, bool plus_is_space = true);

// A query string (`a=b&c=d`, without the '?') as URL-decoded (name, value) pairs in order;
// empty pairs are skipped, a name without '=' has an empty value. Errors: a malformed escape.
Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

// Parses the query string (the part after '?'). Booleans follow the API machinery's
// conversion: "false" and "0" are false, any other value (even empty) true. Integers must
// parse; tailLines >= 0, sinceSeconds >= 1, limitBytes >= 1; sinceTime is RFC 3339; at
// most one of sinceSeconds and sinceTime. Unknown parameters are ignored. Errors
// (kInvalidArgument) name the parameter: `invalid tailLines "x": not an integer`.
Result<LogQuery> parse_log_query(std::string_view query);

// The reader options for `q` answered at `now` (sinceSeconds counts back from now).
logs::LogReadOptions read_options(const LogQuery& q, logs::TimePoint now);

}  // namespace kernlet::agent
