#!/usr/bin/env bash
# Pod-to-pod TCP throughput and latency across nodes of a scripts/cluster cluster, side by
# side with the same measurement over a plain veth pair between two network namespaces
# (the floor: one veth hop, no bridge, no routing). Prints one JSON document.
#
#   bench/network/network_bench.sh [SECONDS_PER_PHASE]      (root; default 5)
#
# Cases (kernlet-bench-netpair in each; see netpair_bench.cc):
#   veth          netns A <-veth-> netns B
#   pod_same_node pod -> pod on one node (veth, bridge kl0, veth)
#   pod_cross_node pod on node 1 -> pod on node 2 (veth, kl0, route via node 2, node veth,
#                 the underlay bridge, node 2's veth, kl0, veth)
# Everything runs in namespaces this script creates, with no route out; all of it is
# removed on exit (scripts/cluster down, ip netns delete).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
seconds=${1:-5}
bin=${KERNLET_BIN:-$repo/build/bin}
[ "$(id -u)" -eq 0 ] || { echo "network_bench.sh: needs root" >&2; exit 1; }
[ -x "$bin/kernlet-bench-netpair" ] || { echo "network_bench.sh: $bin/kernlet-bench-netpair missing" >&2; exit 1; }
source scripts/lib/kernlet.sh
name="b$(($$ % 100000))"
work=$(mktemp -d /tmp/kernlet-netbench.XXXXXX)
nsa="klb-$name-a"; nsb="klb-$name-b"
cleanup() {
  ip netns delete "$nsa" 2>/dev/null || true
  ip netns delete "$nsb" 2>/dev/null || true
  scripts/cluster down --name "$name" --data "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The floor: a veth pair between two fresh namespaces (198.19.255.0/30, inside them only).
ip netns add "$nsa"; ip netns add "$nsb"
ip -n "$nsa" link set lo up; ip -n "$nsb" link set lo up
ip -n "$nsa" link add eth0 type veth peer name eth0 netns "$nsb"
ip -n "$nsa" addr add 198.19.255.1/30 dev eth0; ip -n "$nsb" addr add 198.19.255.2/30 dev eth0
ip -n "$nsa" link set eth0 up; ip -n "$nsb" link set eth0 up
veth=$("$bin/kernlet-bench-netpair" --client-netns "/run/netns/$nsa" --server-netns "/run/netns/$nsb" \
  --server-ip 198.19.255.2 --seconds "$seconds" --label veth)

# The cluster: two nodes, three pods.
scripts/cluster up --nodes 2 --name "$name" --data "$work/cluster" --port 6443 --bin "$bin" >"$work/up.log" 2>&1 ||
  { cat "$work/up.log" >&2; exit 1; }
export KUBECONFIG="$work/cluster/control/admin.kubeconfig"
kubectl=$(kl_kubectl)
image="busybox:$(kl_busybox_tag)"
for p in a:node1 b:node1 c:node2; do
  "$kubectl" run "bench-${p%%:*}" --image="$image" --image-pull-policy=Never --restart=Never \
    --overrides="{\"spec\":{\"nodeName\":\"$name-${p#*:}\"}}" -- sleep 3600 >/dev/null
done
for p in a b c; do
  "$kubectl" wait --for=condition=Ready "pod/bench-$p" --timeout=90s >/dev/null
done
cgbase="$(kl_cgroup2_mount)/klc-$name"
netns_of() {
  local uid pid
  uid=$("$kubectl" get pod "$1" -o 'jsonpath={.metadata.uid}')
  pid=$(kl_pod_pid "$cgbase" "$uid")
  echo "/proc/$pid/ns/net"
}
ip_of() { "$kubectl" get pod "$1" -o 'jsonpath={.status.podIP}'; }
same=$("$bin/kernlet-bench-netpair" --client-netns "$(netns_of bench-a)" --server-netns "$(netns_of bench-b)" \
  --server-ip "$(ip_of bench-b)" --seconds "$seconds" --label pod_same_node)
cross=$("$bin/kernlet-bench-netpair" --client-netns "$(netns_of bench-a)" --server-netns "$(netns_of bench-c)" \
  --server-ip "$(ip_of bench-c)" --seconds "$seconds" --label pod_cross_node)
plugin=$(sed -n 's/.*CNI plugin: \([a-z-]*\)).*/\1/p' "$work/up.log")
python3 - "$veth" "$same" "$cross" "$plugin" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
veth, same, cross = (json.loads(x) for x in sys.argv[1:4])
def ratio(a, b, k): return round(a[k] / b[k], 3) if b[k] else None
print(json.dumps({"benchmark": "pod network: TCP pod to pod", "cni_plugin": sys.argv[4],
                  "cpus": int(sys.argv[5]), "loadavg_at_end": sys.argv[6],
                  "cases": [veth, same, cross],
                  "cross_node_vs_veth": {"throughput": ratio(cross, veth, "stream_gbit_per_s"),
                                         "rr_p50": ratio(cross, veth, "rr_p50_us"),
                                         "rr_p99": ratio(cross, veth, "rr_p99_us")}}, indent=1))
PY
