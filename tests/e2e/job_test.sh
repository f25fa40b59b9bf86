#!/usr/bin/env bash
# Jobs as users drive them, through kernlet-control's Job and TTL-after-finished
# controllers: kubectl create job, completions with parallelism, Indexed jobs, backoffLimit
# with the back-off between retries, podFailurePolicy, activeDeadlineSeconds,
# suspend/resume, ttlSecondsAfterFinished. Nodes are API objects; tools/fake_kubelet.py
# runs the pods and ends them as their command says ("sleep S; exit N").
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

jget() { kc 1.33 get job "$1" -o jsonpath="$2"; }
# wait_job NAME CONDITION SECONDS: until the condition is True (kubectl wait does the polling).
wait_job() { kc 1.33 wait --for="condition=$2" "job/$1" --timeout="$3s" >/dev/null 2>&1 && echo yes || echo no; }

# A one-pod job from kubectl create job.
kc 1.33 create job hello --image=busybox -- sh -c 'sleep 1; exit 0' >/dev/null
expect_eq "kubectl create job completes" "yes" "$(wait_job hello complete 30)"
expect_eq "...with one success" "1" "$(jget hello '{.status.succeeded}')"
expect_eq "...the SuccessCriteriaMet condition before Complete" "True" \
  "$(jget hello '{.status.conditions[?(@.type=="SuccessCriteriaMet")].status}')"
expect_contains "...a completion time" "T" "$(jget hello '{.status.completionTime}')"
pod=$(kc 1.33 get pods -l batch.kubernetes.io/job-name=hello -o jsonpath='{.items[0].metadata.name}')
expect_eq "the pod carries job-name and controller-uid labels" "hello $(jget hello '{.metadata.uid}')" \
  "$(kc 1.33 get pod "$pod" -o jsonpath='{.metadata.labels.job-name} {.metadata.labels.batch\.kubernetes\.io/controller-uid}')"
expect_eq "the tracking finalizer is gone once counted" "" "$(kc 1.33 get pod "$pod" -o jsonpath='{.metadata.finalizers}')"
expect_contains "kubectl get job shows 1/1" "1/1" "$(kc 1.33 get job hello)"

# completions=5, parallelism=2: never more than two at once. Every pod event from before the
# Job exists is watched (from the list's resourceVersion, so nothing is missed however late the
# watch connects) and replayed afterwards: a pod is active from its creation until it ends
# (Succeeded/Failed) or starts terminating, as the Job controller counts it.
rv=$(kc 1.33 get pods -o jsonpath='{.metadata.resourceVersion}')
"$KUBECTL_DIR/kubectl.1.33" get --raw \
  "/api/v1/namespaces/default/pods?watch=1&labelSelector=batch.kubernetes.io/job-name%3Dbatch&resourceVersion=$rv" \
  >"$workdir/batch-events" 2>"$workdir/batch-watch.err" &
watcher=$!
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "sleep 1; exit 0"]}]
YAML
expect_eq "completions=5 parallelism=2 completes" "yes" "$(wait_job batch complete 60)"
expect_eq "...with five successes" "5" "$(jget batch '{.status.succeeded}')"
replay_batch() {
  python3 - "$workdir/batch-events" <<'PY'
import json, sys
pods, most, done = {}, 0, set()
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    ev = json.loads(line)
    o = ev["object"]
    name, phase = o["metadata"]["name"], o.get("status", {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        done.add(name)
    active = ev["type"] != "DELETED" and phase not in ("Succeeded", "Failed") \
        and "deletionTimestamp" not in o["metadata"]
    if active:
        pods[name] = True
    else:
        pods.pop(name, None)
    most = max(most, len(pods))
print(len(done), most)
PY
}
# The watch may trail the Job's status by a few events: wait for all five pods' ends.
for _ in $(seq 1 100); do
  read -r ended max_active <<<"$(replay_batch)"
  [ "${ended:-0}" -ge 5 ] && break
  sleep 0.1
done
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
expect_eq "...the watch saw all five pods end" "5" "${ended:-0}"
expect_eq "...with at most two pods active at a time (and two at some point)" "2" "${max_active:-0}"
expect_eq "...five pods ran" "5" "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=batch -o name | wc -l)"

# Indexed: one pod per index, the index in annotation, label, hostname and env.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "sleep 1; exit 0"]}]
YAML
expect_eq "an Indexed job completes" "yes" "$(wait_job idx complete 30)"
expect_eq "...all indexes completed" "0-2" "$(jget idx '{.status.completedIndexes}')"
expect_eq "...pods annotated with their index" "0 1 2" \
  "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=idx -o jsonpath='{range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}{"\n"}{end}' | sort | xargs)"
expect_eq "...hostnames <job>-<index>" "idx-0 idx-1 idx-2" \
  "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=idx -o jsonpath='{range .items[*]}{.spec.hostname}{"\n"}{end}' | sort | xargs)"
expect_eq "...JOB_COMPLETION_INDEX from the downward API" \
  "metadata.annotations['batch.kubernetes.io/job-completion-index']" \
  "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=idx -o jsonpath='{.items[0].spec.containers[0].env[?(@.name=="JOB_COMPLETION_INDEX")].valueFrom.fieldRef.fieldPath}')"

# backoffLimit 1: a pod fails, the replacement waits the 10 s back-off, fails, the Job fails.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "exit 3"]}]
YAML
expect_eq "a failing job fails after backoffLimit" "yes" "$(wait_job flaky failed 40)"
expect_eq "...reason BackoffLimitExceeded" "BackoffLimitExceeded" \
  "$(jget flaky '{.status.conditions[?(@.type=="Failed")].reason}')"
expect_eq "...after two failures" "2" "$(jget flaky '{.status.failed}')"
gap=$(kc 1.33 get pods -l batch.kubernetes.io/job-name=flaky -o jsonpath='{range .items[*]}{.metadata.creationTimestamp}{"\n"}{end}' |
  sort | python3 -c 'import sys,datetime as d; t=[d.datetime.fromisoformat(l.strip().replace("Z","+00:00")) for l in sys.stdin if l.strip()]; print(int((t[1]-t[0]).total_seconds()) if len(t)==2 else -1)')
if [ "$gap" -ge 10 ]; then ok "the retry waited the 10 s back-off ($gap s)"; else not_ok "the retry waited the 10 s back-off" "gap: $gap"; fi

# podFailurePolicy: exit code 42 fails the Job at once, without retries.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: policy}
spec:
  backoffLimit: 6
  podFailurePolicy:
    rules: [{action: FailJob, onExitCodes: {containerName: w, operator: In, values: [42]}}]
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "exit 42"]}]
YAML
expect_eq "a FailJob rule fails the job" "yes" "$(wait_job policy failed 20)"
expect_eq "...reason PodFailurePolicy" "PodFailurePolicy" "$(jget policy '{.status.conditions[?(@.type=="Failed")].reason}')"
expect_contains "...naming the container and exit code" "Container w for pod default/policy-" \
  "$(jget policy '{.status.conditions[?(@.type=="Failed")].message}')"
expect_eq "...after one failure" "1" "$(jget policy '{.status.failed}')"

# activeDeadlineSeconds: a long pod is stopped and the Job fails with DeadlineExceeded.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: slow}
spec:
  activeDeadlineSeconds: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "sleep 600"]}]
YAML
expect_eq "activeDeadlineSeconds fails the job" "yes" "$(wait_job slow failed 20)"
expect_eq "...reason DeadlineExceeded" "DeadlineExceeded" "$(jget slow '{.status.conditions[?(@.type=="Failed")].reason}')"
for _ in $(seq 1 50); do [ -z "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=slow -o name)" ] && break; sleep 0.2; done
expect_eq "...its pod is gone" "" "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=slow -o name)"

# suspend: no pods until resumed.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: later}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "sleep 1; exit 0"]}]
YAML
expect_eq "a suspended job says so" "yes" "$(wait_job later suspended 20)"
expect_eq "...and has no pods" "" "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=later -o name)"
kc 1.33 patch job later --type=merge -p '{"spec":{"suspend":false}}' >/dev/null
expect_eq "a resumed job completes" "yes" "$(wait_job later complete 30)"
expect_eq "...Suspended=False JobResumed" "False JobResumed" \
  "$(jget later '{.status.conditions[?(@.type=="Suspended")].status} {.status.conditions[?(@.type=="Suspended")].reason}')"

# ttlSecondsAfterFinished: the finished Job and its pods are deleted.
kc 1.33 apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: shortlived}
spec:
  ttlSecondsAfterFinished: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "exit 0"]}]
YAML
gone=no
for _ in $(seq 1 100); do
  if ! kc 1.33 get job shortlived >/dev/null 2>&1; then gone=yes; break; fi
  sleep 0.2
done
expect_eq "ttlSecondsAfterFinished deletes the finished job" "yes" "$gone"
for _ in $(seq 1 50); do [ -z "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=shortlived -o name)" ] && break; sleep 0.2; done
expect_eq "...and its pods" "" "$(kc 1.33 get pods -l batch.kubernetes.io/job-name=shortlived -o name)"

finish
