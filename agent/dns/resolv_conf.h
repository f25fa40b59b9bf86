// resolv.conf as glibc reads it: nameserver, search (and the older domain) and options
// lines. Used for the node's resolver (the upstreams cluster DNS forwards to, and the
// dnsPolicy Default of pods) and in the pod DNS mapping (pod_dns.h). Pure; unit-tested.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::agent::dns {

struct ResolvConf {
  std::vector<std::string> nameservers;  // as written (IPv4 or IPv6 literals)
  std::vector<std::string> searches;     // without a trailing dot
  std::vector<std::string> options;      // "ndots:5", "rotate", ...
};

// Parses the text. Comments start with '#' or ';'; the last search or domain line wins (as
// in glibc); unknown keywords are ignored. Never fails: a resolv.conf is advisory.
ResolvConf parse_resolv_conf(std::string_view text);

// Reads and parses the file. Errors name the path (kNotFound when it does not exist).
Result<ResolvConf> read_resolv_conf(const std::string& path);

}  // namespace kernlet::agent::dns
