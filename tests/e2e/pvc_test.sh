#!/usr/bin/env bash
# e2e: persistent volumes through CSI on a 2-node cluster (scripts/cluster up --nodes 2,
# which runs kernlet-csi-local on every node, registered with its agent):
#  - each node's CSINode lists local.csi.kernlet.io with its topology key, and the agent
#    created the CSIDriver (attachRequired false: the driver has no ControllerPublish);
#  - a WaitForFirstConsumer StorageClass (reclaimPolicy Delete), a 32Mi claim and a pod
#    (fsGroup 2000) that writes a file: the pod Runs, the claim is Bound, the PV was made
#    by the node-side provisioner with nodeAffinity for the pod's node, the volume root has
#    group 2000 and setgid; writing past the capacity fails with ENOSPC inside the pod;
#  - the pod deleted: its volume is unpublished and unstaged; a new pod on the claim
#    (kept to the same node by the PV's nodeAffinity) reads the file back;
#  - its agent killed and restarted: nothing mounted twice; the pod force-deleted while the
#    agent is down: the restarted agent unpublishes and unstages the orphan's volume;
#  - a volume of a driver no node has: FailedMount naming it, the pod ContainerCreating;
#  - pods and claim deleted: the PV and the volume's image file are gone;
#  - a Retain class: the PV stays Released and the image is kept; patched to Delete, the
#    provisioner removes both;
#  - nothing of the volumes stays mounted under the cluster's data dir.
# Name and port: KERNLET_E2E_PVC_NAME / KERNLET_E2E_PVC_PORT (default: derived from the pid
# and a free port). Everything is removed on exit, also when a check fails.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the PVC e2e test" ip nsenter
[ -x "$KERNLET_BIN/kernlet-csi-local" ] || { echo "SKIP: $KERNLET_BIN/kernlet-csi-local not built"; exit 77; }
cluster_init "${KERNLET_E2E_PVC_NAME:-p$(($$ % 100000))}"
PORT=${KERNLET_E2E_PVC_PORT:-}
DRIVER=local.csi.kernlet.io
jpk() { k get "$1" "$2" -o "jsonpath=$3" 2>/dev/null; }

cluster_up 2

# 1. Registration: CSINode per node, the CSIDriver object.
csinode_has_driver() { [ "$(jpk csinode "$1" '{.spec.drivers[0].name}')" = "$DRIVER" ]; }
if wait_until 60 csinode_has_driver "$cname-node1" && wait_until 60 csinode_has_driver "$cname-node2"; then
  ok "CSINode of both nodes lists $DRIVER"
else
  not_ok "CSINode of both nodes lists $DRIVER" "$(k get csinode -o yaml 2>&1 | head -30)"
  fail_dump; cluster_finish
fi
keys=$(jpk csinode "$cname-node1" '{.spec.drivers[0].topologyKeys[0]} {.spec.drivers[0].nodeID}')
[ "$keys" = "topology.kernlet.io/node $cname-node1" ] && ok "CSINode topology key and node id" ||
  not_ok "CSINode topology key and node id" "got: $keys"
label=$(k get node "$cname-node1" -o 'jsonpath={.metadata.labels.topology\.kernlet\.io/node}')
[ "$label" = "$cname-node1" ] && ok "Node labelled with the driver's topology" || not_ok "Node topology label" "got: $label"
attach=$(jpk csidriver "$DRIVER" '{.spec.attachRequired}')
[ "$attach" = false ] && ok "CSIDriver $DRIVER created, attachRequired false" ||
  not_ok "CSIDriver $DRIVER attachRequired false" "got: '$attach'"

# 2. Class, claim, writer pod.
k apply -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-delete"},
  "provisioner": "$DRIVER", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"},
 {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
  "spec": {"storageClassName": "local-delete", "accessModes": ["ReadWriteOnce"],
           "resources": {"requests": {"storage": "32Mi"}}}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "writer"},
  "spec": {"terminationGracePeriodSeconds": 1, "securityContext": {"fsGroup": 2000},
           "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
           "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                           "command": ["sh", "-c", "echo kept-across-pods > /data/file && sync && sleep 3600"],
                           "volumeMounts": [{"name": "d", "mountPath": "/data"}]}]}}
]}
JSON
if wait_until 120 phase_is writer Running; then
  ok "writer pod Running on its claim"
else
  not_ok "writer pod Running on its claim" "$(jpk pod writer '{.status}')" \
    "$(k get events --field-selector involvedObject.name=writer 2>&1 | tail -5)" "$(k get pvc,pv 2>&1)"
  fail_dump; cluster_finish
fi
phase=$(jpk pvc data '{.status.phase}'); pv=$(jpk pvc data '{.spec.volumeName}')
[ "$phase" = Bound ] && [ -n "$pv" ] && ok "claim Bound to $pv" || not_ok "claim Bound" "phase '$phase' volume '$pv'"
node=$(jp writer '{.spec.nodeName}'); K=$(node_index writer)
aff=$(jpk pv "$pv" '{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key}={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}')
[ "$aff" = "topology.kernlet.io/node=$node" ] && ok "PV nodeAffinity pins it to $node" || not_ok "PV nodeAffinity" "got: $aff"
by=$(jpk pv "$pv" '{.metadata.annotations.pv\.kubernetes\.io/provisioned-by} {.spec.csi.driver} {.spec.persistentVolumeReclaimPolicy} {.spec.capacity.storage}')
[ "$by" = "$DRIVER $DRIVER Delete 32Mi" ] && ok "PV provisioned-by, spec.csi, reclaimPolicy and capacity" ||
  not_ok "PV fields" "got: $by"
handle=$(jpk pv "$pv" '{.spec.csi.volumeHandle}')
image=$data/node$K/csi-local/images/$handle.img
[ -f "$image" ] && ok "volume image exists on $node" || not_ok "volume image on $node" "$(ls -la "$data/node$K/csi-local/images" 2>&1)"
uid=$(jp writer '{.metadata.uid}')
target="$data/node$K/pods/$uid/volumes/kubernetes.io~csi/$pv/mount"
grep -qF " $(cd "$data" && pwd -P)/node$K/pods/$uid/volumes/kubernetes.io~csi/$pv/mount " /proc/self/mountinfo &&
  ok "published at the kubelet's path under the pod" || not_ok "published under the pod" "$(grep -F "$data" /proc/self/mountinfo | tail -5)"
grp=$(k exec writer -- stat -c '%g %A' /data 2>&1)
case "$grp" in "2000 drwxrws"*) ok "fsGroup applied to the volume root ($grp)" ;;
  *) not_ok "fsGroup applied to the volume root" "got: $grp" ;; esac
out=$(k exec writer -- sh -c 'dd if=/dev/zero of=/data/big bs=1M count=64 2>&1; echo "rc=$?"' 2>&1)
if echo "$out" | grep -q "No space left on device" && ! echo "$out" | grep -q "rc=0"; then
  ok "writing past 32Mi fails with ENOSPC in the pod"
else
  not_ok "writing past 32Mi fails with ENOSPC in the pod" "$out"
fi
k exec writer -- rm -f /data/big >/dev/null 2>&1

# 3. Pod deleted: unpublished and unstaged; a new pod reads the file.
k delete pod writer --wait=false >/dev/null
gone() { ! k get pod "$1" >/dev/null 2>&1; }
not_mounted() { ! grep -qF " $(cd "$data" && pwd -P)/node$K/$1" /proc/self/mountinfo; }
if wait_until 60 gone writer && wait_until 30 not_mounted pods/ && wait_until 30 not_mounted plugins/kubernetes.io/csi/; then
  ok "writer deleted: volume unpublished and unstaged"
else
  not_ok "writer deleted: volume unpublished and unstaged" "$(grep -F "$data" /proc/self/mountinfo | tail -5)"
fi
k apply -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
 "spec": {"terminationGracePeriodSeconds": 1,
          "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
          "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                          "command": ["sh", "-c", "cat /data/file; sleep 3600"],
                          "volumeMounts": [{"name": "d", "mountPath": "/data", "readOnly": true}]}]}}
JSON
if wait_until 120 phase_is reader Running; then
  got=""
  read_back() { got=$(k logs reader 2>/dev/null); [ "$got" = kept-across-pods ]; }
  wait_until 20 read_back && ok "a new pod on the claim reads the file back (node $(jp reader '{.spec.nodeName}'))" ||
    not_ok "a new pod reads the file back" "got: '$got'"
  ro=$(k exec reader -- sh -c 'touch /data/x 2>&1; echo rc=$?' 2>&1)
  echo "$ro" | grep -q "Read-only file system" && ok "readOnly volumeMount is read-only" || not_ok "readOnly volumeMount" "$ro"
else
  not_ok "reader pod Running" "$(jpk pod reader '{.status}')"
fi

# 3b. Agent restarts. With the reader running, kill -9 and restart its agent: the volume
# is not mounted a second time. Then kill it again, force-delete the reader and restart:
# the agent tears the orphan down from the disk (unpublish, unstage).
# restart_agent K [CMD...]: kill -9 node K's agent, run CMD while it is down, start it again.
restart_agent() {
  local node=$1 a; shift
  a=$(agent_pid "$node")
  kill -KILL "$a"
  agent_gone() { ! kill -0 "$a" 2>/dev/null; }
  wait_until 10 agent_gone || not_ok "node $node's agent died on SIGKILL" "pid $a"
  [ $# -eq 0 ] || "$@" >/dev/null 2>&1
  "$repo/scripts/cluster" start-agent --node "$node" --name "$cname" --data "$data" >"$workdir/start.log" 2>&1 ||
    not_ok "node $node's agent restarted" "$(cat "$workdir/start.log")"
}
mounts_at() { grep -cF " $(cd "$data" && pwd -P)/node$K/$1 " /proc/self/mountinfo || true; }
if phase_is reader Running; then
  ruid=$(jp reader '{.metadata.uid}')
  rtarget="pods/$ruid/volumes/kubernetes.io~csi/$pv/mount"
  restart_agent "$K"
  node_ready() { [ "$(k get node "$cname-node$K" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
  wait_until 60 node_ready || not_ok "node $K Ready after the agent restart" "$(k get node "$cname-node$K" 2>&1)"
  # The restarted agent syncs the running pod (volume setup again) within its first
  # seconds: watch the mounts for 15 s; any second mount of the target or the staging
  # path in that window fails the check.
  gmount="plugins/kubernetes.io/csi/$DRIVER/$(printf %s "$handle" | sha256sum | cut -d' ' -f1)/globalmount"
  doubled() { [ "$(mounts_at "$rtarget")" != 1 ] || [ "$(mounts_at "$gmount")" != 1 ]; }
  if ! wait_until 15 doubled; then
    ok "agent restart: the volume stays mounted once (no double mount)"
  else
    not_ok "agent restart: no double mount" "target $(mounts_at "$rtarget"), staging $(mounts_at "$gmount")" \
      "$(grep -F "$data" /proc/self/mountinfo | tail -5)"
  fi
  phase_is reader Running && ok "the reader keeps running across the agent restart" ||
    not_ok "reader Running after the agent restart" "$(jp reader '{.status}')"
  restart_agent "$K" k delete pod reader --grace-period=0 --force
  if wait_until 60 not_mounted pods/ && wait_until 30 not_mounted plugins/kubernetes.io/csi/; then
    ok "pod deleted while its agent was down: unpublished and unstaged after the restart"
  else
    not_ok "orphan's volume released after the restart" "$(grep -F "$data" /proc/self/mountinfo | tail -5)" \
      "$(grep -v ' I ' "$data/node$K.log" | tail -10)"
  fi
fi

# 3c. A claim whose volume names a driver no node has: FailedMount with the reason, the
# pod stays Pending (ContainerCreating) and nothing is mounted.
k apply -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "nodriver-pv"},
  "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
           "persistentVolumeReclaimPolicy": "Retain",
           "csi": {"driver": "missing.csi.example", "volumeHandle": "h1"}}},
 {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "nodriver"},
  "spec": {"storageClassName": "", "volumeName": "nodriver-pv", "accessModes": ["ReadWriteOnce"],
           "resources": {"requests": {"storage": "1Gi"}}}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stuck"},
  "spec": {"terminationGracePeriodSeconds": 0,
           "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "nodriver"}}],
           "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                           "command": ["sleep", "3600"], "volumeMounts": [{"name": "d", "mountPath": "/data"}]}]}}
]}
JSON
failed_mount() {
  k get events --field-selector involvedObject.name=stuck,reason=FailedMount -o 'jsonpath={.items[*].message}' 2>/dev/null |
    grep -q "driver name missing.csi.example not found in the list of registered CSI drivers"
}
if wait_until 60 failed_mount; then
  ok "unknown driver: FailedMount Event naming it"
else
  not_ok "unknown driver: FailedMount Event" "$(k get events --field-selector involvedObject.name=stuck 2>&1 | tail -5)"
fi
waiting=$(jp stuck '{.status.phase} {.status.containerStatuses[0].state.waiting.reason}')
[ "$waiting" = "Pending ContainerCreating" ] && ok "the pod stays ContainerCreating" || not_ok "pod stays ContainerCreating" "got: $waiting"
k delete pod stuck --wait=false >/dev/null; k delete pvc nodriver --wait=false >/dev/null
k delete pv nodriver-pv --wait=false >/dev/null

# 4. Pods and claim deleted: Delete policy removes the PV and the image.
k delete pod reader --wait=false >/dev/null 2>&1 || true
k delete pvc data --wait=false >/dev/null
pv_gone() { ! k get pv "$1" >/dev/null 2>&1; }
if wait_until 90 pv_gone "$pv"; then
  ok "claim deleted: PV $pv deleted (reclaimPolicy Delete)"
else
  not_ok "PV deleted after the claim" "$(k get pv "$pv" -o yaml 2>&1 | tail -15)"
fi
[ ! -e "$image" ] && ok "the volume image is gone" || not_ok "the volume image is gone" "$(ls -la "$image" 2>&1)"

# 5. Retain: the PV is Released and the image kept; patched to Delete, both go.
k apply -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-retain"},
  "provisioner": "$DRIVER", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"},
 {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "kept"},
  "spec": {"storageClassName": "local-retain", "accessModes": ["ReadWriteOnce"],
           "resources": {"requests": {"storage": "16Mi"}}}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "keeper"},
  "spec": {"terminationGracePeriodSeconds": 1,
           "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "kept"}}],
           "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                           "command": ["sh", "-c", "echo x > /data/x && sleep 3600"],
                           "volumeMounts": [{"name": "d", "mountPath": "/data"}]}]}}
]}
JSON
if wait_until 120 phase_is keeper Running; then
  ok "keeper pod Running on a Retain claim"
  pv2=$(jpk pvc kept '{.spec.volumeName}'); K2=$(node_index keeper)
  image2=$data/node$K2/csi-local/images/$(jpk pv "$pv2" '{.spec.csi.volumeHandle}').img
  k delete pod keeper --wait=false >/dev/null
  k delete pvc kept --wait=false >/dev/null
  released() { [ "$(jpk pv "$1" '{.status.phase}')" = Released ]; }
  if wait_until 90 released "$pv2"; then
    ok "Retain: PV $pv2 Released after the claim went"
  else
    not_ok "Retain: PV Released" "$(k get pv "$pv2" 2>&1)"
  fi
  # Give the provisioner a pass that could (wrongly) delete it before looking at the image.
  wait_until 30 not_mounted plugins/kubernetes.io/csi/ || true
  if [ -f "$image2" ] && k get pv "$pv2" >/dev/null 2>&1; then
    ok "Retain: PV and image kept"
  else
    not_ok "Retain: PV and image kept" "$(ls -la "$image2" 2>&1)"
  fi
  k patch pv "$pv2" -p '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}' >/dev/null
  if wait_until 90 pv_gone "$pv2" && [ ! -e "$image2" ]; then
    ok "Retain volume cleaned up after patching it to Delete"
  else
    not_ok "Retain volume cleaned up" "$(k get pv "$pv2" 2>&1; ls -la "$image2" 2>&1)"
  fi
else
  not_ok "keeper pod Running" "$(jpk pod keeper '{.status}')"
fi

leftover=$(grep -F " $(cd "$data" && pwd -P)/" /proc/self/mountinfo | grep -E 'kubernetes.io~csi|plugins/kubernetes.io/csi' || true)
[ -z "$leftover" ] && ok "no volume mount left under the cluster's data dir" || not_ok "no volume mount left" "$leftover"

cluster_finish
