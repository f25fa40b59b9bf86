#!/usr/bin/env bash
# The scheduler inside kernlet-control, seen from kubectl: pods land on nodes that fit
# (resources, taints, selectors), one that fits nowhere says why in its PodScheduled
# condition and a FailedScheduling event, and is placed once a node that fits appears.
# Nodes here are API objects only (no agent): what the scheduler reads is their status.
source "$(dirname "$0")/lib.sh"
# No kubelet renews these nodes' Leases: keep the node lifecycle controller from
# tainting them unreachable while the test runs.
start_control --node-monitor-grace-period 1h

# node NAME CPU MEMORY [taint] [label]: a Node with allocatable resources and Ready.
node() {
  local name=$1 cpu=$2 mem=$3 taint=${4:-} label=${5:-}
  {
    printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels: {kubernetes.io/hostname: %s%s}\n' "$name" "$name" "${label:+, $label}"
    [ -n "$taint" ] && printf 'spec:\n  taints: [%s]\n' "$taint"
    true
  } | kc 1.33 apply -f - >/dev/null
  curl_admin PATCH "/api/v1/nodes/$name/status" -H 'Content-Type: application/merge-patch+json' \
    -d "{\"status\":{\"capacity\":{\"cpu\":\"$cpu\",\"memory\":\"$mem\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"$cpu\",\"memory\":\"$mem\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"ready\"}]}}" >/dev/null
}

# pod NAME CPU [extra spec lines]
pod() {
  local name=$1 cpu=$2; shift 2
  {
    printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n' "$name"
    for line in "$@"; do printf '  %s\n' "$line"; done
    printf '  containers: [{name: c, image: busybox, resources: {requests: {cpu: %s, memory: 64Mi}}}]\n' "$cpu"
  } | kc 1.33 apply -f - >/dev/null
}

# node_of NAME: waits (up to 20 s) for the pod to be bound and prints its node.
node_of() {
  for _ in $(seq 1 200); do
    n=$(kc 1.33 get pod "$1" -o jsonpath='{.spec.nodeName}' 2>/dev/null || true)
    [ -n "$n" ] && { echo "$n"; return; }
    sleep 0.1
  done
  echo "<unbound>"
}

node small-node 2 4Gi
node gpu-node 8 16Gi '{key: dedicated, value: gpu, effect: NoSchedule}' 'accelerator: gpu'

pod web 500m
expect_eq "a pod lands on the node that fits and is not tainted" "small-node" "$(node_of web)"
pod trainer 1 'tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]' \
  'nodeSelector: {accelerator: gpu}'
expect_eq "a toleration plus a node selector reach the tainted node" "gpu-node" "$(node_of trainer)"
# Events are written asynchronously after the binding (as client-go's broadcaster does):
# wait for them with a deadline.
describe_until() {  # describe_until POD TEXT: describe output once it has TEXT (or the last one)
  local out
  for _ in $(seq 1 50); do
    out=$(kc "${3:-1.33}" describe pod "$1")
    case "$out" in *"$2"*) break ;; esac
    sleep 0.1
  done
  printf '%s' "$out"
}
expect_contains "the binding is recorded as an event" "Successfully assigned default/web to small-node" \
  "$(describe_until web "Successfully assigned default/web to small-node")"

# Too big for every node it may use.
pod huge 4
for _ in $(seq 1 200); do
  msg=$(kc 1.33 get pod huge -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}')
  [ -n "$msg" ] && break
  sleep 0.1
done
expect_eq "an unschedulable pod says why, per node" \
  "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}." "$msg"
expect_eq "...with reason Unschedulable" "Unschedulable" \
  "$(kc 1.33 get pod huge -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')"
expect_contains "...and a FailedScheduling event" "FailedScheduling" "$(describe_until huge FailedScheduling 1.27)"
expect_contains "kubectl get shows it Pending" "Pending" "$(kc 1.33 get pod huge)"

# A node that fits appears: the pod is placed without anyone touching it.
node big-node 16 64Gi
expect_eq "a new node that fits takes the pending pod" "big-node" "$(node_of huge)"

# Another scheduler's pods are left alone.
pod custom 100m 'schedulerName: my-scheduler'
sleep_until=$(( $(date +%s) + 2 ))
while [ "$(date +%s)" -lt "$sleep_until" ]; do
  [ -n "$(kc 1.33 get pod custom -o jsonpath='{.spec.nodeName}')" ] && break
  sleep 0.2
done
expect_eq "a pod for another scheduler is not bound" "" "$(kc 1.33 get pod custom -o jsonpath='{.spec.nodeName}')"

# Resources are accounted: 3 pods of 1 cpu onto small-node (2 cpu, 0.5 taken) and
# big-node (16, 4 taken): at most one more fits on small-node.
for i in 1 2 3 4; do pod "fill-$i" 1 'nodeSelector: {kubernetes.io/hostname: small-node}'; done
for _ in $(seq 1 200); do
  bound=$(kc 1.33 get pods -o jsonpath='{range .items[*]}{.metadata.name}={.spec.nodeName}{"\n"}{end}' | grep -c '^fill-.*=small-node' || true)
  pending=$(kc 1.33 get pods -o jsonpath='{range .items[*]}{.metadata.name}:{.status.conditions[?(@.type=="PodScheduled")].reason}{"\n"}{end}' | grep -c '^fill-.*:Unschedulable' || true)
  [ "$((bound + pending))" -eq 4 ] && break
  sleep 0.1
done
expect_eq "requests are summed per node: one more 1-cpu pod fits" "1 bound, 3 unschedulable" "$bound bound, $pending unschedulable"

finish
