/* kernlet_lb.h: the map layouts shared by the socket load balancer (progs/sock_lb.bpf.c),
 * the NodePort datapath (progs/nodeport.bpf.c) and their C++ loaders (loader/sock_lb.cc,
 * loader/nodeport_lb.cc). One header, included by both sides; the C++
 * side static_asserts sizes and offsets. Every struct has explicit padding and no
 * bitfields. Maps are named with a _v1 suffix: a layout change renames them (_v2), so a
 * pinned map of an old layout is never read with a new one.
 *
 * Addresses are 16 bytes: an IPv4 address sits in addr[0] (network order) with addr[1..3]
 * zero and family 4; an IPv6 address fills all four words with family 6. Ports are in
 * network byte order, as the kernel hands them to sock_addr programs.
 */
#ifndef KERNLET_BPF_KERNLET_LB_H_
#define KERNLET_BPF_KERNLET_LB_H_

#ifdef __bpf__
/* vmlinux.h provides __u8.. __u64. */
#else
#include <linux/types.h>
#endif

#define KL_LB_FAMILY_V4 4
#define KL_LB_FAMILY_V6 6

#define KL_LB_PROTO_TCP 6
#define KL_LB_PROTO_UDP 17

/* kl_lb_service.flags */
#define KL_LB_FLAG_AFFINITY 0x1 /* sessionAffinity: ClientIP */

#define KL_LB_MAX_SERVICES 65536
#define KL_LB_MAX_SLOTS 262144
#define KL_LB_MAX_AFFINITY 65536
#define KL_LB_MAX_REVNAT 262144
#define KL_LB_MAX_DRAIN 4096

/* An address:port of one family and protocol. 24 bytes. */
struct kl_lb_endpoint {
  __u32 addr[4]; /* see the header comment */
  __u16 port;    /* network order */
  __u8 family;   /* KL_LB_FAMILY_V4 or _V6 */
  __u8 proto;    /* KL_LB_PROTO_TCP or _UDP; 0 in backend values (the service's applies) */
  __u32 pad;     /* zero */
};

/* kl_lb_services_v1: key = the VIP:port+protocol clients connect to. */
struct kl_lb_service {
  __u32 service_id;       /* stable per VIP:port:proto, keys the affinity map */
  __u32 backend_set;      /* which generation of kl_lb_slots_v1 entries is live */
  __u32 count;            /* slots 0..count-1 of backend_set are ready backends; 0 = refuse */
  __u32 flags;            /* KL_LB_FLAG_* */
  __u32 affinity_timeout; /* seconds, when KL_LB_FLAG_AFFINITY */
  __u32 pad;              /* zero */
};

/* kl_lb_slots_v1 key; the value is a kl_lb_endpoint (proto 0). */
struct kl_lb_slot_key {
  __u32 backend_set; /* kl_lb_service.backend_set */
  __u32 slot;        /* 0..count-1 */
};

/* kl_lb_members_v1 key: is this backend in this backend set? Value: __u32 slot. Lets the
 * affinity path check that a remembered backend is still ready without scanning slots. */
struct kl_lb_member_key {
  __u32 backend_set;
  __u32 pad; /* zero */
  struct kl_lb_endpoint backend;
};

/* kl_lb_affinity_v1 (LRU): the client is its network namespace (the socket's netns
 * cookie): pods have one IP per netns, so this is ClientIP affinity at socket level. */
struct kl_lb_affinity_key {
  __u64 netns_cookie;
  __u32 service_id;
  __u32 pad; /* zero */
};

struct kl_lb_affinity {
  struct kl_lb_endpoint backend;
  __u64 last_used_ns; /* bpf_ktime_get_ns() of the last connect that used it */
};

/* kl_lb_revnat_v1 (LRU): socket cookie + the backend it was sent to -> the VIP the
 * application asked for. Connected sockets (TCP, connected UDP) have one entry; an
 * unconnected UDP socket has one per backend it sent to. Value: a kl_lb_endpoint (VIP). */
struct kl_lb_revnat_key {
  __u64 cookie;
  struct kl_lb_endpoint backend; /* proto 0 */
};

/* kl_lb_drain_v1: (VIP, backend) pairs whose sockets the iterators destroy. The loader
 * fills it, runs iter/tcp and iter/udp, then empties it. Value: __u32 (unused, 1). */
struct kl_lb_drain_key {
  struct kl_lb_endpoint vip;     /* with proto */
  struct kl_lb_endpoint backend; /* proto 0 */
};

/* kl_lb_stats_v1 (per-CPU hash): per-service counters of the socket load balancer, read with
 * `bpftool map dump pinned <pin dir>/kl_lb_stats_v1` (BTF names the fields) and exported by
 * the agent's /metrics. Key: __u32 kl_lb_service.service_id. The loader creates a zeroed
 * entry when it installs a service and deletes it when it removes the service; the programs
 * only add to an existing entry, so a VIP:port the loader does not know is never counted.
 * 24 bytes. */
struct kl_lb_stats {
  __u64 connects;  /* connect() to the VIP:port given a backend */
  __u64 sendmsgs;  /* unconnected UDP sendmsg() to the VIP:port given a backend */
  __u64 refused;   /* connect()/sendmsg() failed with ECONNREFUSED: no ready backend */
};

/* ---- NodePort, LoadBalancer and externalIPs from outside the node (progs/nodeport.bpf.c,
 * tc clsact on the node's external interface). IPv4 only. Addresses and ports in network
 * order. The loader is loader/nodeport_lb.cc. ---- */

#define KL_NP_MAX_SERVICES 65536
#define KL_NP_MAX_SLOTS 262144
#define KL_NP_MAX_CT 262144
#define KL_NP_MAX_SRC_RANGES 16384

/* kl_np_service.flags */
#define KL_NP_FLAG_LOCAL 0x1      /* externalTrafficPolicy Local: never SNAT (client IP kept) */
#define KL_NP_FLAG_SRC_RANGES 0x2 /* loadBalancerSourceRanges: the client must match one */

/* kl_np_backend.flags */
#define KL_NP_BACKEND_REMOTE 0x1 /* on another node: SNAT to the node so replies return here */

/* kl_np_ct_key.dir */
#define KL_NP_DIR_FWD 0   /* client -> service, as it arrives on the external interface */
#define KL_NP_DIR_REPLY 1 /* backend -> (client or the node's SNAT address:port) */

/* kl_np_ct.flags */
#define KL_NP_CT_REDIRECT 0x1 /* after rewriting, the source is a node/service address that the
                               * kernel's input path would reject as martian: FIB + redirect */
#define KL_NP_CT_EGRESS 0x2   /* a reply entry applied on egress (local backend, no SNAT) */

/* Drop reasons: the index into kl_np_drops_v1 (per-CPU __u64 counters). 0 is "no drop", so
 * a helper can return 0 for success and a reason otherwise. */
#define KL_NP_DROP_NONE 0
#define KL_NP_DROP_NOT_ALLOWED 1    /* client outside loadBalancerSourceRanges */
#define KL_NP_DROP_NO_BACKEND 2     /* no (local, for Local) ready backend */
#define KL_NP_DROP_SNAT_EXHAUSTED 3 /* no free SNAT port for this backend */
#define KL_NP_DROP_NO_ROUTE 4       /* FIB lookup found no way to the translated destination */
#define KL_NP_DROP_CT_FULL 5        /* conntrack entry could not be written */
#define KL_NP_DROP_REASONS 6

/* kl_np_services_v1 key: an address:port+protocol reachable from outside (node address with
 * a nodePort, a LoadBalancer ingress IP or an externalIP with the service port). 8 bytes. */
struct kl_np_service_key {
  __u32 addr;  /* IPv4, network order */
  __u16 port;  /* network order */
  __u8 proto;  /* KL_LB_PROTO_TCP or _UDP */
  __u8 pad;    /* zero */
};

/* kl_np_services_v1 value. 16 bytes. */
struct kl_np_service {
  __u32 service_id;  /* stable per key; keys the source ranges */
  __u32 backend_set; /* generation of kl_np_slots_v1 / kl_np_members_v1 entries that is live */
  __u32 count;       /* slots 0..count-1 are the ready backends; 0 = drop new flows */
  __u32 flags;       /* KL_NP_FLAG_* */
};

/* kl_np_slots_v1 key is a struct kl_lb_slot_key; the value: one backend. 8 bytes. */
struct kl_np_backend {
  __u32 addr;  /* IPv4, network order */
  __u16 port;  /* network order */
  __u8 flags;  /* KL_NP_BACKEND_* */
  __u8 pad;    /* zero */
};

/* kl_np_members_v1 key: backends whose established flows continue (ready and terminating).
 * Value: __u32 (1). 12 bytes. */
struct kl_np_member_key {
  __u32 backend_set;
  __u32 addr;  /* network order */
  __u16 port;  /* network order */
  __u16 pad;   /* zero */
};

/* kl_np_src_ranges_v1 (LPM trie) key: prefixlen counts service_id's 32 bits plus the CIDR's
 * length. Value: __u8 (1). 12 bytes. */
struct kl_np_src_range_key {
  __u32 prefixlen;
  __u32 service_id; /* network order, so the trie matches it bit by bit first */
  __u32 addr;       /* network order */
};

/* kl_np_ct_v1 (LRU) key: the packet's tuple as seen on the external interface. 16 bytes. */
struct kl_np_ct_key {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 dir;    /* KL_NP_DIR_* */
  __u16 pad;   /* zero */
};

/* kl_np_ct_v1 value: the tuple the packet is rewritten to. 24 bytes. */
struct kl_np_ct {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u32 flags;        /* KL_NP_CT_* */
  __u64 last_seen_ns; /* bpf_ktime_get_ns() of the last packet */
};

/* kl_np_config_v1 (array, one entry): the node's SNAT source. 8 bytes. */
struct kl_np_config {
  __u32 snat_addr;      /* network order; 0 = no SNAT possible (remote backends drop) */
  __u16 snat_port_min;  /* host order, inclusive */
  __u16 snat_port_max;  /* host order, inclusive */
};

/* kl_np_stats_v1 (per-CPU hash): per-service counters of the NodePort datapath, like
 * kl_lb_stats_v1. Key: __u32 kl_np_service.service_id; entries are created and deleted by the
 * loader with the service. Counted on ingress, client -> service direction only (a reply's
 * conntrack entry does not name its service). 40 bytes. */
struct kl_np_stats {
  __u64 flows;      /* new flows given a backend (conntrack entries written) */
  __u64 packets;    /* client -> service packets translated, new and established flows */
  __u64 bytes;      /* their length on the wire (skb->len, Ethernet header included) */
  __u64 no_backend; /* packets dropped: no (local, for Local) ready backend */
  __u64 denied;     /* packets dropped: client outside loadBalancerSourceRanges */
};

#endif /* KERNLET_BPF_KERNLET_LB_H_ */
