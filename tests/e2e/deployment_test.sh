#!/usr/bin/env bash
# Deployments as users drive them, through kernlet-control's scheduler and controllers:
# create, scale, self-healing after a pod is deleted, a rolling update with set image,
# rollout status/history/undo/restart, and Recreate. Nodes are API objects and a stand-in
# (tools/fake_kubelet.py) reports bound pods Running and Ready, as the agent will.
source "$(dirname "$0")/lib.sh"
start_control

for n in node-a node-b; do
  printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {kubernetes.io/hostname: %s}}\n' "$n" "$n" |
    kc 1.33 apply -f - >/dev/null
  curl_admin PATCH "/api/v1/nodes/$n/status" -H 'Content-Type: application/merge-patch+json' \
    -d '{"status":{"allocatable":{"cpu":"8","memory":"16Gi","pods":"110"},"capacity":{"cpu":"8","memory":"16Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
done
pki="$workdir/control/pki"
python3 "$(dirname "$0")/tools/fake_kubelet.py" "https://127.0.0.1:$PORT" "$pki/ca.crt" "$pki/admin.crt" \
  "$pki/admin.key" node-a node-b >"$workdir/kubelet.log" 2>&1 &
kubelet_pid=$!
trap 'kill $kubelet_pid 2>/dev/null || true; wait $kubelet_pid 2>/dev/null || true; cleanup' EXIT

rollout() { kc "$1" rollout status "deployment/$2" --timeout=60s 2>&1 | tail -1; }
images() { kc 1.33 get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort | uniq -c | xargs; }

kc 1.27 create deployment web --image=nginx:1.25 --replicas=3 >/dev/null
expect_eq "create deployment rolls out" 'deployment "web" successfully rolled out' "$(rollout 1.27 web)"
expect_eq "three pods, scheduled and running" "3" \
  "$(kc 1.33 get pods -l app=web --field-selector status.phase=Running -o name | wc -l)"
expect_contains "kubectl get deployment shows them ready" "3/3" "$(kc 1.33 get deployment web)"

kc 1.33 scale deployment web --replicas=5 >/dev/null
expect_eq "scale up rolls out" 'deployment "web" successfully rolled out' "$(rollout 1.33 web)"
expect_eq "five pods" "5" "$(kc 1.33 get pods -l app=web -o name | wc -l)"
rs=$(kc 1.33 get rs -l app=web -o jsonpath='{.items[0].metadata.name}')
events=""
for _ in $(seq 1 50); do
  events=$(kc 1.33 describe deployment web | sed -n '/^Events:/,$p')
  case "$events" in *"to 5 from 3"*) break ;; esac
  sleep 0.2
done
expect_contains "describe deployment shows the creation event" "ScalingReplicaSet  " "$events"
expect_contains "...as upstream words it" "Scaled up replica set $rs to 3" "$events"
expect_contains "...and the scaling" "Scaled up replica set $rs to 5 from 3" "$events"
expect_contains "describe rs shows its pods' creation" "Created pod: $rs-" "$(kc 1.33 describe rs "$rs")"

# Self-healing: a deleted pod is replaced.
victim=$(kc 1.33 get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
kc 1.33 delete pod "$victim" >/dev/null
for _ in $(seq 1 100); do
  n=$(kc 1.33 get pods -l app=web --field-selector status.phase=Running -o name | grep -vc "pod/$victim" || true)
  [ "$n" -eq 5 ] && break
  sleep 0.2
done
expect_eq "a deleted pod is replaced" "5" "$n"

# Rolling update, history, undo.
kc 1.33 set image deployment/web nginx=nginx:1.27 >/dev/null
expect_eq "set image rolls out" 'deployment "web" successfully rolled out' "$(rollout 1.33 web)"
for _ in $(seq 1 100); do [ "$(images)" = "5 nginx:1.27" ] && break; sleep 0.2; done
expect_eq "every pod runs the new image" "5 nginx:1.27" "$(images)"
expect_eq "the old ReplicaSet is scaled to zero" "0" \
  "$(kc 1.33 get rs -l app=web -o jsonpath='{range .items[*]}{.spec.template.spec.containers[0].image}={.spec.replicas}{"\n"}{end}' | sed -n 's/^nginx:1.25=//p')"
history=$(kc 1.33 rollout history deployment/web)
expect_contains "rollout history lists revision 1" "1 " "$history"
expect_contains "rollout history lists revision 2" "2 " "$history"
kc 1.33 rollout undo deployment/web >/dev/null
expect_eq "rollout undo rolls out" 'deployment "web" successfully rolled out' "$(rollout 1.33 web)"
for _ in $(seq 1 100); do [ "$(images)" = "5 nginx:1.25" ] && break; sleep 0.2; done
expect_eq "undo brings the old image back" "5 nginx:1.25" "$(images)"
expect_eq "the revived ReplicaSet takes revision 3" "3" \
  "$(kc 1.33 get deployment web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
kc 1.27 rollout restart deployment/web >/dev/null
expect_eq "rollout restart rolls out" 'deployment "web" successfully rolled out' "$(rollout 1.27 web)"
expect_eq "two ReplicaSets kept plus the new one... all owned" "3" "$(kc 1.33 get rs -l app=web -o name | wc -l)"

# Recreate: old pods go before new ones start.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:15}]}
YAML
expect_eq "a Recreate deployment rolls out" 'deployment "db" successfully rolled out' "$(rollout 1.33 db)"
kc 1.33 set image deployment/db db=postgres:16 >/dev/null
expect_eq "a Recreate update rolls out" 'deployment "db" successfully rolled out' "$(rollout 1.33 db)"
expect_eq "Recreate ends with only new pods" "postgres:16 postgres:16" \
  "$(kc 1.33 get pods -l app=db -o jsonpath='{.items[*].spec.containers[0].image}')"

# A Service in front of them: its EndpointSlice and Endpoints list the ready pods.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
ready_eps() {
  kc 1.33 get endpointslices -l kubernetes.io/service-name=web \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}' | grep -c . || true
}
for _ in $(seq 1 100); do [ "$(ready_eps)" -eq 5 ] && break; sleep 0.2; done
expect_eq "the EndpointSlice lists the five ready pods" "5" "$(ready_eps)"
expect_eq "...on the resolved target port" "8080" \
  "$(kc 1.33 get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[0].ports[0].port}')"
expect_eq "legacy Endpoints list them too" "5" \
  "$(kc 1.33 get endpoints web -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{"\n"}{end}' | grep -c .)"
kc 1.33 scale deployment web --replicas=2 >/dev/null
for _ in $(seq 1 100); do [ "$(ready_eps)" -eq 2 ] && break; sleep 0.2; done
expect_eq "scaling down removes endpoints" "2" "$(ready_eps)"

# Deleting the deployment takes its ReplicaSets and pods (garbage collector).
kc 1.33 delete deployment web >/dev/null
for _ in $(seq 1 100); do [ -z "$(kc 1.33 get pods,rs -l app=web -o name)" ] && break; sleep 0.2; done
expect_eq "deleting a deployment removes its ReplicaSets and pods" "" "$(kc 1.33 get pods,rs -l app=web -o name)"

finish
