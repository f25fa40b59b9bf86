// The kernel Dataplane: rtnetlink (rtnl.h) for links, addresses and routes; libnftables for
// the masquerade rule.
#include <fcntl.h>
#include <linux/if.h>
#include <nftables/libnftables.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "cni/plugin/dataplane.h"
#include "cni/plugin/rtnl.h"

namespace kernlet::cni {
namespace {

// The node routes pod traffic (between pods of other nodes, and out through SNAT) only with
// forwarding on. /proc/sys/net follows the netns of the opener: this is the node's.
Result<void> enable_ip_forward() {
  const char* path = "/proc/sys/net/ipv4/ip_forward";
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(std::string("open ") + path);
  UniqueFd f(fd);
  char c = 0;
  if (::read(fd, &c, 1) == 1 && c == '1') return Ok();
  if (::pwrite(fd, "1\n", 2, 0) != 2) return Error::from_errno(std::string("write ") + path);
  return Ok();
}

class KernelDataplane final : public Dataplane {
 public:
  Result<LinkFacts> ensure_bridge(const std::string& name, uint32_t gateway, int prefix_len,
                                  int64_t mtu) override {
    KL_ASSIGN_OR_RETURN(RtnlSocket nl, RtnlSocket::open());
    KL_ASSIGN_OR_RETURN(auto link, nl.get_link(name));
    bool created = false;
    if (!link) {
      // A bridge without an address of its own takes the lowest MAC of its ports and changes
      // it as pods come and go, which leaves stale gateway entries in the pods' ARP caches.
      // A fixed, locally administered MAC from the gateway address avoids that.
      const uint8_t mac[6] = {0x02, 0x6b, static_cast<uint8_t>(gateway >> 24),
                              static_cast<uint8_t>(gateway >> 16),
                              static_cast<uint8_t>(gateway >> 8), static_cast<uint8_t>(gateway)};
      auto made = nl.create_bridge(name, mtu, mac);
      // Another ADD may have created it in between: that is as good.
      if (!made.ok() && made.error().code() != ErrorCode::kAlreadyExists) {
        return std::move(made).error();
      }
      created = made.ok();
      KL_ASSIGN_OR_RETURN(link, nl.get_link(name));
      if (!link) return Error("bridge " + name + " vanished after creation");
    }
    if (link->kind != "bridge") {
      return Error(ErrorCode::kConflict, "link " + name + " exists and is a " +
                                             (link->kind.empty() ? "device" : link->kind) +
                                             ", not a bridge");
    }
    // An MTU set at creation is not "set by the user" for the bridge driver, which then
    // follows its ports' MTU; setting it explicitly pins it.
    if (created || link->mtu != mtu) KL_TRY(nl.set_mtu(link->index, mtu));
    KL_TRY(nl.add_address(link->index, gateway, prefix_len));
    if (!(link->flags & IFF_UP)) KL_TRY(nl.set_up(link->index));
    KL_TRY(enable_ip_forward());
    return LinkFacts{link->name, link->mac, link->index};
  }

  Result<PodAttachFacts> attach(const PodAttachSpec& s) override {
    KL_ASSIGN_OR_RETURN(RtnlSocket nl, RtnlSocket::open());
    KL_ASSIGN_OR_RETURN(auto bridge, nl.get_link(s.bridge));
    if (!bridge) return Error(ErrorCode::kNotFound, "bridge " + s.bridge + " does not exist");
    int nsfd = ::open(s.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      if (errno == ENOENT) {
        return Error(ErrorCode::kNotFound, "netns " + s.netns + " does not exist");
      }
      return Error::from_errno("open netns " + s.netns);
    }
    UniqueFd ns(nsfd);
    KL_ASSIGN_OR_RETURN(RtnlSocket pod, RtnlSocket::open_in(s.netns));
    KL_ASSIGN_OR_RETURN(auto existing, pod.get_link(s.ifname));
    // A retried ADD finds its own half-built veth: the host end goes, and its peer with it.
    KL_TRY(nl.delete_link(s.host_ifname));
    if (existing) {
      KL_ASSIGN_OR_RETURN(existing, pod.get_link(s.ifname));
      if (existing) {
        return Error(ErrorCode::kAlreadyExists,
                     "interface " + s.ifname + " already exists in netns " + s.netns);
      }
    }
    KL_TRY(nl.create_veth(s.host_ifname, bridge->index, s.mtu, s.ifname, ns.get()));
    KL_ASSIGN_OR_RETURN(auto host, nl.get_link(s.host_ifname));
    if (!host) return Error("veth " + s.host_ifname + " vanished after creation");
    if (s.hairpin) KL_TRY(nl.set_hairpin(host->index, true));

    KL_ASSIGN_OR_RETURN(auto peer, pod.get_link(s.ifname));
    if (!peer) return Error("veth peer " + s.ifname + " missing in netns " + s.netns);
    KL_TRY(pod.add_address(peer->index, s.address, s.prefix_len));
    KL_TRY(pod.set_up(peer->index));
    KL_TRY(pod.add_default_route(peer->index, s.gateway));
    return PodAttachFacts{LinkFacts{bridge->name, bridge->mac, bridge->index},
                          LinkFacts{host->name, host->mac, host->index},
                          LinkFacts{peer->name, peer->mac, peer->index}};
  }

  Result<void> detach(const std::string& host_ifname) override {
    KL_ASSIGN_OR_RETURN(RtnlSocket nl, RtnlSocket::open());
    return nl.delete_link(host_ifname);
  }

  Result<void> check(const PodAttachSpec& s) override {
    KL_ASSIGN_OR_RETURN(RtnlSocket nl, RtnlSocket::open());
    KL_ASSIGN_OR_RETURN(auto bridge, nl.get_link(s.bridge));
    if (!bridge) return Error("bridge " + s.bridge + " does not exist");
    if (!(bridge->flags & IFF_UP)) return Error("bridge " + s.bridge + " is down");
    KL_ASSIGN_OR_RETURN(auto host, nl.get_link(s.host_ifname));
    if (!host) return Error("host veth " + s.host_ifname + " does not exist");
    if (host->master != bridge->index) {
      return Error("host veth " + s.host_ifname + " is not a port of " + s.bridge);
    }
    if (!(host->flags & IFF_UP)) return Error("host veth " + s.host_ifname + " is down");
    if (host->mtu != s.mtu) {
      return Error("host veth " + s.host_ifname + " has mtu " + std::to_string(host->mtu) +
                   ", want " + std::to_string(s.mtu));
    }
    if (s.hairpin && host->brport_mode != 1) {
      return Error("host veth " + s.host_ifname + " has hairpin mode off");
    }

    KL_ASSIGN_OR_RETURN(RtnlSocket pod, RtnlSocket::open_in(s.netns));
    KL_ASSIGN_OR_RETURN(auto peer, pod.get_link(s.ifname));
    if (!peer) return Error("interface " + s.ifname + " missing in netns " + s.netns);
    if (peer->kind != "veth") return Error("interface " + s.ifname + " is not a veth");
    if (!(peer->flags & IFF_UP)) return Error("interface " + s.ifname + " is down");
    if (peer->mtu != s.mtu) {
      return Error("interface " + s.ifname + " has mtu " + std::to_string(peer->mtu) +
                   ", want " + std::to_string(s.mtu));
    }
    KL_ASSIGN_OR_RETURN(auto addrs, pod.addresses());
    bool has_addr = false;
    for (const auto& a : addrs) {
      has_addr |= a.index == peer->index && a.address == s.address && a.prefix_len == s.prefix_len;
    }
    if (!has_addr) {
      return Error("interface " + s.ifname + " lacks address " + ipv4_to_string(s.address) +
                   "/" + std::to_string(s.prefix_len));
    }
    KL_ASSIGN_OR_RETURN(auto routes, pod.routes());
    bool has_route = false;
    for (const auto& r : routes) {
      has_route |= r.table == 254 && r.dst_len == 0 && r.gateway == s.gateway &&
                   r.oif == peer->index;
    }
    if (!has_route) {
      return Error("netns " + s.netns + " has no default route via " +
                   ipv4_to_string(s.gateway) + " dev " + s.ifname);
    }
    return Ok();
  }

  Result<void> ensure_masquerade(const std::string& network, Ipv4Prefix subnet,
                                 Ipv4Prefix cluster) override {
    // One base chain per network, flushed and refilled in a single transaction: the kernel
    // applies the batch atomically, so concurrent ADDs always leave exactly one rule.
    std::string chain = "masq_";
    for (char c : network) chain += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    std::string cmds =
        "add table ip kernlet\n"
        "add chain ip kernlet " + chain +
        " { type nat hook postrouting priority srcnat; policy accept; }\n"
        "flush chain ip kernlet " + chain + "\n"
        "add rule ip kernlet " + chain + " ip saddr " + subnet.to_string() + " ip daddr != " +
        cluster.to_string() + " masquerade comment \"kernlet-cni network " + chain + "\"\n";
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == nullptr) return Error("nftables: cannot create a context");
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    int rc = nft_run_cmd_from_buffer(ctx, cmds.c_str());
    std::string err = nft_ctx_get_error_buffer(ctx) ? nft_ctx_get_error_buffer(ctx) : "";
    nft_ctx_free(ctx);
    if (rc != 0) {
      while (!err.empty() && err.back() == '\n') err.pop_back();
      return Error("nftables: install masquerade for " + subnet.to_string() + ": " + err);
    }
    return Ok();
  }

  Result<bool> bridge_ready(const std::string& name) override {
    KL_ASSIGN_OR_RETURN(RtnlSocket nl, RtnlSocket::open());
    KL_ASSIGN_OR_RETURN(auto link, nl.get_link(name));
    return link && link->kind == "bridge" && (link->flags & IFF_UP);
  }
};

}  // namespace

std::unique_ptr<Dataplane> make_kernel_dataplane() { return std::make_unique<KernelDataplane>(); }

}  // namespace kernlet::cni
