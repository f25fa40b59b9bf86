// SPDX-License-Identifier: GPL-2.0
/* sock_lb.bpf.c: kernlet's socket-level load balancer for Service VIPs.
 *
 * cgroup/connect{4,6} and cgroup/sendmsg{4,6} rewrite a VIP:port (+protocol) to a ready
 * backend before the kernel routes anything, so TCP and UDP reach the backend with no
 * per-packet NAT; cgroup/recvmsg{4,6} and cgroup/getpeername{4,6} rewrite the backend back
 * to the VIP the application asked for, from kl_lb_revnat_v1 (socket cookie + backend).
 *
 * Selection is uniform random (bpf_get_prandom_u32) over the service's ready slots; with
 * sessionAffinity ClientIP the client's network namespace keeps its backend until the
 * timeout passes without a connection.
 *
 * A service with no ready backend fails connect()/sendmsg() at once with ECONNREFUSED:
 * bpf_set_retval(-ECONNREFUSED) and return 0. A cgroup program that returns 0 makes the
 * syscall fail with EPERM unless the program set another error with bpf_set_retval
 * (kernel >= 5.18; the run-array keeps a negative retval the program set). ECONNREFUSED
 * is what a client sees from kube-proxy's REJECT rule for an endpoint-less service.
 *
 * Every translation and refusal is counted per service in kl_lb_stats_v1 (per-CPU).
 *
 * iter/tcp and iter/udp destroy (bpf_sock_destroy kfunc, kernel >= 6.5) the sockets that
 * this balancer connected to a (VIP, backend) pair listed in kl_lb_drain_v1: the socket's
 * cookie must map to that backend in kl_lb_revnat_v1 with that VIP, so only sockets the
 * balancer itself pointed at the backend are touched.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kernlet_lb.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define ECONNREFUSED 111

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE_WAIT 8

char LICENSE[] SEC("license") = "GPL";

/* The maps only user space writes (services, backend sets, counters, drain list) are
 * BPF_F_NO_PREALLOC: they hold what the cluster has, not their maximum (preallocated, the
 * two loaders' maps took ~190 MB of kernel memory and ~1 s of CPU at every agent start).
 * The programs only look them up. The LRU tables the programs fill stay preallocated, as
 * the kernel requires. A pinned map of the old definition is carried over by the loader
 * (bpf/loader/pinned_maps.h). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_LB_MAX_SERVICES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_lb_endpoint);
  __type(value, struct kl_lb_service);
} kl_lb_services_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_LB_MAX_SLOTS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_lb_slot_key);
  __type(value, struct kl_lb_endpoint);
} kl_lb_slots_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_LB_MAX_SLOTS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_lb_member_key);
  __type(value, __u32);
} kl_lb_members_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KL_LB_MAX_AFFINITY);
  __type(key, struct kl_lb_affinity_key);
  __type(value, struct kl_lb_affinity);
} kl_lb_affinity_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KL_LB_MAX_REVNAT);
  __type(key, struct kl_lb_revnat_key);
  __type(value, struct kl_lb_endpoint);
} kl_lb_revnat_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KL_LB_MAX_DRAIN);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct kl_lb_drain_key);
  __type(value, __u32);
} kl_lb_drain_v1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, KL_LB_MAX_SERVICES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct kl_lb_stats);
} kl_lb_stats_v1 SEC(".maps");

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* Outcome of a forward translation. */
enum {
  LB_PASS = 0,    /* not a service address: leave the socket alone */
  LB_XLATED = 1,  /* *dst now holds a backend */
  LB_REFUSE = 2,  /* a service with no ready backend */
};

/* Which hook asked for the translation (picks the counter). */
enum {
  LB_HOOK_CONNECT = 0,
  LB_HOOK_SENDMSG = 1,
};

/* Bumps the service's counter for an outcome. The entry exists while the loader has the
 * service installed; a missing one (removed under us) is not recreated. */
static __always_inline void lb_count(__u32 service_id, int outcome, int hook) {
  struct kl_lb_stats *st = bpf_map_lookup_elem(&kl_lb_stats_v1, &service_id);

  if (!st)
    return;
  if (outcome == LB_REFUSE)
    st->refused += 1;
  else if (hook == LB_HOOK_CONNECT)
    st->connects += 1;
  else
    st->sendmsgs += 1;
}

static __always_inline int lb_pick(struct kl_lb_service *svc, struct kl_lb_endpoint *out) {
  struct kl_lb_slot_key sk = {.backend_set = svc->backend_set};
  struct kl_lb_endpoint *be;

  sk.slot = bpf_get_prandom_u32() % svc->count;
  be = bpf_map_lookup_elem(&kl_lb_slots_v1, &sk);
  if (!be)
    return -1;
  *out = *be;
  return 0;
}

/* Looks up dst (VIP:port+proto) and replaces it with a backend. Writes the reverse entry
 * for the socket so recvmsg/getpeername can show the VIP. */
static __always_inline int __lb_xlate(void *ctx, struct kl_lb_endpoint *dst, __u32 *service_id) {
  struct kl_lb_service *svc;
  struct kl_lb_endpoint be = {};
  struct kl_lb_endpoint vip = *dst;
  struct kl_lb_revnat_key rk = {};
  int attempt;

  svc = bpf_map_lookup_elem(&kl_lb_services_v1, dst);
  if (!svc)
    return LB_PASS;
  *service_id = svc->service_id;
  if (svc->count == 0)
    return LB_REFUSE;

  if (svc->flags & KL_LB_FLAG_AFFINITY) {
    struct kl_lb_affinity_key ak = {.netns_cookie = bpf_get_netns_cookie(ctx),
                                    .service_id = svc->service_id};
    struct kl_lb_affinity *aff = bpf_map_lookup_elem(&kl_lb_affinity_v1, &ak);
    __u64 now = bpf_ktime_get_ns();
    int found = 0;

    if (aff && now - aff->last_used_ns <= (__u64)svc->affinity_timeout * 1000000000ULL) {
      struct kl_lb_member_key mk = {.backend_set = svc->backend_set, .backend = aff->backend};
      if (bpf_map_lookup_elem(&kl_lb_members_v1, &mk)) {
        be = aff->backend;
        aff->last_used_ns = now;
        found = 1;
      }
    }
    if (!found) {
      struct kl_lb_affinity nv = {};
      if (lb_pick(svc, &be) < 0)
        return LB_REFUSE;
      nv.backend = be;
      nv.last_used_ns = now;
      bpf_map_update_elem(&kl_lb_affinity_v1, &ak, &nv, BPF_ANY);
    }
  } else {
    /* A slot can vanish between reading the service and reading the slot when the
     * loader swaps backend sets; the service entry then already names the new set. */
    for (attempt = 0; attempt < 2; attempt++) {
      if (lb_pick(svc, &be) == 0)
        break;
      svc = bpf_map_lookup_elem(&kl_lb_services_v1, dst);
      if (!svc || svc->count == 0)
        return LB_REFUSE;
    }
    if (attempt == 2)
      return LB_REFUSE;
  }

  rk.cookie = bpf_get_socket_cookie(ctx);
  rk.backend = be;
  rk.backend.proto = 0;
  bpf_map_update_elem(&kl_lb_revnat_v1, &rk, &vip, BPF_ANY);

  dst->addr[0] = be.addr[0];
  dst->addr[1] = be.addr[1];
  dst->addr[2] = be.addr[2];
  dst->addr[3] = be.addr[3];
  dst->port = be.port;
  return LB_XLATED;
}

static __always_inline int lb_xlate(void *ctx, struct kl_lb_endpoint *dst, int hook) {
  __u32 service_id = 0;
  int rc = __lb_xlate(ctx, dst, &service_id);

  if (rc != LB_PASS)
    lb_count(service_id, rc, hook);
  return rc;
}

static __always_inline __u8 lb_proto(struct bpf_sock_addr *ctx) {
  if (ctx->protocol == IPPROTO_TCP)
    return KL_LB_PROTO_TCP;
  if (ctx->protocol == IPPROTO_UDP)
    return KL_LB_PROTO_UDP;
  return 0;
}

/* ---- IPv4 ---- */

static __always_inline int lb4_forward(struct bpf_sock_addr *ctx, int hook) {
  struct kl_lb_endpoint dst = {};
  int rc;

  dst.proto = lb_proto(ctx);
  if (!dst.proto)
    return 1;
  dst.family = KL_LB_FAMILY_V4;
  dst.addr[0] = ctx->user_ip4;
  dst.port = (__u16)ctx->user_port;

  rc = lb_xlate(ctx, &dst, hook);
  if (rc == LB_REFUSE) {
    bpf_set_retval(-ECONNREFUSED);
    return 0;
  }
  if (rc == LB_XLATED) {
    ctx->user_ip4 = dst.addr[0];
    ctx->user_port = dst.port;
  }
  return 1;
}

static __always_inline void lb4_reverse(struct bpf_sock_addr *ctx) {
  struct kl_lb_revnat_key rk = {};
  struct kl_lb_endpoint *vip;

  rk.cookie = bpf_get_socket_cookie(ctx);
  rk.backend.family = KL_LB_FAMILY_V4;
  rk.backend.addr[0] = ctx->user_ip4;
  rk.backend.port = (__u16)ctx->user_port;
  vip = bpf_map_lookup_elem(&kl_lb_revnat_v1, &rk);
  if (!vip)
    return;
  ctx->user_ip4 = vip->addr[0];
  ctx->user_port = vip->port;
}

SEC("cgroup/connect4")
int kl_lb4_connect(struct bpf_sock_addr *ctx) { return lb4_forward(ctx, LB_HOOK_CONNECT); }

SEC("cgroup/sendmsg4")
int kl_lb4_sendmsg(struct bpf_sock_addr *ctx) { return lb4_forward(ctx, LB_HOOK_SENDMSG); }

SEC("cgroup/recvmsg4")
int kl_lb4_recvmsg(struct bpf_sock_addr *ctx) {
  lb4_reverse(ctx);
  return 1;
}

SEC("cgroup/getpeername4")
int kl_lb4_getpeername(struct bpf_sock_addr *ctx) {
  lb4_reverse(ctx);
  return 1;
}

/* ---- IPv6 (an IPv4-mapped ::ffff:a.b.c.d is looked up as the IPv4 service) ---- */

static __always_inline int lb6_load(struct bpf_sock_addr *ctx, struct kl_lb_endpoint *e) {
  __u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1], a2 = ctx->user_ip6[2],
        a3 = ctx->user_ip6[3];
  int mapped = a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff);

  if (mapped) {
    e->family = KL_LB_FAMILY_V4;
    e->addr[0] = a3;
  } else {
    e->family = KL_LB_FAMILY_V6;
    e->addr[0] = a0;
    e->addr[1] = a1;
    e->addr[2] = a2;
    e->addr[3] = a3;
  }
  e->port = (__u16)ctx->user_port;
  return mapped;
}

static __always_inline void lb6_store(struct bpf_sock_addr *ctx, const struct kl_lb_endpoint *e,
                                      int mapped) {
  if (mapped) {
    ctx->user_ip6[3] = e->addr[0];
  } else {
    ctx->user_ip6[0] = e->addr[0];
    ctx->user_ip6[1] = e->addr[1];
    ctx->user_ip6[2] = e->addr[2];
    ctx->user_ip6[3] = e->addr[3];
  }
  ctx->user_port = e->port;
}

static __always_inline int lb6_forward(struct bpf_sock_addr *ctx, int hook) {
  struct kl_lb_endpoint dst = {};
  int mapped, rc;

  dst.proto = lb_proto(ctx);
  if (!dst.proto)
    return 1;
  mapped = lb6_load(ctx, &dst);
  rc = lb_xlate(ctx, &dst, hook);
  if (rc == LB_REFUSE) {
    bpf_set_retval(-ECONNREFUSED);
    return 0;
  }
  if (rc == LB_XLATED)
    lb6_store(ctx, &dst, mapped);
  return 1;
}

static __always_inline void lb6_reverse(struct bpf_sock_addr *ctx) {
  struct kl_lb_revnat_key rk = {};
  struct kl_lb_endpoint *vip;
  int mapped;

  rk.cookie = bpf_get_socket_cookie(ctx);
  mapped = lb6_load(ctx, &rk.backend);
  vip = bpf_map_lookup_elem(&kl_lb_revnat_v1, &rk);
  if (!vip)
    return;
  lb6_store(ctx, vip, mapped);
}

SEC("cgroup/connect6")
int kl_lb6_connect(struct bpf_sock_addr *ctx) { return lb6_forward(ctx, LB_HOOK_CONNECT); }

SEC("cgroup/sendmsg6")
int kl_lb6_sendmsg(struct bpf_sock_addr *ctx) { return lb6_forward(ctx, LB_HOOK_SENDMSG); }

SEC("cgroup/recvmsg6")
int kl_lb6_recvmsg(struct bpf_sock_addr *ctx) {
  lb6_reverse(ctx);
  return 1;
}

SEC("cgroup/getpeername6")
int kl_lb6_getpeername(struct bpf_sock_addr *ctx) {
  lb6_reverse(ctx);
  return 1;
}

/* ---- draining ---- */

/* 1 when skc is a connected socket this balancer pointed at a (VIP, backend) in the
 * drain map. */
static __always_inline int lb_should_drain(struct sock_common *skc) {
  struct kl_lb_revnat_key rk = {};
  struct kl_lb_drain_key dk = {};
  struct kl_lb_endpoint *vip;
  __u16 family = skc->skc_family;

  if (family == AF_INET) {
    rk.backend.family = KL_LB_FAMILY_V4;
    rk.backend.addr[0] = skc->skc_daddr;
  } else if (family == AF_INET6) {
    __u32 a0 = skc->skc_v6_daddr.in6_u.u6_addr32[0], a1 = skc->skc_v6_daddr.in6_u.u6_addr32[1],
          a2 = skc->skc_v6_daddr.in6_u.u6_addr32[2], a3 = skc->skc_v6_daddr.in6_u.u6_addr32[3];
    if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff)) {
      rk.backend.family = KL_LB_FAMILY_V4;
      rk.backend.addr[0] = a3;
    } else {
      rk.backend.family = KL_LB_FAMILY_V6;
      rk.backend.addr[0] = a0;
      rk.backend.addr[1] = a1;
      rk.backend.addr[2] = a2;
      rk.backend.addr[3] = a3;
    }
  } else {
    return 0;
  }
  rk.backend.port = skc->skc_dport;
  if (rk.backend.port == 0)
    return 0;
  rk.cookie = bpf_get_socket_cookie(skc);
  vip = bpf_map_lookup_elem(&kl_lb_revnat_v1, &rk);
  if (!vip)
    return 0;
  dk.vip = *vip;
  dk.backend = rk.backend;
  return bpf_map_lookup_elem(&kl_lb_drain_v1, &dk) != NULL;
}

SEC("iter/tcp")
int kl_lb_drain_tcp(struct bpf_iter__tcp *ctx) {
  struct sock_common *skc = ctx->sk_common;
  int state;

  if (!skc)
    return 0;
  state = skc->skc_state;
  if (state != TCP_ESTABLISHED && state != TCP_SYN_SENT && state != TCP_CLOSE_WAIT)
    return 0;
  if (lb_should_drain(skc))
    bpf_sock_destroy(skc);
  return 0;
}

SEC("iter/udp")
int kl_lb_drain_udp(struct bpf_iter__udp *ctx) {
  struct sock_common *skc = (struct sock_common *)ctx->udp_sk;

  if (!skc)
    return 0;
  if (skc->skc_state != TCP_ESTABLISHED) /* connected UDP */
    return 0;
  if (lb_should_drain(skc))
    bpf_sock_destroy(skc);
  return 0;
}
