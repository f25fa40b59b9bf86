#include "runtime/sandbox/child_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kernlet::runtime::child {

Msg& Msg::add(const char* s) {
  if (s == nullptr) s = "(null)";
  while (*s != '\0' && len_ + 1 < sizeof(buf_)) buf_[len_++] = *s++;
  buf_[len_] = '\0';
  return *this;
}

Msg& Msg::add_int(long v) {
  char tmp[24];
  int i = 0;
  bool neg = v < 0;
  unsigned long u = neg ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    tmp[i++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0 && i < 22);
  if (neg) tmp[i++] = '-';
  char out[24];
  for (int j = 0; j < i; ++j) out[j] = tmp[i - 1 - j];
  out[i] = '\0';
  return add(out);
}

void report(int fd, int kind, int err, const char* message) {
  if (fd < 0) return;
  ChildReport r;
  memset(&r, 0, sizeof(r));
  r.magic = kChildReportMagic;
  r.kind = kind;
  r.err = err;
  size_t n = strlen(message);
  if (n >= sizeof(r.message)) n = sizeof(r.message) - 1;
  memcpy(r.message, message, n);
  ssize_t w;
  do {
    w = ::write(fd, &r, sizeof(r));
  } while (w < 0 && errno == EINTR);
}

void fail(int report_fd, int err, const char* message) {
  report(report_fd, kChildError, err, message);
  ::_exit(1);
}

int place_fds(const FdMove* moves, int n) {
  int high[16];
  if (n > 16) return -EINVAL;
  int base = n;
  for (int i = 0; i < n; ++i)
    if (moves[i].source >= base) base = moves[i].source + 1;
  // First lift every source above all targets and sources, so no dup3 below clobbers one.
  int null_fd = -1;  // one open of /dev/null for every slot that wants it (a holder has three)
  for (int i = 0; i < n; ++i) {
    int src = moves[i].source;
    if (src < 0) {
      if (null_fd < 0) null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null_fd < 0) return -errno;
      src = null_fd;
    }
    high[i] = ::fcntl(src, F_DUPFD_CLOEXEC, base);
    if (high[i] < 0) return -errno;
    if (high[i] >= base) base = high[i] + 1;
  }
  for (int i = 0; i < n; ++i) {
    if (::dup3(high[i], i, moves[i].cloexec ? O_CLOEXEC : 0) < 0) return -errno;
  }
  // Raw: this file is also linked into the static holder, without linux.cc.
  if (::syscall(SYS_close_range, static_cast<unsigned>(n), ~0U, 0) != 0) return -errno;
  return 0;
}

}  // namespace kernlet::runtime::child
