#!/usr/bin/env bash
# scripts/down against scripts/up's single-node cluster: the pods are stopped the way
# Kubernetes stops them (evicted by the kernlet.io/down taint: preStop hooks run), a pod
# that tolerates every taint is killed once scripts/up has stopped, nothing is left in the
# agent's cgroup subtree or mounted under the data dir; the next scripts/up on the same
# data dir clears the taint and the Deployment's pods run again. And the refusals: no such
# data dir, and pods left running without scripts/up (unless --force).
source "$(dirname "$0")/agent_lib.sh"
start_cluster

marks="$workdir/marks"
mkdir -p "$marks"
pod_spec() {  # pod_spec EXTRA: a pod spec whose preStop leaves a mark named after the pod
  cat <<EOF
      terminationGracePeriodSeconds: 5
      $1
      volumes: [{name: marks, hostPath: {path: $marks, type: Directory}}]
      containers:
      - name: main
        image: $BUSYBOX
        command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
        volumeMounts: [{name: marks, mountPath: /marks}]
        lifecycle: {preStop: {exec: {command: ["sh", "-c", "echo stopped > /marks/\$(hostname)"]}}}
EOF
}
kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
$(pod_spec "")
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
$(pod_spec "" | sed 's/^    //')
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
$(pod_spec "tolerations: [{operator: Exists}]" | sed 's/^    //')
EOF
running() { [ "$(kc 1.33 get pods --field-selector status.phase=Running -o name | wc -l)" -eq 4 ]; }
wait_until 90 running || true
expect_eq "four pods Running" "4" "$(kc 1.33 get pods --field-selector status.phase=Running -o name | wc -l)"
web_pods=$(kc 1.33 get pods -l app=web -o jsonpath='{.items[*].metadata.name}')
stubborn_pid=$(kl_pod_pid "$cgroup_root" "$(jp stubborn '{.metadata.uid}')")

rc=0
err=$("$repo/scripts/down" --data-dir "$workdir/nope" 2>&1) || rc=$?
expect_eq "scripts/down refuses a dir that is not scripts/up's" "1" "$rc"
expect_contains "...naming it" "$workdir/nope is not a data dir of scripts/up" "$err"

rc=0
out=$("$repo/scripts/down" --data-dir "$DATA" --timeout 60 2>&1) || rc=$?
expect_eq "scripts/down succeeds" "0" "$rc"
expect_contains "...after evicting the node's pods" "evicting the pods of node $node" "$out"
expect_contains "...and keeps the cluster's state" "the cluster's state stays in" "$out"
if kill -0 "$up_pid" 2>/dev/null; then not_ok "scripts/up has stopped" "pid $up_pid still runs"; else ok "scripts/up has stopped"; fi
wait "$up_pid" 2>/dev/null || true
marked=""
for p in $web_pods solo; do [ -f "$marks/$p" ] && marked+="$p "; done
expect_eq "every evicted pod ran its preStop hook (a graceful stop)" "$web_pods solo " "$marked"
expect_eq "the pod that tolerates every taint was not evicted (no preStop)" "no" "$([ -f "$marks/stubborn" ] && echo yes || echo no)"
# Running: the pid exists and is not a zombie (one killed whose new parent has not reaped it
# yet is dead all the same).
running_pid() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
if [ -z "$stubborn_pid" ] || running_pid "$stubborn_pid"; then
  not_ok "...but its process was killed" "pid '${stubborn_pid}' (empty: not found before the stop) alive"
else ok "...but its process was killed (pid $stubborn_pid)"; fi
expect_eq "the agent's cgroup subtree is gone" "no" "$([ -d "$cgroup_root" ] && echo yes || echo no)"
expect_eq "nothing is mounted under the data dir" "0" "$(grep -cF " $(cd "$DATA" && pwd -P)/" /proc/self/mountinfo || true)"

# Pods left running without scripts/up: refused, unless --force.
"$repo/scripts/up" --bin "$KERNLET_BIN" --data-dir "$DATA" --listen "127.0.0.1:$PORT" \
  --node-name "$node" --agent-port "$AGENT_PORT" --cgroup-root "$cgroup_root" \
  --pod-logs-dir "$workdir/pod-logs" --network none >"$workdir/up2.log" 2>&1 &
up_pid=$!
ready() { grep -q "is Ready" "$workdir/up2.log"; }
wait_until 60 ready || true
expect_contains "scripts/up starts again on the same data dir" "is Ready" "$(cat "$workdir/up2.log")"
expect_eq "...and clears the kernlet.io/down taint" "no" \
  "$(kc 1.33 get node "$node" -o jsonpath='{.spec.taints[*].key}' | grep -qw kernlet.io/down && echo yes || echo no)"
web_running() { [ "$(kc 1.33 get pods -l app=web --field-selector status.phase=Running -o name | wc -l)" -eq 2 ]; }
wait_until 60 web_running || true
expect_eq "...the Deployment's two pods run again" "2" "$(kc 1.33 get pods -l app=web --field-selector status.phase=Running -o name | wc -l)"
expect_eq "...the evicted bare pod does not come back" "" "$(kc 1.33 get pod solo -o name 2>/dev/null)"
# Ctrl-C: scripts/up stops the agent, which leaves its pods running, as the kubelet does.
kill -TERM "$up_pid"  # (a background job of a script ignores SIGINT; TERM takes the same path)
wait "$up_pid" 2>/dev/null || true
rc=0
err=$("$repo/scripts/down" --data-dir "$DATA" 2>&1) || rc=$?
expect_eq "without scripts/up, scripts/down refuses to kill running pods" "1" "$rc"
expect_contains "...and says what to do" "pass --force" "$err"
rc=0
out=$("$repo/scripts/down" --data-dir "$DATA" --force --purge 2>&1) || rc=$?
expect_eq "--force --purge kills them and removes the data dir" "0" "$rc"
expect_eq "...the subtree is gone" "no" "$([ -d "$cgroup_root" ] && echo yes || echo no)"
expect_eq "...the data dir is gone" "no" "$([ -d "$DATA" ] && echo yes || echo no)"
finish_cluster
