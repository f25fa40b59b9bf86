#include "agent/server/router.h"

#include "agent/server/log_query.h"

namespace kernlet::agent {
namespace {

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_param(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

void Router::add(std::string method, std::string pattern, int id) {
  routes_.push_back(Route{std::move(method), split(pattern), id});
}

std::optional<Router::Match> Router::match(std::string_view method, std::string_view path,
                                           bool* method_mismatch) const {
  if (method_mismatch != nullptr) *method_mismatch = false;
  std::vector<std::string> segs = split(path);
  for (const Route& r : routes_) {
    Match m;
    m.id = r.id;
    bool ok = true;
    std::size_t i = 0;
    for (; ok && i < r.segments.size(); ++i) {
      const std::string& p = r.segments[i];
      if (is_param(p) && p.size() > 5 && p.compare(p.size() - 4, 4, "...}") == 0) {
        std::string rest;
        for (std::size_t k = i; k < segs.size(); ++k) rest += (k == i ? "" : "/") + segs[k];
        m.params[p.substr(1, p.size() - 5)] = rest;
        i = segs.size();
        break;
      }
      if (i >= segs.size()) {
        ok = false;
      } else if (is_param(p)) {
        auto v = url_decode(segs[i], false);
        if (!v.ok() || v->empty()) ok = false;
        else m.params[p.substr(1, p.size() - 2)] = *v;
      } else if (p != segs[i]) {
        ok = false;
      }
    }
    if (!ok || i != segs.size()) continue;
    if (r.method != method) {
      if (method_mismatch != nullptr) *method_mismatch = true;
      continue;
    }
    return m;
  }
  return std::nullopt;
}

}  // namespace kernlet::agent
