// dial_pod_loopback / socket_in_netns (agent/server/netns_dial.h) against a real network
// namespace the test makes (loopback only, no route out): a listener on the namespace's
// 127.0.0.1 is reached from the test's own thread, which never enters the namespace; the
// same port on the host's loopback is not what answers; a closed port is refused with
// both addresses named; the calling thread's namespace is unchanged. Root only
// (CAP_SYS_ADMIN for unshare/setns); skips otherwise.
#include "agent/server/netns_dial.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

namespace kernlet::agent {
namespace {

struct TestNetns {
  UniqueFd ns;        // the namespace
  UniqueFd listener;  // a TCP listener on its 127.0.0.1:port
  uint16_t port = 0;
  std::string error;
};

// A fresh network namespace with lo up and a listener on 127.0.0.1, made on a thread that
// ends inside it.
TestNetns make_netns() {
  TestNetns t;
  std::thread th([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      t.error = std::string("unshare: ") + std::strerror(errno);
      return;
    }
    t.ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags |= IFF_UP;
      (void)::ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    ::close(s);
    t.listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(t.listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(t.listener.get(), 4) != 0) {
      t.error = std::string("listen in the test namespace: ") + std::strerror(errno);
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(t.listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
    t.port = ntohs(a.sin_port);
  });
  th.join();
  return t;
}

ino_t own_netns() {
  struct stat st{};
  ::stat("/proc/thread-self/ns/net", &st);
  return st.st_ino;
}

class NetnsDialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (unshare and setns of network namespaces)";
    t_ = make_netns();
    if (!t_.error.empty()) GTEST_SKIP() << "cannot make a network namespace here: " << t_.error;
  }
  TestNetns t_;
};

TEST_F(NetnsDialTest, ReachesTheNamespacesLoopbackFromThisThread) {
  const ino_t before = own_netns();
  auto fd = dial_pod_loopback(t_.ns.get(), t_.port, std::chrono::seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.error().to_string();
  EXPECT_EQ(own_netns(), before) << "the calling thread must stay in its own namespace";
  // The namespace's listener has it: accept, then talk.
  pollfd p{t_.listener.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  UniqueFd peer(::accept4(t_.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(peer.valid());
  ASSERT_EQ(::write(peer.get(), "pong", 4), 4);
  pollfd r{fd->get(), POLLIN, 0};
  ASSERT_EQ(::poll(&r, 1, 5000), 1);
  char buf[8];
  EXPECT_EQ(::read(fd->get(), buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "pong");
}

TEST_F(NetnsDialTest, AClosedPortIsRefusedNamingBothAddresses) {
  t_.listener.reset();  // nothing listens on that port in the namespace any more
  auto fd = dial_pod_loopback(t_.ns.get(), t_.port, std::chrono::seconds(5));
  ASSERT_FALSE(fd.ok());
  const std::string p = std::to_string(t_.port);
  EXPECT_NE(fd.error().message().find("connect to 127.0.0.1:" + p + ": Connection refused"), std::string::npos)
      << fd.error().message();
  EXPECT_NE(fd.error().message().find("[::1]:" + p), std::string::npos) << fd.error().message();
}

TEST_F(NetnsDialTest, SocketInNetnsRejectsAnFdThatIsNotANamespace) {
  UniqueFd not_ns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto s = socket_in_netns(not_ns.get(), AF_INET);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("setns"), std::string::npos) << s.error().to_string();
}

}  // namespace
}  // namespace kernlet::agent
