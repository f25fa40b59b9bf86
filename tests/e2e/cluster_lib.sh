# Shared scaffolding for the e2e tests that run a multi-node cluster with scripts/cluster
# (network namespaces, real agents and pods). Sources lib.sh (ok/not_ok/finish, kc, workdir).
#
#   source "$(dirname "$0")/cluster_lib.sh"
#   cluster_require "the X e2e test" ip nsenter python3   # root and tools, else SKIP (77)
#   cluster_init "${KERNLET_E2E_X_NAME:-x$(($$ % 100000))}"  # names, data dir, EXIT trap
#   cluster_up 3 [more scripts/cluster up flags...]       # ok/not_ok; finishes on failure
#   ... checks ...
#   cluster_finish                                        # down (checked), then finish
#
# The EXIT trap kills the test's background processes (append their pids to bg_pids), runs
# the test's own clean-up hook (define cluster_cleanup_hook), takes the cluster down (also
# after a failed check or a crash of the script) and removes the work dir.
# Everything here is bash; variables it sets: repo, cname, prefix, data, cgbase, PORT,
# KUBECONFIG, BUSYBOX.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/scripts/lib/kernlet.sh"
bg_pids=()

# cluster_require WHAT TOOL...: skips (exit 77) unless root and every TOOL is on PATH.
cluster_require() {
  local what=$1 t; shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: $what runs a cluster of network namespaces and needs root"
    exit 77
  fi
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
  done
}

# cluster_init NAME: the cluster's name (scripts/cluster --name) and where its data goes.
cluster_init() {
  cname=$1
  if ! [[ "$cname" =~ ^[a-z0-9]{1,6}$ ]]; then
    echo "cluster_lib: cluster name \"$cname\": want 1-6 of [a-z0-9] (scripts/cluster --name)" >&2
    exit 2
  fi
  prefix="klc-$cname"
  data="$workdir/cluster"
  cgbase="$(kl_cgroup2_mount)/$prefix"
  trap cluster_cleanup_all EXIT
}

# outside_host: a network namespace standing in for a host outside the cluster, $prefix-x
# (removed on exit), with a veth on the cluster's underlay bridge and the underlay address
# .200 — no other link, no route out. Sets `outside` (the netns) and `client` (its address).
# Call after cluster_up.
outside_host() {
  local i1
  i1=$(nip "$cname-node1")
  outside="$prefix-x"
  client=${i1%.*}.200
  ip netns add "$outside"
  ip -n "$prefix-u" link add x0 type veth peer name eth0 netns "$outside"
  ip -n "$prefix-u" link set x0 master br0 up
  ip -n "$outside" addr add "$client/24" dev eth0
  ip -n "$outside" link set eth0 up
  ip -n "$outside" link set lo up
  expect_eq "the outside host has no default route" "" "$(ip -n "$outside" route show default)"
}

cluster_cleanup_all() {
  local p
  for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if declare -F cluster_cleanup_hook >/dev/null; then cluster_cleanup_hook || true; fi
  [ -z "${outside:-}" ] || ip netns delete "$outside" 2>/dev/null || true
  if [ -d "$data" ] || ip netns list 2>/dev/null | grep -q "^$prefix-"; then
    "$repo/scripts/cluster" down --name "$cname" --data "$data" >/dev/null 2>&1 || true
  fi
  cleanup
}

# wait_until SECONDS CMD...: polls CMD (every 0.2 s) until it succeeds; false after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

k() { kc 1.33 "$@"; }
# jp POD JSONPATH: a field of a pod in the current namespace (empty if there is none).
jp() { k get pod "$1" -o "jsonpath=$2" 2>/dev/null; }
phase_is() { [ "$(jp "$1" '{.status.phase}')" = "$2" ]; }
ready() { [ "$(jp "$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
# pod_pid POD: a process of the pod (its sandbox holder or a container), from its cgroup.
pod_pid() { kl_pod_pid "$cgbase" "$(jp "$1" '{.metadata.uid}')"; }
# node_index POD: K of the node "<cluster>-nodeK" the pod runs on.
node_index() { local n; n=$(jp "$1" '{.spec.nodeName}'); echo "${n##*-node}"; }
# nip NODE: the node's InternalIP.
nip() { k get node "$1" -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}'; }
# state KEY: the last value of KEY in the cluster's state file.
state() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$data/state"; }
# agent_pid K: the pid of node K's agent.
agent_pid() { awk -v n="node$1" '$1 == "pid" && $2 == n { p = $3 } END { print p }' "$data/state"; }

# fail_dump: what the cluster logged, for a failed check (warnings and errors of the agents).
fail_dump() {
  local f
  echo "--- scripts/cluster output ---"; cat "$workdir/up.log" 2>/dev/null || true
  for f in "$data"/node*.log; do
    [ -f "$f" ] || continue
    echo "--- $f ---"; grep -v ' I ' "$f" | tail -30
  done
  echo "--- control ---"; tail -30 "$data/control.log" 2>/dev/null || true
}

# cluster_up NODES [FLAGS...]: scripts/cluster up on a free port (or $PORT if set); on
# failure reports it and finishes the test.
cluster_up() {
  local nodes=$1 t0=$SECONDS; shift
  PORT=${PORT:-$(free_port)}
  if ip netns list 2>/dev/null | grep -q "^$prefix-"; then
    echo "SKIP: a cluster named $cname exists already (scripts/cluster down --name $cname)"
    trap - EXIT; cleanup; exit 77
  fi
  if ! "$repo/scripts/cluster" up --nodes "$nodes" --name "$cname" --data "$data" \
      --port "$PORT" --bin "$KERNLET_BIN" "$@" >"$workdir/up.log" 2>&1; then
    not_ok "scripts/cluster up --nodes $nodes" "$(tail -20 "$workdir/up.log")"
    fail_dump
    finish
  fi
  ok "scripts/cluster up --nodes $nodes ($((SECONDS - t0))s)"
  export KUBECONFIG="$data/control/admin.kubeconfig"
  BUSYBOX="busybox:$(kl_busybox_tag)"
}

# cluster_finish: the test's clean-up hook, then scripts/cluster down, checked (it must remove
# what it made: what the hook removes may carry the cluster's prefix), then finish.
cluster_finish() {
  if declare -F cluster_cleanup_hook >/dev/null; then cluster_cleanup_hook || true; fi
  [ -z "${outside:-}" ] || ip netns delete "$outside" 2>/dev/null || true
  "$repo/scripts/cluster" down --name "$cname" --data "$data" >"$workdir/down.log" 2>&1 ||
    not_ok "scripts/cluster down" "$(tail -5 "$workdir/down.log")"
  finish
}
