// Loop devices for kernlet-csi-local: an ext4 image file attached to /dev/loopN through
// /dev/loop-control and the loop ioctls (LOOP_CONFIGURE, or LOOP_SET_FD + LOOP_SET_STATUS64
// on kernels before 5.8) — never by running losetup.
//
// Devices are attached with LO_FLAGS_AUTOCLEAR: the kernel detaches one when its last user
// goes, i.e. when the filesystem on it is unmounted, or when the driver dies between attach
// and mount. So a crash never leaks a loop device, and unmounting the staging path is what
// detaches it (detach_all_backed_by() sweeps up whatever is left explicitly).
//
// Thread-safety: functions are safe to call concurrently; attaching retries when another
// process takes the free device first.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::csi::local {

// Attaches `image` to a free loop device and returns its path ("/dev/loop7") with an open
// fd of it. The device stays attached only while something holds it: the caller mounts it,
// then closes the fd (a failed mount just closes it, and the device goes). Errors name the
// image.
struct AttachedLoop {
  std::string device;
  int fd = -1;  // an open fd of the device; the caller closes it after mounting
};
Result<AttachedLoop> attach_loop(const std::string& image, bool read_only);

// The loop devices ("/dev/loopN") whose backing file is `image` (as
// /sys/block/loopN/loop/backing_file says). Missing sysfs entries are skipped.
std::vector<std::string> loop_devices_backed_by(const std::string& image);

// Detaches every loop device backed by `image` (LOOP_CLR_FD; a device in use is detached
// by autoclear once released) and waits up to `wait` for them to be gone. Errors name the
// device that stays.
Result<void> detach_all_backed_by(const std::string& image, std::chrono::milliseconds wait);

// Makes the loop device see its backing file's current size (LOOP_SET_CAPACITY), after
// the image was grown.
Result<void> refresh_capacity(const std::string& device);

// The size in bytes of the block device at `device` (BLKGETSIZE64).
Result<uint64_t> block_device_size(const std::string& device);

}  // namespace kernlet::csi::local
