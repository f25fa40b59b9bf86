#include "agent/dns/resolv_conf.h"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace kernlet::agent::dns {

namespace {

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

std::string without_dot(std::string s) {
  while (s.size() > 1 && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf rc;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (size_t c = line.find_first_of("#;"); c != std::string_view::npos) line = line.substr(0, c);
    auto f = fields(line);
    if (f.empty()) continue;
    if (f[0] == "nameserver" && f.size() >= 2) {
      rc.nameservers.push_back(f[1]);
    } else if (f[0] == "search" || f[0] == "domain") {
      rc.searches.clear();
      for (size_t i = 1; i < f.size(); ++i) rc.searches.push_back(without_dot(f[i]));
    } else if (f[0] == "options") {
      for (size_t i = 1; i < f.size(); ++i) rc.options.push_back(f[i]);
    }
  }
  return rc;
}

Result<ResolvConf> read_resolv_conf(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "read resolv.conf " + path + ": no such file");
    return Error::from_errno("read resolv.conf " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_resolv_conf(ss.str());
}

}  // namespace kernlet::agent::dns
