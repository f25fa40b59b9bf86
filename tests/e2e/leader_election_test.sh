#!/usr/bin/env bash
# --leader-elect: kernlet-control runs its controllers only while it holds the Lease
# kube-system/kube-controller-manager (and the scheduler under kube-scheduler). A second
# candidate (this script, writing the Lease as another holder the way a standby's
# elector would after winning) takes the lease away: the controllers stop; when it
# releases the lease, kernlet-control takes it back and they run again.
source "$(dirname "$0")/lib.sh"
start_control --leader-elect --leader-elect-lease-duration 3s --leader-elect-renew-deadline 2s \
  --leader-elect-retry-period 500ms

lease=/apis/coordination.k8s.io/v1/namespaces/kube-system/leases
holder() { kc 1.33 -n kube-system get lease "$1" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }
for _ in $(seq 1 100); do [ -n "$(holder kube-controller-manager)" ] && [ -n "$(holder kube-scheduler)" ] && break; sleep 0.1; done
me=$(holder kube-controller-manager)
expect_contains "kernlet-control holds kube-controller-manager" "_" "$me"
expect_contains "and kube-scheduler" "_" "$(holder kube-scheduler)"
expect_eq "with the configured duration" "3" \
  "$(kc 1.33 -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.leaseDurationSeconds}')"

rs_count() { kc 1.33 get rs -l "app=$1" -o name | wc -l; }
kc 1.33 create deployment first --image=nginx >/dev/null
for _ in $(seq 1 100); do [ "$(rs_count first)" -eq 1 ] && break; sleep 0.1; done
expect_eq "the leader's deployment controller makes a ReplicaSet" "1" "$(rs_count first)"

# The other candidate wins: it writes itself as holder and keeps renewing.
intruder() {
  while :; do
    now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    curl_admin PATCH "$lease/kube-controller-manager" -H 'Content-Type: application/merge-patch+json' \
      -d "{\"spec\":{\"holderIdentity\":\"standby\",\"renewTime\":\"$now\",\"leaseDurationSeconds\":3}}" >/dev/null
    sleep 0.3
  done
}
intruder &
intruder_pid=$!
trap 'kill $intruder_pid 2>/dev/null || true; wait $intruder_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do grep -q "kube-controller-manager: lost the lease, stopping" "$workdir/control.log" && break; sleep 0.1; done
expect_contains "kernlet-control steps down within the renew deadline" "lost the lease" \
  "$(grep kube-controller-manager "$workdir/control.log" | tail -3)"
kc 1.33 create deployment second --image=nginx >/dev/null
# A negative check needs a window: the controllers would act within a second.
sleep 2
expect_eq "while another holds the lease, nothing makes a ReplicaSet" "0" "$(rs_count second)"
expect_contains "the scheduler's lease is still ours (a lease per component)" "_" "$(holder kube-scheduler)"

# The other candidate gives the lease up: kernlet-control takes it and the controllers run.
kill $intruder_pid; wait $intruder_pid 2>/dev/null || true
curl_admin PATCH "$lease/kube-controller-manager" -H 'Content-Type: application/merge-patch+json' \
  -d '{"spec":{"holderIdentity":""}}' >/dev/null
for _ in $(seq 1 100); do [ "$(rs_count second)" -eq 1 ] && break; sleep 0.1; done
expect_eq "once released, kernlet-control leads again and the ReplicaSet appears" "1" "$(rs_count second)"
expect_contains "it holds the lease again" "_" "$(holder kube-controller-manager)"
expect_eq "taking it back counts as a transition" "1" \
  "$(kc 1.33 -n kube-system get lease kube-controller-manager -o jsonpath='{.spec.leaseTransitions}')"
finish
