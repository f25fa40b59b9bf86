// SPDX-License-Identifier: GPL-2.0
/* nodeport.bpf.c: kernlet's datapath for Services reached from outside the node — NodePort
 * (node address:nodePort), LoadBalancer ingress IPs and externalIPs — as tc clsact programs
 * on the node's external interface. IPv4, TCP and UDP.
 *
 * kl_np_ingress (clsact ingress), per packet:
 *  1. a reply entry in kl_np_ct_v1 (a backend on another node answering the node's SNAT
 *     address:port) is rewritten back to service address:port -> client;
 *  2. a forward entry (an established client flow) is rewritten to its backend, provided the
 *     backend is still a member (ready or terminating) of the service's live backend set;
 *  3. otherwise, a packet to a service address:port starts a flow: loadBalancerSourceRanges
 *     are checked, a ready backend is picked at random (the conntrack entry keeps it), and a
 *     forward and a reply entry are written. A backend on another node gets the packet SNATed
 *     to the node's address and a port from the configured SNAT range, unless the service's
 *     externalTrafficPolicy is Local (the desired state then lists only local backends, and
 *     the client address reaches the backend unchanged).
 * kl_np_egress (clsact egress): a reply of a local backend to an outside client gets the
 * service address:port back as its source.
 *
 * Forwarding: a packet whose translated source is still the client (local backend) goes on
 * with TC_ACT_OK and the kernel routes it (TTL, forwarding sysctls, netfilter all apply as
 * for any forwarded packet). A packet whose source became a node or service address (SNAT to
 * a remote backend; a reply going back to the client) cannot take that path: ip_rcv's source
 * validation drops a packet arriving with a local source as martian. Those are sent with
 * bpf_fib_lookup (for the egress interface) and bpf_redirect_neigh (neighbour resolution
 * by the kernel), straight to the egress of the routed interface.
 *
 * ICMP errors (destination unreachable, time exceeded) about a translated datagram are
 * translated back for the client (see "ICMP errors" below).
 *
 * Not handled, stated: IP fragments pass untouched (only a first fragment carries ports);
 * ICMP errors the client sends about a backend's replies are left to the kernel; packets
 * with IP options are translated like others.
 *
 * Every drop bumps kl_np_drops_v1[reason]; per service, kl_np_stats_v1 counts new flows,
 * translated client packets and bytes, and no-backend and source-range drops. Helpers return negative values or a drop reason;
 * only the entry points pick the verdict.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kernlet_lb.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define AF_INET 2
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

/* Fixed wire offsets, not offsetof(): vmlinux.h's structs are preserve_access_index, and an
 * offsetof() on them becomes a CO-RE relocation instead of a constant. */
#define IP_CSUM_OFF (ETH_HLEN + 10)
#define IP_SRC_OFF (ETH_HLEN + 12)
#define IP_DST_OFF (ETH_HLEN + 16)
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define IPH_CSUM_OFF 10 /* within an IPv4 header */
#define IPH_SRC_OFF 12
#define IPH_DST_OFF 16
#define ICMP_CSUM_OFF 2 /* within an ICMP header */
#define ICMP_HLEN 8

#define ICMP_DEST_UNREACH 3 /* port unreachable, fragmentation needed, ... */
#define ICMP_TIME_EXCEEDED 11

/* Probes for a free SNAT port before giving up on a flow. */
#define SNAT_ATTEMPTS 16

char LICENSE[] SEC("license") = "GPL";

/* The maps only user space writes (services, backend sets, counters, drain list) are
 * BPF_F_NO_PREALLOC: they hold what the cluster has, not their maximum (preallocated, the
 * two loaders' maps took ~190 MB of kernel memory and ~1 s of CPU at every agent start).
 * The programs only look them up. The LRU tables the programs fill stay preallocated, as
 * the kernel requires. A pinned map of the old definition is carried over by the loader
 * (bpf/loader/pinned_maps.h). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_NP_MAX_SERVICES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_np_service_key);
  __type(value, struct kl_np_service);
} kl_np_services_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_NP_MAX_SLOTS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_lb_slot_key);
  __type(value, struct kl_np_backend);
} kl_np_slots_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_NP_MAX_SLOTS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_np_member_key);
  __type(value, __u32);
} kl_np_members_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, KL_NP_MAX_SRC_RANGES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_np_src_range_key);
  __type(value, __u8);
} kl_np_src_ranges_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KL_NP_MAX_CT);
  __type(key, struct kl_np_ct_key);
  __type(value, struct kl_np_ct);
} kl_np_ct_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct kl_np_config);
} kl_np_config_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, KL_NP_DROP_REASONS);
  __type(key, __u32);
  __type(value, __u64);
} kl_np_drops_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, KL_NP_MAX_SERVICES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct kl_np_stats);
} kl_np_stats_v1 SEC(".maps");

/* What parsing found: the tuple and where the L4 checksum lives. */
struct np_pkt {
  struct kl_np_ct_key t; /* dir set by the caller */
  __u32 l4_off;          /* offset of the TCP/UDP header */
  __u32 csum_off;        /* offset of the L4 checksum */
  __u16 tot_len;         /* IP total length, host order */
};

/* 0 when skb holds an unfragmented IPv4 TCP/UDP packet behind Ethernet, -1 otherwise. */
static __always_inline int np_parse(struct __sk_buff *skb, struct np_pkt *p) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip;
  __u32 ihl;

  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
    return -1;
  ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->version != 4)
    return -1;
  ihl = ip->ihl * 4;
  if (ihl < sizeof(*ip))
    return -1;
  if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
    return -1;
  if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
    return -1;
  p->l4_off = ETH_HLEN + ihl;
  p->t.saddr = ip->saddr;
  p->t.daddr = ip->daddr;
  p->t.proto = ip->protocol;
  p->tot_len = bpf_ntohs(ip->tot_len);
  p->csum_off = p->l4_off + (ip->protocol == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
  /* Both headers begin with source and destination port. */
  if (bpf_skb_load_bytes(skb, p->l4_off, &p->t.sport, 2) < 0 ||
      bpf_skb_load_bytes(skb, p->l4_off + 2, &p->t.dport, 2) < 0)
    return -1;
  return 0;
}

static __always_inline void np_count_drop(__u32 reason) {
  __u64 *n = bpf_map_lookup_elem(&kl_np_drops_v1, &reason);
  if (n)
    *n += 1;
}

/* Per-service counters (kl_np_stats_v1). The entry exists while the loader has the service
 * installed; a packet racing a removal is not counted. */
static __always_inline void np_count_forward(__u32 service_id, const struct __sk_buff *skb, int new_flow) {
  struct kl_np_stats *st = bpf_map_lookup_elem(&kl_np_stats_v1, &service_id);

  if (!st)
    return;
  st->flows += new_flow;
  st->packets += 1;
  st->bytes += skb->len;
}

static __always_inline void np_count_service_drop(__u32 service_id, int reason) {
  struct kl_np_stats *st = bpf_map_lookup_elem(&kl_np_stats_v1, &service_id);

  if (!st)
    return;
  if (reason == KL_NP_DROP_NO_BACKEND)
    st->no_backend += 1;
  else if (reason == KL_NP_DROP_NOT_ALLOWED)
    st->denied += 1;
}

/* Rewrites one 4-byte address at off and fixes the IP and L4 checksums (the L4 one covers
 * the address through the pseudo header). */
static __always_inline int np_set_addr(struct __sk_buff *skb, const struct np_pkt *p, __u32 off,
                                       __u32 old, __u32 new) {
  __u64 l4flags = BPF_F_PSEUDO_HDR | sizeof(new);

  if (old == new)
    return 0;
  if (p->t.proto == IPPROTO_UDP)
    l4flags |= BPF_F_MARK_MANGLED_0; /* a UDP checksum of 0 means "none": keep it so */
  if (bpf_l4_csum_replace(skb, p->csum_off, old, new, l4flags) < 0)
    return -1;
  if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, sizeof(new)) < 0)
    return -1;
  return bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0);
}

static __always_inline int np_set_port(struct __sk_buff *skb, const struct np_pkt *p, __u32 off,
                                       __u16 old, __u16 new) {
  __u64 l4flags = sizeof(new);

  if (old == new)
    return 0;
  if (p->t.proto == IPPROTO_UDP)
    l4flags |= BPF_F_MARK_MANGLED_0;
  if (bpf_l4_csum_replace(skb, p->csum_off, old, new, l4flags) < 0)
    return -1;
  return bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0);
}

/* Rewrites the packet's tuple to ct's. */
static __always_inline int np_rewrite(struct __sk_buff *skb, const struct np_pkt *p,
                                      const struct kl_np_ct *ct) {
  if (np_set_addr(skb, p, IP_SRC_OFF, p->t.saddr, ct->saddr) < 0 ||
      np_set_addr(skb, p, IP_DST_OFF, p->t.daddr, ct->daddr) < 0 ||
      np_set_port(skb, p, p->l4_off, p->t.sport, ct->sport) < 0 ||
      np_set_port(skb, p, p->l4_off + 2, p->t.dport, ct->dport) < 0)
    return -1;
  return 0;
}

/* Sends a translated packet whose source is a local address straight out of the interface
 * the FIB routes its destination through. Returns a TC verdict. */
static __always_inline int np_redirect(struct __sk_buff *skb, const struct kl_np_ct *ct,
                                       __u16 tot_len) {
  struct bpf_fib_lookup fib = {};
  long rc;

  fib.family = AF_INET;
  fib.l4_protocol = 0;
  fib.tot_len = tot_len;
  fib.ipv4_src = ct->saddr;
  fib.ipv4_dst = ct->daddr;
  fib.ifindex = skb->ifindex; /* the external interface: the lookup's input device */
  rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
  if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) {
    np_count_drop(KL_NP_DROP_NO_ROUTE);
    return TC_ACT_SHOT;
  }
  return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
}

/* Applies ct to the packet and picks the verdict. */
static __always_inline int np_apply(struct __sk_buff *skb, const struct np_pkt *p,
                                    struct kl_np_ct *ct) {
  struct kl_np_ct c = *ct;

  ct->last_seen_ns = bpf_ktime_get_ns();
  if (np_rewrite(skb, p, &c) < 0)
    return TC_ACT_SHOT;
  if (c.flags & KL_NP_CT_REDIRECT)
    return np_redirect(skb, &c, p->tot_len);
  return TC_ACT_OK;
}

/* ---- ICMP errors about translated flows (IPv4) ----
 *
 * An ICMP error (destination unreachable: port unreachable, fragmentation needed...; time
 * exceeded) quotes the IP header and at least 8 bytes of the datagram that caused it. When
 * that datagram is one this datapath translated, the client must get the error about the
 * datagram it sent itself (service address:port), or its stack finds no socket for it (and a
 * path MTU is never learnt). Two cases:
 *  - ingress: a remote backend (or a router on the way to it) answers a SNATed datagram
 *    (node:snat port -> backend): the quote is matched against the flow's reply entry, the
 *    quote is rewritten to client -> service address:port, the error is sent to the client
 *    from the service address, by FIB + redirect like the flow's replies;
 *  - egress: a local backend answers a DNATed datagram (client -> pod): the quote's
 *    destination becomes the service address:port again and the error's source, when it is
 *    the backend, the service address.
 * The quoted IP header's checksum and the quoted TCP/UDP checksum (when the quote holds it)
 * are updated with the addresses and ports, so the client sees exactly the header it sent;
 * the ICMP checksum, which covers the quote, follows each 16-bit change. Errors whose quote
 * matches no translated flow pass untouched. Not handled: errors sent by the client about a
 * backend's replies (they reach the node address and are left to the kernel). */

struct np_icmp {
  __u32 icmp_off;   /* ICMP header */
  __u32 inner_off;  /* quoted IP header */
  __u32 inner_l4;   /* quoted TCP/UDP header */
  __u32 l4csum_off; /* quoted TCP/UDP checksum; 0 when the quote is too short to hold it */
  __u32 osaddr;     /* outer source */
  __u32 odaddr;     /* outer destination */
  struct kl_np_ct_key q; /* the quoted datagram's tuple (dir unset) */
};

/* 0 when skb is an IPv4 ICMP error quoting a TCP/UDP datagram, -1 otherwise. */
static __always_inline int np_parse_icmp(struct __sk_buff *skb, struct np_icmp *ic) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  struct iphdr *ip;
  __u8 type, vihl, proto;
  __u32 ihl, inner_ihl;

  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
    return -1;
  ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->version != 4 || ip->protocol != IPPROTO_ICMP)
    return -1;
  if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
    return -1;
  ihl = ip->ihl * 4;
  if (ihl < sizeof(*ip))
    return -1;
  ic->osaddr = ip->saddr;
  ic->odaddr = ip->daddr;
  ic->icmp_off = ETH_HLEN + ihl;
  if (bpf_skb_load_bytes(skb, ic->icmp_off, &type, 1) < 0)
    return -1;
  if (type != ICMP_DEST_UNREACH && type != ICMP_TIME_EXCEEDED)
    return -1;
  ic->inner_off = ic->icmp_off + ICMP_HLEN;
  if (bpf_skb_load_bytes(skb, ic->inner_off, &vihl, 1) < 0 || (vihl >> 4) != 4)
    return -1;
  inner_ihl = (vihl & 0xf) * 4;
  if (inner_ihl < sizeof(*ip))
    return -1;
  if (bpf_skb_load_bytes(skb, ic->inner_off + 9, &proto, 1) < 0 ||
      (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
    return -1;
  ic->inner_l4 = ic->inner_off + inner_ihl;
  if (bpf_skb_load_bytes(skb, ic->inner_off + IPH_SRC_OFF, &ic->q.saddr, 4) < 0 ||
      bpf_skb_load_bytes(skb, ic->inner_off + IPH_DST_OFF, &ic->q.daddr, 4) < 0 ||
      bpf_skb_load_bytes(skb, ic->inner_l4, &ic->q.sport, 2) < 0 ||
      bpf_skb_load_bytes(skb, ic->inner_l4 + 2, &ic->q.dport, 2) < 0)
    return -1;
  ic->q.proto = proto;
  ic->l4csum_off = ic->inner_l4 + (proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
  if (ic->l4csum_off + 2 > skb->len)
    ic->l4csum_off = 0;
  return 0;
}

/* The ICMP checksum covers the quote: follow one 16-bit word's change at off. */
static __always_inline int np_icmp_csum16(struct __sk_buff *skb, const struct np_icmp *ic, __u16 old,
                                          __u16 new) {
  if (old == new)
    return 0;
  return bpf_l4_csum_replace(skb, ic->icmp_off + ICMP_CSUM_OFF, old, new, sizeof(new));
}

/* Rewrites one quoted address (quoted IP and L4 checksums, then the ICMP one). */
static __always_inline int np_icmp_set_addr(struct __sk_buff *skb, const struct np_icmp *ic, __u32 off,
                                            __u32 old, __u32 new) {
  __u64 l4flags = BPF_F_PSEUDO_HDR | sizeof(new);

  if (old == new)
    return 0;
  if (ic->q.proto == IPPROTO_UDP)
    l4flags |= BPF_F_MARK_MANGLED_0;
  if (ic->l4csum_off && bpf_l4_csum_replace(skb, ic->l4csum_off, old, new, l4flags) < 0)
    return -1;
  if (bpf_l3_csum_replace(skb, ic->inner_off + IPH_CSUM_OFF, old, new, sizeof(new)) < 0)
    return -1;
  if (bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0) < 0)
    return -1;
  return bpf_l4_csum_replace(skb, ic->icmp_off + ICMP_CSUM_OFF, old, new, sizeof(new));
}

static __always_inline int np_icmp_set_port(struct __sk_buff *skb, const struct np_icmp *ic, __u32 off,
                                            __u16 old, __u16 new) {
  __u64 l4flags = sizeof(new);

  if (old == new)
    return 0;
  if (ic->q.proto == IPPROTO_UDP)
    l4flags |= BPF_F_MARK_MANGLED_0;
  if (ic->l4csum_off && bpf_l4_csum_replace(skb, ic->l4csum_off, old, new, l4flags) < 0)
    return -1;
  if (bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0) < 0)
    return -1;
  return np_icmp_csum16(skb, ic, old, new);
}

/* Rewrites the quote to src:sport -> dst:dport. */
static __always_inline int np_icmp_rewrite_quote(struct __sk_buff *skb, const struct np_icmp *ic, __u32 src,
                                                 __u16 sport, __u32 dst, __u16 dport) {
  __u16 ipc_old = 0, ipc_new = 0, l4c_old = 0, l4c_new = 0;

  if (bpf_skb_load_bytes(skb, ic->inner_off + IPH_CSUM_OFF, &ipc_old, 2) < 0)
    return -1;
  if (ic->l4csum_off && bpf_skb_load_bytes(skb, ic->l4csum_off, &l4c_old, 2) < 0)
    return -1;
  if (np_icmp_set_addr(skb, ic, ic->inner_off + IPH_SRC_OFF, ic->q.saddr, src) < 0 ||
      np_icmp_set_addr(skb, ic, ic->inner_off + IPH_DST_OFF, ic->q.daddr, dst) < 0 ||
      np_icmp_set_port(skb, ic, ic->inner_l4, ic->q.sport, sport) < 0 ||
      np_icmp_set_port(skb, ic, ic->inner_l4 + 2, ic->q.dport, dport) < 0)
    return -1;
  /* The quoted checksums changed too, and the ICMP checksum covers them. */
  if (bpf_skb_load_bytes(skb, ic->inner_off + IPH_CSUM_OFF, &ipc_new, 2) < 0)
    return -1;
  if (ic->l4csum_off && bpf_skb_load_bytes(skb, ic->l4csum_off, &l4c_new, 2) < 0)
    return -1;
  if (np_icmp_csum16(skb, ic, ipc_old, ipc_new) < 0 || np_icmp_csum16(skb, ic, l4c_old, l4c_new) < 0)
    return -1;
  return 0;
}

/* Rewrites the outer (ICMP-carrying) header's addresses: IP checksum only, as ICMP has no
 * pseudo header. */
static __always_inline int np_icmp_set_outer(struct __sk_buff *skb, __u32 off, __u32 old, __u32 new) {
  if (old == new)
    return 0;
  if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, sizeof(new)) < 0)
    return -1;
  return bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0);
}

/* Ingress: an error about a SNATed datagram (node:snat port -> remote backend). Returns a
 * TC verdict, or -1 when the error is about no flow of ours. */
static __always_inline int np_icmp_ingress(struct __sk_buff *skb) {
  struct np_icmp ic = {};
  struct kl_np_ct_key rk = {};
  struct kl_np_ct *ct, c;
  __u16 tot_len;

  if (np_parse_icmp(skb, &ic) < 0)
    return -1;
  /* The reply entry of the quoted datagram's flow: backend -> node:snat port. */
  rk.saddr = ic.q.daddr;
  rk.daddr = ic.q.saddr;
  rk.sport = ic.q.dport;
  rk.dport = ic.q.sport;
  rk.proto = ic.q.proto;
  rk.dir = KL_NP_DIR_REPLY;
  ct = bpf_map_lookup_elem(&kl_np_ct_v1, &rk);
  if (!ct || (ct->flags & KL_NP_CT_EGRESS) || ic.odaddr != ic.q.saddr)
    return -1;
  c = *ct; /* service address:port -> client */
  if (np_icmp_rewrite_quote(skb, &ic, c.daddr, c.dport, c.saddr, c.sport) < 0 ||
      np_icmp_set_outer(skb, IP_DST_OFF, ic.odaddr, c.daddr) < 0 ||
      np_icmp_set_outer(skb, IP_SRC_OFF, ic.osaddr, c.saddr) < 0)
    return TC_ACT_SHOT;
  if (bpf_skb_load_bytes(skb, ETH_HLEN + 2, &tot_len, 2) < 0)
    return TC_ACT_SHOT;
  return np_redirect(skb, &c, bpf_ntohs(tot_len));
}

/* Egress: a local backend's error about a DNATed datagram (client -> pod). Returns a TC
 * verdict, or -1 when the error is about no flow of ours. */
static __always_inline int np_icmp_egress(struct __sk_buff *skb) {
  struct np_icmp ic = {};
  struct kl_np_ct_key rk = {};
  struct kl_np_ct *ct, c;

  if (np_parse_icmp(skb, &ic) < 0)
    return -1;
  /* The reply entry of the quoted datagram's flow: pod -> client, applied on egress. */
  rk.saddr = ic.q.daddr;
  rk.daddr = ic.q.saddr;
  rk.sport = ic.q.dport;
  rk.dport = ic.q.sport;
  rk.proto = ic.q.proto;
  rk.dir = KL_NP_DIR_REPLY;
  ct = bpf_map_lookup_elem(&kl_np_ct_v1, &rk);
  if (!ct || !(ct->flags & KL_NP_CT_EGRESS) || ic.odaddr != ic.q.saddr)
    return -1;
  c = *ct; /* service address:port -> client */
  if (np_icmp_rewrite_quote(skb, &ic, ic.q.saddr, ic.q.sport, c.saddr, c.sport) < 0)
    return TC_ACT_SHOT;
  /* The backend itself reports: the client expects the service address. A router between
   * the node and a local pod does not exist; any other source is left as is. */
  if (ic.osaddr == ic.q.daddr && np_icmp_set_outer(skb, IP_SRC_OFF, ic.osaddr, c.saddr) < 0)
    return TC_ACT_SHOT;
  return TC_ACT_OK;
}

/* 1 when the client may use the service (loadBalancerSourceRanges). */
static __always_inline int np_source_allowed(const struct kl_np_service *svc, __u32 client) {
  struct kl_np_src_range_key k = {};

  if (!(svc->flags & KL_NP_FLAG_SRC_RANGES))
    return 1;
  k.prefixlen = 64;
  k.service_id = bpf_htonl(svc->service_id);
  k.addr = client;
  return bpf_map_lookup_elem(&kl_np_src_ranges_v1, &k) != NULL;
}

/* Writes the reply entry for a flow to a remote backend under a free SNAT port of the node,
 * and fills fwd with the forward rewrite. Returns 0 or a drop reason. */
static __always_inline int np_snat(const struct np_pkt *p, const struct kl_np_backend *be,
                                   struct kl_np_ct *fwd) {
  const __u32 zero = 0;
  struct kl_np_config *cfg = bpf_map_lookup_elem(&kl_np_config_v1, &zero);
  struct kl_np_ct_key rk = {};
  struct kl_np_ct rev = {};
  __u32 range, first, i;

  if (!cfg || cfg->snat_addr == 0 || cfg->snat_port_max < cfg->snat_port_min)
    return KL_NP_DROP_SNAT_EXHAUSTED;
  range = (__u32)cfg->snat_port_max - cfg->snat_port_min + 1;
  first = bpf_get_prandom_u32() % range;

  rk.saddr = be->addr;
  rk.daddr = cfg->snat_addr;
  rk.sport = be->port;
  rk.proto = p->t.proto;
  rk.dir = KL_NP_DIR_REPLY;
  rev.saddr = p->t.daddr; /* the service address:port the client used */
  rev.daddr = p->t.saddr;
  rev.sport = p->t.dport;
  rev.dport = p->t.sport;
  rev.flags = KL_NP_CT_REDIRECT;
  rev.last_seen_ns = bpf_ktime_get_ns();
  for (i = 0; i < SNAT_ATTEMPTS && i < range; i++) {
    rk.dport = bpf_htons((__u16)(cfg->snat_port_min + (first + i) % range));
    if (bpf_map_update_elem(&kl_np_ct_v1, &rk, &rev, BPF_NOEXIST) == 0) {
      fwd->saddr = cfg->snat_addr;
      fwd->sport = rk.dport;
      fwd->flags = KL_NP_CT_REDIRECT;
      return 0;
    }
  }
  return KL_NP_DROP_SNAT_EXHAUSTED;
}

/* A new flow to a service: picks a backend and writes the conntrack entries. On success
 * *fwd is the forward rewrite; returns 0, or a drop reason. */
static __always_inline int np_new_flow(const struct np_pkt *p, const struct kl_np_service *svc,
                                       struct kl_np_ct *fwd) {
  struct kl_lb_slot_key sk = {.backend_set = svc->backend_set};
  struct kl_np_ct_key fk = p->t;
  struct kl_np_backend *bep, be;
  int reason;

  if (!np_source_allowed(svc, p->t.saddr))
    return KL_NP_DROP_NOT_ALLOWED;
  if (svc->count == 0)
    return KL_NP_DROP_NO_BACKEND;
  sk.slot = bpf_get_prandom_u32() % svc->count;
  bep = bpf_map_lookup_elem(&kl_np_slots_v1, &sk);
  if (!bep) /* the loader swapped backend sets under us; the client retransmits */
    return KL_NP_DROP_NO_BACKEND;
  be = *bep;

  fwd->saddr = p->t.saddr;
  fwd->daddr = be.addr;
  fwd->sport = p->t.sport;
  fwd->dport = be.port;
  fwd->flags = 0;
  fwd->last_seen_ns = bpf_ktime_get_ns();

  if ((be.flags & KL_NP_BACKEND_REMOTE) && !(svc->flags & KL_NP_FLAG_LOCAL)) {
    reason = np_snat(p, &be, fwd);
    if (reason)
      return reason;
  } else {
    /* The backend answers the client directly; its reply leaves by our egress. */
    struct kl_np_ct_key rk = {};
    struct kl_np_ct rev = {};

    rk.saddr = be.addr;
    rk.daddr = p->t.saddr;
    rk.sport = be.port;
    rk.dport = p->t.sport;
    rk.proto = p->t.proto;
    rk.dir = KL_NP_DIR_REPLY;
    rev.saddr = p->t.daddr;
    rev.daddr = p->t.saddr;
    rev.sport = p->t.dport;
    rev.dport = p->t.sport;
    rev.flags = KL_NP_CT_EGRESS;
    rev.last_seen_ns = fwd->last_seen_ns;
    if (bpf_map_update_elem(&kl_np_ct_v1, &rk, &rev, BPF_ANY) != 0)
      return KL_NP_DROP_CT_FULL;
  }
  fk.dir = KL_NP_DIR_FWD;
  if (bpf_map_update_elem(&kl_np_ct_v1, &fk, fwd, BPF_ANY) != 0)
    return KL_NP_DROP_CT_FULL;
  return 0;
}

/* 1 when an established flow's backend may still carry it. */
static __always_inline int np_flow_valid(const struct kl_np_service *svc,
                                         const struct kl_np_ct *fwd) {
  struct kl_np_member_key mk = {};

  mk.backend_set = svc->backend_set;
  mk.addr = fwd->daddr;
  mk.port = fwd->dport;
  return bpf_map_lookup_elem(&kl_np_members_v1, &mk) != NULL;
}

static __always_inline int np_ingress(struct __sk_buff *skb) {
  struct np_pkt p = {};
  struct kl_np_ct *ct;
  struct kl_np_service_key sk = {};
  struct kl_np_service *svc;
  struct kl_np_ct fwd = {};
  __u32 service_id;
  int reason;

  if (np_parse(skb, &p) < 0) {
    reason = np_icmp_ingress(skb);
    return reason < 0 ? TC_ACT_OK : reason;
  }

  /* A remote backend's reply to our SNAT address:port. */
  p.t.dir = KL_NP_DIR_REPLY;
  ct = bpf_map_lookup_elem(&kl_np_ct_v1, &p.t);
  if (ct && !(ct->flags & KL_NP_CT_EGRESS))
    return np_apply(skb, &p, ct);

  sk.addr = p.t.daddr;
  sk.port = p.t.dport;
  sk.proto = p.t.proto;
  svc = bpf_map_lookup_elem(&kl_np_services_v1, &sk);
  if (!svc)
    return TC_ACT_OK;

  service_id = svc->service_id;
  p.t.dir = KL_NP_DIR_FWD;
  ct = bpf_map_lookup_elem(&kl_np_ct_v1, &p.t);
  if (ct && np_flow_valid(svc, ct)) {
    np_count_forward(service_id, skb, 0);
    return np_apply(skb, &p, ct);
  }

  reason = np_new_flow(&p, svc, &fwd);
  if (reason) {
    np_count_drop(reason);
    np_count_service_drop(service_id, reason);
    return TC_ACT_SHOT;
  }
  np_count_forward(service_id, skb, 1);
  return np_apply(skb, &p, &fwd);
}

static __always_inline int np_egress(struct __sk_buff *skb) {
  struct np_pkt p = {};
  struct kl_np_ct *ct;
  int verdict;

  if (np_parse(skb, &p) < 0) {
    verdict = np_icmp_egress(skb);
    return verdict < 0 ? TC_ACT_OK : verdict;
  }
  p.t.dir = KL_NP_DIR_REPLY;
  ct = bpf_map_lookup_elem(&kl_np_ct_v1, &p.t);
  if (!ct || !(ct->flags & KL_NP_CT_EGRESS))
    return TC_ACT_OK;
  return np_apply(skb, &p, ct);
}

SEC("tc")
int kl_np_ingress(struct __sk_buff *skb) { return np_ingress(skb); }

SEC("tc")
int kl_np_egress(struct __sk_buff *skb) { return np_egress(skb); }
