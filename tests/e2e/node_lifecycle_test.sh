#!/usr/bin/env bash
# Auto-repair after a node fails, and node IPAM, through kernlet-control's node lifecycle,
# taint eviction and node IPAM controllers. Two API-only nodes with a stand-in kubelet
# (tools/fake_kubelet.py) that renews their Leases; it is told to go silent for one node.
# The grace period is shortened to 4 s and the pods' tolerations to 2 s.
source "$(dirname "$0")/lib.sh"
start_control --node-monitor-grace-period 4s

for n in node-a node-b; do
  printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {kubernetes.io/hostname: %s}}\n' "$n" "$n" |
    kc 1.33 apply -f - >/dev/null
  curl_admin PATCH "/api/v1/nodes/$n/status" -H 'Content-Type: application/merge-patch+json' \
    -d '{"status":{"allocatable":{"cpu":"8","memory":"16Gi","pods":"110"},"capacity":{"cpu":"8","memory":"16Gi","pods":"110"}}}' >/dev/null
done
pki="$workdir/control/pki"
mkdir -p "$workdir/dead"
python3 "$(dirname "$0")/tools/fake_kubelet.py" --dead-dir "$workdir/dead" "https://127.0.0.1:$PORT" "$pki/ca.crt" \
  "$pki/admin.crt" "$pki/admin.key" node-a node-b >"$workdir/kubelet.log" 2>&1 &
kubelet_pid=$!
trap 'kill $kubelet_pid 2>/dev/null || true; wait $kubelet_pid 2>/dev/null || true; cleanup' EXIT

# wait_for NAME WANT CMD...: polls CMD (every 0.2 s, up to 20 s) until it prints WANT.
wait_for() {
  local name=$1 want=$2; shift 2
  local got=""
  for _ in $(seq 1 100); do
    got=$("$@" 2>/dev/null || true)
    [ "$got" = "$want" ] && break
    sleep 0.2
  done
  expect_eq "$name" "$want" "$got"
}
cidr() { kc 1.33 get node "$1" -o jsonpath='{.spec.podCIDR} {.spec.podCIDRs[0]}'; }
ready() { kc 1.33 get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
taints() { kc 1.33 get node "$1" -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{" "}{end}'; }

# IPAM: each node gets its own /24 of 10.244.0.0/16.
for _ in $(seq 1 100); do [ -n "$(cidr node-a | xargs)" ] && [ -n "$(cidr node-b | xargs)" ] && break; sleep 0.2; done
a_cidr=$(cidr node-a); b_cidr=$(cidr node-b)
expect_contains "node-a gets a podCIDR from the cluster CIDR" "10.244." "$a_cidr"
expect_contains "node-b gets a podCIDR from the cluster CIDR" "10.244." "$b_cidr"
expect_eq "podCIDRs repeats podCIDR" "${a_cidr% *}" "${a_cidr#* }"
if [ "${a_cidr% *}" != "${b_cidr% *}" ]; then ok "the two ranges differ"; else not_ok "the two ranges differ" "$a_cidr" "$b_cidr"; fi
expect_contains "ranges are /24" "/24" "$b_cidr"

wait_for "node-a is Ready (the stand-in kubelet reports it)" "True" ready node-a
wait_for "node-b is Ready" "True" ready node-b

kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
YAML
expect_eq "the deployment rolls out" 'deployment "web" successfully rolled out' \
  "$(kc 1.33 rollout status deployment/web --timeout=30s 2>&1 | tail -1)"
# The node to fail: the one running the first pod (the scheduler may well use both).
victim=$(kc 1.33 get pods -l app=web -o jsonpath='{.items[0].spec.nodeName}')
survivor=node-a; [ "$victim" = node-a ] && survivor=node-b
on_victim=$(kc 1.33 get pods -l app=web --field-selector "spec.nodeName=$victim" -o name | wc -l)
# A bare pod on the victim keeps the API server's default toleration (300 s): it stays.
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: bare}\nspec: {nodeName: %s, containers: [{name: c, image: busybox}]}\n' \
  "$victim" | kc 1.33 apply -f - >/dev/null
expect_eq "the API server defaults a 300 s unreachable toleration" "300" \
  "$(kc 1.33 get pod bare -o jsonpath='{.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}')"
wait_for "the bare pod runs" "Running" kc 1.33 get pod bare -o jsonpath='{.status.phase}'

start=$(date +%s)
touch "$workdir/dead/$victim"  # its kubelet stops renewing the Lease and reporting
wait_for "the silent node goes Unknown after the grace period" "Unknown" ready "$victim"
elapsed=$(( $(date +%s) - start ))
if [ "$elapsed" -ge 3 ]; then ok "not before the grace period ($elapsed s)"; else not_ok "not before the grace period" "$elapsed s"; fi
expect_eq "with reason NodeStatusUnknown" "NodeStatusUnknown" \
  "$(kc 1.33 get node "$victim" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')"
wait_for "it is tainted unreachable, NoSchedule and NoExecute" \
  "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute " taints "$victim"
expect_contains "kubectl shows it NotReady" "NotReady" "$(kc 1.33 get node "$victim")"
expect_eq "its pods are marked not Ready" "False" \
  "$(kc 1.33 get pod bare -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"

# Auto-repair: the deployment's pods are evicted after 2 s and recreated on the survivor.
running_on() {
  kc 1.33 get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.status.phase}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' |
    awk -v n="$1" '$1 == n && $2 == "Running" && $3 == ""' | wc -l
}
for _ in $(seq 1 150); do [ "$(running_on "$survivor")" -eq 4 ] && break; sleep 0.2; done
expect_eq "all four pods run on the surviving node again" "4" "$(running_on "$survivor")"
expect_eq "none is left running on the dead node" "0" "$(running_on "$victim")"
expect_eq "the evicted ones ($on_victim) are terminating there (its kubelet is gone)" "$on_victim" \
  "$(kc 1.33 get pods -l app=web --field-selector "spec.nodeName=$victim" -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true)"
expect_eq "the bare pod, tolerating 300 s, is not evicted" "" \
  "$(kc 1.33 get pod bare -o jsonpath='{.metadata.deletionTimestamp}')"
expect_eq "the deployment is available again" "4" \
  "$(kc 1.33 get deployment web -o jsonpath='{.status.availableReplicas}')"

# Recovery: the kubelet comes back, the taints go.
rm "$workdir/dead/$victim"
wait_for "the node is Ready again" "True" ready "$victim"
wait_for "its taints are removed" "" taints "$victim"

# IPAM after a restart: existing ranges are occupied, a new node gets a fresh one; a
# deleted node's range is released.
kc 1.33 delete node "$victim" >/dev/null
kill "$control_pid"; wait "$control_pid" 2>/dev/null || true
start_control --node-monitor-grace-period 4s
printf 'apiVersion: v1\nkind: Node\nmetadata: {name: node-c}\n' | kc 1.33 apply -f - >/dev/null
for _ in $(seq 1 100); do [ -n "$(cidr node-c | xargs)" ] && break; sleep 0.2; done
c_cidr=$(cidr node-c)
expect_contains "a node added after a restart gets a range" "10.244." "$c_cidr"
if [ "${c_cidr% *}" != "$(cidr "$survivor" | cut -d' ' -f1)" ]; then ok "not the surviving node's range"; else
  not_ok "not the surviving node's range" "$c_cidr"; fi
expect_eq "the survivor keeps its range" "$(cidr "$survivor")" "$( [ "$survivor" = node-a ] && echo "$a_cidr" || echo "$b_cidr")"

finish
