#!/usr/bin/env bash
# Restart safety on a real node (scripts/up's single-node cluster, real kubectl): kill -9 of
# the agent and its restart leave every container running and restart none, and the status
# converges within 2 s — including a container that exited while the agent was down, with
# its real exit code — and a pod with a readiness probe stays Ready throughout (no status
# version says otherwise, so its Services never lose it).
source "$(dirname "$0")/agent_lib.sh"
start_cluster
marks="$workdir/marks"
mkdir -p "$marks"

kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  containers:
  - {name: a, image: $BUSYBOX, command: ["sh", "-c", "while true; do sleep 1; done", "steady-$$-a"]}
  - {name: b, image: $BUSYBOX, command: ["sh", "-c", "while true; do echo b; sleep 1; done", "steady-$$-b"]}
  - name: c
    image: $BUSYBOX
    command: ["sh", "-c", "while true; do sleep 1; done", "steady-$$-c"]
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 5}
---
apiVersion: v1
kind: Pod
metadata: {name: exits}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: $BUSYBOX
    # Runs until the test drops /marks/go, then exits 7.
    command: ["sh", "-c", "while [ ! -f /marks/go ]; do sleep 0.05; done; exit 7"]
    volumeMounts:
    - {name: marks, mountPath: /marks}
  volumes:
  - name: marks
    hostPath: {path: $marks, type: Directory}
EOF
kc 1.33 wait --for=condition=Ready pod/steady pod/exits --timeout=60s >/dev/null 2>&1 || true
expect_eq "both pods Running" "Running Running" "$(jp steady '{.status.phase}') $(jp exits '{.status.phase}')"
ids() { jp steady '{range .status.containerStatuses[*]}{.containerID}/{.restartCount}/{.state.running.startedAt} {end}'; }
before=$(ids)
# The host pids of the running pod's container processes: a restart would change them.
pids() { pgrep -f "done steady-$$-[abc]\$" | sort | xargs; }
pids_before=$(pids)
rv_before=$(jp steady '{.metadata.resourceVersion}')

# Hold scripts/up (it restarts a dead agent), kill the agent, let a container exit meanwhile.
agent_pid=$(cat "$DATA/agent.pid")
kill -STOP "$up_pid"
kill -KILL "$agent_pid"
# (scripts/up is stopped and cannot reap it: dead means gone or a zombie.)
agent_dead() { ! kill -0 "$agent_pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$agent_pid/stat" 2>/dev/null)" = Z ]; }
wait_until 10 agent_dead
touch "$marks/go"
# The container's processes are gone once its cgroup leaf is empty of them: wait for the
# shell loop to see the file (it polls every 50 ms) by watching for its exit in /proc.
exits_gone() { ! pgrep -f 'while \[ ! -f /marks/go \]' >/dev/null; }
wait_until 10 exits_gone
expect_eq "the container exited while the agent was down" "yes" "$(exits_gone && echo yes)"
kill -CONT "$up_pid"

# scripts/up starts the agent again; from then on the status must converge within 2 s.
wait_until 10 sh -c "[ \"\$(cat '$DATA/agent.pid')\" != $agent_pid ]"
restarted=$(date +%s.%N)
converged=""
if wait_until 5 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get pod exits -o 'jsonpath={.status.phase}')\" = Failed ]"; then
  converged=$(date +%s.%N)
fi
expect_eq "the exited container's pod is Failed" "Failed" "$(jp exits '{.status.phase}')"
expect_eq "... with the container's real exit code" "7" "$(jp exits '{.status.containerStatuses[0].state.terminated.exitCode}')"
if [ -n "$converged" ]; then
  expect_eq "status converged within 2 s of the restart" "yes" \
    "$(awk -v a="$restarted" -v b="$converged" 'BEGIN { print (b - a <= 2.0) ? "yes" : "took " b - a " s" }')"
else
  not_ok "status converged within 2 s of the restart" "not within 5 s"
fi
expect_eq "no container restarted, none replaced" "$before" "$(ids)"
expect_eq "the same processes still run" "$pids_before" "$(pids)"
expect_eq "the running pod stays Running and Ready" "Running True" \
  "$(jp steady '{.status.phase}') $(jp steady '{.status.conditions[?(@.type=="Ready")].status}')"
expect_contains "its logs go on after the restart" "b" "$(kc 1.33 logs steady -c b --tail=1)"
# Every version of the pod written since before the kill, from a watch: Ready all along.
versions=$(kc 1.33 get --raw "/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dsteady&resourceVersion=$rv_before&timeoutSeconds=1")
expect_eq "the pod with a readiness probe never reported not ready across the restart" "ok" \
  "$(python3 -c '
import json, sys
bad = []
for line in sys.stdin:
    if not line.strip(): continue
    ev = json.loads(line)
    conds = {c["type"]: c["status"] for c in ev["object"].get("status", {}).get("conditions", [])}
    if conds.get("Ready") != "True": bad.append(ev["object"]["metadata"]["resourceVersion"] + ":" + conds.get("Ready", "-"))
print("ok" if not bad else "not ready in versions " + " ".join(bad))' <<<"$versions")"

kc 1.33 delete pod steady exits --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
expect_eq "every pod deleted" "" "$(kc 1.33 get pods -o name)"
finish_cluster
