#!/usr/bin/env bash
# The everyday kubectl verbs beyond get/apply, on the oldest and newest kubectl we support:
# describe (which lists events and related objects), edit (through $KUBE_EDITOR),
# label/annotate with --overwrite and removal, wait for a condition, and rollout-free
# `set image` (a strategic merge patch kubectl computes itself).
source "$(dirname "$0")/lib.sh"
start_control

editor="$workdir/editor.sh"
cat >"$editor" <<'SH'
#!/bin/sh
# A non-interactive editor: kubectl edit hands us the file; change the replica count.
sed -i 's/^  replicas: 2$/  replicas: 5/' "$1"
SH
chmod +x "$editor"

for v in 1.27 1.33; do
  ns="wf-${v/./-}"
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns" | kc $v apply -f - >/dev/null
  kc $v -n "$ns" apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
YAML

  # describe: every kind users describe, without an error from the server.
  for obj in deployment/web service/web pod/solo configmap/settings; do
    out=$(kc $v -n "$ns" describe "$obj" 2>&1) && ok "$v: describe $obj" || not_ok "$v: describe $obj" "$out"
  done
  out=$(kc $v -n "$ns" describe deployment web 2>&1 || true)
  expect_contains "$v: describe deployment shows the strategy" "RollingUpdate" "$out"
  expect_contains "$v: describe deployment shows the pod template" "nginx:1.25" "$out"
  out=$(kc $v -n "$ns" describe pod solo 2>&1 || true)
  expect_contains "$v: describe pod shows its QoS class" "BestEffort" "$out"
  expect_contains "$v: describe pod shows the default tolerations" "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s" "$out"
  out=$(kc $v describe namespace "$ns" 2>&1) && ok "$v: describe namespace" || not_ok "$v: describe namespace" "$out"

  # edit: kubectl reads the object, runs the editor, sends a patch of the difference.
  out=$(KUBE_EDITOR="$editor" kc $v -n "$ns" edit deployment web 2>&1)
  expect_contains "$v: edit reports the change" "deployment.apps/web edited" "$out"
  expect_eq "$v: the edit is stored" "5" "$(kc $v -n "$ns" get deployment web -o jsonpath='{.spec.replicas}')"
  expect_eq "$v: generation counts the spec change" "2" "$(kc $v -n "$ns" get deployment web -o jsonpath='{.metadata.generation}')"

  # label / annotate: add, refuse to overwrite silently, overwrite, remove.
  kc $v -n "$ns" label pod solo tier=cache >/dev/null
  expect_fail "$v: label without --overwrite refuses to change a value" kc $v -n "$ns" label pod solo tier=db
  kc $v -n "$ns" label pod solo tier=db --overwrite >/dev/null
  expect_eq "$v: label --overwrite" "db" "$(kc $v -n "$ns" get pod solo -o jsonpath='{.metadata.labels.tier}')"
  kc $v -n "$ns" label pod solo tier- >/dev/null
  expect_eq "$v: label removal" "" "$(kc $v -n "$ns" get pod solo -o jsonpath='{.metadata.labels.tier}')"
  kc $v -n "$ns" annotate deployment web owner=team-a >/dev/null
  expect_eq "$v: annotate" "team-a" "$(kc $v -n "$ns" get deployment web -o jsonpath='{.metadata.annotations.owner}')"

  # set image: kubectl builds a strategic merge patch keyed by container name.
  kc $v -n "$ns" set image deployment/web nginx=nginx:1.27 >/dev/null
  expect_eq "$v: set image" "nginx:1.27" \
    "$(kc $v -n "$ns" get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')"
  expect_eq "$v: set image keeps the rest of the container" "80" \
    "$(kc $v -n "$ns" get deployment web -o jsonpath='{.spec.template.spec.containers[0].ports[0].containerPort}')"

  # wait: for a field condition on a Pod and for deletion.
  kc $v -n "$ns" patch pod solo --subresource=status --type=merge \
    -p '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null 2>&1 ||
    curl_admin PATCH "/api/v1/namespaces/$ns/pods/solo/status" -H 'Content-Type: application/merge-patch+json' \
      -d '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
  out=$(kc $v -n "$ns" wait --for=condition=Ready pod/solo --timeout=10s 2>&1)
  expect_contains "$v: wait --for=condition=Ready" "condition met" "$out"
  kc $v -n "$ns" delete configmap settings --wait=false >/dev/null
  out=$(kc $v -n "$ns" wait --for=delete configmap/settings --timeout=10s 2>&1 || true)
  case "$out" in *"condition met"*|*"not found"*|"") ok "$v: wait --for=delete" ;; *) not_ok "$v: wait --for=delete" "$out" ;; esac
done

finish
