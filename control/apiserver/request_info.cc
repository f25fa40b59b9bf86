#include "control/apiserver/request_info.h"

#include <charconv>
#include <vector>

namespace kernlet::apiserver {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

Result<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Error(ErrorCode::kInvalidArgument,
                     "invalid URL escape \"" + std::string(s.substr(i, 3)) + "\"");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string_view> RequestInfo::param(std::string_view key) const {
  auto [begin, end] = query.equal_range(key);
  if (begin == end) return std::nullopt;
  return std::prev(end)->second;
}

Result<bool> RequestInfo::bool_param(std::string_view key) const {
  auto v = param(key);
  if (!v || v->empty() || *v == "false" || *v == "0") return false;
  if (*v == "true" || *v == "1") return true;
  return Error(ErrorCode::kInvalidArgument,
               "invalid value for query parameter " + std::string(key) + ": \"" + std::string(*v) +
                   "\" (want true or false)");
}

Result<std::optional<int64_t>> RequestInfo::int_param(std::string_view key) const {
  auto v = param(key);
  if (!v || v->empty()) return std::optional<int64_t>();
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid value for query parameter " + std::string(key) + ": \"" + std::string(*v) +
                     "\" (want an integer)");
  }
  return std::optional<int64_t>(n);
}

Result<RequestInfo> parse_request_info(std::string_view method, std::string_view target) {
  RequestInfo info;
  std::string_view raw_path = target;
  std::string_view raw_query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    raw_path = target.substr(0, q);
    raw_query = target.substr(q + 1);
  }
  KL_ASSIGN_OR_RETURN(info.path, url_decode(raw_path, false));
  if (!raw_query.empty()) {
    for (std::string_view pair : split(raw_query, '&')) {
      if (pair.empty()) continue;
      std::size_t eq = pair.find('=');
      KL_ASSIGN_OR_RETURN(std::string key, url_decode(pair.substr(0, eq), true));
      std::string value;
      if (eq != std::string_view::npos) {
        KL_ASSIGN_OR_RETURN(value, url_decode(pair.substr(eq + 1), true));
      }
      info.query.emplace(std::move(key), std::move(value));
    }
  }
  info.verb = lower(method);

  std::string_view p = info.path;
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  std::vector<std::string_view> parts = p.empty() ? std::vector<std::string_view>{} : split(p, '/');
  if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) return info;
  for (auto part : parts) {
    if (part.empty()) {
      return Error(ErrorCode::kInvalidArgument, "invalid path \"" + info.path + "\": empty segment");
    }
  }

  info.api_prefix = std::string(parts[0]);
  std::size_t i = 1;
  if (info.api_prefix == "apis") {
    if (parts.size() < 3) return info;  // /apis or /apis/<group>: discovery
    info.api_group = std::string(parts[1]);
    i = 2;
  } else if (parts.size() < 2) {
    return info;  // /api: discovery
  }
  info.api_version = std::string(parts[i++]);
  if (i == parts.size()) return info;  // /api/v1 or /apis/<g>/<v>: discovery

  info.is_resource_request = true;
  // Legacy watch paths: /api/v1/watch/namespaces/x/pods
  bool legacy_watch = false;
  if (parts[i] == "watch") {
    legacy_watch = true;
    ++i;
  }
  std::vector<std::string_view> rest(parts.begin() + static_cast<std::ptrdiff_t>(i), parts.end());
  if (rest.empty()) {
    return Error(ErrorCode::kInvalidArgument, "invalid path \"" + info.path + "\": no resource");
  }
  // namespaces/<ns>/<resource>/... ; but /namespaces/<name>[/status|finalize] is the
  // namespace object itself.
  if (rest[0] == "namespaces" && rest.size() >= 3) {
    bool namespace_subresource = rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize");
    if (!namespace_subresource) {
      info.namespace_ = std::string(rest[1]);
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  info.resource = std::string(rest[0]);
  if (rest.size() >= 2) info.name = std::string(rest[1]);
  if (rest.size() >= 3) info.subresource = std::string(rest[2]);
  if (rest.size() > 3) {
    return Error(ErrorCode::kInvalidArgument, "invalid path \"" + info.path + "\": too many segments");
  }
  if (info.resource == "namespaces" && !info.name.empty() && rest.size() == 2) {
    // GET /api/v1/namespaces/<name>: the namespace itself, not a namespaced request.
    info.namespace_.clear();
  }

  const bool collection = info.name.empty();
  if (info.verb == "get" || info.verb == "head") {
    KL_ASSIGN_OR_RETURN(bool watch, info.bool_param("watch"));
    if (legacy_watch || watch) {
      info.verb = "watch";
      if (!info.name.empty() && info.subresource.empty()) {
        // A watch on one object is a filtered watch of the collection, as upstream does.
        info.query.emplace("fieldSelector", "metadata.name=" + info.name);
      }
    } else {
      info.verb = collection ? "list" : "get";
    }
  } else if (info.verb == "post") {
    info.verb = "create";
  } else if (info.verb == "put") {
    info.verb = "update";
  } else if (info.verb == "patch") {
    info.verb = "patch";
  } else if (info.verb == "delete") {
    info.verb = collection ? "deletecollection" : "delete";
  }
  return info;
}

}  // namespace kernlet::apiserver
