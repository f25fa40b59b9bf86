#!/bin/sh
# Guest side of the cgroup VM tests: the driver's own program does the work.
echo "KLVM controllers-at-root: $(cat /sys/fs/cgroup/cgroup.controllers)"
/bin/cgroup_vm_guest

# The harness loaded the overlay module (--module overlay): the container tests that reuse
# this harness need overlayfs, which Debian builds as a module.
mkdir -p /tmp/ov/lower /tmp/ov/upper /tmp/ov/work /tmp/ov/merged
echo lower > /tmp/ov/lower/file
if mount -t overlay overlay -o lowerdir=/tmp/ov/lower,upperdir=/tmp/ov/upper,workdir=/tmp/ov/work /tmp/ov/merged &&
   [ "$(cat /tmp/ov/merged/file)" = lower ] && echo upper > /tmp/ov/merged/file &&
   [ "$(cat /tmp/ov/upper/file)" = upper ]; then
  echo "KLVM case=harness_overlay_module result=pass detail=\"overlay.ko loaded, copy-up works\""
else
  echo "KLVM case=harness_overlay_module result=fail detail=\"$(grep overlay /proc/filesystems)\""
fi
