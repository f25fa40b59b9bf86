# Shared helpers for the node e2e tests: a single-node cluster started by scripts/up (the
# user's command) from the built binaries, in a private data dir, cgroup subtree and log dir,
# with the real kubectl. Everything it made is removed on exit, also after a failure.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the node e2e tests run pods and need root"
  exit 77
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
up_pid=""
node="e2e-$$"
source "$repo/scripts/lib/kernlet.sh"
# The agent's cgroup subtree: under the cgroup2 mount (the unified one on a hybrid host).
cgroup_root="$(kl_cgroup2_mount)/kernlet-e2e-$$"

cleanup_cluster() {
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kc 1.33 delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  kl_remove_cgroup "$cgroup_root" || true
  kl_unmount_under "$workdir" || true
  cleanup
}
trap cleanup_cluster EXIT

# start_cluster [scripts/up flags...]: scripts/up on free ports; sets KUBECONFIG, PORT,
# AGENT_PORT, DATA, BUSYBOX.
start_cluster() {
  PORT=$(free_port)
  AGENT_PORT=$(free_port)
  DATA="$workdir/up"
  "$repo/scripts/up" --bin "$KERNLET_BIN" --data-dir "$DATA" --listen "127.0.0.1:$PORT" \
    --node-name "$node" --agent-port "$AGENT_PORT" --cgroup-root "$cgroup_root" \
    --pod-logs-dir "$workdir/pod-logs" --network none "$@" >"$workdir/up.log" 2>&1 &
  up_pid=$!
  export KUBECONFIG="$DATA/control/admin.kubeconfig"
  for _ in $(seq 1 600); do
    grep -q "is Ready" "$workdir/up.log" 2>/dev/null && break
    if ! kill -0 "$up_pid" 2>/dev/null; then
      echo "scripts/up exited:"; cat "$workdir/up.log"; tail -30 "$DATA/agent.log" 2>/dev/null; exit 1
    fi
    sleep 0.1
  done
  grep -q "is Ready" "$workdir/up.log" || { echo "the node did not become Ready"; cat "$workdir/up.log"; exit 1; }
  BUSYBOX="busybox:$(/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9]*\.[0-9]*\).*/\1/p')"
}

# wait_until SECONDS CMD...: polls CMD (every 0.1 s) until it succeeds; false after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# jp POD JSONPATH: one field of a pod.
jp() { kc 1.33 get pod "$1" -o "jsonpath=$2" 2>/dev/null; }
phase_is() { [ "$(jp "$1" '{.status.phase}')" = "$2" ]; }

finish_cluster() {
  if [ "$failures" -ne 0 ]; then
    echo "--- kernlet-agent log ---"; tail -60 "$DATA/agent.log" 2>/dev/null || true
  fi
  control_log="$DATA/control.log"
  [ -f "$control_log" ] && cp "$control_log" "$workdir/control.log"
  finish
}
