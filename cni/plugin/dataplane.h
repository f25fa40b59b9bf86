// Dataplane: the kernel side effects of kernlet-cni behind one interface, so the command
// logic (plugin.h) is unit-tested with a fake and the netlink implementation gets its own
// root-only integration test.
//
// Thread-safety: implementations are used by one thread (the plugin is single-threaded);
// the netlink one switches that thread's network namespace while it works in a pod's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/result.h"
#include "cni/plugin/ipv4.h"

namespace kernlet::cni {

struct LinkFacts {
  std::string name;
  std::string mac;  // "aa:bb:cc:dd:ee:ff"
  int index = 0;
};

// One pod attachment: a veth `host_ifname` on `bridge` (hairpin as asked, up) whose peer is
// `ifname` in the netns at `netns`, with `address`/`prefix_len`, a default route via
// `gateway` and `mtu` on both ends.
struct PodAttachSpec {
  std::string bridge;
  int64_t mtu = 1500;
  bool hairpin = true;
  uint32_t gateway = 0;
  int prefix_len = 24;
  uint32_t address = 0;
  std::string netns;
  std::string ifname;
  std::string host_ifname;
};

struct PodAttachFacts {
  LinkFacts bridge, host, pod;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;

  // The bridge `name` exists (created when missing), carries gateway/prefix_len and is up;
  // IPv4 forwarding is on. Errors: a non-bridge link of that name, netlink errors.
  virtual Result<LinkFacts> ensure_bridge(const std::string& name, uint32_t gateway,
                                          int prefix_len, int64_t mtu) = 0;

  // Builds the attachment. A host veth of the same name left by an earlier try is replaced.
  // Errors: the netns cannot be opened (kNotFound), `ifname` already exists in it, netlink.
  virtual Result<PodAttachFacts> attach(const PodAttachSpec& spec) = 0;

  // Removes the host veth (its peer goes with it); an absent link is not an error.
  virtual Result<void> detach(const std::string& host_ifname) = 0;

  // Verifies the attachment is as `spec` says; the error names the first difference.
  virtual Result<void> check(const PodAttachSpec& spec) = 0;

  // SNAT (masquerade) for traffic from `subnet` to destinations outside `cluster`, in the
  // nftables table `kernlet` of the current netns, chain per network; idempotent.
  virtual Result<void> ensure_masquerade(const std::string& network, Ipv4Prefix subnet,
                                         Ipv4Prefix cluster) = 0;

  // Whether the bridge exists and is up (STATUS).
  virtual Result<bool> bridge_ready(const std::string& name) = 0;
};

// The real one: rtnetlink through libmnl, nftables through libnftables, in the netns of
// the calling thread (pods' netns entered by path for their side).
std::unique_ptr<Dataplane> make_kernel_dataplane();

}  // namespace kernlet::cni
