// The per-pod /etc files a sandbox writes and every container of the pod bind-mounts:
// /etc/hosts, /etc/hostname, /etc/resolv.conf. Pure text rendering, unit-tested.
#pragma once

#include <string>
#include <vector>

namespace kernlet::runtime {

struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;
};

struct DnsConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;  // "ndots:5", ...
};

// /etc/hosts as the kubelet writes it for a pod that is not hostNetwork: localhost lines,
// then "<pod_ip>\t<hostname>" when the pod has an IP ("<pod_ip>\t<fqdn>\t<hostname>" when
// the pod has a subdomain, so its name.subdomain.ns.svc.<domain> resolves locally), then
// hostAliases.
std::string render_etc_hosts(const std::string& hostname, const std::string& pod_ip,
                             const std::vector<HostAlias>& aliases, const std::string& fqdn = "");

// resolv.conf: nameserver lines (at most 3, as glibc reads), one search line, one options line.
std::string render_resolv_conf(const DnsConfig& dns);

// Whether `name` is a valid hostname (RFC 1123 label list, at most 64 bytes as the kernel takes).
bool valid_hostname(const std::string& name);

}  // namespace kernlet::runtime
