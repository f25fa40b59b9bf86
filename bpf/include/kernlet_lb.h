/* kernlet_lb.h: the map layouts shared by the socket load balancer (progs/sock_lb.bpf.c)
 * and its C++ loader (loader/service_map.cc). One header, included by both sides; the C++
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

#endif /* KERNLET_BPF_KERNLET_LB_H_ */
