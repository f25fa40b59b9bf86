// Root integration test of the NodePort datapath with real packets: NodePortLb attached
// with tc to the "node" interface of a small topology of network namespaces the test
// creates (named klnp<pid>-*, removed on every path; no route leaves them):
//
//   c (client 198.51.100.100) --+
//   n (node   198.51.100.1, n0: tc programs; ip_forward) --- br0 in u
//   m (node2  198.51.100.2, holds the "remote pod" 10.244.2.5 on its loopback) --+
//   p (local pod 10.244.1.5, default via 10.244.1.1 in n)
//
// Backends answer each connection with "<who> <peer address as they see it>", so the test
// sees which backend took it and whether the client address was preserved or SNATed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/unique_fd.h"
#include "bpf/loader/nodeport_lb.h"

namespace kernlet::bpf {
namespace {

using namespace std::chrono_literals;

std::string ns_name(const char* role) { return "klnp" + std::to_string(::getpid()) + "-" + role; }

// Runs fn on a thread inside the named network namespace; false if it could not enter.
bool in_ns(const std::string& name, const std::function<void()>& fn) {
  bool ok = false;
  std::thread t([&] {
    UniqueFd ns(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return;
    ok = true;
    fn();
  });
  t.join();
  return ok;
}

// A TCP server in a namespace, answering "<who> <peer ip>" to each connection.
class Server {
 public:
  Server(const std::string& ns, const char* addr, std::uint16_t port, std::string who) : who_(std::move(who)) {
    in_ns(ns, [&] {
      fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      int one = 1;
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      inet_pton(AF_INET, addr, &a.sin_addr);
      if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_.get(), 64) != 0) fd_.reset();
    });
    EXPECT_TRUE(fd_) << who_ << ": listen on " << addr << ":" << port << " failed";
    thread_ = std::thread([this] { serve(); });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (!fd_ || ::poll(&p, 1, 20) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      UniqueFd c(::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
      if (!c) continue;
      char ip[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      std::string msg = who_ + " " + ip;
      (void)!::write(c.get(), msg.data(), msg.size());
    }
  }
  std::string who_;
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Connects from namespace ns to addr:port and returns what the server wrote, or
// "error: ..." (refused, timed out).
std::string ask(const std::string& ns, const char* addr, std::uint16_t port) {
  std::string out = "error: could not enter " + ns;
  in_ns(ns, [&] {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{3, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, addr, &a.sin_addr);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      out = std::string("error: connect: ") + std::strerror(errno);
      return;
    }
    char buf[128];
    ssize_t n = ::read(s.get(), buf, sizeof buf);
    out = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("error: read: ") + std::strerror(errno);
  });
  return out;
}

class NodePortTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (BPF, tc, network namespaces)";
    if (std::system("command -v ip >/dev/null") != 0) GTEST_SKIP() << "ip(8) missing for the test's setup";
    const std::string u = ns_name("u"), c = ns_name("c"), n = ns_name("n"), m = ns_name("m"), p = ns_name("p");
    names_ = {u, c, n, m, p};
    std::string script = "set -e\n";
    for (const auto& x : names_) script += "ip netns add " + x + "\n";
    script +=
        "ip -n " + u + " link add br0 type bridge\n"
        "ip -n " + u + " link set br0 up\n"
        // client, node, node2 on the bridge
        "ip -n " + u + " link add uc type veth peer name eth0 netns " + c + "\n"
        "ip -n " + u + " link add un type veth peer name n0 netns " + n + "\n"
        "ip -n " + u + " link add um type veth peer name eth0 netns " + m + "\n"
        "for i in uc un um; do ip -n " + u + " link set $i master br0 up; done\n"
        "ip -n " + c + " addr add 198.51.100.100/24 dev eth0\n"
        "ip -n " + c + " link set eth0 up\n"
        "ip -n " + c + " link set lo up\n"
        "ip -n " + n + " addr add 198.51.100.1/24 dev n0\n"
        "ip -n " + n + " link set n0 up\n"
        "ip -n " + n + " link set lo up\n"
        "ip -n " + m + " addr add 198.51.100.2/24 dev eth0\n"
        "ip -n " + m + " addr add 10.244.2.5/32 dev lo\n"
        "ip -n " + m + " link set eth0 up\n"
        "ip -n " + m + " link set lo up\n"
        // the local pod
        "ip -n " + n + " link add pl type veth peer name eth0 netns " + p + "\n"
        "ip -n " + n + " addr add 10.244.1.1/24 dev pl\n"
        "ip -n " + n + " link set pl up\n"
        "ip -n " + p + " addr add 10.244.1.5/24 dev eth0\n"
        "ip -n " + p + " link set eth0 up\n"
        "ip -n " + p + " link set lo up\n"
        "ip -n " + p + " route add default via 10.244.1.1\n"
        // host-gw: node -> node2's pods
        "ip -n " + n + " route add 10.244.2.0/24 via 198.51.100.2\n"
        "ip netns exec " + n + " sysctl -qw net.ipv4.ip_forward=1\n";
    ASSERT_EQ(std::system(("bash -c '" + script + "'").c_str()), 0) << "topology setup failed";
    ready_ = true;
  }

  void TearDown() override {
    // The LB goes first, detached from n0 inside n.
    if (lb_) in_ns(ns_name("n"), [&] { lb_.reset(); });
    for (const auto& x : names_) std::system(("ip netns del " + x + " 2>/dev/null").c_str());
  }

  std::vector<std::string> names_;
  bool ready_ = false;
  std::unique_ptr<NodePortLb> lb_;
};

NodePortSpec spec(std::uint16_t port, std::vector<NodePortBackend> backends, bool local = false) {
  NodePortSpec s;
  s.key = ServiceKey{*IpAddr::parse("198.51.100.1"), port, Protocol::kTcp};
  s.backends = std::move(backends);
  s.local_policy = local;
  return s;
}

TEST_F(NodePortTraffic, LocalAndRemoteBackendsWithBothTrafficPolicies) {
  ASSERT_TRUE(ready_);
  Server local_pod(ns_name("p"), "10.244.1.5", 8080, "local");
  Server remote_pod(ns_name("m"), "10.244.2.5", 8080, "remote");
  // Without the datapath nothing answers on the nodePort.
  EXPECT_EQ(ask(ns_name("c"), "198.51.100.1", 30080).rfind("error", 0), 0u);

  ASSERT_TRUE(in_ns(ns_name("n"), [&] {
    NodePortLb::Options o;
    o.interface = "n0";
    o.snat_addr = *IpAddr::parse("198.51.100.1");
    auto lb = NodePortLb::load(o);
    ASSERT_TRUE(lb.ok()) << lb.error().to_string();
    lb_ = std::move(*lb);
  }));
  ASSERT_TRUE(lb_);
  const Backend local_be{*IpAddr::parse("10.244.1.5"), 8080}, remote_be{*IpAddr::parse("10.244.2.5"), 8080};
  ASSERT_TRUE(lb_->upsert(spec(30080, {{local_be, false}})).ok());
  ASSERT_TRUE(lb_->upsert(spec(30081, {{remote_be, true}})).ok());
  ASSERT_TRUE(lb_->upsert(spec(30082, {{local_be, false}}, true)).ok());
  ASSERT_TRUE(lb_->upsert(spec(30083, {}, true)).ok());

  // Cluster, local backend: DNAT only, the pod sees the client.
  EXPECT_EQ(ask(ns_name("c"), "198.51.100.1", 30080), "local 198.51.100.100");
  // Cluster, remote backend: SNAT to the node, so the reply comes back through it.
  EXPECT_EQ(ask(ns_name("c"), "198.51.100.1", 30081), "remote 198.51.100.1");
  // Local: client address preserved.
  EXPECT_EQ(ask(ns_name("c"), "198.51.100.1", 30082), "local 198.51.100.100");
  // Local without a local backend: dropped (the connect times out).
  EXPECT_EQ(ask(ns_name("c"), "198.51.100.1", 30083).rfind("error", 0), 0u);
  EXPECT_GE(lb_->drops()[2], 1u);  // KL_NP_DROP_NO_BACKEND
  // Repeated connections keep working (new SNAT ports, new conntrack entries).
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ask(ns_name("c"), "198.51.100.1", 30081), "remote 198.51.100.1") << i;
}

}  // namespace
}  // namespace kernlet::bpf
