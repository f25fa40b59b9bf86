#!/usr/bin/env bash
# e2e: the seed's workload examples on a real 3-node cluster (scripts/cluster up --nodes 3,
# three kernlet-agents running real pods), driven with the real kubectl:
#  - a Deployment: create, scale, `set image` -> a rolling update during which never more
#    than maxUnavailable pods are unavailable nor more than maxSurge extra (every pod event
#    of the rollout replayed), `rollout undo` brings the old image back, on processes that
#    really run;
#  - a Job with completions=5, parallelism=2 completes, never more than 2 pods at once;
#  - a DaemonSet lands one running pod on every node;
#  - a CronJob fires and its Job's pod succeeds;
#  - auto-repair: one node's agent is killed; the node goes Unknown and gets the
#    unreachable taint; its Deployment pods are evicted (tolerationSeconds 2) and replaced
#    by Running pods on the two other nodes.
# The node monitor grace period is 4 s (--control-flag) and the agents' Leases last 4 s,
# renewed every second (--agent-flag). Everything is removed on exit.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the workloads cluster e2e test" ip nsenter python3
cluster_init "w$(($$ % 100000))"

# ---- up --------------------------------------------------------------------------------
cluster_up 3 --control-flag --node-monitor-grace-period=4s \
  --agent-flag --node-lease-duration-seconds=4
tag=$(kl_busybox_tag)
img1="busybox:$tag"
img2="busybox:$tag-rollout"
# The second image is the same busybox under another name, imported on every node before
# anything refers to it (the tests' images are built locally: this host has no registry).
for d in "$data"/node[0-9]*/; do
  "$KERNLET_BIN/kernlet-runtime" --root "$d" images import "$data/images/busybox" \
    --ref "docker.io/library/$img2" >/dev/null
done
n1="$cname-node1"; n2="$cname-node2"; n3="$cname-node3"

# ---- Deployment: rolling update within maxUnavailable, and undo -------------------------
cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: app, image: "$img1", command: [sh, -c, "exec sleep 100000"]}
YAML
rollout() { k rollout status deployment/web --timeout=120s 2>&1 | tail -1; }
expect_eq "a Deployment rolls out on real agents" 'deployment "web" successfully rolled out' "$(rollout)"
k scale deployment web --replicas=4 >/dev/null
expect_eq "scaled to 4" 'deployment "web" successfully rolled out' "$(rollout)"
running_images() {
  k get pods -l app=web --field-selector status.phase=Running \
    -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort | uniq -c | xargs
}
expect_eq "four pods Running" "4 $img1" "$(running_images)"

# Watch the pods through the whole rollout and replay the events afterwards: every state
# the API went through is seen, however fast the rollout. A pod counts as available when it
# is Ready and not terminating. (kubectl without kc's --request-timeout, which would end the watch.)
"$KUBECTL_DIR/kubectl.1.33" get pods -l app=web --watch --output-watch-events -o json >"$workdir/rollout-events" 2>/dev/null &
watcher=$!
watch_has_all() { [ "$(grep -c '"type": "ADDED"' "$workdir/rollout-events")" -ge 4 ]; }
wait_until 30 watch_has_all || true
k set image deployment/web "app=$img2" >/dev/null
out=$(rollout)
new_running() { [ "$(running_images)" = "4 $img2" ]; }
wait_until 60 new_running || true
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
expect_eq "set image rolls out" 'deployment "web" successfully rolled out' "$out"
if new_running; then ok "every Running pod has the new image"; else
  not_ok "every Running pod has the new image" "$(running_images)"; fi
replay=$(python3 - "$workdir/rollout-events" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, i, events = json.JSONDecoder(), 0, []
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    ev, i = dec.raw_decode(text, i)
    events.append(ev)
pods, lo, hi = {}, None, None
for n, ev in enumerate(events):
    o = ev["object"]
    name = o["metadata"]["name"]
    if ev["type"] == "DELETED":
        pods.pop(name, None)
    else:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in o.get("status", {}).get("conditions", []))
        pods[name] = (ready, "deletionTimestamp" in o["metadata"])
    if n + 1 < 4:  # the initial list: four ADDED events
        continue
    avail = sum(1 for r, d in pods.values() if r and not d)
    alive = sum(1 for r, d in pods.values() if not d)
    lo = avail if lo is None else min(lo, avail)
    hi = alive if hi is None else max(hi, alive)
print(len(events), lo, hi)
PY
)
read -r n_events min_avail max_alive <<<"$replay"
if [ "${n_events:-0}" -gt 4 ] && [ "${min_avail:-0}" -ge 3 ]; then
  ok "never more than maxUnavailable=1 of 4 unavailable during the rollout ($n_events events, min available $min_avail)"
else
  not_ok "never more than maxUnavailable=1 of 4 unavailable during the rollout" "events: $n_events, min available: $min_avail"
fi
if [ "${max_alive:-9}" -le 5 ]; then
  ok "never more than maxSurge=1 extra pod (max $max_alive not terminating)"
else
  not_ok "never more than maxSurge=1 extra pod" "max pods not terminating: $max_alive"
fi
k rollout undo deployment/web >/dev/null
expect_eq "rollout undo rolls out" 'deployment "web" successfully rolled out' "$(rollout)"
old_running() { [ "$(running_images)" = "4 $img1" ]; }
if wait_until 60 old_running; then ok "undo brings the old image back on every Running pod"; else
  not_ok "undo brings the old image back on every Running pod" "$(running_images)"; fi
expect_eq "undo revives the first ReplicaSet (two in all, not a third)" 2 \
  "$(k get rs -l app=web -o name | wc -l | tr -d ' ')"
# The pods are real: each one's process runs in its node's pod cgroup subtree.
pid_of_first=$(kl_pod_pid "$(kl_cgroup2_mount)/$prefix" \
  "$(k get pods -l app=web -o jsonpath='{.items[0].metadata.uid}')" || true)
if [ -n "$pid_of_first" ] && [ -d "/proc/$pid_of_first" ]; then ok "a Deployment pod is a real process"; else
  not_ok "a Deployment pod is a real process" "no process found for $(k get pods -l app=web -o name | head -1)"; fi

# ---- Job: completions 5, parallelism 2 --------------------------------------------------
cat <<YAML | k apply -f - >/dev/null
apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - {name: work, image: "$img1", command: [sh, -c, "sleep 1; echo done"]}
YAML
job_samples="$workdir/job-active"
(
  while :; do
    k get pods -l job-name=five --field-selector status.phase=Running -o name 2>/dev/null | wc -l
    sleep 0.2
  done
) >"$job_samples" &
job_sampler=$!
complete() { [ "$(k get job five -o 'jsonpath={.status.conditions[?(@.type=="Complete")].status}')" = True ]; }
if wait_until 180 complete; then ok "a Job with completions=5, parallelism=2 completes"; else
  not_ok "a Job with completions=5, parallelism=2 completes" "$(k get job five -o jsonpath='{.status}')"; fi
kill "$job_sampler" 2>/dev/null || true
wait "$job_sampler" 2>/dev/null || true
expect_eq "... with 5 succeeded pods" "5" "$(k get job five -o jsonpath='{.status.succeeded}')"
max_active=$(sort -n "$job_samples" | tail -1)
if [ "${max_active:-9}" -le 2 ]; then ok "... never more than 2 pods running at once (max seen $max_active)"; else
  not_ok "... never more than 2 pods running at once" "max seen: $max_active"; fi
expect_contains "kubectl logs job/five reads a finished pod" "done" "$(k logs job/five 2>&1)"

# ---- DaemonSet: one pod per node -------------------------------------------------------
cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agentd}
spec:
  selector: {matchLabels: {app: agentd}}
  template:
    metadata: {labels: {app: agentd}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: d, image: "$img1", command: [sh, -c, "exec sleep 100000"]}
YAML
ds_nodes() {
  k get pods -l app=agentd --field-selector status.phase=Running -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | xargs
}
want_nodes=$(printf '%s\n' "$n1" "$n2" "$n3" | sort | xargs)
ds_everywhere() { [ "$(ds_nodes)" = "$want_nodes" ]; }
if wait_until 90 ds_everywhere; then ok "a DaemonSet runs one pod on every node"; else
  not_ok "a DaemonSet runs one pod on every node" "want: $want_nodes" "got: $(ds_nodes)"; fi

# ---- CronJob: fires ---------------------------------------------------------------------
cat <<YAML | k apply -f - >/dev/null
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - {name: t, image: "$img1", command: [sh, -c, "echo tick"]}
YAML
cron_ran() {
  k get jobs -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].name}={.status.succeeded}{"\n"}{end}' | grep -q '^tick=1$'
}
if wait_until 150 cron_ran; then ok "a CronJob fires and its Job's pod succeeds"; else
  not_ok "a CronJob fires and its Job's pod succeeds" "$(k get cronjob,jobs 2>&1)"; fi
k delete cronjob tick >/dev/null

# ---- auto-repair: a node's agent dies ---------------------------------------------------
# The victim: the node running most web pods (at least one).
victim=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | sort -rn | awk 'NR==1{print $2}')
victim_k=${victim##*node}
on_victim=$(k get pods -l app=web --field-selector "spec.nodeName=$victim" -o name | wc -l)
agent_pid=$(awk -v n="node$victim_k" '$1 == "pid" && $2 == n { print $3 }' "$data/state")
if [ -z "$agent_pid" ] || ! kill -0 "$agent_pid" 2>/dev/null; then
  not_ok "found node $victim's agent" "state: $(cat "$data/state")"
  fail_dump; finish
fi
kill -KILL "$agent_pid"
ok "killed the agent of $victim ($on_victim web pods there)"
unknown() { [ "$(k get node "$victim" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = Unknown ]; }
if wait_until 60 unknown; then ok "the node becomes Ready=Unknown"; else
  not_ok "the node becomes Ready=Unknown" "$(k get node "$victim" -o jsonpath='{.status.conditions}')"; fi
tainted() { k get node "$victim" -o 'jsonpath={.spec.taints[*].key}' | grep -q node.kubernetes.io/unreachable; }
if wait_until 30 tainted; then ok "... and gets the unreachable NoExecute taint"; else
  not_ok "... and gets the unreachable NoExecute taint" "$(k get node "$victim" -o jsonpath='{.spec.taints}')"; fi
# Healed: 4 Running web pods, none on the victim (its old ones stay Terminating there:
# no agent confirms their end, as with the kubelet).
healed() {
  local running
  running=$(k get pods -l app=web --field-selector status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.spec.nodeName}{"\n"}{end}' | grep '^|' | cut -d'|' -f2)
  [ "$(echo "$running" | grep -c .)" -eq 4 ] && ! echo "$running" | grep -qx "$victim"
}
if wait_until 120 healed; then ok "its pods are replaced by Running pods on the other nodes"; else
  not_ok "its pods are replaced by Running pods on the other nodes" "$(k get pods -l app=web -o wide 2>&1)"
  fail_dump
fi
expect_contains "kubectl rollout status agrees" "successfully rolled out" "$(rollout)"

cluster_finish
