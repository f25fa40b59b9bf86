#!/usr/bin/env bash
# kernlet-control runs without its controllers here, so that the ownership chains below
# are exactly the ones the test builds. Deletion as users see it: propagation policies (Background, Foreground, Orphan) through
# ownerReferences, dangling references, preconditions, graceful pod deletion, and a
# namespace that waits for what is still stopping in it. Driven by the real kubectl.
source "$(dirname "$0")/lib.sh"
start_control --disable-controllers

# (kubectl 1.32+ `create <kind>` sends protobuf; namespaces are applied as YAML here.)
mkns() { printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$1" | kc 1.33 apply -f - >/dev/null; }
mkns gc
k() { kc 1.33 -n gc "$@"; }

uid_of() { k get "$1" -o jsonpath='{.metadata.uid}'; }

# A Deployment → ReplicaSet → Pods chain, the references a controller would set.
make_chain() {
  k apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
YAML
  local d; d=$(uid_of deployment/web)
  k apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-rs
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: $d, controller: true, blockOwnerDeletion: true}]
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
YAML
  local rs; rs=$(uid_of rs/web-rs)
  for p in p1 p2; do
    k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $p
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-rs, uid: $rs, controller: true, blockOwnerDeletion: true}]
spec: {containers: [{name: c, image: busybox}]}
YAML
  done
}

# --- Background (kubectl's default): the owner goes now, the collector takes the rest.
make_chain
expect_eq "background: the owner is deleted" 'deployment.apps "web" deleted' "$(k delete deployment web 2>&1)"
if k wait --for=delete rs/web-rs pod/p1 pod/p2 --timeout=20s >/dev/null 2>&1; then
  ok "background: replicaset and pods are collected"
else
  not_ok "background: replicaset and pods are collected" "$(k get rs,pods -o name 2>&1)"
fi

# --- Foreground: the owner stays (foregroundDeletion) until every blocking dependent is gone.
make_chain
k patch pod p2 --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null
k delete deployment web --cascade=foreground --wait=false >/dev/null
k wait --for=delete pod/p1 --timeout=20s >/dev/null 2>&1 || true
expect_eq "foreground: a held pod keeps the owner" "foregroundDeletion" \
  "$(k get deployment web -o jsonpath='{.metadata.finalizers[*]}' 2>&1)"
expect_contains "foreground: the held pod is being deleted" "T" \
  "$(k get pod p2 -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)"
expect_eq "foreground: the replicaset waits for its pod too" "foregroundDeletion" \
  "$(k get rs web-rs -o jsonpath='{.metadata.finalizers[*]}' 2>&1)"
k patch pod p2 --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
if k wait --for=delete pod/p2 rs/web-rs deployment/web --timeout=20s >/dev/null 2>&1; then
  ok "foreground: releasing the pod completes the chain"
else
  not_ok "foreground: releasing the pod completes the chain" "$(k get deploy,rs,pods -o yaml 2>&1 | head -40)"
fi

# --- Orphan: the owner goes, dependents stay and lose the reference.
make_chain
expect_eq "orphan: the owner is deleted" 'deployment.apps "web" deleted' "$(kc 1.27 -n gc delete deployment web --cascade=orphan 2>&1)"
expect_eq "orphan: the replicaset stays, without its owner reference" "web-rs:" \
  "$(k get rs web-rs -o jsonpath='{.metadata.name}:{.metadata.ownerReferences}')"
expect_eq "orphan: the pods keep their own owner" "web-rs web-rs" \
  "$(k get pods -o jsonpath='{.items[*].metadata.ownerReferences[0].name}')"
k delete rs web-rs >/dev/null
k wait --for=delete pod/p1 pod/p2 --timeout=20s >/dev/null 2>&1 && ok "the pods follow their replicaset" ||
  not_ok "the pods follow their replicaset" "$(k get pods -o name)"

# --- A reference to an owner that does not exist is dangling: the dependent is collected.
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: stray
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: nobody, uid: 0b3e6f1c-0000-4000-8000-000000000000}]
YAML
k wait --for=delete cm/stray --timeout=20s >/dev/null 2>&1 && ok "a dangling dependent is collected" ||
  not_ok "a dangling dependent is collected" "$(k get cm stray -o yaml 2>&1)"
# ...but one live owner among gone ones keeps it, minus the dangling reference.
owner=$(kc 1.27 -n gc create configmap owner -o jsonpath='{.metadata.uid}')
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: half
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: $owner}
  - {apiVersion: v1, kind: ConfigMap, name: nobody, uid: 0b3e6f1c-0000-4000-8000-000000000000}
YAML
for _ in $(seq 1 100); do
  refs=$(k get cm half -o jsonpath='{.metadata.ownerReferences[*].name}')
  [ "$refs" = owner ] && break
  sleep 0.1
done
expect_eq "a live owner keeps the dependent; the dangling reference is dropped" "owner" "$refs"

# --- DeleteOptions through the API.
r=$(curl_admin DELETE /api/v1/namespaces/gc/configmaps/owner -H 'Content-Type: application/json' \
  -d '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"not-the-uid"}}')
expect_contains "a uid precondition that does not hold is 409" "409 " "$r"
expect_contains "the precondition failure is named" "Precondition failed: UID in precondition: not-the-uid" "$r"
r=$(curl_admin DELETE "/api/v1/namespaces/gc/configmaps/owner?propagationPolicy=Sideways")
expect_contains "an unknown propagation policy is 422" "422 " "$r"
expect_contains "the unknown policy is named" 'Unsupported value: \"Sideways\"' "$r"
r=$(curl_admin DELETE "/api/v1/namespaces/gc/configmaps/owner?dryRun=All")
expect_contains "a dry-run delete answers 200" "200 " "$r"
expect_eq "a dry-run delete keeps the object" "owner" "$(k get cm owner -o jsonpath='{.metadata.name}')"

# batch/v1 Jobs orphan their pods by default, and Kubernetes warns about it.
kc 1.27 -n gc create job once --image=busybox >/dev/null
headers=$(curl -sk --cacert "$workdir/control/pki/ca.crt" --cert "$workdir/control/pki/admin.crt" \
  --key "$workdir/control/pki/admin.key" -X DELETE -D - -o /dev/null "https://127.0.0.1:$PORT/apis/batch/v1/namespaces/gc/jobs/once")
expect_contains "deleting a job without a policy warns that its pods stay" \
  'Warning: 299 - "child pods are preserved by default when jobs are deleted' "$headers"

# --- Graceful pod deletion: a pod on a node stops first; --force ends it at once.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: gc-node}
YAML
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: running}
spec: {nodeName: gc-node, containers: [{name: c, image: busybox}]}
YAML
k delete pod running --wait=false >/dev/null
expect_eq "a pod on a node gets its grace period" "30" \
  "$(k get pod running -o jsonpath='{.metadata.deletionGracePeriodSeconds}')"
k get pod running -o wide | grep -q Terminating && ok "kubectl shows it Terminating" ||
  not_ok "kubectl shows it Terminating" "$(k get pod running -o wide)"
expect_contains "--force --grace-period=0 deletes it at once" "force deleted" \
  "$(k delete pod running --force --grace-period=0 2>&1)"
expect_fail "the force-deleted pod is gone" k get pod running
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: nowhere}
spec: {nodeName: no-such-node, containers: [{name: c, image: busybox}]}
YAML
expect_eq "a pod whose node does not exist is deleted at once" 'pod "nowhere" deleted' \
  "$(k delete pod nowhere --wait=false 2>&1)"
expect_fail "...and is gone" k get pod nowhere

# --- A namespace waits for a pod that is still stopping, then goes.
mkns draining
kc 1.33 -n draining apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec: {nodeName: gc-node, containers: [{name: c, image: busybox}]}
YAML
kc 1.33 delete namespace draining --wait=false >/dev/null
for _ in $(seq 1 100); do
  ts=$(kc 1.33 -n draining get pod slow -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null || true)
  [ -n "$ts" ] && break
  sleep 0.1
done
expect_contains "namespace deletion stops its pods gracefully" "T" "$ts"
expect_eq "the namespace stays Terminating meanwhile" "Terminating" \
  "$(kc 1.33 get namespace draining -o jsonpath='{.status.phase}')"
kc 1.33 -n draining delete pod slow --force --grace-period=0 >/dev/null 2>&1
kc 1.33 wait --for=delete namespace/draining --timeout=20s >/dev/null 2>&1 && ok "the namespace goes once the pod is gone" ||
  not_ok "the namespace goes once the pod is gone" "$(kc 1.33 get namespace draining -o yaml 2>&1)"

# --- Terminating namespaces survive a restart and finish after it.
mkns held
kc 1.33 -n held apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: c, finalizers: [example.com/hold]}
YAML
kc 1.33 delete namespace held --wait=false >/dev/null
kill "$control_pid"; wait "$control_pid" 2>/dev/null || true
start_control --disable-controllers
kc 1.33 -n held patch cm c --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
kc 1.33 wait --for=delete namespace/held --timeout=20s >/dev/null 2>&1 && ok "a namespace left Terminating finishes after a restart" ||
  not_ok "a namespace left Terminating finishes after a restart" "$(kc 1.33 get namespace held -o yaml 2>&1)"

finish
