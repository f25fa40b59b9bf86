#include "agent/server/log_query.h"

#include <cctype>
#include <charconv>

#include "api/time.h"

namespace kernlet::agent {
namespace {

Error bad(std::string_view name, std::string_view value, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               "invalid " + std::string(name) + " \"" + std::string(value) + "\": " + std::string(why));
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The API machinery's string -> bool conversion for query parameters.
bool parse_bool(std::string_view v) {
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(lower == "false" || lower == "0");
}

Result<int64_t> parse_int(std::string_view name, std::string_view v) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return bad(name, v, "not an integer");
  return out;
}

}  // namespace

Result<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        return Error(ErrorCode::kInvalidArgument, "malformed escape in \"" + std::string(s) + "\"");
      }
      int hi = hex(s[i + 1]);
      int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return Error(ErrorCode::kInvalidArgument, "malformed escape in \"" + std::string(s) + "\"");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    KL_ASSIGN_OR_RETURN(std::string name, url_decode(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      KL_ASSIGN_OR_RETURN(value, url_decode(pair.substr(eq + 1)));
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

Result<LogQuery> parse_log_query(std::string_view query) {
  LogQuery q;
  KL_ASSIGN_OR_RETURN(auto params, parse_query(query));
  for (auto& [name, value] : params) {
    if (name == "follow") {
      q.follow = parse_bool(value);
    } else if (name == "previous") {
      q.previous = parse_bool(value);
    } else if (name == "timestamps") {
      q.timestamps = parse_bool(value);
    } else if (name == "tailLines" || name == "sinceSeconds" || name == "limitBytes") {
      if (value.empty()) continue;  // an empty pointer field stays unset
      KL_ASSIGN_OR_RETURN(int64_t n, parse_int(name, value));
      if (name == "tailLines") {
        if (n < 0) return bad(name, value, "must be greater than or equal to 0");
        q.tail_lines = n;
      } else if (n < 1) {
        return bad(name, value, "must be greater than 0");
      } else if (name == "sinceSeconds") {
        q.since_seconds = n;
      } else {
        q.limit_bytes = n;
      }
    } else if (name == "sinceTime") {
      if (value.empty()) continue;
      auto t = api::parse_rfc3339(value);
      if (!t.ok()) return bad(name, value, "not an RFC 3339 time");
      q.since_time = *t;
    }
  }
  if (q.since_seconds && q.since_time) {
    return Error(ErrorCode::kInvalidArgument, "at most one of sinceTime or sinceSeconds may be specified");
  }
  return q;
}

logs::LogReadOptions read_options(const LogQuery& q, logs::TimePoint now) {
  logs::LogReadOptions o;
  o.tail_lines = q.tail_lines;
  o.timestamps = q.timestamps;
  o.limit_bytes = q.limit_bytes;
  o.follow = q.follow;
  if (q.since_time) o.since = *q.since_time;
  if (q.since_seconds) o.since = now - std::chrono::seconds(*q.since_seconds);
  return o;
}

}  // namespace kernlet::agent
