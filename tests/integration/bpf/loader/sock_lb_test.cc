// Root integration tests of the socket load balancer (bpf/loader/sock_lb.h) against the
// real kernel. Each test creates its own cgroup under /sys/fs/cgroup/unified and its own
// network namespace holding only `lo` (no route out): backends listen on 127.0.0.2-4 in it,
// the VIPs (10.96.x.x, fd00:96::x) exist only as map entries, and the client is a forked
// process moved into the cgroup and the namespace. The balancer is attached to the test
// cgroup only; the cgroup, the namespace and the children are removed on every path.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/unique_fd.h"
#include "bpf/loader/sock_lb.h"

namespace kernlet::bpf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kCgroupParent = "/sys/fs/cgroup/unified";
constexpr std::uint16_t kTcpBackendPort = 8080;
constexpr std::uint16_t kUdpBackendPort = 5353;
constexpr std::uint16_t kTcp6BackendPort = 8086;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

std::vector<Backend> backends(std::uint16_t port, std::vector<int> which = {2, 3, 4}) {
  std::vector<Backend> out;
  for (int i : which) out.push_back(Backend{ip(("127.0.0." + std::to_string(i)).c_str()), port});
  return out;
}

// Runs fn on a thread inside the network namespace ns_fd.
void in_netns(int ns_fd, const std::function<void()>& fn) {
  std::thread t([&] {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "setns: " << std::strerror(errno);
      return;
    }
    fn();
  });
  t.join();
}

// TCP listeners and UDP echo sockets on 127.0.0.{2,3,4} inside the test netns. A TCP
// backend writes its last address byte to each connection it accepts; a UDP backend
// answers each datagram with its last address byte.
class Backends {
 public:
  explicit Backends(int ns_fd) {
    in_netns(ns_fd, [&] {
      for (int i = 2; i <= 4; ++i) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(0x7f000000 | i);
        UniqueFd t(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        int one = 1;
        ::setsockopt(t.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a.sin_port = htons(kTcpBackendPort);
        if (::bind(t.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(t.get(), 128) != 0)
          ADD_FAILURE() << "tcp backend " << i << ": " << std::strerror(errno);
        UniqueFd u(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        a.sin_port = htons(kUdpBackendPort);
        if (::bind(u.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
          ADD_FAILURE() << "udp backend " << i << ": " << std::strerror(errno);
        listeners_.push_back({std::move(t), i});
        udp_.push_back({std::move(u), i});
      }
      // One IPv6 TCP backend, [::1]:8086, id '6'.
      sockaddr_in6 a6{};
      a6.sin6_family = AF_INET6;
      a6.sin6_addr = in6addr_loopback;
      a6.sin6_port = htons(kTcp6BackendPort);
      UniqueFd t6(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (::bind(t6.get(), reinterpret_cast<sockaddr*>(&a6), sizeof a6) != 0 || ::listen(t6.get(), 16) != 0)
        ADD_FAILURE() << "tcp6 backend: " << std::strerror(errno);
      listeners_.push_back({std::move(t6), 6});
    });
    thread_ = std::thread([this] { serve(); });
  }
  ~Backends() {
    stop_ = true;
    thread_.join();
  }

 private:
  struct Sock {
    UniqueFd fd;
    int id;
  };

  void serve() {
    std::vector<Sock> conns;
    while (!stop_) {
      std::vector<Sock> accepted;
      std::vector<pollfd> p;
      for (auto& l : listeners_) p.push_back({l.fd.get(), POLLIN, 0});
      for (auto& u : udp_) p.push_back({u.fd.get(), POLLIN, 0});
      for (auto& c : conns) p.push_back({c.fd.get(), POLLIN, 0});
      if (::poll(p.data(), p.size(), 20) <= 0) continue;
      std::size_t k = 0;
      for (auto& l : listeners_) {
        if (p[k++].revents & POLLIN) {
          int c = ::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (c >= 0) {
            char id = static_cast<char>('0' + l.id);
            (void)!::write(c, &id, 1);
            accepted.push_back({UniqueFd(c), l.id});
          }
        }
      }
      for (auto& u : udp_) {
        if (p[k++].revents & POLLIN) {
          char buf[64];
          sockaddr_storage from{};
          socklen_t len = sizeof from;
          if (::recvfrom(u.fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len) >= 0) {
            char id = static_cast<char>('0' + u.id);
            ::sendto(u.fd.get(), &id, 1, 0, reinterpret_cast<sockaddr*>(&from), len);
          }
        }
      }
      std::vector<Sock> still;
      for (auto& c : conns) {
        short ev = p[k++].revents;
        char buf[64];
        if ((ev & (POLLIN | POLLHUP | POLLERR)) && ::read(c.fd.get(), buf, sizeof buf) <= 0) continue;
        still.push_back(std::move(c));
      }
      for (auto& c : accepted) still.push_back(std::move(c));
      conns = std::move(still);
    }
  }

  std::vector<Sock> listeners_, udp_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A forked client in the test cgroup and netns. It reports lines on a pipe; the parent
// reads them with a deadline. Killed and reaped by the destructor.
class Client {
 public:
  Client(const std::string& cgroup, int ns_fd, const std::function<void(int in, int out)>& body) {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      std::string pid = std::to_string(::getpid());
      int procs = ::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (procs < 0 || ::write(procs, pid.data(), pid.size()) < 0 || ::setns(ns_fd, CLONE_NEWNET) != 0) {
        std::string e = std::string("setup: ") + std::strerror(errno) + "\n";
        (void)!::write(from_child[1], e.data(), e.size());
        ::_exit(1);
      }
      body(to_child[0], from_child[1]);
      ::_exit(0);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = UniqueFd(to_child[1]);
    out_ = UniqueFd(from_child[0]);
  }
  ~Client() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // The next line the child wrote, or "<timeout>" / "<eof>".
  std::string line(std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return "<timeout>";
      pollfd p{out_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char b[256];
      ssize_t n = ::read(out_.get(), b, sizeof b);
      if (n <= 0) return "<eof>";
      buf_.append(b, n);
    }
  }
  void tell(char c) { (void)!::write(in_.get(), &c, 1); }

 private:
  pid_t pid_ = -1;
  UniqueFd in_, out_;
  std::string buf_;
};

void say(int out, const std::string& s) {
  std::string l = s + "\n";
  (void)!::write(out, l.data(), l.size());
}

sockaddr_in sa4(const char* addr, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, addr, &a.sin_addr);
  return a;
}

std::string name_of(const sockaddr_in& a) {
  char b[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a.sin_addr, b, sizeof b);
  return std::string(b) + ":" + std::to_string(ntohs(a.sin_port));
}

// Connects a TCP socket to addr:port and reads the backend's id byte. Returns the fd or
// -errno; *id gets the byte.
int tcp_connect(const char* addr, std::uint16_t port, char* id, std::string* peer = nullptr) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = sa4(addr, port);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(s);
    return -e;
  }
  if (peer) {
    sockaddr_in p{};
    socklen_t len = sizeof p;
    ::getpeername(s, reinterpret_cast<sockaddr*>(&p), &len);
    *peer = name_of(p);
  }
  if (::read(s, id, 1) != 1) *id = '?';
  return s;
}

// A bpffs of the test's own under /tmp (never the host's /sys/fs/bpf), unmounted and
// removed on every path.
class TestBpffs {
 public:
  TestBpffs() {
    char tmpl[] = "/tmp/kernlet-bpffs-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    dir_ = tmpl;
    if (::mount("bpf", dir_.c_str(), "bpf", 0, nullptr) != 0)
      error_ = "mount bpffs on " + dir_ + ": " + std::strerror(errno);
  }
  ~TestBpffs() {
    if (dir_.empty()) return;
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  TestBpffs(const TestBpffs&) = delete;
  TestBpffs& operator=(const TestBpffs&) = delete;
  bool mounted() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, error_;
};

class SockLbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroup v2 attach, BPF, network namespaces)";
    struct statfs st {};
    if (::statfs(kCgroupParent, &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC)
      GTEST_SKIP() << kCgroupParent << " is not a cgroup v2 mount";
    static int n = 0;
    cgroup_ = std::string(kCgroupParent) + "/kernlet-bpf-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << cgroup_ << ": " << std::strerror(errno);

    std::thread t([&] {
      if (::unshare(CLONE_NEWNET) != 0) return;
      ns_ = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
      ::ioctl(s.get(), SIOCGIFFLAGS, &ifr);
      ifr.ifr_flags |= IFF_UP;
      if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) ns_.reset();
    });
    t.join();
    ASSERT_TRUE(ns_) << "could not create a network namespace with lo up";
    backends_ = std::make_unique<Backends>(ns_.get());

    auto lb = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = ""});
    if (!lb.ok() && lb.error().sys_errno() == EPERM) GTEST_SKIP() << "BPF not permitted: " << lb.error().to_string();
    ASSERT_TRUE(lb.ok()) << lb.error().to_string();
    lb_ = std::move(*lb);
  }

  void TearDown() override {
    lb_.reset();
    backends_.reset();
    ns_.reset();
    if (!cgroup_.empty()) {
      // The clients are gone (Client's destructor reaps them), so the cgroup is empty.
      auto deadline = Clock::now() + 5s;
      while (::rmdir(cgroup_.c_str()) != 0 && errno == EBUSY && Clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    }
  }

  ServiceSpec tcp_service(std::vector<int> which = {2, 3, 4}) {
    ServiceSpec s;
    s.key = ServiceKey{ip("10.96.0.10"), 80, Protocol::kTcp};
    s.backends = backends(kTcpBackendPort, std::move(which));
    return s;
  }

  std::string cgroup_;
  UniqueFd ns_;
  std::unique_ptr<Backends> backends_;
  std::unique_ptr<SockLb> lb_;
};

TEST(SockLbCgroupCheck, RefusesHierarchyRoot) {
  struct statfs st {};
  if (::statfs(kCgroupParent, &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC)
    GTEST_SKIP() << kCgroupParent << " is not a cgroup v2 mount";
  auto r = check_lb_cgroup(kCgroupParent);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("root of a cgroup v2 hierarchy"), std::string::npos) << r.error().to_string();
  auto lb = SockLb::attach({.cgroup_path = std::string(kCgroupParent) + "/", .pin_dir = ""});
  EXPECT_FALSE(lb.ok());
  EXPECT_FALSE(check_lb_cgroup("/tmp").ok());
  EXPECT_FALSE(check_lb_cgroup("").ok());
}

TEST_F(SockLbTest, TcpConnectsSpreadOverBackendsAndPeerIsTheVip) {
  ASSERT_TRUE(lb_->upsert(tcp_service()).ok());
  Client c(cgroup_, ns_.get(), [](int, int out) {
    for (int i = 0; i < 60; ++i) {
      char id;
      std::string peer;
      int s = tcp_connect("10.96.0.10", 80, &id, &peer);
      if (s < 0) {
        say(out, std::string("error ") + std::strerror(-s));
        return;
      }
      say(out, std::string(1, id) + " " + peer);
      ::close(s);
    }
    say(out, "done");
  });
  std::set<std::string> ids;
  for (;;) {
    std::string l = c.line();
    if (l == "done") break;
    ASSERT_EQ(l.size(), 15u) << l;  // "<id> 10.96.0.10:80"
    EXPECT_EQ(l.substr(2), "10.96.0.10:80");
    ids.insert(l.substr(0, 1));
  }
  // 60 uniform draws over 3 miss one with probability 3*(2/3)^60 ~ 1e-10.
  EXPECT_EQ(ids, (std::set<std::string>{"2", "3", "4"}));
}

TEST_F(SockLbTest, UdpConnectedAndUnconnectedSeeTheVip) {
  ServiceSpec s;
  s.key = ServiceKey{ip("10.96.0.53"), 53, Protocol::kUdp};
  s.backends = backends(kUdpBackendPort);
  ASSERT_TRUE(lb_->upsert(s).ok());
  Client c(cgroup_, ns_.get(), [](int, int out) {
    sockaddr_in vip = sa4("10.96.0.53", 53);
    // Unconnected: sendto the VIP, recvfrom shows the VIP as the source.
    int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{2, 0};
    ::setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int i = 0; i < 5; ++i) {
      if (::sendto(u, "q", 1, 0, reinterpret_cast<sockaddr*>(&vip), sizeof vip) != 1) {
        say(out, std::string("sendto ") + std::strerror(errno));
        return;
      }
      char id;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      if (::recvfrom(u, &id, 1, 0, reinterpret_cast<sockaddr*>(&from), &len) != 1) {
        say(out, std::string("recvfrom ") + std::strerror(errno));
        return;
      }
      say(out, "unconnected " + std::string(1, id) + " " + name_of(from));
    }
    // Connected: connect, send, recv; getpeername shows the VIP.
    int k = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ::setsockopt(k, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(k, reinterpret_cast<sockaddr*>(&vip), sizeof vip) != 0) {
      say(out, std::string("connect ") + std::strerror(errno));
      return;
    }
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ::getpeername(k, reinterpret_cast<sockaddr*>(&peer), &len);
    char id = '?';
    if (::send(k, "q", 1, 0) != 1 || ::recv(k, &id, 1, 0) != 1) {
      say(out, std::string("connected echo ") + std::strerror(errno));
      return;
    }
    say(out, "connected " + std::string(1, id) + " " + name_of(peer));
  });
  for (int i = 0; i < 5; ++i) {
    std::string l = c.line();
    ASSERT_EQ(l.rfind("unconnected ", 0), 0u) << l;
    EXPECT_NE(std::string("234").find(l[12]), std::string::npos) << l;
    EXPECT_EQ(l.substr(14), "10.96.0.53:53") << l;
  }
  std::string l = c.line();
  ASSERT_EQ(l.rfind("connected ", 0), 0u) << l;
  EXPECT_NE(std::string("234").find(l[10]), std::string::npos) << l;
  EXPECT_EQ(l.substr(12), "10.96.0.53:53") << l;
}

// What agent/proxy's desired_services adds for clients on the node: externalIPs and the
// node's own address with a nodePort are VIP entries like a clusterIP. The node address here
// is 127.0.0.1 of the test namespace, a real local address where nothing listens on 30080:
// the connection must reach a backend, not the local stack. UDP to nodeIP:nodePort too.
TEST_F(SockLbTest, ExternalIpAndNodeAddressNodePortForClientsOnTheNode) {
  ServiceSpec ext = tcp_service({2});
  ext.key = ServiceKey{ip("192.0.2.7"), 80, Protocol::kTcp};
  ServiceSpec np = tcp_service({3});
  np.key = ServiceKey{ip("127.0.0.1"), 30080, Protocol::kTcp};
  ServiceSpec np_udp;
  np_udp.key = ServiceKey{ip("127.0.0.1"), 30053, Protocol::kUdp};
  np_udp.backends = backends(kUdpBackendPort, {4});
  for (const auto* s : {&ext, &np, &np_udp}) ASSERT_TRUE(lb_->upsert(*s).ok()) << s->key.to_string();
  Client c(cgroup_, ns_.get(), [](int, int out) {
    char id = '?';
    std::string peer;
    int s = tcp_connect("192.0.2.7", 80, &id, &peer);
    say(out, s < 0 ? std::string("error ") + std::strerror(-s) : std::string(1, id) + " " + peer);
    if (s >= 0) ::close(s);
    s = tcp_connect("127.0.0.1", 30080, &id, &peer);
    say(out, s < 0 ? std::string("error ") + std::strerror(-s) : std::string(1, id) + " " + peer);
    if (s >= 0) ::close(s);
    int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{2, 0};
    ::setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in to = sa4("127.0.0.1", 30053), from{};
    socklen_t len = sizeof from;
    if (::sendto(u, "q", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != 1 ||
        ::recvfrom(u, &id, 1, 0, reinterpret_cast<sockaddr*>(&from), &len) != 1) {
      say(out, std::string("udp error ") + std::strerror(errno));
    } else {
      say(out, std::string(1, id) + " " + name_of(from));
    }
    ::close(u);
  });
  EXPECT_EQ(c.line(), "2 192.0.2.7:80");
  EXPECT_EQ(c.line(), "3 127.0.0.1:30080");
  EXPECT_EQ(c.line(), "4 127.0.0.1:30053");
}

TEST_F(SockLbTest, ServiceWithoutReadyBackendRefusesAtOnce) {
  ServiceSpec s = tcp_service({});
  ASSERT_TRUE(lb_->upsert(s).ok());
  ServiceSpec u;
  u.key = ServiceKey{ip("10.96.0.53"), 53, Protocol::kUdp};
  ASSERT_TRUE(lb_->upsert(u).ok());
  Client c(cgroup_, ns_.get(), [](int, int out) {
    auto t0 = Clock::now();
    char id;
    int r = tcp_connect("10.96.0.10", 80, &id);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    say(out, std::string("tcp ") + (r < 0 ? strerrorname_np(-r) : "connected") + " " + std::to_string(ms));
    int k = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in vip = sa4("10.96.0.53", 53);
    int sr = static_cast<int>(::sendto(k, "q", 1, 0, reinterpret_cast<sockaddr*>(&vip), sizeof vip));
    say(out, std::string("udp ") + (sr < 0 ? strerrorname_np(errno) : "sent"));
  });
  std::string l = c.line();
  ASSERT_EQ(l.rfind("tcp ECONNREFUSED ", 0), 0u) << l;
  EXPECT_LT(std::stoi(l.substr(17)), 100) << l;
  EXPECT_EQ(c.line(), "udp ECONNREFUSED");
}

TEST_F(SockLbTest, ClientIpAffinitySticks) {
  ServiceSpec s = tcp_service();
  s.affinity = true;
  s.affinity_timeout_seconds = 60;
  ASSERT_TRUE(lb_->upsert(s).ok());
  Client c(cgroup_, ns_.get(), [](int, int out) {
    std::string ids;
    for (int i = 0; i < 30; ++i) {
      char id;
      int fd = tcp_connect("10.96.0.10", 80, &id);
      if (fd < 0) {
        say(out, std::string("error ") + std::strerror(-fd));
        return;
      }
      ids += id;
      ::close(fd);
    }
    say(out, ids);
  });
  std::string ids = c.line();
  ASSERT_EQ(ids.size(), 30u) << ids;
  EXPECT_EQ(ids, std::string(30, ids[0])) << "affinity did not stick: " << ids;

  // The remembered backend leaves: the client moves to another one and sticks there.
  ServiceSpec without = s;
  int gone = ids[0] - '0';
  std::vector<int> rest;
  for (int i : {2, 3, 4}) if (i != gone) rest.push_back(i);
  without.backends = backends(kTcpBackendPort, rest);
  ASSERT_TRUE(lb_->upsert(without).ok());
  Client c2(cgroup_, ns_.get(), [](int, int out) {
    std::string ids2;
    for (int i = 0; i < 10; ++i) {
      char id;
      int fd = tcp_connect("10.96.0.10", 80, &id);
      ids2 += fd < 0 ? 'E' : id;
      if (fd >= 0) ::close(fd);
    }
    say(out, ids2);
  });
  std::string ids2 = c2.line();
  ASSERT_EQ(ids2.size(), 10u) << ids2;
  EXPECT_EQ(ids2, std::string(10, ids2[0])) << ids2;
  EXPECT_NE(ids2[0], ids[0]) << ids2;
}

TEST_F(SockLbTest, RemovedBackendsEstablishedSocketsAreDestroyedWithinOneSecond) {
  ServiceSpec tcp = tcp_service();
  ServiceSpec udp;
  udp.key = ServiceKey{ip("10.96.0.53"), 53, Protocol::kUdp};
  udp.backends = backends(kUdpBackendPort);
  ASSERT_TRUE(lb_->upsert(tcp).ok());
  ASSERT_TRUE(lb_->upsert(udp).ok());
  Client c(cgroup_, ns_.get(), [](int in, int out) {
    char id;
    int t = tcp_connect("10.96.0.10", 80, &id);
    if (t < 0) {
      say(out, "error");
      return;
    }
    int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in vip = sa4("10.96.0.53", 53);
    char uid = '?';
    if (::connect(u, reinterpret_cast<sockaddr*>(&vip), sizeof vip) != 0 || ::send(u, "q", 1, 0) != 1 ||
        ::recv(u, &uid, 1, 0) != 1) {
      say(out, "error udp");
      return;
    }
    say(out, std::string(1, id) + std::string(1, uid));
    char go;
    (void)!::read(in, &go, 1);  // the parent is about to remove the backends
    // Both reads block until the socket is destroyed (the backends never write again).
    char b;
    ssize_t n = ::read(t, &b, 1);
    say(out, std::string("tcp ") + (n < 0 ? strerrorname_np(errno) : n == 0 ? "eof" : "data"));
    n = ::recv(u, &b, 1, 0);
    say(out, std::string("udp ") + (n < 0 ? strerrorname_np(errno) : "data"));
  });
  std::string ids = c.line();
  ASSERT_EQ(ids.size(), 2u) << ids;
  int tcp_gone = ids[0] - '0', udp_gone = ids[1] - '0';
  ServiceSpec tcp2 = tcp, udp2 = udp;
  tcp2.backends.clear();
  for (int i : {2, 3, 4}) if (i != tcp_gone) tcp2.backends.push_back(backends(kTcpBackendPort, {i})[0]);
  udp2.backends.clear();
  for (int i : {2, 3, 4}) if (i != udp_gone) udp2.backends.push_back(backends(kUdpBackendPort, {i})[0]);

  c.tell('g');
  auto t0 = Clock::now();
  ASSERT_TRUE(lb_->upsert(tcp2).ok());
  ASSERT_TRUE(lb_->upsert(udp2).ok());
  std::string l1 = c.line(1s);
  std::string l2 = c.line(std::chrono::duration_cast<std::chrono::milliseconds>(t0 + 1s - Clock::now()));
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(l1, "tcp ECONNABORTED");
  EXPECT_EQ(l2, "udp ECONNABORTED");
}

TEST_F(SockLbTest, TerminatingBackendGetsNoNewConnectionsButKeepsItsOwn) {
  ASSERT_TRUE(lb_->upsert(tcp_service({2})).ok());
  Client c(cgroup_, ns_.get(), [](int in, int out) {
    char id;
    int t = tcp_connect("10.96.0.10", 80, &id);
    say(out, std::string(1, t < 0 ? 'E' : id));
    char go;
    (void)!::read(in, &go, 1);
    std::string ids;
    for (int i = 0; i < 10; ++i) {
      char j;
      int s = tcp_connect("10.96.0.10", 80, &j);
      ids += s < 0 ? 'E' : j;
      if (s >= 0) ::close(s);
    }
    // The first connection is still open: a peek finds no error and no EOF.
    pollfd p{t, POLLIN, 0};
    int r = ::poll(&p, 1, 0);
    say(out, ids + (r == 0 ? " open" : " closed"));
  });
  ASSERT_EQ(c.line(), "2");
  ServiceSpec s = tcp_service({3, 4});
  s.terminating = backends(kTcpBackendPort, {2});
  ASSERT_TRUE(lb_->upsert(s).ok());
  c.tell('g');
  std::string l = c.line();
  ASSERT_EQ(l.size(), 15u) << l;
  EXPECT_EQ(l.substr(0, 10).find_first_not_of("34"), std::string::npos) << l;
  EXPECT_EQ(l.substr(11), "open");
}

TEST_F(SockLbTest, RemovedServiceIsNoLongerTranslated) {
  ASSERT_TRUE(lb_->upsert(tcp_service()).ok());
  ASSERT_EQ(lb_->services().size(), 1u);
  ASSERT_TRUE(lb_->remove(tcp_service().key).ok());
  EXPECT_TRUE(lb_->services().empty());
  Client c(cgroup_, ns_.get(), [](int, int out) {
    char id;
    int r = tcp_connect("10.96.0.10", 80, &id);
    say(out, r < 0 ? strerrorname_np(-r) : "connected");
  });
  // The netns has no route to 10.96.0.10: nothing translates it any more.
  EXPECT_EQ(c.line(), "ENETUNREACH");
}

TEST_F(SockLbTest, Ipv6VipAndIpv4MappedVip) {
  ServiceSpec s6;
  s6.key = ServiceKey{ip("fd00:96::10"), 80, Protocol::kTcp};
  s6.backends = {Backend{ip("::1"), kTcp6BackendPort}};
  ASSERT_TRUE(lb_->upsert(s6).ok());
  ASSERT_TRUE(lb_->upsert(tcp_service()).ok());
  Client c(cgroup_, ns_.get(), [](int, int out) {
    auto v6 = [&](const char* addr) {
      int s = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(80);
      ::inet_pton(AF_INET6, addr, &a.sin6_addr);
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        say(out, std::string("connect ") + addr + ": " + strerrorname_np(errno));
        return;
      }
      sockaddr_in6 p{};
      socklen_t len = sizeof p;
      ::getpeername(s, reinterpret_cast<sockaddr*>(&p), &len);
      char b[INET6_ADDRSTRLEN];
      ::inet_ntop(AF_INET6, &p.sin6_addr, b, sizeof b);
      char id = '?';
      (void)!::read(s, &id, 1);
      say(out, std::string(1, id) + " " + b + " " + std::to_string(ntohs(p.sin6_port)));
      ::close(s);
    };
    v6("fd00:96::10");
    v6("::ffff:10.96.0.10");  // the IPv4 service through an IPv6 socket
  });
  EXPECT_EQ(c.line(), "6 fd00:96::10 80");
  std::string l = c.line();
  ASSERT_EQ(l.size(), 22u) << l;
  EXPECT_NE(std::string("234").find(l[0]), std::string::npos) << l;
  EXPECT_EQ(l.substr(1), " ::ffff:10.96.0.10 80");
}

TEST_F(SockLbTest, BadSpecsAreRejectedWithTheirName) {
  ServiceSpec s = tcp_service();
  s.backends.push_back(Backend{ip("fd00::1"), 80});
  auto r = lb_->upsert(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("10.96.0.10:80/TCP"), std::string::npos) << r.error().to_string();
  EXPECT_NE(r.error().message().find("[fd00::1]:80"), std::string::npos) << r.error().to_string();
  s = tcp_service();
  s.backends.push_back(s.backends[0]);
  EXPECT_FALSE(lb_->upsert(s).ok());
  EXPECT_TRUE(lb_->services().empty());
}

// An agent restart (kill -9 included): with a pin directory, the maps and cgroup links
// outlive the loader, a held connection and new connections keep working while no loader
// runs, the next attach reuses them (the service is recovered, the links are switched to
// its programs) and can drain; unpin() then takes the balancer away. The bpffs is a mount
// of the test's own under /tmp, unmounted on every path.
// Per-service counters (kl_lb_stats_v1): connect() and unconnected sendmsg() given a backend
// and ECONNREFUSED refusals are counted per VIP:port:proto by the programs; a removed and
// re-added service starts from zero.
TEST_F(SockLbTest, CountersFollowConnectsDatagramsAndRefusals) {
  ASSERT_TRUE(lb_->upsert(tcp_service()).ok());
  ServiceSpec udp;
  udp.key = ServiceKey{ip("10.96.0.53"), 53, Protocol::kUdp};
  udp.backends = backends(kUdpBackendPort);
  ASSERT_TRUE(lb_->upsert(udp).ok());
  ServiceSpec empty;
  empty.key = ServiceKey{ip("10.96.0.11"), 80, Protocol::kTcp};
  ASSERT_TRUE(lb_->upsert(empty).ok());
  for (const auto& [k, st] : lb_->stats()) EXPECT_EQ(st, ServiceStats{}) << k.to_string() << " starts at zero";

  Client c(cgroup_, ns_.get(), [](int, int out) {
    char id;
    for (int i = 0; i < 5; ++i) {
      int s = tcp_connect("10.96.0.10", 80, &id);
      if (s >= 0) ::close(s);
    }
    int refused = 0;
    for (int i = 0; i < 2; ++i) refused += tcp_connect("10.96.0.11", 80, &id) == -ECONNREFUSED;
    sockaddr_in vip = sa4("10.96.0.53", 53);
    int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int sent = 0;
    for (int i = 0; i < 3; ++i) sent += ::sendto(u, "q", 1, 0, reinterpret_cast<sockaddr*>(&vip), sizeof vip) == 1;
    int k = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int connected = ::connect(k, reinterpret_cast<sockaddr*>(&vip), sizeof vip) == 0;
    // Sends on a connected socket carry no address: no sendmsg hook, not counted again.
    (void)!::send(k, "q", 1, 0);
    say(out, "refused " + std::to_string(refused) + " sent " + std::to_string(sent) + " connected " +
                 std::to_string(connected));
  });
  ASSERT_EQ(c.line(), "refused 2 sent 3 connected 1");
  auto st = lb_->stats();
  EXPECT_EQ(st[tcp_service().key], (ServiceStats{.connects = 5, .sendmsgs = 0, .refused = 0}));
  EXPECT_EQ(st[udp.key], (ServiceStats{.connects = 1, .sendmsgs = 3, .refused = 0}));
  EXPECT_EQ(st[empty.key], (ServiceStats{.connects = 0, .sendmsgs = 0, .refused = 2}));

  // A new backend set keeps the service's counters; removing the service drops them.
  ASSERT_TRUE(lb_->upsert(tcp_service({2})).ok());
  EXPECT_EQ(lb_->stats()[tcp_service().key].connects, 5u);
  ASSERT_TRUE(lb_->remove(tcp_service().key).ok());
  EXPECT_EQ(lb_->stats().count(tcp_service().key), 0u);
  ASSERT_TRUE(lb_->upsert(tcp_service()).ok());
  EXPECT_EQ(lb_->stats()[tcp_service().key], ServiceStats{});
}

TEST_F(SockLbTest, PinnedMapsAndLinksOutliveTheLoaderAndAreReused) {
  lb_.reset();  // the fixture's unpinned balancer: this test attaches its own
  TestBpffs fs;
  ASSERT_TRUE(fs.mounted()) << fs.error();
  const std::string mnt = fs.dir();
  const std::string pins = mnt + "/lb";

  // The client is forked before any loader exists: a child inherits its parent's fds,
  // and one holding the loader's link fds would keep the links alive without the pins.
  auto c = std::make_unique<Client>(cgroup_, ns_.get(), [](int in, int out) {
    int held = -1;
    char cmd;
    while (::read(in, &cmd, 1) == 1) {
      char j;
      if (cmd == 'o') {  // open the connection to hold
        held = tcp_connect("10.96.0.10", 80, &j);
        say(out, held < 0 ? std::string("error ") + strerrorname_np(-held) : std::string(1, j));
      } else if (cmd == 'c') {  // a new connection through the VIP
        int s = tcp_connect("10.96.0.10", 80, &j);
        say(out, s < 0 ? std::string("error ") + strerrorname_np(-s) : std::string(1, j));
        if (s >= 0) ::close(s);
      } else if (cmd == 'h') {  // is the held connection still open?
        pollfd p{held, POLLIN, 0};
        say(out, ::poll(&p, 1, 0) == 0 ? "open" : "closed");
      } else if (cmd == 'w') {  // wait until the held connection ends
        char b;
        ssize_t n = ::read(held, &b, 1);
        say(out, n < 0 ? strerrorname_np(errno) : n == 0 ? "eof" : "data");
      }
    }
  });
  auto first = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = pins});
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  ASSERT_TRUE((*first)->upsert(tcp_service()).ok());
  c->tell('o');
  std::string held = c->line();
  ASSERT_EQ(held.size(), 1u) << held;
  ASSERT_EQ(held.find_first_not_of("234"), std::string::npos) << held;
  first->reset();  // the loader goes away, as with kill -9: every fd of it is closed

  c->tell('c');
  EXPECT_EQ(c->line().find_first_not_of("234"), std::string::npos) << "a new connection with no loader running";
  c->tell('h');
  EXPECT_EQ(c->line(), "open");

  auto second = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = pins});
  ASSERT_TRUE(second.ok()) << second.error().to_string();
  ASSERT_EQ((*second)->services(), std::vector<ServiceKey>{tcp_service().key}) << "the pinned service is recovered";
  c->tell('c');
  EXPECT_EQ(c->line().find_first_not_of("234"), std::string::npos) << "a new connection after the re-attach";
  c->tell('h');
  EXPECT_EQ(c->line(), "open");

  // The counters live in a pinned map too: the first loader's connections are still counted,
  // and bpftool prints the entry with its field names (BTF).
  EXPECT_EQ((*second)->stats()[tcp_service().key].connects, 3u) << "o, c and c through the VIP";
  {
    const std::string cmd = "bpftool map dump pinned " + pins + "/kl_lb_stats_v1 2>&1";
    std::string dump;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char b[4096];
      std::size_t n;
      while ((n = std::fread(b, 1, sizeof b, f)) > 0) dump.append(b, n);
      ::pclose(f);
    }
    EXPECT_NE(dump.find("\"connects\""), std::string::npos) << cmd << ":\n" << dump;
    EXPECT_NE(dump.find("\"refused\""), std::string::npos) << cmd << ":\n" << dump;
  }

  // The new loader drains through the reused maps: the held connection's backend goes.
  std::vector<int> rest;
  for (int i : {2, 3, 4}) if (i != held[0] - '0') rest.push_back(i);
  c->tell('w');
  ASSERT_TRUE((*second)->upsert(tcp_service(rest)).ok());
  EXPECT_EQ(c->line(1s), "ECONNABORTED");

  c.reset();
  ASSERT_TRUE((*second)->unpin().ok());
  second->reset();
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(pins, ec) || !std::filesystem::exists(pins)) << "pins left in " << pins;
  Client after(cgroup_, ns_.get(), [](int, int out) {
    char id;
    int r = tcp_connect("10.96.0.10", 80, &id);
    say(out, r < 0 ? strerrorname_np(-r) : "connected");
  });
  EXPECT_EQ(after.line(), "ENETUNREACH") << "unpinned and closed: nothing translates the VIP";
}

// Every entry of a pinned map, as bytes (a per-CPU map's value holds every CPU's slot).
std::map<std::string, std::string> dump_pinned(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  EXPECT_TRUE(fd) << "open pinned map " << path << ": " << std::strerror(errno);
  std::map<std::string, std::string> out;
  if (!fd) return out;
  bpf_map_info info{};
  std::uint32_t len = sizeof info;
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd.get(), &info, &len), 0) << path;
  std::size_t value_size = info.value_size;
  if (info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
    value_size = (value_size + 7) / 8 * 8 * static_cast<std::size_t>(libbpf_num_possible_cpus());
  std::string key(info.key_size, '\0'), next(info.key_size, '\0'), value(value_size, '\0');
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd.get(), prev, next.data()) == 0) {
    key = next;
    prev = key.data();
    if (bpf_map_lookup_elem(fd.get(), key.data(), value.data()) == 0) out[key] = value;
  }
  return out;
}

// The bulk path (upsert_many: batched map writes) leaves the same entries as one upsert()
// per service, for new services and for a mix of new and installed ones, and an invalid
// spec in the list gets upsert()'s error at its index without stopping the others.
TEST_F(SockLbTest, UpsertManyWritesWhatOneUpsertPerServiceWrites) {
  lb_.reset();  // two pinned balancers instead, so their maps can be read after
  TestBpffs fs;
  ASSERT_TRUE(fs.mounted()) << fs.error();
  const std::string mnt = fs.dir();
  auto single = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = mnt + "/single"});
  ASSERT_TRUE(single.ok()) << single.error().to_string();
  auto bulk = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = mnt + "/bulk"});
  ASSERT_TRUE(bulk.ok()) << bulk.error().to_string();

  auto spec = [&](int i, std::vector<int> which) {
    ServiceSpec s;
    s.key = ServiceKey{ip(("10.96.1." + std::to_string(i)).c_str()), 80, i % 2 ? Protocol::kTcp : Protocol::kUdp};
    s.backends = backends(kTcpBackendPort, std::move(which));
    s.affinity = i % 3 == 0;
    s.affinity_timeout_seconds = s.affinity ? 60 : 0;
    return s;
  };
  auto same_maps = [&] {
    for (const char* m : {"kl_lb_services_v1", "kl_lb_slots_v1", "kl_lb_members_v1", "kl_lb_stats_v1"}) {
      auto a = dump_pinned(mnt + "/single/" + m);
      auto b = dump_pinned(mnt + "/bulk/" + m);
      EXPECT_FALSE(a.empty()) << m;
      EXPECT_EQ(a.size(), b.size()) << m;
      EXPECT_TRUE(a == b) << m << ": the bulk path wrote other entries than one upsert() each";
    }
  };

  std::vector<ServiceSpec> first;
  for (int i = 1; i <= 200; ++i) first.push_back(spec(i, i % 4 == 0 ? std::vector<int>{} : std::vector<int>{2, 3, 4}));
  for (const auto& s : first) ASSERT_TRUE((*single)->upsert(s).ok()) << s.key.to_string();
  ::testing::internal::CaptureStderr();
  auto first_results = (*bulk)->upsert_many(first);
  std::string warned = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(warned.find("batch update"), std::string::npos) << "the kernel refused a batch: " << warned;
  for (const auto& r : first_results) ASSERT_TRUE(r.ok()) << r.error().to_string();
  same_maps();
  EXPECT_EQ((*single)->services(), (*bulk)->services());

  // Installed ones change (upsert() after the new ones are written), new ones arrive, one is bad.
  std::vector<ServiceSpec> second = {spec(5, {3}), spec(201, {2, 4}), spec(7, {2, 3}), spec(202, {4})};
  ServiceSpec bad = spec(203, {2});
  bad.backends.push_back(bad.backends[0]);
  second.insert(second.begin() + 2, bad);
  for (const auto* s : {&second[1], &second[4], &second[0], &second[3]})
    ASSERT_TRUE((*single)->upsert(*s).ok()) << s->key.to_string();
  auto results = (*bulk)->upsert_many(second);
  ASSERT_EQ(results.size(), second.size());
  for (std::size_t i = 0; i < second.size(); ++i) {
    if (i == 2) {
      ASSERT_FALSE(results[i].ok()) << "a backend listed twice";
      EXPECT_NE(results[i].error().to_string().find("listed twice"), std::string::npos) << results[i].error().to_string();
    } else {
      EXPECT_TRUE(results[i].ok()) << second[i].key.to_string() << ": " << results[i].error().to_string();
    }
  }
  same_maps();
  EXPECT_EQ((*single)->services(), (*bulk)->services());

  // A bulk-written service translates like any other.
  Client c(cgroup_, ns_.get(), [](int, int out) {
    char id;
    int s = tcp_connect("10.96.1.201", 80, &id);
    say(out, s < 0 ? std::string("error ") + strerrorname_np(-s) : std::string(1, id));
    if (s >= 0) ::close(s);
  });
  std::string got = c.line();
  EXPECT_TRUE(got == "2" || got == "4") << got;

  ASSERT_TRUE((*single)->unpin().ok());
  ASSERT_TRUE((*bulk)->unpin().ok());
}


// Replaces the pinned map at `path` by a copy with other map_flags (same name, type, sizes
// and entries): the pin an agent of an earlier release left.
void repin_with_flags(const std::string& path, std::uint32_t flags) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  ASSERT_TRUE(fd) << path << ": " << std::strerror(errno);
  bpf_map_info info{};
  std::uint32_t len = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd(fd.get(), &info, &len), 0) << path;
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
  UniqueFd old(bpf_map_create(static_cast<bpf_map_type>(info.type), info.name, info.key_size, info.value_size,
                              info.max_entries, &opts));
  ASSERT_TRUE(old) << "create the old " << info.name << ": " << std::strerror(errno);
  for (const auto& [k, v] : dump_pinned(path))
    ASSERT_EQ(bpf_map_update_elem(old.get(), k.data(), v.data(), BPF_ANY), 0) << info.name << ": " << std::strerror(errno);
  ASSERT_EQ(::unlink(path.c_str()), 0) << path;
  ASSERT_EQ(bpf_obj_pin(old.get(), path.c_str()), 0) << path << ": " << std::strerror(errno);
}

// An agent upgrade from a release whose maps were preallocated (map_flags 0): the new
// attach carries every entry over to maps of the new definition, and the service keeps
// translating — no VIP is left without its backends while the agent restarts.
TEST_F(SockLbTest, PinnedMapsOfAnEarlierDefinitionAreCarriedOver) {
  lb_.reset();
  TestBpffs fs;
  ASSERT_TRUE(fs.mounted()) << fs.error();
  const std::string mnt = fs.dir();
  const std::string pins = mnt + "/lb";
  const std::vector<const char*> moved = {"kl_lb_services_v1", "kl_lb_slots_v1", "kl_lb_members_v1",
                                          "kl_lb_stats_v1", "kl_lb_drain_v1"};
  std::map<std::string, std::map<std::string, std::string>> before;
  std::vector<ServiceKey> services;
  {
    auto first = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = pins});
    ASSERT_TRUE(first.ok()) << first.error().to_string();
    ASSERT_TRUE((*first)->upsert(tcp_service({2, 4})).ok());
    ServiceSpec udp;
    udp.key = ServiceKey{ip("10.96.0.53"), 53, Protocol::kUdp};
    udp.backends = backends(kUdpBackendPort, {3});
    ASSERT_TRUE((*first)->upsert(udp).ok());
    services = (*first)->services();
    for (const char* m : moved) {
      repin_with_flags(pins + "/" + m, 0);
      if (HasFatalFailure()) return;
      before[m] = dump_pinned(pins + "/" + m);
      EXPECT_TRUE(before[m].empty() == (std::string(m) == "kl_lb_drain_v1")) << m << ": only the drain list is empty";
    }
  }  // the loader goes; its pinned links stay

  ::testing::internal::CaptureStderr();
  auto next = SockLb::attach({.cgroup_path = cgroup_, .pin_dir = pins});
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(next.ok()) << next.error().to_string() << "\n" << log;
  EXPECT_EQ((*next)->services(), services) << "recovered from the carried-over entries";
  for (const char* m : moved) {
    UniqueFd fd(bpf_obj_get((pins + "/" + m).c_str()));
    bpf_map_info info{};
    std::uint32_t len = sizeof info;
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd.get(), &info, &len), 0) << m;
    EXPECT_EQ(info.map_flags & BPF_F_NO_PREALLOC, static_cast<std::uint32_t>(BPF_F_NO_PREALLOC))
        << m << " has the new definition";
    EXPECT_TRUE(dump_pinned(pins + "/" + m) == before[m]) << m << ": entries changed on the way";
  }
  Client c(cgroup_, ns_.get(), [](int, int out) {
    char id;
    int s = tcp_connect("10.96.0.10", 80, &id);
    say(out, s < 0 ? std::string("error ") + strerrorname_np(-s) : std::string(1, id));
    if (s >= 0) ::close(s);
  });
  std::string got = c.line();
  EXPECT_TRUE(got == "2" || got == "4") << got;
  ASSERT_TRUE((*next)->unpin().ok());
}

}  // namespace
}  // namespace kernlet::bpf
