// Router: maps a method and a path to a route by patterns such as
// "/containerLogs/{namespace}/{pod}/{container}". A "{name}" segment matches one
// non-empty path segment (percent-decoded); "{name...}" as the last segment matches the
// rest of the path. The kubelet API's exec/attach/portForward join as more routes.
// Not thread-safe to modify; match() is const and thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernlet::agent {

using PathParams = std::map<std::string, std::string, std::less<>>;

class Router {
 public:
  // Adds a route; `id` is returned by match(). Patterns are tried in the order added.
  void add(std::string method, std::string pattern, int id);

  struct Match {
    int id = -1;
    PathParams params;
  };
  // The route for `method` and `path` (no query). nullopt when no pattern matches;
  // `method_mismatch` is set when a pattern matched the path but not the method (405).
  std::optional<Match> match(std::string_view method, std::string_view path, bool* method_mismatch = nullptr) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    int id;
  };
  std::vector<Route> routes_;
};

}  // namespace kernlet::agent
