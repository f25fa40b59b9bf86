#!/usr/bin/env bash
# Restarts and probes on a real node (scripts/up's single-node cluster, real kubectl): a
# crashing container goes to CrashLoopBackOff with a growing back-off, a failing liveness
# probe restarts its container, a readiness probe (exec and httpGet) drives the Ready
# condition both ways; `kubectl logs -p` reads the restarted container's previous run.
source "$(dirname "$0")/agent_lib.sh"
start_cluster
marks="$workdir/marks"
mkdir -p "$marks"

kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - {name: main, image: $BUSYBOX, command: ["sh", "-c", "echo crashing; exit 1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "n=\$((\$(cat /marks/live-runs 2>/dev/null || echo 0) + 1)); echo \$n > /marks/live-runs; echo live run \$n; touch /tmp/healthy; sleep 2; rm /tmp/healthy; while true; do sleep 1; done"]
    livenessProbe:
      exec: {command: ["test", "-f", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 2
    volumeMounts:
    - {name: marks, mountPath: /marks}
  volumes:
  - name: marks
    hostPath: {path: $marks, type: Directory}
---
apiVersion: v1
kind: Pod
metadata: {name: ready}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "while true; do sleep 1; done"]
    readinessProbe:
      exec: {command: ["test", "-f", "/marks/ready"]}
      periodSeconds: 1
    volumeMounts:
    - {name: marks, mountPath: /marks}
  volumes:
  - name: marks
    hostPath: {path: $marks, type: Directory}
---
apiVersion: v1
kind: Pod
metadata: {name: http}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/healthz && httpd -f -p 8080 -h /www"]
    ports:
    - {name: web, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /healthz, port: web}
      periodSeconds: 1
    livenessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
EOF

# --- CrashLoopBackOff -----------------------------------------------------------------------
waiting() { jp crash '{.status.containerStatuses[0].state.waiting.reason}'; }
if wait_until 40 sh -c "$KUBECTL_DIR/kubectl.1.33 get pod crash -o 'jsonpath={.status.containerStatuses[0].state.waiting.message}' | grep -q 'back-off 20s'"; then
  ok "the back-off grows: 10 s, then 20 s"
else
  not_ok "the back-off grows: 10 s, then 20 s" "message: $(jp crash '{.status.containerStatuses[0].state.waiting.message}')"
fi
expect_eq "a crashing container: CrashLoopBackOff" "CrashLoopBackOff" "$(waiting)"
expect_eq "restartCount counts the restarts" "yes" \
  "$([ "$(jp crash '{.status.containerStatuses[0].restartCount}')" -ge 2 ] && echo yes)"
expect_eq "lastState keeps the exit code" "1" "$(jp crash '{.status.containerStatuses[0].lastState.terminated.exitCode}')"
expect_contains "kubectl get shows CrashLoopBackOff" "CrashLoopBackOff" "$(kc 1.27 get pod crash)"
expect_contains "a BackOff event" "Back-off restarting failed container" \
  "$(kc 1.33 get events --field-selector involvedObject.name=crash -o 'jsonpath={.items[*].message}')"

# --- liveness -------------------------------------------------------------------------------
if wait_until 40 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod live -o 'jsonpath={.status.containerStatuses[0].restartCount}')\" -ge 1 ]"; then
  ok "a failing liveness probe restarts the container"
else
  not_ok "a failing liveness probe restarts the container" "status: $(jp live '{.status.containerStatuses[0]}')"
fi
expect_contains "an Unhealthy event names the probe" "Liveness probe failed" \
  "$(kc 1.33 get events --field-selector involvedObject.name=live -o 'jsonpath={.items[*].message}')"
expect_eq "the pod stays Running" "Running" "$(jp live '{.status.phase}')"
# kubectl logs -p: the instance before the current one (each run logs its number).
live_running() { [ -n "$(jp live '{.status.containerStatuses[0].state.running.startedAt}')" ]; }
restarts() { jp live '{.status.containerStatuses[0].restartCount}'; }
for _ in 1 2 3; do  # read both within one run (a restart in between: read again)
  wait_until 30 live_running
  before=$(restarts)
  current=$(kc 1.33 logs live 2>&1)
  previous=$(kc 1.33 logs live -p 2>&1)
  [ "$(restarts)" = "$before" ] && live_running && break
done
n=$(sed -n 's/^live run \([0-9]*\)$/\1/p' <<<"$current")
expect_eq "kubectl logs -p shows the previous instance's output" "live run $((${n:-0} - 1))" "$previous"
expect_eq "... kubectl logs the current one's" "live run ${n:-?}" "$current"

# --- readiness ------------------------------------------------------------------------------
cond() { jp "$1" '{.status.conditions[?(@.type=="Ready")].status}'; }
wait_until 30 phase_is ready Running
expect_eq "readiness failing: the pod is not Ready" "False" "$(cond ready)"
touch "$marks/ready"
if wait_until 20 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod ready -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"; then
  ok "readiness passing: Ready"
else
  not_ok "readiness passing: Ready" "got: $(cond ready)"
fi
rm -f "$marks/ready"
if wait_until 20 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod ready -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}')\" = False ]"; then
  ok "readiness failing again: not Ready"
else
  not_ok "readiness failing again: not Ready" "got: $(cond ready)"
fi
expect_eq "readiness never restarts" "0" "$(jp ready '{.status.containerStatuses[0].restartCount}')"

if wait_until 30 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod http -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"; then
  ok "an httpGet readiness probe on a named port: Ready"
else
  not_ok "an httpGet readiness probe on a named port: Ready" "got: $(cond http)"
fi
expect_eq "a passing tcpSocket liveness probe restarts nothing" "0" "$(jp http '{.status.containerStatuses[0].restartCount}')"

kc 1.33 delete pod crash live ready http --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
expect_eq "every pod deleted" "" "$(kc 1.33 get pods -o name)"
finish_cluster
