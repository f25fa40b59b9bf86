#!/usr/bin/env bash
# The real kubectl (oldest and newest shipped here) against a fresh kernlet-control:
# discovery, create/get/list/delete, selectors, watch, and the HTTP error answers.
# Objects are created from manifests (`create -f`): kubectl 1.32+ sends the
# `kubectl create <kind>` generators' bodies as protobuf, which kernlet does not decode yet.
# `--validate=false` because kernlet serves no OpenAPI document yet (kubectl downloads it
# for client-side validation); the server validates on its own.
. "$(dirname "$0")/lib.sh"
start_control

for v in 1.27 1.33; do
  ns="e2e-$(echo $v | tr . -)"
  expect_contains "$v: namespaces bootstrapped" "default kube-node-lease kube-public kube-system" \
    "$(kc $v get ns -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | grep -v e2e | xargs)"
  expect_eq "$v: create namespace" "namespace/$ns created" \
    "$(echo "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" | kc $v create --validate=false -f -)"
  cm() {  # cm NAME KEY VALUE: a ConfigMap manifest
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  %s: %s\n' "$1" "$2" "$3"
  }
  expect_eq "$v: create configmap" "configmap/cfg created" "$(cm cfg color blue | kc $v -n "$ns" create --validate=false -f -)"
  cm other x y | kc $v -n "$ns" create --validate=false -f - >/dev/null
  expect_eq "$v: get -o jsonpath" "blue" "$(kc $v -n "$ns" get cm cfg -o jsonpath='{.data.color}')"
  expect_contains "$v: get -o yaml has uid" "uid: " "$(kc $v -n "$ns" get cm cfg -o yaml)"
  expect_contains "$v: duplicate says AlreadyExists" 'configmaps "cfg" already exists' \
    "$(cm cfg a b | kc $v -n "$ns" create --validate=false -f - 2>&1 || true)"
  expect_eq "$v: field selector" "other" \
    "$(kc $v -n "$ns" get cm --field-selector metadata.name=other -o jsonpath='{.items[*].metadata.name}')"
  expect_contains "$v: unknown field selector is refused" '"spec.foo" is not a known field selector' \
    "$(kc $v -n "$ns" get cm --field-selector spec.foo=x 2>&1 || true)"
  expect_contains "$v: pod field selector" "field label not supported: spec.foo" \
    "$(kc $v -n "$ns" get pods --field-selector spec.foo=x 2>&1 || true)"
  kc $v -n "$ns" run web --image=nginx:1.25 --labels=app=web,tier=front >/dev/null
  kc $v -n "$ns" run db --image=postgres:16 --labels=app=db >/dev/null
  expect_eq "$v: label selector" "web" "$(kc $v -n "$ns" get pods -l 'tier in (front)' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "$v: label selector !=" "db" "$(kc $v -n "$ns" get pods -l 'app!=web' -o jsonpath='{.items[*].metadata.name}')"
  expect_eq "$v: pods in all namespaces" "db web" \
    "$(kc $v get pods -A --field-selector metadata.namespace=$ns -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort | xargs)"
  expect_eq "$v: delete" 'configmap "other" deleted' "$(kc $v -n "$ns" delete cm other)"
  expect_fail "$v: get deleted fails" kc $v -n "$ns" get cm other
  expect_contains "$v: NotFound message" 'configmaps "other" not found' "$(kc $v -n "$ns" get cm other 2>&1 || true)"
done

# Writes users make every day: apply (twice), label, annotate, each patch type; tables.
cat >"$workdir/deploy.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.25"}
YAML
for v in 1.27 1.33; do
  kc $v delete --ignore-not-found -f "$workdir/deploy.yaml" >/dev/null 2>&1 || true
done
expect_contains "apply creates" "deployment.apps/web created" "$(kc 1.33 apply --validate=false -f "$workdir/deploy.yaml")"
expect_contains "second apply is unchanged" "deployment.apps/web unchanged" "$(kc 1.27 apply --validate=false -f "$workdir/deploy.yaml")"
expect_eq "defaults: strategy 25%/25%" '{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"},"type":"RollingUpdate"}' \
  "$(kc 1.33 -n apps get deploy web -o jsonpath='{.spec.strategy}')"
expect_eq "table columns for deployments" "NAME READY UP-TO-DATE AVAILABLE AGE" \
  "$(kc 1.33 -n apps get deploy | head -1 | xargs)"
kc 1.33 -n apps run p --image=busybox:1.36 -l app=p >/dev/null
expect_eq "table columns for pods (wide)" "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" \
  "$(kc 1.33 -n apps get pods -o wide | head -1 | xargs)"
expect_eq "pod without a node is Pending" "Pending" "$(kc 1.27 -n apps get pod p --no-headers | awk '{print $3}')"
kc 1.27 -n apps label pod p tier=front >/dev/null
kc 1.33 -n apps annotate pod p note=hi >/dev/null
kc 1.33 -n apps patch pod p --type=merge -p '{"metadata":{"labels":{"m":"1"}}}' >/dev/null
kc 1.27 -n apps patch pod p --type=json -p '[{"op":"add","path":"/metadata/labels/j","value":"2"}]' >/dev/null
kc 1.33 -n apps patch pod p -p '{"spec":{"containers":[{"name":"p","image":"busybox:1.37"}]}}' >/dev/null
expect_eq "label, merge and json patches" "app=p,j=2,m=1,tier=front" \
  "$(kc 1.33 -n apps get pod p --show-labels --no-headers | awk '{print $NF}')"
expect_eq "annotate" "hi" "$(kc 1.33 -n apps get pod p -o jsonpath='{.metadata.annotations.note}')"
expect_eq "strategic merge patch by container name" "busybox:1.37" \
  "$(kc 1.33 -n apps get pod p -o jsonpath='{.spec.containers[0].image}')"
expect_contains "an invalid pod is refused with its causes" "spec.containers: Required value" \
  "$(printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {containers: []}\n' | kc 1.33 -n apps create --validate=false -f - 2>&1 || true)"
rv=$(kc 1.33 -n apps get pod p -o jsonpath='{.metadata.resourceVersion}')
kc 1.33 -n apps label pod p again=yes >/dev/null
r=$(curl_admin PUT /api/v1/namespaces/apps/pods/p -H 'Content-Type: application/json' \
  -d "$(kc 1.33 -n apps get pod p -o json | python3 -c "import json,sys; o=json.load(sys.stdin); o['metadata']['resourceVersion']='$rv'; print(json.dumps(o))")")
expect_eq "update with a stale resourceVersion is 409" "409" "${r%% *}"
expect_contains "409 says the object was modified" "the object has been modified" "$r"
r=$(curl_admin POST /api/v1/namespaces/apps/pods -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c"}]}}')
expect_eq "invalid object is 422" "422" "${r%% *}"
expect_contains "422 names the field" '"field":"spec.containers[0].image"' "$r"

# pods/binding assigns a pod to a node once, as the scheduler does.
r=$(curl_admin POST /api/v1/namespaces/apps/pods/p/binding -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"node-1"}}')
expect_eq "binding answers 201" "201" "${r%% *}"
expect_eq "binding sets spec.nodeName and PodScheduled" "node-1 True" \
  "$(kc 1.33 -n apps get pod p -o jsonpath='{.spec.nodeName} {.status.conditions[?(@.type=="PodScheduled")].status}')"
r=$(curl_admin POST /api/v1/namespaces/apps/pods/p/binding -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"node-2"}}')
expect_eq "a second binding is 409" "409" "${r%% *}"
expect_contains "409 names the node" 'already assigned to node \"node-1\"' "$r"

# kubectl scale goes through the /scale subresource.
for v in 1.27 1.33; do
  kc $v -n apps scale deploy web --replicas=4 >/dev/null
  expect_eq "$v: scale sets spec.replicas" "4" "$(kc $v -n apps get deploy web -o jsonpath='{.spec.replicas}')"
  kc $v -n apps scale deploy web --replicas=2 >/dev/null
done
r=$(curl_admin GET /apis/apps/v1/namespaces/apps/deployments/web/scale)
expect_contains "Scale carries the selector" '"selector":"app=web"' "$r"
r=$(curl_admin PATCH /apis/apps/v1/namespaces/apps/deployments/web/scale \
  -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"replicas":-1}}')
expect_eq "negative replicas are 422" "422" "${r%% *}"

# Services get a ClusterIP from the service CIDR and a NodePort from 30000-32767; both are
# released on delete and can then be asked for by value.
expect_eq "default/kubernetes has the first service IP" "10.96.0.1" \
  "$(kc 1.33 -n default get svc kubernetes -o jsonpath='{.spec.clusterIP}')"
svc() {  # svc NAME [clusterIP]
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: apps}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n' "$1"
  [ -n "${2:-}" ] && printf '  clusterIP: %s\n' "$2"
  return 0
}
svc s1 | kc 1.33 apply -f - >/dev/null
svc s2 | kc 1.33 apply -f - >/dev/null
ip1=$(kc 1.33 -n apps get svc s1 -o jsonpath='{.spec.clusterIP}')
ip2=$(kc 1.33 -n apps get svc s2 -o jsonpath='{.spec.clusterIP}')
np1=$(kc 1.33 -n apps get svc s1 -o jsonpath='{.spec.ports[0].nodePort}')
expect_eq "ClusterIP is in 10.96.0.0/12" "yes" \
  "$(python3 -c "import ipaddress; print('yes' if ipaddress.ip_address('$ip1') in ipaddress.ip_network('10.96.0.0/12') else 'no')")"
expect_eq "NodePort is in range" "yes" "$( [ "$np1" -ge 30000 ] && [ "$np1" -le 32767 ] && echo yes || echo no)"
expect_eq "two services get different IPs" "yes" "$( [ "$ip1" != "$ip2" ] && echo yes || echo no)"
expect_contains "a taken IP is refused" "provided IP is already allocated" "$(svc s3 "$ip1" | kc 1.33 apply -f - 2>&1 || true)"
kc 1.33 -n apps delete svc s1 >/dev/null
expect_contains "a released IP can be asked for" "service/s3 created" "$(svc s3 "$ip1" | kc 1.33 apply -f - 2>&1)"
# NodePort → ClusterIP frees the node port: another service can take it by value.
np2=$(kc 1.33 -n apps get svc s2 -o jsonpath='{.spec.ports[0].nodePort}')
expect_contains "NodePort → ClusterIP is accepted" "patched" \
  "$(kc 1.33 -n apps patch svc s2 -p '{"spec":{"type":"ClusterIP"}}' 2>&1)"
expect_eq "...and drops the node port" "" "$(kc 1.33 -n apps get svc s2 -o jsonpath='{.spec.ports[0].nodePort}')"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: s4, namespace: apps}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: %s}]\n' "$np2" |
  kc 1.33 apply -f - >/dev/null 2>&1
expect_eq "the freed node port can be asked for" "$np2" "$(kc 1.33 -n apps get svc s4 -o jsonpath='{.spec.ports[0].nodePort}' 2>&1)"

# A watch sees ADDED and DELETED for changes made after the revision it starts from.
echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"watch-ns"}}' | kc 1.33 create --validate=false -f - >/dev/null
rv=$(kc 1.33 get --raw /api/v1/namespaces/watch-ns/configmaps | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w1}\n' | kc 1.33 -n watch-ns create --validate=false -f - >/dev/null
kc 1.33 -n watch-ns delete configmap w1 >/dev/null
events=$(kc 1.33 get --raw "/api/v1/namespaces/watch-ns/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=2" |
  python3 -c 'import json,sys; print(" ".join(e["type"]+":"+e["object"]["metadata"]["name"] for e in map(json.loads, sys.stdin)))')
expect_eq "watch from a revision replays ADDED then DELETED" "ADDED:w1 DELETED:w1" "$events"

# kubectl get --watch shows ADDED, MODIFIED and DELETED as they happen.
kc 1.33 -n watch-ns run wp --image=busybox:1.36 >/dev/null
kc 1.33 -n watch-ns get pods --watch --output-watch-events >"$workdir/getw.out" 2>&1 &
getw_pid=$!
wait_for() {  # wait_for PATTERN FILE: up to 10 s
  for _ in $(seq 1 100); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
wait_for "ADDED *wp" "$workdir/getw.out" || true
kc 1.33 -n watch-ns label pod wp seen=yes >/dev/null
wait_for "MODIFIED *wp" "$workdir/getw.out" || true
kc 1.33 -n watch-ns delete pod wp >/dev/null
wait_for "DELETED *wp" "$workdir/getw.out" || true
kill "$getw_pid" 2>/dev/null || true
wait "$getw_pid" 2>/dev/null || true
expect_eq "get --watch sees ADDED, MODIFIED, DELETED" "ADDED MODIFIED DELETED" \
  "$(awk '$2 == "wp" {print $1}' "$workdir/getw.out" | uniq | xargs)"

# Deleting a namespace deletes what is in it, then the namespace; a finalizer holds an
# object (deletionTimestamp set) until its owner removes it.
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: doomed}\n' |
  kc 1.33 apply -f - >/dev/null
kc 1.33 delete namespace doomed >/dev/null
expect_fail "deleted namespace is gone" kc 1.33 get namespace doomed
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n' | kc 1.33 apply -f - >/dev/null
expect_eq "a recreated namespace starts empty" "" "$(kc 1.33 -n doomed get cm -o name)"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: doomed, finalizers: [example.com/hold]}\n' |
  kc 1.33 apply -f - >/dev/null
kc 1.33 -n doomed delete cm held --wait=false >/dev/null
expect_contains "a finalizer holds a deleted object" "T" "$(kc 1.33 -n doomed get cm held -o jsonpath='{.metadata.deletionTimestamp}')"
kc 1.33 -n doomed patch cm held --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
expect_fail "removing the last finalizer completes the deletion" kc 1.33 -n doomed get cm held

# deletecollection deletes what the selector matches, and only that.
for n in a b c; do
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: doomed, labels: {batch: "%s"}}\n' \
    "dc-$n" "$([ $n = c ] && echo keep || echo go)" | kc 1.33 apply -f - >/dev/null
done
r=$(curl_admin DELETE '/api/v1/namespaces/doomed/configmaps?labelSelector=batch%3Dgo')
expect_eq "deletecollection answers 200" "200" "${r%% *}"
expect_eq "deletecollection removed the matching ones" "configmap/dc-c" "$(kc 1.33 -n doomed get cm -o name | grep dc- | xargs)"

# HTTP answers, as Status objects.
anon=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/namespaces")
expect_eq "anonymous request is refused" "401" "$anon"
r=$(curl_admin GET /api/v1/namespaces/default/widgets)
expect_eq "unknown resource is 404" "404" "${r%% *}"
r=$(curl_admin POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' -d '{"kind":"ConfigMap",')
expect_eq "malformed JSON is 400" "400" "${r%% *}"
expect_contains "malformed JSON names the position" "line 1" "$r"
r=$(curl_admin POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
  -d '{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}')
expect_eq "wrong apiVersion for the path is 400" "400" "${r%% *}"
head -c 4000000 /dev/zero | tr '\0' 'a' >"$workdir/big"
r=$(curl_admin POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' --data-binary @"$workdir/big")
expect_eq "body over 3 MiB is 413" "413" "${r%% *}"
r=$(curl_admin POST /api/v1/namespaces/nowhere/configmaps -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}')
expect_eq "create in a missing namespace is 404" "404" "${r%% *}"
expect_contains "missing namespace is named" 'namespaces \"nowhere\" not found' "$r"
r=$(curl_admin GET '/api/v1/namespaces?watch=1&resourceVersion=999999999&timeoutSeconds=1')
expect_eq "watch from the future waits and ends" "200" "${r%% *}"

finish
