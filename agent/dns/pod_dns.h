// pod_dns: a pod's /etc/resolv.conf content (runtime::DnsConfig) from its dnsPolicy and
// dnsConfig, by the kubelet's rules (pkg/kubelet/network/dns):
//  - ClusterFirst: nameserver = the cluster DNS addresses, search = <ns>.svc.<domain>
//    svc.<domain> <domain> + the node's search list, options ndots:5. A hostNetwork pod
//    with ClusterFirst gets Default instead; ClusterFirstWithHostNet keeps the cluster's.
//    Without --cluster-dns the agent has no cluster DNS, and ClusterFirst falls back to
//    Default (with a warning), as the kubelet does.
//  - Default: the node's resolv.conf (--resolv-conf): its nameservers, search and options.
//  - None: nothing but spec.dnsConfig.
//  - spec.dnsConfig then merges in for every policy: nameservers and searches appended
//    without duplicates, options by name (the pod's value wins).
//  - Limits: at most 3 nameservers, 32 search domains and 2048 characters of search list;
//    what is over is dropped with a warning (the kubelet's DNSConfigForming event).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "agent/dns/resolv_conf.h"
#include "api/objects/pod.h"
#include "runtime/sandbox/pod_files.h"

namespace kernlet::agent::dns {

struct PodDnsSettings {
  std::vector<std::string> cluster_dns;          // --cluster-dns; empty: no cluster DNS
  std::string cluster_domain = "cluster.local";  // --cluster-domain
  ResolvConf host;                               // the node's resolv.conf (--resolv-conf)
};

inline constexpr size_t kMaxNameservers = 3;
inline constexpr size_t kMaxSearchDomains = 32;
inline constexpr size_t kMaxSearchChars = 2048;

// The resolv.conf of `pod`. Problems (a policy fallen back, entries dropped over the
// limits) are described in *warnings when given; an unknown dnsPolicy reads as
// ClusterFirst (the API server's default) with a warning.
runtime::DnsConfig pod_dns_config(const api::PodView& pod, const PodDnsSettings& settings,
                                  std::vector<std::string>* warnings = nullptr);

}  // namespace kernlet::agent::dns
