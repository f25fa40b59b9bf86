// Loop device attach/detach through the loop ioctls (see loop_device.h).
#include "csi/driver/loop_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "api/unique_fd.h"

namespace kernlet::csi::local {
namespace {

void fill_info(loop_info64* info, const std::string& image, bool read_only) {
  std::memset(info, 0, sizeof *info);
  info->lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0);
  std::strncpy(reinterpret_cast<char*>(info->lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
}

// Binds `backing` to the open loop device `dev`. EBUSY: someone else took it first.
int configure(int dev, int backing, const std::string& image, bool read_only) {
  loop_config cfg{};
  cfg.fd = static_cast<uint32_t>(backing);
  cfg.block_size = 0;
  fill_info(&cfg.info, image, read_only);
  if (::ioctl(dev, LOOP_CONFIGURE, &cfg) == 0) return 0;
  if (errno != EINVAL && errno != ENOTTY) return -1;
  // Before Linux 5.8 there is no LOOP_CONFIGURE: bind the fd, then set the flags.
  if (::ioctl(dev, LOOP_SET_FD, backing) != 0) return -1;
  loop_info64 info;
  fill_info(&info, image, read_only);
  if (::ioctl(dev, LOOP_SET_STATUS64, &info) != 0) {
    int saved = errno;
    ::ioctl(dev, LOOP_CLR_FD, 0);
    errno = saved;
    return -1;
  }
  return 0;
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<AttachedLoop> attach_loop(const std::string& image, bool read_only) {
  UniqueFd backing(::open(image.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!backing) return Error::from_errno("open volume image " + image);
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control) return Error::from_errno("open /dev/loop-control");
  // Another process (losetup, a test) may grab the device between GET_FREE and CONFIGURE.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return Error::from_errno("LOOP_CTL_GET_FREE for " + image);
    std::string dev = "/dev/loop" + std::to_string(n);
    UniqueFd fd(::open(dev.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!fd) return Error::from_errno("open " + dev + " for " + image);
    if (configure(fd.get(), backing.get(), image, read_only) == 0) return AttachedLoop{dev, fd.release()};
    if (errno != EBUSY) return Error::from_errno("attach " + image + " to " + dev);
  }
  return Error(ErrorCode::kUnavailable, "attach " + image + ": every free loop device was taken first (16 tries)");
}

std::vector<std::string> loop_devices_backed_by(const std::string& image) {
  std::vector<std::string> out;
  DIR* d = ::opendir("/sys/block");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, "loop", 4) != 0) continue;
    std::string backing = read_line(std::string("/sys/block/") + e->d_name + "/loop/backing_file");
    // A deleted backing file shows as "<path> (deleted)".
    if (backing == image || backing == image + " (deleted)") out.push_back(std::string("/dev/") + e->d_name);
  }
  ::closedir(d);
  return out;
}

Result<void> detach_all_backed_by(const std::string& image, std::chrono::milliseconds wait) {
  for (const auto& dev : loop_devices_backed_by(image)) {
    UniqueFd fd(::open(dev.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;  // gone meanwhile
    // ENXIO: already unbound. EBUSY: still held (a mount); autoclear is set, so it goes
    // when released — but a device still mounted is reported below as staying.
    ::ioctl(fd.get(), LOOP_CLR_FD, 0);
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto left = loop_devices_backed_by(image);
    if (left.empty()) return Ok();
    if (std::chrono::steady_clock::now() >= deadline)
      return Error(ErrorCode::kFailedPrecondition, "detach " + image + ": " + left.front() + " stays attached (in use)");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<void> refresh_capacity(const std::string& device) {
  UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + device);
  if (::ioctl(fd.get(), LOOP_SET_CAPACITY, 0) != 0) return Error::from_errno("LOOP_SET_CAPACITY " + device);
  return Ok();
}

Result<uint64_t> block_device_size(const std::string& device) {
  UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + device);
  uint64_t size = 0;
  if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) return Error::from_errno("BLKGETSIZE64 " + device);
  return size;
}

}  // namespace kernlet::csi::local
