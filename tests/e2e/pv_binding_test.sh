#!/usr/bin/env bash
# PersistentVolumes and claims through kubectl, control plane only (no agent: binding,
# phases, protection and the scheduler's volume step are all API-side):
# a static PV and a claim bind both ways; a claim nothing can satisfy stays Pending with
# an Event; deleting a claim of a Retain volume leaves the volume Released; a claim used
# by a pod stays Terminating until the pod is gone (pvc-protection); the scheduler keeps a
# pod with a missing or unbound Immediate claim off every node, and places a pod with a
# WaitForFirstConsumer claim on the node of a local volume, which then binds.
source "$(dirname "$0")/lib.sh"
# No kubelet renews the node's Lease: keep it from being tainted unreachable.
start_control --node-monitor-grace-period 1h

# wait_for NAME WANT CMD...: runs CMD every 0.1 s (20 s at most) until it prints WANT;
# checks the last output.
wait_for() {
  local name=$1 want=$2; shift 2
  local got=""
  for _ in $(seq 1 200); do
    got=$("$@" 2>/dev/null || true)
    [ "$got" = "$want" ] && break
    sleep 0.1
  done
  expect_eq "$name" "$want" "$got"
}
# wait_gone NAME KIND OBJ: until kubectl get says NotFound.
wait_gone() {
  local name=$1 kind=$2 obj=$3 out=""
  for _ in $(seq 1 200); do
    out=$(kc 1.33 get "$kind" "$obj" 2>&1 || true)
    case "$out" in *NotFound*) break ;; esac
    sleep 0.1
  done
  expect_contains "$name" "NotFound" "$out"
}
phase() { kc 1.33 get "$1" "$2" -o jsonpath='{.status.phase}'; }
events_of() { kc 1.33 get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }

pv() {  # pv NAME SIZE [extra spec lines...]
  local name=$1 size=$2; shift 2
  {
    printf 'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: %s}\nspec:\n' "$name"
    printf '  capacity: {storage: %s}\n  accessModes: [ReadWriteOnce]\n  hostPath: {path: /tmp/%s}\n' "$size" "$name"
    for line in "$@"; do printf '  %s\n' "$line"; done
  } | kc 1.33 apply -f - >/dev/null
}
pvc() {  # pvc NAME SIZE [extra spec lines...]
  local name=$1 size=$2; shift 2
  {
    printf 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: %s}\nspec:\n' "$name"
    printf '  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: %s}}\n' "$size"
    for line in "$@"; do printf '  %s\n' "$line"; done
  } | kc 1.33 apply -f - >/dev/null
}
pod() {  # pod NAME CLAIM: a pod mounting the claim, tolerating every taint
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  tolerations: [{operator: Exists}]\n  containers: [{name: c, image: busybox, volumeMounts: [{name: d, mountPath: /d}]}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: %s}}]\n' \
    "$1" "$2" | kc 1.33 apply -f - >/dev/null
}

# ---- discovery ------------------------------------------------------------------------
res=$(kc 1.33 api-resources --api-group=storage.k8s.io -o name | sort | tr '\n' ' ')
expect_eq "storage.k8s.io serves csidrivers, csinodes, storageclasses, volumeattachments" \
  "csidrivers.storage.k8s.io csinodes.storage.k8s.io storageclasses.storage.k8s.io volumeattachments.storage.k8s.io " "$res"
printf 'apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: local.csi.kernlet.io}\nspec: {attachRequired: false}\n' |
  kc 1.33 apply -f - >/dev/null
expect_eq "a CSIDriver gets its defaults" "false Persistent ReadWriteOnceWithFSType" \
  "$(kc 1.33 get csidriver local.csi.kernlet.io -o jsonpath='{.spec.attachRequired} {.spec.volumeLifecycleModes[0]} {.spec.fsGroupPolicy}')"
expect_contains "kubectl explain knows the CSIDriver's fields" "attachRequired" "$(kc 1.33 explain csidriver.spec 2>&1)"
expect_contains "kubectl get csidrivers prints upstream's columns" "ATTACHREQUIRED   PODINFOONMOUNT   STORAGECAPACITY" \
  "$(kc 1.33 get csidrivers)"
bad=$(printf 'apiVersion: storage.k8s.io/v1\nkind: VolumeAttachment\nmetadata: {name: va}\nspec: {attacher: local.csi.kernlet.io, source: {}}\n' |
  kc 1.33 apply -f - 2>&1 || true)
expect_contains "a VolumeAttachment without node or source is refused" "spec.nodeName: Required value" "$bad"

# ---- static binding -------------------------------------------------------------------
pv pv-small 1Gi
pv pv-large 5Gi
pvc claim-a 500Mi
wait_for "the claim binds" "Bound" phase pvc claim-a
expect_eq "...to the smallest volume that fits" "pv-small" "$(kc 1.33 get pvc claim-a -o jsonpath='{.spec.volumeName}')"
wait_for "the volume is Bound" "Bound" phase pv pv-small
expect_eq "...with its claimRef" "default/claim-a" \
  "$(kc 1.33 get pv pv-small -o jsonpath='{.spec.claimRef.namespace}/{.spec.claimRef.name}')"
expect_eq "the claim carries bind-completed and its protection finalizer" "yes kubernetes.io/pvc-protection" \
  "$(kc 1.33 get pvc claim-a -o jsonpath='{.metadata.annotations.pv\.kubernetes\.io/bind-completed} {.metadata.finalizers[0]}')"
expect_eq "the volume carries pv-protection" "kubernetes.io/pv-protection" \
  "$(kc 1.33 get pv pv-small -o jsonpath='{.metadata.finalizers[0]}')"
out=$(kc 1.33 get pv,pvc)
expect_contains "kubectl get pv,pvc: the volume row" "1Gi        RWO            Retain           Bound       default/claim-a" "$out"
expect_contains "kubectl get pv,pvc: the claim row" "Bound    pv-small   1Gi        RWO" "$out"
expect_contains "kubectl get pv,pvc: the free volume" "Available" "$(kc 1.30 get pv pv-large)"

# ---- a claim nothing satisfies --------------------------------------------------------
pvc claim-big 100Gi
wait_for "a claim too large for every volume has an Event" \
  "FailedBinding: no persistent volumes available for this claim and no storage class is set" events_of claim-big
expect_eq "...and stays Pending" "Pending" "$(phase pvc claim-big)"
expect_contains "kubectl describe shows the Event" "no persistent volumes available for this claim" \
  "$(kc 1.27 describe pvc claim-big)"

# ---- Retain: the claim goes, the volume is Released and kept --------------------------
kc 1.33 delete pvc claim-a >/dev/null
wait_for "deleting the claim releases the Retain volume" "Released" phase pv pv-small
expect_contains "...which stays" "Released" "$(kc 1.33 get pv pv-small)"
pvc claim-c 500Mi
wait_for "a new claim does not take the Released volume" "pv-large" \
  kc 1.33 get pvc claim-c -o jsonpath='{.spec.volumeName}'

# ---- pvc-protection -------------------------------------------------------------------
pv pv-two 1Gi
pvc claim-b 1Gi
wait_for "claim-b binds" "Bound" phase pvc claim-b
pod user claim-b
kc 1.33 delete pvc claim-b --wait=false >/dev/null
wait_for "a claim in use by a pod is Terminating" "Terminating" \
  sh -c "$KUBECTL_DIR/kubectl.1.33 get pvc claim-b --no-headers | awk '{print \$2}'"
# Deleting an unused claim afterwards: the controller takes keys in the order the watch
# brings them and claim-c's removal needs a write and another watch event, so once it is
# gone claim-b's deletion has been judged too, and claim-b must still be there.
kc 1.33 delete pvc claim-c --wait=false >/dev/null
wait_gone "an unused claim goes at once" pvc claim-c
expect_contains "...while the used one is kept" "Terminating" "$(kc 1.33 get pvc claim-b 2>&1)"
kc 1.33 delete pod user --grace-period=0 --force >/dev/null 2>&1
wait_gone "the claim goes with the pod" pvc claim-b
wait_for "...and its volume is Released" "Released" phase pv pv-two

# ---- pv-protection --------------------------------------------------------------------
kc 1.33 delete pv pv-two --wait=false >/dev/null
wait_gone "a volume that is not bound is deleted" pv pv-two

# ---- the scheduler's volume step ------------------------------------------------------
printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {kubernetes.io/hostname: n1}\n' | kc 1.33 apply -f - >/dev/null
curl_admin PATCH "/api/v1/nodes/n1/status" -H 'Content-Type: application/merge-patch+json' \
  -d '{"status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ready"}]}}' >/dev/null
printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: n2\n  labels: {kubernetes.io/hostname: n2}\n' | kc 1.33 apply -f - >/dev/null
curl_admin PATCH "/api/v1/nodes/n2/status" -H 'Content-Type: application/merge-patch+json' \
  -d '{"status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ready"}]}}' >/dev/null
sched_msg() { kc 1.33 get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'; }
pod lost nope
wait_for "a pod whose claim is missing is unschedulable" \
  '0/2 nodes are available: persistentvolumeclaim "nope" not found.' sched_msg lost
pod waiting claim-big
wait_for "a pod whose Immediate claim is unbound is unschedulable" \
  '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.' sched_msg waiting

printf 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local-wffc}\nprovisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n' |
  kc 1.33 apply -f - >/dev/null
pv local-n2 1Gi 'storageClassName: local-wffc' \
  'nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n2]}]}]}}'
pvc claim-w 1Gi 'storageClassName: local-wffc'
wait_for "a WaitForFirstConsumer claim waits" \
  "WaitForFirstConsumer: waiting for first consumer to be created before binding" events_of claim-w
expect_eq "...Pending" "Pending" "$(phase pvc claim-w)"
pod consumer claim-w
wait_for "its first consumer goes to the node of the local volume" "n2" \
  kc 1.33 get pod consumer -o jsonpath='{.spec.nodeName}'
expect_eq "the scheduler set selected-node on the claim" "n2" \
  "$(kc 1.33 get pvc claim-w -o jsonpath='{.metadata.annotations.volume\.kubernetes\.io/selected-node}')"
wait_for "...and the claim binds to that volume" "local-n2" kc 1.33 get pvc claim-w -o jsonpath='{.spec.volumeName}'
pod second claim-w
wait_for "a second pod of the bound local claim follows the volume's node affinity" "n2" \
  kc 1.33 get pod second -o jsonpath='{.spec.nodeName}'

# ---- dynamic provisioning protocol, the provisioner played by kubectl ------------------
printf 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\n  annotations: {storageclass.kubernetes.io/is-default-class: "true"}\nprovisioner: example.com/fake\nreclaimPolicy: Delete\n' |
  kc 1.33 apply -f - >/dev/null
pvc claim-d 2Gi
wait_for "a claim without a class gets the default class" "standard" \
  kc 1.33 get pvc claim-d -o jsonpath='{.spec.storageClassName}'
wait_for "...and is handed to its provisioner" "example.com/fake example.com/fake" \
  kc 1.33 get pvc claim-d -o jsonpath='{.metadata.annotations.volume\.kubernetes\.io/storage-provisioner} {.metadata.annotations.volume\.beta\.kubernetes\.io/storage-provisioner}'
expect_contains "...with an ExternalProvisioning Event" \
  "ExternalProvisioning: Waiting for a volume to be created either by the external provisioner 'example.com/fake'" \
  "$(events_of claim-d)"
uid=$(kc 1.33 get pvc claim-d -o jsonpath='{.metadata.uid}')
printf 'apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pvc-made\n  annotations: {pv.kubernetes.io/provisioned-by: example.com/fake}\nspec:\n  capacity: {storage: 2Gi}\n  accessModes: [ReadWriteOnce]\n  storageClassName: standard\n  persistentVolumeReclaimPolicy: Delete\n  csi: {driver: example.com/fake, volumeHandle: vol-1}\n  claimRef: {kind: PersistentVolumeClaim, namespace: default, name: claim-d, uid: %s}\n' "$uid" |
  kc 1.33 apply -f - >/dev/null
wait_for "the claim binds to the volume its provisioner made" "Bound pvc-made" \
  kc 1.33 get pvc claim-d -o jsonpath='{.status.phase} {.spec.volumeName}'
kc 1.33 delete pvc claim-d >/dev/null
wait_for "a provisioned Delete volume whose claim goes is Released for its provisioner" "Released" phase pv pvc-made
kc 1.33 delete pv pvc-made --wait=false >/dev/null
wait_gone "...which can then delete it" pv pvc-made

finish
