// ClusterDns against the kernel, in a network namespace of the test's own (a thread that
// unshared CLONE_NEWNET; the namespace and everything in it go when the thread ends):
// the address goes on lo, the server answers over UDP and TCP on the wire, follows cache
// changes, and forwards outside names to a fake upstream the test runs in the same
// namespace (SERVFAIL when the upstream refuses or stays silent). Root only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "agent/dns/cluster_dns.h"
#include "agent/dns/local_address.h"
#include "api/json.h"
#include "api/unique_fd.h"

namespace kernlet::agent::dns {
namespace {

constexpr const char* kDnsIp = "169.254.20.10";

void in_fresh_netns(const std::function<void()>& fn) {
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET) failed";
      return;
    }
    if (std::system("ip link set lo up") != 0) {
      ADD_FAILURE() << "could not bring lo up";
      return;
    }
    fn();
  });
  t.join();
}

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

client::ObjectPtr obj(const std::string& text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return std::make_shared<const json::object>(o.ok() ? *o : json::object{});
}

std::vector<uint8_t> query(const std::string& name, ldns_rr_type type, uint16_t id) {
  ldns_pkt* p = ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(p, id);
  uint8_t* buf = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&buf, p, &size), LDNS_STATUS_OK);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  ldns_pkt_free(p);
  return out;
}

struct Reply {
  bool ok = false;
  uint16_t id = 0;
  int rcode = -1;
  std::vector<std::string> answers;  // rdata text
};

Reply parse(const std::vector<uint8_t>& wire) {
  Reply r;
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, wire.data(), wire.size()) != LDNS_STATUS_OK) return r;
  r.ok = true;
  r.id = ldns_pkt_id(p);
  r.rcode = ldns_pkt_get_rcode(p);
  const ldns_rr_list* an = ldns_pkt_answer(p);
  for (size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(an, i);
    std::string s;
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      char* rd = ldns_rdf2str(ldns_rr_rdf(rr, j));
      s += (j ? " " : "") + std::string(rd);
      std::free(rd);
    }
    r.answers.push_back(s);
  }
  ldns_pkt_free(p);
  return r;
}

sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// One query over UDP from a socket of its own; waits up to `timeout`.
Reply ask_udp(const std::string& name, ldns_rr_type type, uint16_t id = 0x7777,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto to = addr(kDnsIp, 53);
  auto q = query(name, type, id);
  if (::sendto(fd.get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return {};
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
  std::vector<uint8_t> buf(65535);
  ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
  if (n <= 0) return {};
  buf.resize(static_cast<size_t>(n));
  return parse(buf);
}

Reply ask_tcp(const std::string& name, ldns_rr_type type, uint16_t id = 0x8888) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto to = addr(kDnsIp, 53);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return {};
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto q = query(name, type, id);
  std::vector<uint8_t> msg = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size())};
  msg.insert(msg.end(), q.begin(), q.end());
  if (::send(fd.get(), msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size())) return {};
  uint8_t len[2];
  if (::recv(fd.get(), len, 2, MSG_WAITALL) != 2) return {};
  std::vector<uint8_t> buf(static_cast<size_t>(len[0]) << 8 | len[1]);
  if (::recv(fd.get(), buf.data(), buf.size(), MSG_WAITALL) != static_cast<ssize_t>(buf.size())) return {};
  return parse(buf);
}

// A fake upstream on 127.0.0.1:5353 (UDP and TCP): answers every A query with 192.0.2.1,
// or stays silent when `silent`. Counts the queries it got.
class FakeUpstream {
 public:
  explicit FakeUpstream(bool silent) : silent_(silent) {
    udp_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    tcp_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto a = addr("127.0.0.1", 5353);
    int one = 1;
    ::setsockopt(tcp_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ok_ = ::bind(udp_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::bind(tcp_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(tcp_.get(), 8) == 0;
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
  }
  bool ok() const { return ok_; }
  int queries() const { return queries_; }

 private:
  std::vector<uint8_t> answer(const uint8_t* q, size_t n) {
    ldns_pkt* p = nullptr;
    if (ldns_wire2pkt(&p, q, n) != LDNS_STATUS_OK) return {};
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_ra(p, true);
    char* owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
    ldns_rr* rr = nullptr;
    std::string text = std::string(owner) + " 60 IN A 192.0.2.1";
    std::free(owner);
    if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK)
      ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
    uint8_t* buf = nullptr;
    size_t size = 0;
    (void)ldns_pkt2wire(&buf, p, &size);
    std::vector<uint8_t> out(buf, buf + size);
    std::free(buf);
    ldns_pkt_free(p);
    return out;
  }
  void loop() {
    std::vector<uint8_t> buf(65535);
    while (!stop_) {
      pollfd p[2] = {{udp_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (p[0].revents & POLLIN) {
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        ssize_t n = ::recvfrom(udp_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        ++queries_;
        if (n > 0 && !silent_) {
          auto a = answer(buf.data(), static_cast<size_t>(n));
          ::sendto(udp_.get(), a.data(), a.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
      }
      if (p[1].revents & POLLIN) {
        UniqueFd c(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        uint8_t len[2];
        timeval tv{2, 0};
        ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (::recv(c.get(), len, 2, MSG_WAITALL) != 2) continue;
        std::vector<uint8_t> q(static_cast<size_t>(len[0]) << 8 | len[1]);
        if (::recv(c.get(), q.data(), q.size(), MSG_WAITALL) != static_cast<ssize_t>(q.size())) continue;
        ++queries_;
        if (silent_) continue;
        auto a = answer(q.data(), q.size());
        uint8_t out_len[2] = {static_cast<uint8_t>(a.size() >> 8), static_cast<uint8_t>(a.size())};
        ::send(c.get(), out_len, 2, MSG_NOSIGNAL);
        ::send(c.get(), a.data(), a.size(), MSG_NOSIGNAL);
      }
    }
  }
  bool silent_;
  bool ok_ = false;
  UniqueFd udp_, tcp_;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

class ClusterDnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWNET, an address on lo, port 53)";
    if (std::system("command -v ip >/dev/null") != 0) GTEST_SKIP() << "ip(8) missing for the test's setup";
    char tmpl[] = "/tmp/kernlet-dns-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    resolv_ = dir_ + "/resolv.conf";
    write_resolv("nameserver 127.0.0.1\nnameserver 169.254.20.10\n");  // ourselves: skipped
    services_.upsert(obj(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.10",
                            "ports":[{"name":"http","port":80}]}})"));
    services_.upsert(obj(R"({"metadata":{"namespace":"default","name":"db"},"spec":{"clusterIP":"None"}})"));
    slices_.upsert(obj(R"({"metadata":{"namespace":"default","name":"db-1","labels":{"kubernetes.io/service-name":"db"}},
                          "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"],"hostname":"db-0"},
                          {"addresses":["10.244.2.6"]}]})"));
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }
  void write_resolv(const std::string& text) {
    FILE* f = std::fopen(resolv_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  ClusterDnsOptions options(std::chrono::milliseconds upstream_timeout = std::chrono::milliseconds(2000)) {
    ClusterDnsOptions o;
    o.addresses = {kDnsIp};
    o.resolv_conf = resolv_;
    o.upstream_port = 5353;
    o.upstream_timeout = upstream_timeout;
    return o;
  }
  std::string dir_, resolv_;
  client::ObjectCache services_, slices_;
};

TEST_F(ClusterDnsTest, AnswersClusterNamesOverUdpAndTcpAndFollowsChanges) {
  in_fresh_netns([&] {
    ClusterDns dns(options(), &services_, &slices_, [] { return true; });
    ASSERT_TRUE(dns.start().ok());
    // The address went on lo, labelled as ours.
    EXPECT_NE(sh("ip -4 addr show dev lo").find("169.254.20.10/32 scope host lo:kldns"), std::string::npos)
        << sh("ip -4 addr show dev lo");
    // Before the first rebuild: SERVFAIL, not a wrong NXDOMAIN.
    EXPECT_EQ(ask_udp("web.default.svc.cluster.local.", LDNS_RR_TYPE_A).rcode, LDNS_RCODE_SERVFAIL);
    dns.trigger();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!dns.records() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(dns.records());

    Reply a = ask_udp("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0x1111);
    ASSERT_TRUE(a.ok);
    EXPECT_EQ(a.id, 0x1111);
    EXPECT_EQ(a.answers, std::vector<std::string>{"10.96.0.10"});
    Reply t = ask_tcp("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0x2222);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.id, 0x2222);
    EXPECT_EQ(t.answers, std::vector<std::string>{"10.96.0.10"});
    Reply h = ask_udp("db.default.svc.cluster.local.", LDNS_RR_TYPE_A);
    std::sort(h.answers.begin(), h.answers.end());
    EXPECT_EQ(h.answers, (std::vector<std::string>{"10.244.1.5", "10.244.2.6"}));
    EXPECT_EQ(ask_udp("db-0.db.default.svc.cluster.local.", LDNS_RR_TYPE_A).answers, std::vector<std::string>{"10.244.1.5"});
    EXPECT_EQ(ask_udp("_http._tcp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV).answers,
              std::vector<std::string>{"0 100 80 web.default.svc.cluster.local."});
    EXPECT_EQ(ask_udp("10.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR).answers,
              std::vector<std::string>{"web.default.svc.cluster.local."});
    EXPECT_EQ(ask_tcp("nope.default.svc.cluster.local.", LDNS_RR_TYPE_A).rcode, LDNS_RCODE_NXDOMAIN);

    // A new service shows up once the caches have it and the rebuild ran.
    services_.upsert(obj(R"({"metadata":{"namespace":"other","name":"new"},"spec":{"clusterIP":"10.96.0.77"}})"));
    dns.trigger();
    Reply n;
    const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline2) {
      n = ask_udp("new.other.svc.cluster.local.", LDNS_RR_TYPE_A);
      if (!n.answers.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(n.answers, std::vector<std::string>{"10.96.0.77"});
    dns.stop();
  });
}

TEST_F(ClusterDnsTest, ForwardsOutsideNamesToTheUpstream) {
  in_fresh_netns([&] {
    FakeUpstream up(false);
    ASSERT_TRUE(up.ok());
    ClusterDns dns(options(), &services_, &slices_, [] { return true; });
    ASSERT_TRUE(dns.start().ok());
    dns.rebuild();
    Reply u = ask_udp("example.com.", LDNS_RR_TYPE_A, 0x3333);
    ASSERT_TRUE(u.ok);
    EXPECT_EQ(u.id, 0x3333);  // the client's id, not the one used upstream
    EXPECT_EQ(u.rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(u.answers, std::vector<std::string>{"192.0.2.1"});
    Reply t = ask_tcp("example.org.", LDNS_RR_TYPE_A, 0x4444);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.id, 0x4444);
    EXPECT_EQ(t.answers, std::vector<std::string>{"192.0.2.1"});
    // Reverse names of no cluster address go upstream too.
    EXPECT_EQ(ask_udp("1.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR).rcode, LDNS_RCODE_NOERROR);
    EXPECT_EQ(up.queries(), 3);
    // Cluster names never do.
    EXPECT_EQ(ask_udp("web.default.svc.cluster.local.", LDNS_RR_TYPE_A).answers, std::vector<std::string>{"10.96.0.10"});
    EXPECT_EQ(up.queries(), 3);
    dns.stop();
  });
}

TEST_F(ClusterDnsTest, ServfailWhenTheUpstreamRefusesOrIsSilent) {
  in_fresh_netns([&] {
    {
      // Nothing listens on 127.0.0.1:5353: refused at once.
      ClusterDns dns(options(), &services_, &slices_, [] { return true; });
      ASSERT_TRUE(dns.start().ok());
      Reply r = ask_udp("example.com.", LDNS_RR_TYPE_A);
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.rcode, LDNS_RCODE_SERVFAIL);
      EXPECT_EQ(ask_tcp("example.com.", LDNS_RR_TYPE_A).rcode, LDNS_RCODE_SERVFAIL);
      dns.stop();
    }
    FakeUpstream silent(true);
    ASSERT_TRUE(silent.ok());
    ClusterDns dns(options(std::chrono::milliseconds(300)), &services_, &slices_, [] { return true; });
    ASSERT_TRUE(dns.start().ok());
    dns.rebuild();
    const auto t0 = std::chrono::steady_clock::now();
    Reply r = ask_udp("example.com.", LDNS_RR_TYPE_A);
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.rcode, LDNS_RCODE_SERVFAIL);
    EXPECT_GE(took, std::chrono::milliseconds(300));  // it did wait for the upstream
    EXPECT_GE(silent.queries(), 1);
    // Meanwhile cluster names are answered at once (the forward runs on a worker).
    EXPECT_EQ(ask_udp("web.default.svc.cluster.local.", LDNS_RR_TYPE_A).answers, std::vector<std::string>{"10.96.0.10"});
    dns.stop();
  });
}

TEST_F(ClusterDnsTest, AddressAlreadyLocalIsLeftAlone) {
  in_fresh_netns([&] {
    ASSERT_EQ(std::system("ip addr add 169.254.20.10/32 dev lo"), 0);
    EXPECT_TRUE(is_local_address(kDnsIp));
    auto added = ensure_local_address(kDnsIp);
    ASSERT_TRUE(added.ok()) << added.error().to_string();
    EXPECT_FALSE(*added);
    ASSERT_TRUE(remove_loopback_address(kDnsIp).ok());
    EXPECT_FALSE(is_local_address(kDnsIp));
    auto bad = ensure_local_address("10.0.0.300");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("10.0.0.300"), std::string::npos);
  });
}

}  // namespace
}  // namespace kernlet::agent::dns
