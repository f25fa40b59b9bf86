# shellcheck shell=bash
# Shell pieces shared by scripts/up and scripts/cluster (sourced, not run). Callers set
# `prog` (their name, for messages) and run with `set -euo pipefail`.

# kl_wait_for SECONDS WHAT PID CMD...: polls CMD every 0.1 s until it succeeds; fails
# (returns 1, with a message naming WHAT) when PID exits or SECONDS pass.
kl_wait_for() {
  local seconds=$1 what=$2 pid=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$prog: $what: the process exited" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$prog: $what: not ready after ${seconds}s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# kl_control_ready DATA_DIR ADDR:PORT: the control plane in DATA_DIR answers /readyz.
kl_control_ready() {
  local dir=$1 listen=$2
  [ -f "$dir/admin.kubeconfig" ] && curl -sf --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
    --key "$dir/pki/admin.key" "https://$listen/readyz"
}

# kl_node_credentials BIN CONTROL_DIR NODE SERVER NODE_IP OUT: the node's identity
# (system:node:<name>, OUT/kubeconfig) and its kubelet-API serving certificate, from the
# cluster CA.
kl_node_credentials() {
  "$1/kernlet-control" node-credentials --data-dir "$2" --node-name "$3" --server "$4" --node-ip "$5" \
    --out "$6" >/dev/null
}

# kl_busybox_tag: the version of Debian's busybox-static ("1.35"), or "local".
kl_busybox_tag() {
  local t
  t=$(/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9]*\.[0-9]*\).*/\1/p')
  echo "${t:-local}"
}

# kl_import_busybox BIN ROOT [IMAGES_DIR]: imports the busybox test image into the agent
# state ROOT as docker.io/library/busybox:<tag>, unless it is there. Images come from
# registries and this host may have none in reach, so the image the tests build from
# Debian's busybox-static stands in: `kubectl run x --image=busybox:1.35` works offline (an
# untagged or :latest image defaults to imagePullPolicy Always, which needs the registry).
# IMAGES_DIR: an already built tests/images output to reuse (built into a temp dir if not).
kl_import_busybox() {
  local bin=$1 root=$2 images=${3:-} ref tmp=""
  ref=docker.io/library/busybox:$(kl_busybox_tag)
  # (Not `| grep -q`: under pipefail, grep leaving early can fail a long listing.)
  if [[ "$("$bin/kernlet-runtime" --root "$root" images ls 2>/dev/null)" == *"$ref"* ]]; then
    return 0
  fi
  if [ -z "$images" ] || [ ! -d "$images/busybox" ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/kernlet-images.XXXXXX")
    "$KL_REPO/tests/images/build.sh" "$tmp" >/dev/null
    images=$tmp
  fi
  "$bin/kernlet-runtime" --root "$root" images import "$images/busybox" --ref "$ref" >/dev/null
  [ -z "$tmp" ] || rm -rf "$tmp"
}

# kl_cgroup2_mount: where the cgroup v2 hierarchy is (the unified one on a hybrid host).
kl_cgroup2_mount() {
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then echo /sys/fs/cgroup; else echo /sys/fs/cgroup/unified; fi
}

# kl_pod_pid CGROUP_BASE POD_UID: the pid of the first process in any cgroup of that pod
# under CGROUP_BASE (the pod's own cgroup may hold none), or nothing. Not a `find | head -1`
# pipeline: under pipefail, head closing early fails the caller.
kl_pod_pid() {
  local f pid
  for f in $(find "$1" -path "*pod-$2*" -name cgroup.procs 2>/dev/null); do
    if read -r pid <"$f" 2>/dev/null && [ -n "$pid" ]; then echo "$pid"; return 0; fi
  done
  return 0
}

# kl_remove_cgroup DIR: kills every process in the subtree (cgroup.kill), waits until it is
# empty (5 s at most) and removes it bottom-up. A missing DIR is fine.
kl_remove_cgroup() {
  local dir=$1
  [ -d "$dir" ] || return 0
  echo 1 >"$dir/cgroup.kill" 2>/dev/null || true

  for _ in $(seq 1 100); do
    grep -q '^populated 0' "$dir/cgroup.events" 2>/dev/null && break
    sleep 0.05
  done
  find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  [ ! -d "$dir" ]
}

# kl_unmount_under DIR: unmounts every mount below DIR (as this mount namespace sees them),
# deepest first, lazily so a busy one still goes.
kl_unmount_under() {
  local dir=$1 m
  [ -n "$dir" ] && [ "$dir" != / ] || return 1
  awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

# kl_kubectl: the kubectl to use (PATH's, else the Google Cloud SDK's).
kl_kubectl() {
  if command -v kubectl >/dev/null; then command -v kubectl; else echo /usr/lib/google-cloud-sdk/bin/kubectl; fi
}
