// Root integration tests of the NodePort tc datapath (bpf/progs/nodeport.bpf.c through
// bpf/loader/nodeport_lb.h), as tables run in the kernel with BPF_PROG_TEST_RUN: each row
// is an input packet for the ingress or the egress program, the expected verdict and the
// expected output packet (or "unchanged"), and optionally a drop counter that must go up.
// Rows of one table run in order against one loaded object, so the conntrack entries
// earlier rows create are the map contents later rows see; services (the other map
// contents) are programmed through NodePortLb::upsert.
//
// Expected packets are built from scratch with checksums computed in full here, so a row
// also checks the datapath's incremental checksum updates byte for byte.
//
// Everything runs on a thread in a network namespace of the test's own (gone when the
// thread ends) holding a veth pair n0/n1: n0 is the "node" with 198.51.100.1/24, routes
// to 10.244.2.0/24 (a remote pod CIDR) and 203.0.113.0/24 (clients) via neighbours on it,
// so the programs' FIB lookups have a real table to consult. No packet is sent.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bpf/loader/nodeport_lb.h"

namespace kernlet::bpf {
namespace {

constexpr int kOk = 0;        // TC_ACT_OK
constexpr int kShot = 2;      // TC_ACT_SHOT
constexpr int kRedirect = 7;  // TC_ACT_REDIRECT

// Drop reasons (kernlet_lb.h KL_NP_DROP_*).
constexpr int kNotAllowed = 1, kNoBackend = 2, kSnatExhausted = 3, kNoRoute = 4;

constexpr const char* kNode = "198.51.100.1";
constexpr const char* kClient = "203.0.113.7";
constexpr const char* kLocalPod = "10.244.1.5";
constexpr const char* kRemotePod = "10.244.2.5";
constexpr const char* kRemotePod2 = "10.244.2.6";

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

std::uint32_t ip4(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

// One IPv4 TCP or UDP packet behind Ethernet.
struct Pkt {
  std::uint8_t proto = 6;  // 6 TCP, 17 UDP
  const char* src = "";
  std::uint16_t sport = 0;
  const char* dst = "";
  std::uint16_t dport = 0;
  bool udp_no_csum = false;  // UDP checksum field 0 ("none")
  std::uint16_t frag = 0x4000;  // DF
};

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += (p[i] << 8) | p[i + 1];
  if (n & 1) acc += p[n - 1] << 8;
  return acc;
}

std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc & 0xffff);
}

void put16(std::vector<std::uint8_t>& b, std::size_t off, std::uint16_t v) {
  b[off] = static_cast<std::uint8_t>(v >> 8);
  b[off + 1] = static_cast<std::uint8_t>(v & 0xff);
}

// Ethernet + IPv4 (20 bytes) + TCP (20) or UDP (8) + "kl!!", checksums computed in full.
std::vector<std::uint8_t> build(const Pkt& p) {
  const std::size_t l4len = (p.proto == 6 ? 20 : 8) + 4;
  std::vector<std::uint8_t> b(14 + 20 + l4len, 0);
  const std::uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  std::memcpy(b.data(), macs, 12);
  put16(b, 12, 0x0800);
  std::uint8_t* ip = b.data() + 14;
  ip[0] = 0x45;
  put16(b, 16, static_cast<std::uint16_t>(20 + l4len));
  put16(b, 18, 0x1234);
  put16(b, 20, p.frag);
  ip[8] = 64;
  ip[9] = p.proto;
  std::uint32_t s = ip4(p.src), d = ip4(p.dst);
  std::memcpy(ip + 12, &s, 4);
  std::memcpy(ip + 16, &d, 4);
  put16(b, 24, fold(sum16(ip, 20)));
  const std::size_t l4 = 34;
  put16(b, l4, p.sport);
  put16(b, l4 + 2, p.dport);
  if (p.proto == 6) {
    put16(b, l4 + 4, 0);
    put16(b, l4 + 6, 1);          // seq 1
    b[l4 + 12] = 5 << 4;          // data offset
    b[l4 + 13] = 0x02;            // SYN
    put16(b, l4 + 14, 0xffff);    // window
  } else {
    put16(b, l4 + 4, static_cast<std::uint16_t>(l4len));
  }
  std::memcpy(b.data() + l4 + l4len - 4, "kl!!", 4);
  if (p.proto == 17 && p.udp_no_csum) return b;
  std::uint8_t pseudo[12] = {};
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[9] = p.proto;
  pseudo[10] = static_cast<std::uint8_t>(l4len >> 8);
  pseudo[11] = static_cast<std::uint8_t>(l4len & 0xff);
  std::uint16_t c = fold(sum16(b.data() + l4, l4len, sum16(pseudo, 12)));
  if (p.proto == 17 && c == 0) c = 0xffff;
  put16(b, l4 + (p.proto == 6 ? 16 : 6), c);
  return b;
}

std::string describe(const std::vector<std::uint8_t>& b) {
  if (b.size() < 38) return "(short packet of " + std::to_string(b.size()) + " bytes)";
  char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, b.data() + 26, src, sizeof src);
  inet_ntop(AF_INET, b.data() + 30, dst, sizeof dst);
  std::string hex;
  for (std::size_t i = 0; i < b.size(); ++i) { char h[4]; std::snprintf(h, sizeof h, "%02x ", b[i]); hex += h; }
  char out[160];
  std::snprintf(out, sizeof out, "%s %s:%u -> %s:%u ipcsum=%04x l4csum=%04x", b[23] == 6 ? "TCP" : "UDP", src,
                (b[34] << 8) | b[35], dst, (b[36] << 8) | b[37], (b[24] << 8) | b[25],
                b[23] == 6 ? (b[50] << 8) | b[51] : (b[40] << 8) | b[41]);
  return out + (" [" + hex + "]");
}

// Ethernet + IPv4 + an ICMP error (type, code; for "fragmentation needed" the next-hop MTU
// 1400) quoting `quoted` (built by build(), without its Ethernet header) cut to `quote_len`
// bytes (0: all of it). Checksums in full.
std::vector<std::uint8_t> build_icmp(const char* src, const char* dst, std::uint8_t type, std::uint8_t code,
                                     const Pkt& quoted, std::size_t quote_len = 0) {
  std::vector<std::uint8_t> q = build(quoted);
  q.erase(q.begin(), q.begin() + 14);
  if (quote_len != 0 && quote_len < q.size()) q.resize(quote_len);
  std::vector<std::uint8_t> b(14 + 20 + 8 + q.size(), 0);
  const std::uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  std::memcpy(b.data(), macs, 12);
  put16(b, 12, 0x0800);
  std::copy(q.begin(), q.end(), b.begin() + 42);
  std::uint8_t* ip = b.data() + 14;
  ip[0] = 0x45;
  put16(b, 16, static_cast<std::uint16_t>(b.size() - 14));
  put16(b, 18, 0x4321);
  ip[8] = 64;
  ip[9] = 1;  // ICMP
  std::uint32_t s = ip4(src), d = ip4(dst);
  std::memcpy(ip + 12, &s, 4);
  std::memcpy(ip + 16, &d, 4);
  put16(b, 24, fold(sum16(ip, 20)));
  b[34] = type;
  b[35] = code;
  if (type == 3 && code == 4) put16(b, 40, 1400);
  put16(b, 36, fold(sum16(b.data() + 34, b.size() - 34)));
  return b;
}

struct Result_ {
  int verdict = -1;
  std::vector<std::uint8_t> out;
};

// Runs one program over one packet in the kernel; skb->ifindex is the test's n0.
Result_ run(int prog_fd, const std::vector<std::uint8_t>& in, int ifindex) {
  Result_ r;
  r.out.assign(in.size() + 64, 0);
  __sk_buff ctx{};
  ctx.ifindex = static_cast<std::uint32_t>(ifindex);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
              .data_size_in = static_cast<std::uint32_t>(in.size()),
              .data_size_out = static_cast<std::uint32_t>(r.out.size()), .ctx_in = &ctx, .ctx_size_in = sizeof ctx,
              .repeat = 1);
  int err = bpf_prog_test_run_opts(prog_fd, &opts);
  if (err != 0) {
    ADD_FAILURE() << "BPF_PROG_TEST_RUN: " << std::strerror(-err);
    return r;
  }
  r.verdict = static_cast<int>(opts.retval);
  r.out.resize(opts.data_size_out);
  return r;
}

using Hook = NodePortLb::Hook;

struct Row {
  const char* what;
  Hook hook;
  Pkt in;
  int verdict;
  std::optional<Pkt> out;  // nullopt: the packet leaves unchanged
  int drop = -1;           // a KL_NP_DROP_* counter that must go up by one
};

NodePortSpec spec(const char* addr, std::uint16_t port, std::vector<NodePortBackend> backends,
                  Protocol proto = Protocol::kTcp) {
  NodePortSpec s;
  s.key = ServiceKey{ip(addr), port, proto};
  s.backends = std::move(backends);
  return s;
}

NodePortBackend local(const char* a, std::uint16_t port) { return {Backend{ip(a), port}, false}; }
NodePortBackend remote(const char* a, std::uint16_t port) { return {Backend{ip(a), port}, true}; }

class NodePortDatapath : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (BPF, network namespaces)";
    if (std::system("command -v ip >/dev/null") != 0) GTEST_SKIP() << "ip(8) missing for the test's setup";
  }

  // Runs body on a thread in a fresh network namespace (see the file comment) with a
  // NodePortLb loaded there, not attached, SNAT to the node address over [port_min, port_max].
  void in_node(std::uint16_t port_min, std::uint16_t port_max, const std::function<void(NodePortLb&)>& body) {
    std::thread t([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        return;
      }
      if (std::system("ip link add n0 type veth peer name n1 && ip addr add 198.51.100.1/24 dev n0 && "
                      "ip link set n1 up && ip link set n0 up && sysctl -qw net.ipv4.conf.all.forwarding=1 && "
                      "ip route add 10.244.2.0/24 via 198.51.100.2 && "
                      "ip route add 203.0.113.0/24 via 198.51.100.254") != 0) {
        ADD_FAILURE() << "could not set up the test namespace's veth and routes";
        return;
      }
      ifindex_ = static_cast<int>(::if_nametoindex("n0"));
      NodePortLb::Options o;
      o.snat_addr = ip(kNode);
      o.snat_port_min = port_min;
      o.snat_port_max = port_max;
      auto lb = NodePortLb::load(o);
      if (!lb.ok()) {
        ADD_FAILURE() << lb.error().to_string();
        return;
      }
      body(**lb);
    });
    t.join();
  }

  void run_table(NodePortLb& lb, const std::vector<Row>& rows) {
    for (const Row& row : rows) {
      SCOPED_TRACE(row.what);
      auto before = lb.drops();
      std::vector<std::uint8_t> in = build(row.in);
      Result_ r = run(lb.program_fd(row.hook), in, ifindex_);
      EXPECT_EQ(r.verdict, row.verdict) << row.what << ": out " << describe(r.out);
      if (row.verdict != kShot) {
        std::vector<std::uint8_t> want = row.out ? build(*row.out) : in;
        EXPECT_EQ(r.out, want) << row.what << "\n   got " << describe(r.out) << "\n  want " << describe(want);
      }
      auto after = lb.drops();
      for (int reason = 0; reason < static_cast<int>(after.size()); ++reason)
        EXPECT_EQ(after[reason] - before[reason], reason == row.drop ? 1u : 0u) << row.what << ": drop counter " << reason;
    }
  }

  int ifindex_ = 0;
};

TEST_F(NodePortDatapath, LocalBackendIsDnatedWithClientKeptAndRepliesTranslatedOnEgress) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    ASSERT_TRUE(lb.upsert(spec(kNode, 30080, {local(kLocalPod, 8080)})).ok());
    run_table(lb, {
        {"SYN to nodeIP:nodePort is DNATed to the local pod, client address kept", Hook::kIngress,
         {6, kClient, 40000, kNode, 30080}, kOk, Pkt{6, kClient, 40000, kLocalPod, 8080}},
        {"the flow's next packet follows its conntrack entry", Hook::kIngress, {6, kClient, 40000, kNode, 30080}, kOk,
         Pkt{6, kClient, 40000, kLocalPod, 8080}},
        {"the pod's reply leaving the node gets the service address back", Hook::kEgress,
         {6, kLocalPod, 8080, kClient, 40000}, kOk, Pkt{6, kNode, 30080, kClient, 40000}},
        {"egress traffic of the pod to another peer is left alone", Hook::kEgress, {6, kLocalPod, 8080, "203.0.113.8", 40000},
         kOk, std::nullopt},
        {"a port that is no nodePort is left alone", Hook::kIngress, {6, kClient, 40000, kNode, 22}, kOk, std::nullopt},
        {"UDP to a TCP-only nodePort is left alone", Hook::kIngress, {17, kClient, 40000, kNode, 30080}, kOk, std::nullopt},
        {"a fragment passes untouched", Hook::kIngress, {6, kClient, 40001, kNode, 30080, false, 0x2000}, kOk, std::nullopt},
        {"ingress never applies an egress reply entry", Hook::kIngress, {6, kLocalPod, 8080, kClient, 40000}, kOk,
         std::nullopt},
    });
    EXPECT_EQ(lb.conntrack_entries(), 2u);  // one forward, one reply
  });
}

TEST_F(NodePortDatapath, RemoteBackendIsSnatedToTheNodeAndRepliesRedirectedBack) {
  // One SNAT port, so the port is known and a second flow to the same backend finds none.
  in_node(61000, 61000, [&](NodePortLb& lb) {
    ASSERT_TRUE(lb.upsert(spec(kNode, 30081, {remote(kRemotePod, 8080)})).ok());
    run_table(lb, {
        {"SYN to a remote backend: DNAT + SNAT to node:61000, redirected by FIB", Hook::kIngress,
         {6, kClient, 40000, kNode, 30081}, kRedirect, Pkt{6, kNode, 61000, kRemotePod, 8080}},
        {"next packet of the flow: same translation", Hook::kIngress, {6, kClient, 40000, kNode, 30081}, kRedirect,
         Pkt{6, kNode, 61000, kRemotePod, 8080}},
        {"the backend's reply to node:61000 is turned back into service -> client", Hook::kIngress,
         {6, kRemotePod, 8080, kNode, 61000}, kRedirect, Pkt{6, kNode, 30081, kClient, 40000}},
        {"the SNATed packet leaving by egress is not translated again", Hook::kEgress,
         {6, kNode, 61000, kRemotePod, 8080}, kOk, std::nullopt},
        {"a second client finds the only SNAT port to that backend taken", Hook::kIngress,
         {6, "203.0.113.9", 40000, kNode, 30081}, kShot, std::nullopt, kSnatExhausted},
    });
    // The exhausted flow left nothing behind: one forward + one reply entry.
    EXPECT_EQ(lb.conntrack_entries(), 2u);
    // A second backend has its own port space: the same port is free towards it.
    ASSERT_TRUE(lb.upsert(spec(kNode, 30082, {remote(kRemotePod2, 8080)})).ok());
    run_table(lb, {
        {"the same SNAT port towards another backend", Hook::kIngress, {6, "203.0.113.9", 40000, kNode, 30082},
         kRedirect, Pkt{6, kNode, 61000, kRemotePod2, 8080}},
    });
  });
}

TEST_F(NodePortDatapath, ReplyWithoutRouteBackIsDroppedAndCounted) {
  in_node(61000, 61000, [&](NodePortLb& lb) {
    ASSERT_TRUE(lb.upsert(spec(kNode, 30081, {remote(kRemotePod, 8080)})).ok());
    run_table(lb, {
        {"a client the node has no route to: the forward way is routed", Hook::kIngress,
         {6, "192.0.2.9", 40000, kNode, 30081}, kRedirect, Pkt{6, kNode, 61000, kRemotePod, 8080}},
        {"its reply finds no route in the FIB", Hook::kIngress, {6, kRemotePod, 8080, kNode, 61000}, kShot, std::nullopt,
         kNoRoute},
    });
  });
}

TEST_F(NodePortDatapath, ExternalTrafficPolicyLocalNeverSnatsAndDropsWithoutLocalBackend) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    NodePortSpec with = spec(kNode, 30090, {local(kLocalPod, 8080)});
    with.local_policy = true;
    NodePortSpec without = spec(kNode, 30091, {});
    without.local_policy = true;
    // The datapath's own guard: a Local service never SNATs, even if a remote backend
    // were listed (desired state lists only local ones).
    NodePortSpec odd = spec(kNode, 30092, {remote(kRemotePod, 8080)});
    odd.local_policy = true;
    ASSERT_TRUE(lb.upsert(with).ok());
    ASSERT_TRUE(lb.upsert(without).ok());
    ASSERT_TRUE(lb.upsert(odd).ok());
    run_table(lb, {
        {"Local: DNAT to the local pod with the client address", Hook::kIngress, {6, kClient, 40000, kNode, 30090}, kOk,
         Pkt{6, kClient, 40000, kLocalPod, 8080}},
        {"Local: reply translated on egress", Hook::kEgress, {6, kLocalPod, 8080, kClient, 40000}, kOk,
         Pkt{6, kNode, 30090, kClient, 40000}},
        {"Local without a local backend: dropped", Hook::kIngress, {6, kClient, 40001, kNode, 30091}, kShot,
         std::nullopt, kNoBackend},
        {"Local with a remote backend: no SNAT, client kept, kernel routes", Hook::kIngress,
         {6, kClient, 40002, kNode, 30092}, kOk, Pkt{6, kClient, 40002, kRemotePod, 8080}},
    });
  });
}

TEST_F(NodePortDatapath, LoadBalancerSourceRangesPerService) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    NodePortSpec a = spec("192.0.2.100", 80, {local(kLocalPod, 8080)});
    a.source_ranges = {*Cidr::parse("203.0.113.0/25"), *Cidr::parse("198.18.7.7/32")};
    NodePortSpec b = spec("192.0.2.101", 80, {local(kLocalPod, 8081)});
    b.source_ranges = {*Cidr::parse("10.0.0.0/8")};
    NodePortSpec open = spec("192.0.2.102", 80, {local(kLocalPod, 8082)});
    ASSERT_TRUE(lb.upsert(a).ok());
    ASSERT_TRUE(lb.upsert(b).ok());
    ASSERT_TRUE(lb.upsert(open).ok());
    run_table(lb, {
        {"client inside a /25 of the service", Hook::kIngress, {6, kClient, 40000, "192.0.2.100", 80}, kOk,
         Pkt{6, kClient, 40000, kLocalPod, 8080}},
        {"client inside its /32", Hook::kIngress, {6, "198.18.7.7", 40000, "192.0.2.100", 80}, kOk,
         Pkt{6, "198.18.7.7", 40000, kLocalPod, 8080}},
        {"client outside every range", Hook::kIngress, {6, "203.0.113.200", 40000, "192.0.2.100", 80}, kShot,
         std::nullopt, kNotAllowed},
        {"another service's ranges do not apply", Hook::kIngress, {6, kClient, 40001, "192.0.2.101", 80}, kShot,
         std::nullopt, kNotAllowed},
        {"a service without ranges takes everyone", Hook::kIngress, {6, "203.0.113.200", 40000, "192.0.2.102", 80}, kOk,
         Pkt{6, "203.0.113.200", 40000, kLocalPod, 8082}},
    });
    // Ranges change with the service: dropping them opens it.
    a.source_ranges.clear();
    ASSERT_TRUE(lb.upsert(a).ok());
    run_table(lb, {{"ranges removed: the client is let in", Hook::kIngress, {6, "203.0.113.200", 40001, "192.0.2.100", 80},
                    kOk, Pkt{6, "203.0.113.200", 40001, kLocalPod, 8080}}});
  });
}

// Per-service counters (kl_np_stats_v1): new flows, translated client packets and their
// bytes, no-backend and source-range drops, each on its own service; replies (egress) are not
// counted; a removed service's counters go with it.
TEST_F(NodePortDatapath, PerServiceCountersFollowFlowsPacketsAndDrops) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    NodePortSpec a = spec(kNode, 30080, {local(kLocalPod, 8080)});
    NodePortSpec none = spec(kNode, 30091, {});
    NodePortSpec ranged = spec("192.0.2.100", 80, {local(kLocalPod, 8080)});
    ranged.source_ranges = {*Cidr::parse("10.0.0.0/8")};
    for (const auto* s : {&a, &none, &ranged}) ASSERT_TRUE(lb.upsert(*s).ok());
    for (const auto& [k, st] : lb.stats()) EXPECT_EQ(st, NodePortStats{}) << k.to_string();
    run_table(lb, {
        {"flow 1", Hook::kIngress, {6, kClient, 40000, kNode, 30080}, kOk, Pkt{6, kClient, 40000, kLocalPod, 8080}},
        {"flow 1 again", Hook::kIngress, {6, kClient, 40000, kNode, 30080}, kOk, Pkt{6, kClient, 40000, kLocalPod, 8080}},
        {"flow 2", Hook::kIngress, {6, kClient, 40001, kNode, 30080}, kOk, Pkt{6, kClient, 40001, kLocalPod, 8080}},
        {"a reply of flow 1", Hook::kEgress, {6, kLocalPod, 8080, kClient, 40000}, kOk, Pkt{6, kNode, 30080, kClient, 40000}},
        {"no backend", Hook::kIngress, {6, kClient, 40002, kNode, 30091}, kShot, std::nullopt, kNoBackend},
        {"outside the ranges", Hook::kIngress, {6, kClient, 40003, "192.0.2.100", 80}, kShot, std::nullopt, kNotAllowed},
        {"another port of the node: no service, not counted", Hook::kIngress, {6, kClient, 40004, kNode, 22}, kOk,
         std::nullopt},
    });
    const std::uint64_t len = build(Pkt{6, kClient, 40000, kNode, 30080}).size();
    auto st = lb.stats();
    EXPECT_EQ(st[a.key], (NodePortStats{.flows = 2, .packets = 3, .bytes = 3 * len, .no_backend = 0, .denied = 0}));
    EXPECT_EQ(st[none.key], (NodePortStats{.no_backend = 1}));
    EXPECT_EQ(st[ranged.key], (NodePortStats{.denied = 1}));
    ASSERT_TRUE(lb.remove(a.key).ok());
    EXPECT_EQ(lb.stats().count(a.key), 0u);
    ASSERT_TRUE(lb.upsert(a).ok());
    EXPECT_EQ(lb.stats()[a.key], NodePortStats{}) << "a service added again starts from zero";
  });
}

// ICMP errors about translated datagrams reach the client as errors about the datagram it
// sent: the quote is rewritten back to client -> service address:port (quoted IP and L4
// checksums included, so it matches the client's packet byte for byte), the ICMP checksum
// follows, and the error comes from the service address.
TEST_F(NodePortDatapath, IcmpErrorsAboutTranslatedFlowsAreTranslatedBack) {
  in_node(61000, 61000, [&](NodePortLb& lb) {
    ASSERT_TRUE(lb.upsert(spec(kNode, 30081, {remote(kRemotePod, 8080)})).ok());
    ASSERT_TRUE(lb.upsert(spec(kNode, 30053, {local(kLocalPod, 53)}, Protocol::kUdp)).ok());
    ASSERT_TRUE(lb.upsert(spec(kNode, 30054, {remote(kRemotePod2, 53)}, Protocol::kUdp)).ok());
    run_table(lb, {
        {"a TCP flow to the remote backend (SNAT to node:61000)", Hook::kIngress, {6, kClient, 40000, kNode, 30081},
         kRedirect, Pkt{6, kNode, 61000, kRemotePod, 8080}},
        {"a UDP flow to the local backend", Hook::kIngress, {17, kClient, 40001, kNode, 30053}, kOk,
         Pkt{17, kClient, 40001, kLocalPod, 53}},
        {"a UDP flow to the other remote backend", Hook::kIngress, {17, kClient, 40002, kNode, 30054}, kRedirect,
         Pkt{17, kNode, 61000, kRemotePod2, 53}},
    });
    struct IcmpRow {
      const char* what;
      Hook hook;
      std::vector<std::uint8_t> in;
      int verdict;
      std::vector<std::uint8_t> want;  // empty: unchanged
    };
    const Pkt tcp_sent{6, kNode, 61000, kRemotePod, 8080}, tcp_client{6, kClient, 40000, kNode, 30081};
    const Pkt udp_local{17, kClient, 40001, kLocalPod, 53}, udp_local_client{17, kClient, 40001, kNode, 30053};
    const Pkt udp_sent{17, kNode, 61000, kRemotePod2, 53}, udp_client{17, kClient, 40002, kNode, 30054};
    const std::vector<IcmpRow> rows = {
        {"fragmentation needed from a router on the way to the remote backend: to the client, from the service "
         "address, quoting the client's own SYN",
         Hook::kIngress, build_icmp("198.51.100.2", kNode, 3, 4, tcp_sent), kRedirect,
         build_icmp(kNode, kClient, 3, 4, tcp_client)},
        {"the same with the quote cut after 8 bytes of TCP (no TCP checksum quoted)", Hook::kIngress,
         build_icmp("198.51.100.2", kNode, 3, 4, tcp_sent, 28), kRedirect,
         build_icmp(kNode, kClient, 3, 4, tcp_client, 28)},
        {"port unreachable from the remote UDP backend itself", Hook::kIngress,
         build_icmp(kRemotePod2, kNode, 3, 3, udp_sent), kRedirect, build_icmp(kNode, kClient, 3, 3, udp_client)},
        {"time exceeded on the way to the remote UDP backend", Hook::kIngress,
         build_icmp("198.51.100.2", kNode, 11, 0, udp_sent), kRedirect, build_icmp(kNode, kClient, 11, 0, udp_client)},
        {"port unreachable from the local backend, leaving by egress: from the service address, quoting the "
         "client's datagram",
         Hook::kEgress, build_icmp(kLocalPod, kClient, 3, 3, udp_local), kOk,
         build_icmp(kNode, kClient, 3, 3, udp_local_client)},
        {"an error about a flow that is not ours passes untouched", Hook::kIngress,
         build_icmp("198.51.100.2", kNode, 3, 3, Pkt{17, kNode, 61001, kRemotePod2, 53}), kOk, {}},
        {"an error on egress about a flow that is not ours passes untouched", Hook::kEgress,
         build_icmp(kLocalPod, kClient, 3, 3, Pkt{17, kClient, 40009, kLocalPod, 53}), kOk, {}},
    };
    for (const IcmpRow& row : rows) {
      SCOPED_TRACE(row.what);
      Result_ r = run(lb.program_fd(row.hook), row.in, ifindex_);
      EXPECT_EQ(r.verdict, row.verdict);
      const std::vector<std::uint8_t>& want = row.want.empty() ? row.in : row.want;
      EXPECT_EQ(r.out, want) << "\n   got " << describe(r.out) << "\n  want " << describe(want);
    }
    // An echo request to the node is no error: left to the kernel.
    std::vector<std::uint8_t> echo = build_icmp(kClient, kNode, 8, 0, tcp_client);
    Result_ r = run(lb.program_fd(Hook::kIngress), echo, ifindex_);
    EXPECT_EQ(r.verdict, kOk);
    EXPECT_EQ(r.out, echo);
  });
}

TEST_F(NodePortDatapath, UdpChecksumsIncludingNone) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    ASSERT_TRUE(lb.upsert(spec(kNode, 30053, {local(kLocalPod, 53)}, Protocol::kUdp)).ok());
    Pkt none{17, kClient, 5000, kNode, 30053, true};
    Pkt none_out{17, kClient, 5000, kLocalPod, 53, true};
    run_table(lb, {
        {"UDP DNAT with a checksum", Hook::kIngress, {17, kClient, 4000, kNode, 30053}, kOk,
         Pkt{17, kClient, 4000, kLocalPod, 53}},
        {"UDP reply", Hook::kEgress, {17, kLocalPod, 53, kClient, 4000}, kOk, Pkt{17, kNode, 30053, kClient, 4000}},
        {"UDP without a checksum keeps none", Hook::kIngress, none, kOk, none_out},
    });
  });
}

TEST_F(NodePortDatapath, FlowsMoveOffRemovedBackendsButStayOnTerminatingOnes) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    NodePortSpec s = spec(kNode, 30100, {local("10.244.1.5", 8080)});
    ASSERT_TRUE(lb.upsert(s).ok());
    run_table(lb, {{"flow 1 to .5", Hook::kIngress, {6, kClient, 40000, kNode, 30100}, kOk,
                    Pkt{6, kClient, 40000, "10.244.1.5", 8080}}});
    // .5 terminates, .6 is the new ready backend: flow 1 stays, a new flow goes to .6.
    s.backends = {local("10.244.1.6", 8080)};
    s.terminating = {Backend{ip("10.244.1.5"), 8080}};
    ASSERT_TRUE(lb.upsert(s).ok());
    run_table(lb, {
        {"flow 1 stays on the terminating backend", Hook::kIngress, {6, kClient, 40000, kNode, 30100}, kOk,
         Pkt{6, kClient, 40000, "10.244.1.5", 8080}},
        {"a new flow goes to the ready one", Hook::kIngress, {6, kClient, 40001, kNode, 30100}, kOk,
         Pkt{6, kClient, 40001, "10.244.1.6", 8080}},
    });
    // .5 is gone: flow 1's next packet is balanced again.
    s.terminating.clear();
    ASSERT_TRUE(lb.upsert(s).ok());
    run_table(lb, {{"flow 1 moves to a live backend", Hook::kIngress, {6, kClient, 40000, kNode, 30100}, kOk,
                    Pkt{6, kClient, 40000, "10.244.1.6", 8080}}});
    // Service removed: its address:port is no longer translated.
    ASSERT_TRUE(lb.remove(s.key).ok());
    run_table(lb, {{"removed service: untouched", Hook::kIngress, {6, kClient, 40000, kNode, 30100}, kOk, std::nullopt}});
  });
}

TEST_F(NodePortDatapath, NewFlowsSpreadOverBackendsAndEachFlowSticks) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    ASSERT_TRUE(lb.upsert(spec(kNode, 30200, {local("10.244.1.5", 8080), local("10.244.1.6", 8080),
                                               remote("10.244.2.7", 8080)}))
                    .ok());
    std::map<std::uint16_t, std::string> chosen;  // client port -> backend
    std::set<std::uint16_t> snat_ports;
    for (std::uint16_t port = 41000; port < 41300; ++port) {
      auto in = build({6, kClient, port, kNode, 30200});
      for (int again = 0; again < 2; ++again) {
        Result_ r = run(lb.program_fd(Hook::kIngress), in, ifindex_);
        ASSERT_TRUE(r.verdict == kOk || r.verdict == kRedirect) << r.verdict;
        char dst[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, r.out.data() + 30, dst, sizeof dst);
        if (again == 0) {
          chosen[port] = dst;
        } else {
          EXPECT_EQ(chosen[port], dst) << "flow from port " << port << " changed backend";
        }
        if (std::string(dst) == "10.244.2.7") {
          EXPECT_EQ(r.verdict, kRedirect);
          std::uint16_t sp = static_cast<std::uint16_t>((r.out[34] << 8) | r.out[35]);
          EXPECT_GE(sp, 61000);
          if (again == 0) snat_ports.insert(sp);
        } else {
          EXPECT_EQ(r.verdict, kOk);
        }
      }
    }
    std::map<std::string, int> per;
    for (const auto& [_, b] : chosen) per[b]++;
    ASSERT_EQ(per.size(), 3u) << "300 flows did not reach all three backends";
    for (const auto& [b, n] : per) EXPECT_GT(n, 50) << b;
    // Every SNATed flow got its own port.
    EXPECT_EQ(static_cast<int>(snat_ports.size()), per["10.244.2.7"]);
  });
}

// A bpffs of the test's own, mounted on a temporary directory and unmounted on every path.
class TempBpffs {
 public:
  TempBpffs() {
    char tmpl[] = "/tmp/kernlet-np-bpffs-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    if (::mount("bpf", dir_.c_str(), "bpf", 0, nullptr) != 0) {
      ::rmdir(dir_.c_str());
      dir_.clear();
      return;
    }
    mounted_ = true;
  }
  ~TempBpffs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  bool ok() const { return mounted_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// An agent restart: a second NodePortLb on the same pin directory finds the services, the
// conntrack entries and the source ranges the first one wrote, and replaces them cleanly.
TEST_F(NodePortDatapath, PinnedMapsSurviveARestart) {
  TempBpffs fs;
  ASSERT_TRUE(fs.ok()) << "could not mount a bpffs: " << std::strerror(errno);
  const std::string pins = fs.dir() + "/np";
  in_node(61000, 65535, [&](NodePortLb&) {
    NodePortLb::Options o;
    o.pin_dir = pins;
    o.snat_addr = ip(kNode);
    NodePortSpec s = spec(kNode, 30080, {local("10.244.1.5", 8080), local("10.244.1.6", 8080)});
    NodePortSpec lb = spec("192.0.2.100", 80, {local(kLocalPod, 8080)});
    lb.source_ranges = {*Cidr::parse("203.0.113.0/24")};
    std::string first_backend;
    {
      auto a = NodePortLb::load(o);
      ASSERT_TRUE(a.ok()) << a.error().to_string();
      ASSERT_TRUE((*a)->upsert(s).ok());
      ASSERT_TRUE((*a)->upsert(lb).ok());
      Result_ r = run((*a)->program_fd(Hook::kIngress), build({6, kClient, 40000, kNode, 30080}), ifindex_);
      ASSERT_EQ(r.verdict, kOk);
      char dst[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, r.out.data() + 30, dst, sizeof dst);
      first_backend = dst;
    }  // the first "agent" exits; its maps stay pinned
    auto b = NodePortLb::load(o);
    ASSERT_TRUE(b.ok()) << b.error().to_string();
    NodePortLb& lb2 = **b;
    EXPECT_EQ(lb2.services().size(), 2u);
    EXPECT_EQ(lb2.conntrack_entries(), 2u);
    const char* fb = first_backend.c_str();
    run_table(lb2, {
        {"the established flow keeps its backend across the restart", Hook::kIngress,
         {6, kClient, 40000, kNode, 30080}, kOk, Pkt{6, kClient, 40000, fb, 8080}},
        {"the pinned source ranges still apply", Hook::kIngress, {6, "198.18.1.1", 40000, "192.0.2.100", 80}, kShot,
         std::nullopt, kNotAllowed},
    });
    // The new agent rewrites the service without the flow's backend: the flow moves to the
    // backend that is left, and the ranges it no longer lists stop applying.
    const char* other = first_backend == "10.244.1.5" ? "10.244.1.6" : "10.244.1.5";
    s.backends = {local(other, 8080)};
    ASSERT_TRUE(lb2.upsert(s).ok());
    lb.source_ranges.clear();
    ASSERT_TRUE(lb2.upsert(lb).ok());
    run_table(lb2, {
        {"the flow moves to the remaining backend", Hook::kIngress, {6, kClient, 40000, kNode, 30080}, kOk,
         Pkt{6, kClient, 40000, other, 8080}},
        {"ranges dropped by the new agent are gone", Hook::kIngress, {6, "198.18.1.1", 40000, "192.0.2.100", 80}, kOk,
         Pkt{6, "198.18.1.1", 40000, kLocalPod, 8080}},
    });
    ASSERT_TRUE(lb2.detach_and_unpin().ok());
    EXPECT_NE(::access((pins + "/kl_np_ct_v1").c_str(), F_OK), 0) << "pinned conntrack map left behind";
  });
}

TEST_F(NodePortDatapath, LoadRejectsBadOptionsAndSpecs) {
  in_node(61000, 65535, [&](NodePortLb& lb) {
    NodePortSpec v6 = spec(kNode, 30080, {});
    v6.key.vip = ip("fd00::1");
    auto r = lb.upsert(v6);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().to_string().find("IPv4"), std::string::npos) << r.error().to_string();
    NodePortSpec dup = spec(kNode, 30080, {local(kLocalPod, 8080), local(kLocalPod, 8080)});
    r = lb.upsert(dup);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().to_string().find("listed twice"), std::string::npos) << r.error().to_string();
  });
  NodePortLb::Options o;
  o.snat_port_min = 2000;
  o.snat_port_max = 1000;
  auto bad = NodePortLb::load(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().to_string().find("SNAT port range"), std::string::npos);
  o = {};
  o.interface = "kl-no-such-if";
  bad = NodePortLb::load(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().to_string().find("kl-no-such-if"), std::string::npos);
}

}  // namespace
}  // namespace kernlet::bpf
