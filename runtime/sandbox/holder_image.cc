#include "runtime/sandbox/holder_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>

extern "C" const char kl_holder_blob_start[];
extern "C" const char kl_holder_blob_end[];

namespace kernlet::runtime {

Result<int> holder_image_fd() {
  static std::mutex mu;
  static int fd = -1;
  std::lock_guard lock(mu);
  if (fd >= 0) return fd;
  int m = ::memfd_create("kernlet-pod-holder", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m < 0) return Error::from_errno("memfd_create kernlet-pod-holder");
  const char* p = kl_holder_blob_start;
  size_t left = static_cast<size_t>(kl_holder_blob_end - kl_holder_blob_start);
  while (left > 0) {
    ssize_t n = ::write(m, p, left);
    if (n < 0) {
      int e = errno;
      ::close(m);
      return Error("write holder memfd", e);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fcntl(m, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    int e = errno;
    ::close(m);
    return Error("seal holder memfd", e);
  }
  fd = m;
  return fd;
}

}  // namespace kernlet::runtime
