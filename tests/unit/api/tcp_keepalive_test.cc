// set_tcp_keepalive: the options a dead peer is found by, read back from the kernel.
#include "api/tcp_keepalive.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "api/unique_fd.h"

namespace kernlet {
namespace {

int option(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

TEST(TcpKeepalive, FindsADeadPeerWithinAboutAMinute) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(option(fd.get(), SOL_SOCKET, SO_KEEPALIVE), 0);  // off until asked for
  set_tcp_keepalive(fd.get());
  EXPECT_EQ(option(fd.get(), SOL_SOCKET, SO_KEEPALIVE), 1);
  const int idle = option(fd.get(), IPPROTO_TCP, TCP_KEEPIDLE);
  const int interval = option(fd.get(), IPPROTO_TCP, TCP_KEEPINTVL);
  const int count = option(fd.get(), IPPROTO_TCP, TCP_KEEPCNT);
  EXPECT_EQ(idle, 30);
  EXPECT_EQ(interval, 10);
  EXPECT_EQ(count, 3);
  EXPECT_LE(idle + interval * count, 60);  // the kernel's defaults would take over two hours
}

}  // namespace
}  // namespace kernlet
