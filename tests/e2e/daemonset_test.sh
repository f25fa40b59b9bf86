#!/usr/bin/env bash
# DaemonSets through kernlet-control's DaemonSet controller and scheduler: one pod per
# eligible node of three (a NoSchedule taint keeps one out until tolerated; a nodeSelector
# picks nodes and follows label changes), pods pinned by node affinity and bound by the
# scheduler, a rolling update of the image, kubectl rollout status.
source "$(dirname "$0")/lib.sh"
start_control

for n in node-a node-b node-c; do
  printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {kubernetes.io/hostname: %s}}\n' "$n" "$n" |
    kc 1.33 apply -f - >/dev/null
  curl_admin PATCH "/api/v1/nodes/$n/status" -H 'Content-Type: application/merge-patch+json' \
    -d '{"status":{"allocatable":{"cpu":"8","memory":"16Gi","pods":"110"},"capacity":{"cpu":"8","memory":"16Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
done
kc 1.33 taint node node-c dedicated=gpu:NoSchedule >/dev/null
pki="$workdir/control/pki"
python3 "$(dirname "$0")/tools/fake_kubelet.py" "https://127.0.0.1:$PORT" "$pki/ca.crt" "$pki/admin.crt" \
  "$pki/admin.key" node-a node-b node-c >"$workdir/kubelet.log" 2>&1 &
kubelet_pid=$!
trap 'kill $kubelet_pid 2>/dev/null || true; wait $kubelet_pid 2>/dev/null || true; cleanup' EXIT

nodes_of() { kc 1.33 get pods -l "app=$1" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | xargs; }
# wait_nodes APP WANT: until the app's pods run on exactly these nodes.
wait_nodes() { for _ in $(seq 1 100); do [ "$(nodes_of "$1")" = "$2" ] && break; sleep 0.2; done; nodes_of "$1"; }
rollout() { kc 1.33 rollout status "daemonset/$1" --timeout=40s 2>&1 | tail -1; }

kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "agent:1"}]}
YAML
expect_eq "one pod on each untainted node" "node-a node-b" "$(wait_nodes agent 'node-a node-b')"
expect_eq "rollout status waits for them" 'daemon set "agent" successfully rolled out' "$(rollout agent)"
expect_eq "status counts them" "2 2 2 2 0" \
  "$(kc 1.33 get ds agent -o jsonpath='{.status.desiredNumberScheduled} {.status.currentNumberScheduled} {.status.numberReady} {.status.numberAvailable} {.status.numberMisscheduled}')"
pod=$(kc 1.33 get pods -l app=agent -o jsonpath='{.items[0].metadata.name}')
expect_contains "pods are pinned by node affinity on metadata.name" '"key":"metadata.name"' \
  "$(kc 1.33 get pod "$pod" -o jsonpath='{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution}')"
expect_contains "...and get the daemon tolerations" "node.kubernetes.io/unreachable" \
  "$(kc 1.33 get pod "$pod" -o jsonpath='{.spec.tolerations[*].key}')"

kc 1.33 patch ds agent --type=merge -p '{"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}]}}}}' >/dev/null
expect_eq "tolerating the taint adds the tainted node" "node-a node-b node-c" "$(wait_nodes agent 'node-a node-b node-c')"
expect_eq "...and the template change rolls out" 'daemon set "agent" successfully rolled out' "$(rollout agent)"

# nodeSelector: follows node labels.
kc 1.33 label node node-b disk=ssd >/dev/null
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ssd}
spec:
  selector: {matchLabels: {app: ssd}}
  template:
    metadata: {labels: {app: ssd}}
    spec:
      nodeSelector: {disk: ssd}
      containers: [{name: ssd, image: "ssd:1"}]
YAML
expect_eq "a nodeSelector picks the labelled node" "node-b" "$(wait_nodes ssd node-b)"
kc 1.33 label node node-a disk=ssd >/dev/null
expect_eq "labelling another node adds a pod there" "node-a node-b" "$(wait_nodes ssd 'node-a node-b')"
kc 1.33 label node node-b disk- >/dev/null
expect_eq "removing the label removes the pod" "node-a" "$(wait_nodes ssd node-a)"

# Rolling update of the image (maxUnavailable 1 by default).
kc 1.33 set image ds/agent agent=agent:2 >/dev/null
expect_eq "set image rolls out" 'daemon set "agent" successfully rolled out' "$(rollout agent)"
images=""
for _ in $(seq 1 100); do
  images=$(kc 1.33 get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort | uniq -c | xargs)
  [ "$images" = "3 agent:2" ] && break
  sleep 0.2
done
expect_eq "every node runs the new image" "3 agent:2" "$images"
expect_eq "updatedNumberScheduled counts them" "3" "$(kc 1.33 get ds agent -o jsonpath='{.status.updatedNumberScheduled}')"

# Rollout history as ControllerRevisions: agent:1, agent:1 + toleration, agent:2.
history=$(kc 1.33 rollout history ds/agent | awk 'NR > 2 && NF {print $1}' | xargs)
expect_eq "rollout history lists three revisions" "1 2 3" "$history"
expect_contains "a revision shows its template" "agent:1" "$(kc 1.33 rollout history ds/agent --revision=2)"
expect_eq "revisions are controlled by the daemonset" "daemonset.apps/agent" \
  "$(kc 1.33 get controllerrevisions -l app=agent -o custom-columns=C:.metadata.ownerReferences[0].name --no-headers | sort -u | sed 's|^|daemonset.apps/|')"
kc 1.33 rollout undo ds/agent >/dev/null
expect_eq "rollout undo rolls back" 'daemon set "agent" successfully rolled out' "$(rollout agent)"
for _ in $(seq 1 100); do
  images=$(kc 1.33 get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort | uniq -c | xargs)
  [ "$images" = "3 agent:1" ] && break
  sleep 0.2
done
expect_eq "...to the previous image on every node" "3 agent:1" "$images"
history=$(kc 1.33 rollout history ds/agent | awk 'NR > 2 && NF {print $1}' | xargs)
expect_eq "the restored revision is renumbered to the top" "1 3 4" "$history"

kc 1.33 delete ds agent ssd >/dev/null
for _ in $(seq 1 100); do [ -z "$(kc 1.33 get pods -o name)" ] && break; sleep 0.2; done
expect_eq "deleting the daemonsets removes their pods" "" "$(kc 1.33 get pods -o name)"

finish
