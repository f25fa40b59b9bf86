#!/usr/bin/env bash
# run_vm.sh: boot Debian's 6.1 kernel under qemu (TCG) with an initramfs built now from
# busybox, the given binaries (and their shared libraries), optional kernel modules, and a
# guest script; collect the serial console; stop the VM at a hard timeout.
#
#   run_vm.sh --out DIR --script GUEST.sh [--bin FILE]... [--file SRC:/DST]...
#             [--module NAME]... [--timeout SECONDS] [--mem 512M] [--append 'ARGS']
#
# In the guest: /proc, /sys, /dev, /tmp are mounted, cgroup2 is mounted purely at
# /sys/fs/cgroup (unless --append has kernlet.nocgroup), binaries are in /bin, modules are
# insmod-ed in the order given, then GUEST.sh runs as /guest.sh; its output goes to the
# console, then the guest powers off. Lines the host should read are written by the guest
# script; the harness itself prints "KLVM boot ..." first and "KLVM exit rc=<rc>" last.
#
# With --append kernlet.switchroot the guest first moves its root to a tmpfs (switch_root),
# so that pivot_root works in it (container tests).
#
# Exit: 0 when the guest ran its script to the end ("KLVM exit" seen), 1 on a boot failure
# or timeout (the console log says which), 77 when qemu or the kernel image is absent.
# Outputs in DIR: console.log (the serial console), initramfs.cpio, root/ (the staging tree).
# Environment: KERNLET_VM_KERNEL overrides the kernel image (default: newest
# /boot/vmlinuz-6.1.0-*-amd64), KERNLET_VM_QEMU the qemu binary.
set -euo pipefail

out="" script="" timeout=120 mem=512M append=""
bins=() files=() modules=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    --bin) bins+=("$2"); shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    --module) modules+=("$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    *) echo "run_vm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] && [ -n "$script" ] || { echo "run_vm.sh: --out and --script are required" >&2; exit 2; }
[ -f "$script" ] || { echo "run_vm.sh: guest script $script not found" >&2; exit 2; }

qemu=${KERNLET_VM_QEMU:-$(command -v qemu-system-x86_64 || true)}
if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
  echo "SKIP: qemu-system-x86_64 not installed (Debian package qemu-system-x86)"; exit 77
fi
kernel=${KERNLET_VM_KERNEL:-$(ls /boot/vmlinuz-6.1.0-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
  echo "SKIP: no readable kernel image /boot/vmlinuz-6.1.0-*-amd64 (Debian package linux-image-amd64)"
  exit 77
fi
kver=$(basename "$kernel"); kver=${kver#vmlinuz-}
is_dynamic() { ! { LC_ALL=C ldd "$1" 2>&1 || true; } | grep -q 'not a dynamic executable'; }

# busybox-static's binary: the guest has no libraries for a dynamic one.
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
  if [ -x "$b" ] && ! is_dynamic "$b"; then busybox=$b; break; fi
done
[ -n "$busybox" ] || { echo "run_vm.sh: no static busybox (Debian package busybox-static)" >&2; exit 1; }
for tool in cpio ldd; do
  command -v $tool >/dev/null || { echo "run_vm.sh: $tool not found" >&2; exit 1; }
done

rm -rf "$out/root"
mkdir -p "$out/root"/{bin,dev,proc,sys,tmp,lib/modules,etc}
root=$out/root
cp "$busybox" "$root/bin/busybox"

# A file and, for ELF files, every shared library ldd resolves plus the dynamic loader,
# at the same absolute paths as on the host.
copy_with_libs() {
  local src=$1 dst=$2
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
  [ "$(head -c 4 "$src" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
  # Debug info only makes the initramfs bigger and the boot slower.
  if command -v strip >/dev/null; then strip --strip-debug "$root$dst" 2>/dev/null || true; fi
  if is_dynamic "$src"; then
    LC_ALL=C ldd "$src" | grep -oE '(/[^ ]+)' | while read -r lib; do
      [ -e "$root$lib" ] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  fi
}
for b in "${bins[@]}"; do copy_with_libs "$b" "/bin/$(basename "$b")"; done
for f in "${files[@]}"; do copy_with_libs "${f%%:*}" "${f#*:}"; done
for m in "${modules[@]}"; do
  path=$(modinfo -k "$kver" -n "$m" 2>/dev/null || true)
  [ -n "$path" ] && [ -f "$path" ] || { echo "run_vm.sh: module $m not found for $kver" >&2; exit 1; }
  case "$path" in
    *.xz) xz -dc "$path" > "$root/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$path" > "$root/lib/modules/$m.ko" ;;
    *) cp "$path" "$root/lib/modules/$m.ko" ;;
  esac
  echo "$m" >> "$root/lib/modules/order"
done
cp "$script" "$root/guest.sh"
chmod +x "$root/guest.sh"

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc none /proc
# kernlet.switchroot: move to a tmpfs root first. The initramfs root (rootfs) cannot be
# pivot_root'ed away from, and container runtimes pivot_root inside their mount namespace.
if grep -q kernlet.switchroot /proc/cmdline && [ ! -e /.switched ]; then
  mkdir -p /newroot && mount -t tmpfs -o size=350M none /newroot
  for d in /*; do
    case "$d" in /newroot|/proc|/sys|/dev|/tmp) mkdir -p "/newroot$d" ;; *) cp -a "$d" /newroot/ ;; esac
  done
  touch /newroot/.switched
  umount /proc
  exec switch_root /newroot /init
fi
mount -t sysfs none /sys
mount -t devtmpfs none /dev
mount -t tmpfs none /tmp
if ! grep -q kernlet.nocgroup /proc/cmdline; then
  mount -t cgroup2 none /sys/fs/cgroup || echo "KLVM error mount cgroup2 failed"
fi
if [ -f /lib/modules/order ]; then
  for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || echo "KLVM error insmod $m failed"
  done
fi
echo "KLVM boot kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
/guest.sh
echo "KLVM exit rc=$?"
poweroff -f
INIT
chmod +x "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$out/initramfs.cpio"

log=$out/console.log
start=$(date +%s.%N)
# The hard timeout kills this qemu (and only it) with SIGKILL.
rc=0
timeout --signal=KILL "$timeout" "$qemu" -accel tcg -m "$mem" -smp 1 -nographic -no-reboot \
  -nodefaults -serial stdio -kernel "$kernel" -initrd "$out/initramfs.cpio" \
  -append "console=ttyS0 panic=-1 quiet rdinit=/init $append" < /dev/null > "$log" 2>&1 || rc=$?
[ $rc -eq 137 ] && echo "KLVM timeout after ${timeout}s" >> "$log"
end=$(date +%s.%N)
echo "vm: $(awk "BEGIN{printf \"%.1f\", $end-$start}") s, console log $log"
if grep -q '^KLVM exit rc=' "$log"; then exit 0; fi
echo "vm: the guest did not finish (qemu exit $rc); last console lines:" >&2
tail -n 30 "$log" >&2
exit 1
