// local_address: makes the cluster DNS address local to the node's network namespace, so
// the agent can listen on it and pods reach it through their gateway.
//
// Decision: an address that is not on the node yet goes on the loopback link as a host
// address (/32, /128) with the IPv4 label "lo:kldns", through netlink (libmnl). NodeLocal
// DNSCache uses a dummy link; this kernel has no dummy link type, and an address on lo is
// local just as well (a packet from a pod's veth to it is delivered, not forwarded). The
// address stays when the agent stops, so pods keep their nameserver across a restart; it
// goes with the namespace. Link-local 169.254.20.10 is the usual choice (never routed).
// Thread-safety: stateless; each call opens its own netlink socket.
#pragma once

#include <string>

#include "api/result.h"

namespace kernlet::agent::dns {

// Whether `ip` is an address of some interface in the calling thread's netns.
bool is_local_address(const std::string& ip);

// Adds `ip` to lo unless it is local already. Returns true when it added it. Errors name the
// address (kInvalidArgument for a bad literal; netlink errors).
Result<bool> ensure_local_address(const std::string& ip);

// Removes `ip` from lo (tests). Absent is not an error.
Result<void> remove_loopback_address(const std::string& ip);

}  // namespace kernlet::agent::dns
