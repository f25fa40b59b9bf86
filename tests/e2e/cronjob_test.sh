#!/usr/bin/env bash
# CronJobs through kernlet-control's CronJob controller: kubectl create cronjob, a run it
# owes (its lastScheduleTime set back two minutes and its schedule moved to the minute in
# between, so the controller catches up now and no other run falls inside the test), the
# Job's name, status.active and lastSuccessfulTime,
# kubectl create job --from=cronjob, suspend. Schedule arithmetic, concurrency policies
# and history limits are unit-tested with an injected clock (cronjob_sync_test.cc).
source "$(dirname "$0")/lib.sh"
start_control

printf 'apiVersion: v1\nkind: Node\nmetadata: {name: node-a, labels: {kubernetes.io/hostname: node-a}}\n' |
  kc 1.33 apply -f - >/dev/null
curl_admin PATCH "/api/v1/nodes/node-a/status" -H 'Content-Type: application/merge-patch+json' \
  -d '{"status":{"allocatable":{"cpu":"8","memory":"16Gi","pods":"110"},"capacity":{"cpu":"8","memory":"16Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
pki="$workdir/control/pki"
python3 "$(dirname "$0")/tools/fake_kubelet.py" "https://127.0.0.1:$PORT" "$pki/ca.crt" "$pki/admin.crt" \
  "$pki/admin.key" node-a >"$workdir/kubelet.log" 2>&1 &
kubelet_pid=$!
trap 'kill $kubelet_pid 2>/dev/null || true; wait $kubelet_pid 2>/dev/null || true; cleanup' EXIT

# Hourly, half an hour from now: the CronJob runs only when the test makes it owe a run.
# (An every-minute schedule made a second, real run whenever the test crossed a minute.)
hourly="$(( ($(date -u +%-M) + 30) % 60 )) * * * *"
kc 1.33 create cronjob tick --image=busybox --schedule="$hourly" -- sh -c 'sleep 1; exit 0' >/dev/null
expect_contains "kubectl get cronjob shows the schedule" "$hourly" "$(kc 1.33 get cronjob tick)"

# Run on demand: the Job is the CronJob's (owner reference) and completes.
kc 1.33 create job manual --from=cronjob/tick >/dev/null
expect_eq "create job --from=cronjob makes a job the cronjob owns" "CronJob/tick" \
  "$(kc 1.33 get job manual -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')"
expect_eq "...which completes" "0" "$(kc 1.33 wait --for=condition=complete job/manual --timeout=30s >/dev/null 2>&1; echo $?)"

# A missed run: lastScheduleTime two minutes back and the schedule moved to the minute in
# between, so exactly one run is due now and the next is an hour away. (Status first: with
# the old schedule nothing is due, and the new one then counts from the patched time.)
now=$(date -u +%s)
past=$(date -u -d "@$(( now - 120 ))" +%Y-%m-%dT%H:%M:00Z)
kc 1.33 patch cronjob tick --subresource=status --type=merge -p "{\"status\":{\"lastScheduleTime\":\"$past\"}}" >/dev/null
kc 1.33 patch cronjob tick --type=merge -p "{\"spec\":{\"schedule\":\"$(date -u -d "@$(( now - 60 ))" +%-M) * * * *\"}}" >/dev/null
scheduled=""
for _ in $(seq 1 100); do
  scheduled=$(kc 1.33 get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="tick")]}{.metadata.name}{"\n"}{end}' | grep -v manual | head -1)
  [ -n "$scheduled" ] && break
  sleep 0.2
done
expect_contains "the controller runs the missed schedule" "tick-" "$scheduled"
job_ts=$(kc 1.33 get job "$scheduled" -o jsonpath='{.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}')
minutes=$(( $(date -u -d "$job_ts" +%s) / 60 ))
expect_eq "...named <cronjob>-<scheduled minutes since the epoch>" "tick-$minutes" "$scheduled"
expect_eq "...for the one minute it owed" "$(date -u -d "@$(( now - 60 ))" +%Y-%m-%dT%H:%M:00Z)" "$job_ts"
expect_eq "...lastScheduleTime is that time" "$job_ts" "$(kc 1.33 get cronjob tick -o jsonpath='{.status.lastScheduleTime}')"
expect_eq "the scheduled job completes" "0" "$(kc 1.33 wait --for=condition=complete "job/$scheduled" --timeout=30s >/dev/null 2>&1; echo $?)"
# A deadline, not a count of polls: on a loaded machine each kubectl takes a while.
deadline=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  [ -n "$(kc 1.33 get cronjob tick -o jsonpath='{.status.lastSuccessfulTime}')" ] && break
  sleep 0.2
done
expect_contains "...lastSuccessfulTime is recorded" "T" "$(kc 1.33 get cronjob tick -o jsonpath='{.status.lastSuccessfulTime}')"
expect_eq "...and it left status.active" "" "$(kc 1.33 get cronjob tick -o jsonpath='{.status.active}')"

# Suspended: a missed run is not made up.
kc 1.33 patch cronjob tick --type=merge -p '{"spec":{"suspend":true}}' >/dev/null
expect_eq "kubectl get cronjob shows it suspended" "true" "$(kc 1.33 get cronjob tick -o jsonpath='{.spec.suspend}')"

# Deleting the CronJob takes its Jobs (garbage collector).
kc 1.33 delete cronjob tick >/dev/null
for _ in $(seq 1 100); do [ -z "$(kc 1.33 get jobs -o name)" ] && break; sleep 0.2; done
expect_eq "deleting the cronjob removes its jobs" "" "$(kc 1.33 get jobs -o name)"

finish
