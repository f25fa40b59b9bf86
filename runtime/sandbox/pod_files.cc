#include "runtime/sandbox/pod_files.h"

namespace kernlet::runtime {

std::string render_etc_hosts(const std::string& hostname, const std::string& pod_ip,
                             const std::vector<HostAlias>& aliases, const std::string& fqdn) {
  std::string out =
      "# Kubernetes-managed hosts file.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  if (!pod_ip.empty()) out += pod_ip + "\t" + (fqdn.empty() ? "" : fqdn + "\t") + hostname + "\n";
  if (!aliases.empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const auto& a : aliases) {
      out += a.ip;
      for (const auto& h : a.hostnames) {
        out += "\t";
        out += h;
      }
      out += "\n";
    }
  }
  return out;
}

std::string render_resolv_conf(const DnsConfig& dns) {
  std::string out;
  size_t n = 0;
  for (const auto& s : dns.servers) {
    if (n++ == 3) break;
    out += "nameserver " + s + "\n";
  }
  if (!dns.searches.empty()) {
    out += "search";
    for (const auto& s : dns.searches) out += " " + s;
    out += "\n";
  }
  if (!dns.options.empty()) {
    out += "options";
    for (const auto& s : dns.options) out += " " + s;
    out += "\n";
  }
  return out;
}

bool valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return name.back() != '-' && name.back() != '.';
}

}  // namespace kernlet::runtime
