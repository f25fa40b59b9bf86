#!/usr/bin/env bash
# Pods on a real node, as users drive them with kubectl against scripts/up's single-node
# cluster: the Node, a pod to Running with its status, logs (plain, -f, --tail,
# --timestamps), run-to-completion pods (Succeeded/Failed with exit codes), env from
# ConfigMaps and Secrets, a missing ConfigMap key, a configMap volume that follows an
# update, and deletion honouring preStop and the grace period.
source "$(dirname "$0")/agent_lib.sh"
start_cluster

# --- the Node -------------------------------------------------------------------------------
expect_eq "the node registered and Ready" "True" \
  "$(kc 1.33 get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')"
expect_contains "the node reports its runtime" "kernlet://" \
  "$(kc 1.33 get node "$node" -o 'jsonpath={.status.nodeInfo.containerRuntimeVersion}')"
expect_eq "the node allows 110 pods" "110" "$(kc 1.33 get node "$node" -o 'jsonpath={.status.allocatable.pods}')"
expect_eq "the node lease is renewed" "$node" \
  "$(kc 1.33 get lease -n kube-node-lease "$node" -o 'jsonpath={.spec.holderIdentity}')"

# --- a pod to Running -----------------------------------------------------------------------
kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "echo started; i=0; while true; do i=\$((i+1)); echo tick \$i; sleep 0.2; done"]
    resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {cpu: 100m, memory: 32Mi}}
EOF
kc 1.33 wait --for=condition=Ready pod/web --timeout=60s >/dev/null 2>&1 || true
expect_eq "kubectl apply of a pod: Running" "Running" "$(jp web '{.status.phase}')"
expect_eq "the pod is Ready" "True" "$(jp web '{.status.conditions[?(@.type=="Ready")].status}')"
expect_eq "Guaranteed QoS" "Guaranteed" "$(jp web '{.status.qosClass}')"
expect_eq "the container is running" "true" "$(jp web '{.status.containerStatuses[0].started}')"
expect_contains "containerID from kernlet" "kernlet://" "$(jp web '{.status.containerStatuses[0].containerID}')"
expect_eq "hostIP is the node's" "127.0.0.1" "$(jp web '{.status.hostIP}')"
expect_contains "kubectl get pods shows it" "1/1     Running" "$(kc 1.27 get pod web)"

# --- logs -----------------------------------------------------------------------------------
wait_until 10 sh -c "$KUBECTL_DIR/kubectl.1.33 logs web | grep -q 'tick 3'"
logs=$(kc 1.33 logs web)
expect_eq "kubectl logs starts with the first line" "started" "$(head -1 <<<"$logs")"
expect_contains "kubectl logs has later lines" "tick 3" "$logs"
expect_eq "kubectl logs --tail=2" "2" "$(kc 1.33 logs web --tail=2 | wc -l)"
expect_contains "kubectl logs --timestamps" "Z started" "$(kc 1.33 logs web --timestamps | head -1)"
follow=$(timeout 3 "$KUBECTL_DIR/kubectl.1.27" logs -f web --tail=1 || true)
expect_eq "kubectl logs -f streams new lines" "ok" "$([ "$(wc -l <<<"$follow")" -ge 5 ] && echo ok || echo "$follow")"

# --- run to completion ----------------------------------------------------------------------
kc 1.33 run done-ok --image="$BUSYBOX" --restart=Never -- sh -c 'echo bye' >/dev/null
kc 1.33 run done-bad --image="$BUSYBOX" --restart=Never -- sh -c 'exit 3' >/dev/null
wait_until 60 phase_is done-ok Succeeded
wait_until 60 phase_is done-bad Failed
expect_eq "restartPolicy Never, exit 0: Succeeded" "Succeeded" "$(jp done-ok '{.status.phase}')"
expect_eq "... with reason Completed" "Completed" "$(jp done-ok '{.status.containerStatuses[0].state.terminated.reason}')"
expect_eq "... and its output in the logs" "bye" "$(kc 1.33 logs done-ok)"
expect_eq "restartPolicy Never, exit 3: Failed" "Failed" "$(jp done-bad '{.status.phase}')"
expect_eq "... with exit code 3" "3" "$(jp done-bad '{.status.containerStatuses[0].state.terminated.exitCode}')"
expect_eq "... and reason Error" "Error" "$(jp done-bad '{.status.containerStatuses[0].state.terminated.reason}')"

# --- hostAliases in /etc/hosts ----------------------------------------------------------------
kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: aliases}
spec:
  restartPolicy: Never
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [foo.local, bar.local]}
  containers:
  - {name: c, image: "$BUSYBOX", imagePullPolicy: Never, command: [sh, -c, 'grep -F 10.1.2.3 /etc/hosts']}
EOF
wait_until 60 phase_is aliases Succeeded
expect_eq "spec.hostAliases are in the pod's /etc/hosts" "10.1.2.3	foo.local	bar.local" \
  "$(kc 1.33 logs aliases)"

# --- config: env and volumes ----------------------------------------------------------------
kc 1.33 create configmap settings --from-literal=greeting=hello --from-literal=color=blue >/dev/null
kc 1.33 create secret generic creds --from-literal=password=s3cret >/dev/null
kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: config}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "echo \$GREETING \$PASSWORD \$MY_POD \$(color); while true; do echo color=\$(cat /etc/cfg/color); sleep 0.5; done"]
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    envFrom:
    - configMapRef: {name: settings}
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
  volumes:
  - name: cfg
    configMap: {name: settings}
EOF
kc 1.33 wait --for=condition=Ready pod/config --timeout=60s >/dev/null 2>&1 || true
wait_until 10 sh -c "$KUBECTL_DIR/kubectl.1.33 logs config | grep -q hello"
# $(color) in the command is expanded by the agent from the container's env (envFrom).
expect_eq "env from a ConfigMap, a Secret, the downward API and envFrom; \$(VAR) expanded" \
  "hello s3cret config blue" "$(kc 1.33 logs config | head -1)"
expect_eq "a configMap volume holds the keys" "color=blue" "$(kc 1.33 logs config --tail=1)"
kc 1.33 patch configmap settings --type merge -p '{"data":{"color":"green"}}' >/dev/null
if wait_until 90 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 logs config --tail=1)\" = color=green ]"; then
  ok "a ConfigMap update reaches the mounted volume in the running container"
else
  not_ok "a ConfigMap update reaches the mounted volume in the running container" "got: $(kc 1.33 logs config --tail=1)"
fi
vol="$DATA/agent/pods/$(jp config '{.metadata.uid}')/volumes/kubernetes.io~configmap/cfg"
expect_eq "... through the ..data symlink swap" "link" "$([ -L "$vol/..data" ] && echo link)"

kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: missing-key}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sleep", "1000"]
    env:
    - {name: X, valueFrom: {configMapKeyRef: {name: settings, key: nope}}}
EOF
wait_until 30 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod missing-key -o 'jsonpath={.status.containerStatuses[0].state.waiting.reason}')\" = CreateContainerConfigError ]"
expect_eq "a missing ConfigMap key: CreateContainerConfigError" "CreateContainerConfigError" \
  "$(jp missing-key '{.status.containerStatuses[0].state.waiting.reason}')"
expect_contains "... naming the key" "nope" "$(jp missing-key '{.status.containerStatuses[0].state.waiting.message}')"

kc 1.33 run no-image --image=example.invalid/nothing:1 --image-pull-policy=Never >/dev/null
wait_until 30 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod no-image -o 'jsonpath={.status.containerStatuses[0].state.waiting.reason}')\" = ErrImageNeverPull ]"
expect_eq "an absent image with pull policy Never: ErrImageNeverPull" "ErrImageNeverPull" \
  "$(jp no-image '{.status.containerStatuses[0].state.waiting.reason}')"

# --- deletion: preStop, SIGTERM, grace period -----------------------------------------------
mark="$workdir/marks"
mkdir -p "$mark"
kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: graceful}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "trap 'echo term >> /marks/order; sleep 1; exit 0' TERM; while true; do sleep 0.1; done"]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo prestop >> /marks/order"]}
    volumeMounts:
    - {name: marks, mountPath: /marks}
  volumes:
  - name: marks
    hostPath: {path: $mark, type: Directory}
EOF
kc 1.33 wait --for=condition=Ready pod/graceful --timeout=60s >/dev/null 2>&1 || true
start=$SECONDS
kc 1.33 delete pod graceful --timeout=60s >/dev/null 2>&1
took=$((SECONDS - start))
expect_eq "delete runs preStop, then SIGTERM" "prestop term" "$(xargs <"$mark/order" 2>/dev/null)"
expect_eq "the pod object is gone once its containers stopped" "NotFound" \
  "$(kc 1.33 get pod graceful 2>&1 | grep -o NotFound)"
expect_eq "deletion did not wait out the 20 s grace period" "yes" "$([ "$took" -lt 15 ] && echo yes || echo "took ${took}s")"

kc 1.33 delete pod web config missing-key no-image done-ok done-bad aliases --timeout=60s >/dev/null 2>&1 || true
expect_eq "every pod deleted" "" "$(kc 1.33 get pods -o name)"
finish_cluster
