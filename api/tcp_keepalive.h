// TCP keepalive with the timings every kernlet endpoint uses, client and server alike: a
// peer that vanished without a FIN (a node powered off, a cable pulled, a NAT that forgot
// the flow) is found within about a minute — 30 s idle, then 3 probes 10 s apart — instead
// of never. Long-lived, often silent connections need it most: watches, log follows and
// exec, attach and port-forward sessions, whose protocols have no ping of their own in
// every version kubectl speaks.
//
// Thread-safe: it only sets options on the descriptor it is given.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace kernlet {

// Best effort: a socket that refuses an option keeps the kernel's defaults for it.
inline void set_tcp_keepalive(int fd) {
  int on = 1, idle = 30, interval = 10, count = 3;
  (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace kernlet
