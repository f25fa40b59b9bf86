#!/usr/bin/env bash
# Builds kernlet's test images as OCI image layouts from Debian's busybox-static, offline.
#
#   tests/images/build.sh OUTDIR
#
# OUTDIR/busybox     one gzip layer: /bin/busybox, an applet symlink per command, /etc files.
# OUTDIR/layered     four layers over the same base layer (shared with busybox):
#                      1. the busybox base (gzip, identical bytes to busybox's layer)
#                      2. plain tar: /data/old/{a,b}, /etc/remove-me, /data/keep, a hardlink
#                      3. gzip: whiteout of /etc/remove-me, /data/old made opaque with new/c
#                      4. zstd: /etc/motd replaced, a whiteout of /data/keep
# Output is deterministic (fixed mtimes, owners, sort order), so digests are stable for a
# given busybox binary. Needs: tar, gzip, zstd, sha256sum, busybox (static).
set -euo pipefail

out=${1:?usage: build.sh OUTDIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build.sh: $busybox not found (install busybox-static)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kl-images-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

tarc() {  # tarc DIR  -> deterministic POSIX tar of DIR's contents on stdout
  tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=posix \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$1" -cf - .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# add_blob LAYOUT FILE -> prints the hex digest; moves FILE into LAYOUT/blobs/sha256/.
add_blob() {
  local d; d=$(sha "$2")
  mkdir -p "$1/blobs/sha256"
  mv "$2" "$1/blobs/sha256/$d"
  echo "$d"
}

# make_layout LAYOUT NAME "mediatype:tarfile:difftarfile" ... ; config env/cmd from globals.
make_layout() {
  local layout=$1 name=$2; shift 2
  mkdir -p "$layout/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  local layers_json="" diffs_json="" sep=""
  for spec in "$@"; do
    local mt=${spec%%|*} rest=${spec#*|}
    local blob=${rest%%|*} raw=${rest#*|}
    local diff; diff=$(sha "$raw")
    local sz; sz=$(size "$blob")
    local d; d=$(add_blob "$layout" "$blob")
    layers_json+="$sep{\"mediaType\":\"$mt\",\"digest\":\"sha256:$d\",\"size\":$sz}"
    diffs_json+="$sep\"sha256:$diff\""
    sep=","
  done
  printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2023-11-14T22:13:20Z\",\
\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"IMAGE_VAR=from-image\"],\
\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\",\"Labels\":{\"org.kernlet.test\":\"$name\"}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffs_json]}}" > "$work/config.json"
  local csz; csz=$(size "$work/config.json")
  local cd; cd=$(add_blob "$layout" "$work/config.json")
  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":$csz},\
\"layers\":[$layers_json]}" > "$work/manifest.json"
  local msz; msz=$(size "$work/manifest.json")
  local md; md=$(add_blob "$layout" "$work/manifest.json")
  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$md\",\
\"size\":$msz,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\
\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}" > "$layout/index.json"
}

# Layer 1: busybox base.
base=$work/base
mkdir -p "$base/bin" "$base/etc" "$base/tmp" "$base/root" "$base/proc" "$base/sys" "$base/dev"
cp "$busybox" "$base/bin/busybox"
chmod 0755 "$base/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$base/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$base/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n' > "$base/etc/group"
printf 'welcome to the kernlet busybox test image\n' > "$base/etc/motd"
chmod 1777 "$base/tmp"
chmod 0700 "$base/root"
tarc "$base" > "$work/l1.tar"
gzip -n -9 -c "$work/l1.tar" > "$work/l1.tar.gz"

cp "$work/l1.tar.gz" "$work/bb.tar.gz"
rm -rf "$out/busybox"
make_layout "$out/busybox" busybox \
  "application/vnd.oci.image.layer.v1.tar+gzip|$work/bb.tar.gz|$work/l1.tar"

# Layer 2 (plain tar): files that later layers delete or hide.
l2=$work/l2
mkdir -p "$l2/data/old" "$l2/etc"
echo a > "$l2/data/old/a"
echo b > "$l2/data/old/b"
echo keep > "$l2/data/keep"
echo 'remove me' > "$l2/etc/remove-me"
echo linked > "$l2/data/file"
ln "$l2/data/file" "$l2/data/hardlink"
chmod 0640 "$l2/data/old/a"
tarc "$l2" > "$work/l2.tar"
cp "$work/l2.tar" "$work/l2.blob"

# Layer 3 (gzip): whiteout + opaque dir.
l3=$work/l3
mkdir -p "$l3/etc" "$l3/data/old"
: > "$l3/etc/.wh.remove-me"
: > "$l3/data/old/.wh..wh..opq"
echo c > "$l3/data/old/c"
tarc "$l3" > "$work/l3.tar"
gzip -n -9 -c "$work/l3.tar" > "$work/l3.tar.gz"

# Layer 4 (zstd): replace a file, whiteout another.
l4=$work/l4
mkdir -p "$l4/etc" "$l4/data"
printf 'layered image motd\n' > "$l4/etc/motd"
: > "$l4/data/.wh.keep"
tarc "$l4" > "$work/l4.tar"
zstd -q -19 -c "$work/l4.tar" > "$work/l4.tar.zst"

rm -rf "$out/layered"
make_layout "$out/layered" layered \
  "application/vnd.oci.image.layer.v1.tar+gzip|$work/l1.tar.gz|$work/l1.tar" \
  "application/vnd.oci.image.layer.v1.tar|$work/l2.blob|$work/l2.tar" \
  "application/vnd.oci.image.layer.v1.tar+gzip|$work/l3.tar.gz|$work/l3.tar" \
  "application/vnd.oci.image.layer.v1.tar+zstd|$work/l4.tar.zst|$work/l4.tar"

echo "build.sh: wrote $out/busybox and $out/layered"
