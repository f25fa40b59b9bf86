#!/usr/bin/env bash
# kubectl's `create <kind>` generators and `kubectl run` build typed objects and send them
# with client-go's typed clients; from kubectl 1.32 on those bodies are Kubernetes protobuf
# (application/vnd.kubernetes.protobuf). Every generator, with kubectl 1.27, 1.30 and 1.33,
# must create the object the user asked for (checked with `get -o json`). Then server-side
# field validation: a manifest with a typo'd field fails under kubectl's default
# (--validate=strict), warns under --validate=warn, passes under --validate=false.
. "$(dirname "$0")/lib.sh"
start_control

# kv VERSION args...: kubectl with its own cache dir.
kv() {
  local v=$1; shift
  kc "$v" --cache-dir "$workdir/cache-$v" "$@"
}
# jp VERSION KIND/NAME NS JSONPATH: one field of a stored object.
jp() {
  kv "$1" get "$2" -n "$3" -o "jsonpath=$4" 2>&1 || true
}

pki="$workdir/control/pki"
for v in 1.27 1.30 1.33; do
  ns="gen-$(echo $v | tr . -)"
  out=$(kv $v create namespace $ns 2>&1 || true)
  expect_eq "$v: create namespace" "namespace/$ns created" "$out"
  expect_eq "$v: namespace is Active" "Active" "$(kv $v get ns $ns -o 'jsonpath={.status.phase}' 2>&1)"

  out=$(kv $v create deployment web -n $ns --image=nginx:1.27 --replicas=2 --port=80 2>&1 || true)
  expect_eq "$v: create deployment" "deployment.apps/web created" "$out"
  expect_eq "$v: deployment replicas, selector, image, port" "2 web nginx:1.27 80" \
    "$(jp $v deploy/web $ns '{.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}')"
  expect_eq "$v: deployment defaulted as upstream" "RollingUpdate 25% 10 Always" \
    "$(jp $v deploy/web $ns '{.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} {.spec.template.spec.restartPolicy}')"
  out=$(kv $v create deployment zero -n $ns --image=nginx --replicas=0 2>&1 || true)
  expect_eq "$v: create deployment --replicas=0 keeps 0 (a pointer set to zero)" "0" \
    "$(jp $v deploy/zero $ns '{.spec.replicas}')"

  out=$(kv $v create job once -n $ns --image=busybox:1.36 -- date 2>&1 || true)
  expect_eq "$v: create job" "job.batch/once created" "$out"
  expect_eq "$v: job command and restartPolicy" "date Never" \
    "$(jp $v job/once $ns '{.spec.template.spec.containers[0].command[0]} {.spec.template.spec.restartPolicy}')"

  out=$(kv $v create cronjob tick -n $ns --image=busybox:1.36 --schedule='*/5 * * * *' -- date 2>&1 || true)
  expect_eq "$v: create cronjob" "cronjob.batch/tick created" "$out"
  expect_eq "$v: cronjob schedule and template" "*/5 * * * * busybox:1.36 OnFailure" \
    "$(jp $v cronjob/tick $ns '{.spec.schedule} {.spec.jobTemplate.spec.template.spec.containers[0].image} {.spec.jobTemplate.spec.template.spec.restartPolicy}')"

  out=$(kv $v create service clusterip svc-a -n $ns --tcp=80:8080 2>&1 || true)
  expect_eq "$v: create service clusterip" "service/svc-a created" "$out"
  expect_eq "$v: clusterip port and targetPort (IntOrString)" "ClusterIP 80 8080 svc-a" \
    "$(jp $v svc/svc-a $ns '{.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app}')"
  ip=$(jp $v svc/svc-a $ns '{.spec.clusterIP}')
  expect_contains "$v: clusterIP allocated" "10." "$ip"

  port=$((30100 + ${v#1.}))
  out=$(kv $v create service nodeport svc-b -n $ns --tcp=80:http --node-port=$port 2>&1 || true)
  expect_eq "$v: create service nodeport" "service/svc-b created" "$out"
  expect_eq "$v: nodeport, named targetPort" "NodePort $port http" \
    "$(jp $v svc/svc-b $ns '{.spec.type} {.spec.ports[0].nodePort} {.spec.ports[0].targetPort}')"

  out=$(kv $v create configmap cfg -n $ns --from-literal=color=blue --from-literal=size=L 2>&1 || true)
  expect_eq "$v: create configmap" "configmap/cfg created" "$out"
  expect_eq "$v: configmap data" "blue L" "$(jp $v cm/cfg $ns '{.data.color} {.data.size}')"

  out=$(kv $v create secret generic sec -n $ns --from-literal=pw=hunter2 2>&1 || true)
  expect_eq "$v: create secret generic" "secret/sec created" "$out"
  expect_eq "$v: secret data is base64 of the bytes" "Opaque aHVudGVyMg==" "$(jp $v secret/sec $ns '{.type} {.data.pw}')"

  out=$(kv $v create secret tls tls -n $ns --cert="$pki/admin.crt" --key="$pki/admin.key" 2>&1 || true)
  expect_eq "$v: create secret tls" "secret/tls created" "$out"
  expect_eq "$v: tls secret holds the certificate" "kubernetes.io/tls $(base64 -w0 "$pki/admin.crt")" \
    "$(jp $v secret/tls $ns '{.type} {.data.tls\.crt}')"

  out=$(kv $v create secret docker-registry reg -n $ns --docker-server=registry.example --docker-username=u \
    --docker-password=p 2>&1 || true)
  expect_eq "$v: create secret docker-registry" "secret/reg created" "$out"
  expect_contains "$v: docker config json" '"registry.example"' \
    "$(jp $v secret/reg $ns '{.data.\.dockerconfigjson}' | base64 -d 2>/dev/null)"

  out=$(kv $v create serviceaccount robot -n $ns 2>&1 || true)
  expect_eq "$v: create serviceaccount" "serviceaccount/robot created" "$out"
  expect_eq "$v: serviceaccount stored" "robot" "$(jp $v sa/robot $ns '{.metadata.name}')"

  out=$(kv $v run pod1 -n $ns --image=nginx:1.27 --labels=app=p --env=A=B --port=80 2>&1 || true)
  expect_eq "$v: run" "pod/pod1 created" "$out"
  expect_eq "$v: run pod spec" "nginx:1.27 p A=B 80 Always" \
    "$(jp $v pod/pod1 $ns '{.spec.containers[0].image} {.metadata.labels.app} {.spec.containers[0].env[0].name}={.spec.containers[0].env[0].value} {.spec.containers[0].ports[0].containerPort} {.spec.restartPolicy}')"
  expect_eq "$v: run pod has a creationTimestamp and uid" "true" \
    "$(kv $v get pod/pod1 -n $ns -o json | python3 -c 'import json,sys; m=json.load(sys.stdin)["metadata"]; print(str(bool(m["uid"] and m["creationTimestamp"])).lower())')"

  # Server-side field validation through kubectl's --validate.
  cat >"$workdir/typo-$v.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: $ns}
spec:
  replica: 2
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers:
      - {name: c, image: nginx, imagePullPolcy: Always}
YAML
  out=$(kv $v apply -f "$workdir/typo-$v.yaml" 2>&1 || true)
  expect_contains "$v: apply of a typo fails strictly" \
    'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", unknown field "spec.template.spec.containers[0].imagePullPolcy"' \
    "$out"
  expect_eq "$v: nothing was created" "" "$(kv $v get deploy/typo -n $ns -o name 2>/dev/null || true)"
  out=$(kv $v apply --validate=warn -f "$workdir/typo-$v.yaml" 2>&1 || true)
  expect_contains "$v: --validate=warn prints the warning" 'Warning: unknown field "spec.replica"' "$out"
  expect_contains "$v: --validate=warn creates" "deployment.apps/typo created" "$out"
  expect_eq "$v: the unknown fields are dropped from the stored object" "False False" \
    "$(kv $v get deploy/typo -n $ns -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("replica" in d["spec"], "imagePullPolcy" in d["spec"]["template"]["spec"]["containers"][0])')"
  sed -i 's/name: typo,/name: typo2,/' "$workdir/typo-$v.yaml"
  out=$(kv $v create --validate=false -f "$workdir/typo-$v.yaml" 2>&1 || true)
  expect_eq "$v: --validate=false accepts silently" "deployment.apps/typo2 created" "$out"
  # An update (apply on an existing object is a patch) with a typo fails too.
  sed -i 's/replica: 2/replicas: 2\n  paused: false\n  revisionHistroyLimit: 3/' "$workdir/typo-$v.yaml"
  sed -i 's/imagePullPolcy/imagePullPolicy/' "$workdir/typo-$v.yaml"
  out=$(kv $v apply -f "$workdir/typo-$v.yaml" 2>&1 || true)
  expect_contains "$v: apply (patch) of a typo fails strictly" 'unknown field "spec.revisionHistroyLimit"' "$out"
done

# Duplicate fields and the fieldValidation directive, with curl.
dup='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"},"data":{"a":"1"},"dta":{}}'
out=$(curl_admin POST '/api/v1/namespaces/default/configmaps?fieldValidation=Strict' -H 'Content-Type: application/json' -d "$dup")
expect_contains "Strict: 400" "400 " "$out"
expect_contains "Strict: duplicate and unknown fields named" \
  'ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\", unknown field \"dta\"' "$out"
dir="$workdir/control/pki"
hdrs=$(curl -sk --cacert "$dir/ca.crt" --cert "$dir/admin.crt" --key "$dir/admin.key" -D - -o /dev/null \
  -X POST "https://127.0.0.1:$PORT/api/v1/namespaces/default/configmaps" -H 'Content-Type: application/json' -d "$dup")
expect_contains "default (Warn): created" "HTTP/1.1 201" "$hdrs"
expect_contains "Warn: duplicate warning header" 'Warning: 299 - "duplicate field \"metadata.name\""' "$hdrs"
expect_contains "Warn: unknown warning header" 'Warning: 299 - "unknown field \"dta\""' "$hdrs"
out=$(curl_admin GET /api/v1/namespaces/default/configmaps/dup)
case "$out" in *'"dta"'*) not_ok "unknown field dropped from the stored object" "$out" ;; *) ok "unknown field dropped from the stored object" ;; esac
out=$(curl_admin POST '/api/v1/namespaces/default/configmaps?fieldValidation=Bogus' -H 'Content-Type: application/json' \
  -d '{"metadata":{"name":"b"}}')
expect_contains "a bad directive is 422" '422 ' "$out"
expect_contains "a bad directive names the values" 'supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"' "$out"
out=$(curl_admin POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/vnd.kubernetes.protobuf' \
  --data-binary 'k8s')
expect_contains "a malformed protobuf body is 400" '400 ' "$out"
finish
